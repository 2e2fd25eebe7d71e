//! Makes it sound like a record: SoundFont synthesis of the arranged parts ([`Renderer`]), the
//! mixing chain ([`Renderer::mix`], [`mix`], [`mix_stems`]; outputs with [`Mix::encode`]), the
//! per-part stems as MP3s ([`encode_stems`]), the prepared vocal ([`VocalTrack`]) and cover art
//! ([`cover_png`]).
//!
//! ```text
//! Arrangement ──Renderer──► per-part audio ──mix──► band bus ─┬─► instrumental master ─► MP3/WAV
//!                                                 vocal ──────┴─► song master ─────────► MP3/WAV
//! ```
//!
//! Pure and synchronous. A [`Renderer`] holds the SoundFont behind an `Arc` (loaded once,
//! shared by every render); rendering uses scoped threads, up to [`RenderSettings::threads`].
//! `docs/render.md` says how each request field changes the sound and records the measured
//! speed, memory and loudness figures.

mod compact;
mod cover;
mod mix;
mod renderer;
mod soundfont;
mod stems;
mod synth;
mod vocal;

#[cfg(test)]
mod testband;

pub use cover::{COVER_SIZE, cover_png};
pub use mix::{Mix, MixReport, MixSettings, MixedVocal, OutputRequest, Outputs, mix, mix_stems};
pub use renderer::{RenderSettings, Renderer, Stem};
pub use soundfont::{Preset, SoundFont, Zone};
pub use stems::encode_stems;
pub use vocal::VocalTrack;

use bandmate_audio::EncodeError;

/// The rate of every rendered stem and mix (CD rate).
pub const RATE: u32 = 44_100;

/// Why rendering or mixing failed. All but [`RenderError::Vocal`] are our side's problem (a
/// bad SoundFont or configuration, an arrangement the arranger should not have produced, a
/// limit): the service answers with an internal or generation error. A vocal that cannot be
/// mixed (silent once rumble is removed) is the user's file ([`RenderError::is_user_error`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RenderError {
    /// The SoundFont is not a usable SF2 file.
    #[error("the SoundFont cannot be used: {0}")]
    SoundFont(String),
    /// The SoundFont file could not be opened.
    #[error("cannot open the SoundFont {path}: {reason}")]
    SoundFontFile {
        /// The path tried.
        path: String,
        /// What the system said.
        reason: String,
    },
    /// A setting outside its range.
    #[error("{what} {value} is out of range ({min} to {max})")]
    Setting {
        /// Which setting.
        what: &'static str,
        /// The offending value.
        value: f64,
        /// Smallest valid value.
        min: f64,
        /// Largest valid value.
        max: f64,
    },
    /// The arrangement cannot be rendered as it is.
    #[error("the arrangement cannot be rendered: {0}")]
    Arrangement(String),
    /// A part asks for a preset the renderer was not loaded with
    /// ([`Renderer::with_presets`]): the list it was given is incomplete.
    #[error(
        "part {part} plays bank {bank} program {program}, a preset the renderer was not loaded with"
    )]
    PresetNotLoaded {
        /// The part's name.
        part: String,
        /// The bank asked for (128 for kits).
        bank: u16,
        /// The program asked for.
        program: u8,
    },
    /// The vocal cannot be mixed as it is.
    #[error("the vocal cannot be mixed: {0}")]
    Vocal(String),
    /// Encoding an output failed.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

impl RenderError {
    /// Whether the user's file is at fault (answer 400 with this message) rather than us.
    pub fn is_user_error(&self) -> bool {
        matches!(self, RenderError::Vocal(_))
    }
}

pub(crate) fn check_range(
    what: &'static str,
    value: f64,
    min: f64,
    max: f64,
) -> Result<(), RenderError> {
    if value.is_finite() && (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(RenderError::Setting {
            what,
            value,
            min,
            max,
        })
    }
}
