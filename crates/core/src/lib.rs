//! Bandmate's shared vocabulary: the types that pass between the stages of the pipeline
//! (decode → analyse → harmonise → arrange → render → mix → encode). No I/O, no threads.
//!
//! The flat re-exports below are the public API; modules group them by theme.

mod arrangement;
mod buffer;
mod music;
mod params;
mod plan;
mod prediction;
mod rng;
mod timeline;
mod units;

pub use arrangement::{Arrangement, ControlEvent, NoteEvent, Part, PartMix, PartRole};
pub use buffer::AudioBuffer;
pub use music::{
    Chord, ChordQuality, Key, MAJOR_SCALE, MINOR_SCALE, Mode, PitchClass, parse_chord_label,
};
pub use params::{GenerationParams, ModelProfile, VocalGender, WIDE_F0_RANGE_HZ};
pub use plan::{ChartEntry, ChordSpan, Plan, StyleChoice, spell_chart};
pub use prediction::{F0Json, Prediction};
pub use rng::Rng;
pub use timeline::{Analysis, BeatGrid, Envelope, F0Track, Note, Phrase};
pub use units::{Bpm, SampleRate, Weight, amp_to_db, db_to_amp, hz_to_midi, midi_to_hz};

/// Errors of the shared types: a value out of its range or text that does not parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CoreError {
    /// A number outside its valid range.
    #[error("{what} {value} is out of range ({min} to {max})")]
    OutOfRange {
        /// What the number is.
        what: &'static str,
        /// The offending value.
        value: f64,
        /// Smallest valid value.
        min: f64,
        /// Largest valid value.
        max: f64,
    },
    /// Text that is not a valid value of its kind.
    #[error("'{input}' is not a valid {what}")]
    Parse {
        /// What was expected.
        what: &'static str,
        /// The offending text.
        input: String,
    },
    /// A structural problem, described.
    #[error("{0}")]
    Invalid(String),
}
