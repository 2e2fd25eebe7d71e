//! The pipeline facade: vocal bytes and request settings in; the plan and finished tracks out.
//!
//! ```text
//! prepare:  decode -> analyse -> harmonise          (the `text` stage: key, tempo, chords)
//! render:   arrange(variation) -> synthesise -> mix -> encode   (the `first` / `complete` stages)
//! ```
//!
//! Pure and synchronous: no async runtime, no HTTP, no database (CI checks this with
//! `scripts/check-engine-deps`). The CLI, the server's workers, the tests and the benchmarks
//! all call these same functions. An [`Engine`] is cheap to share (`&Engine` across threads):
//! heavy assets (the SoundFont) load once in [`Engine::new`].
//!
//! Threading: `prepare` and `render` run on the caller's thread; `render` may use scoped
//! threads internally (up to [`EngineConfig::threads`]). Callers that run several renders at
//! once should size `threads` accordingly.

use std::path::PathBuf;

use bandmate_analysis::{AnalysisError, AnalysisSettings};
use bandmate_audio::{DecodeError, DecodeLimits};
use bandmate_compose::ComposeError;
use bandmate_core::{Analysis, Arrangement, AudioBuffer, GenerationParams, Plan};

/// Engine settings, with documented defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// The General MIDI SoundFont (SF2) used for rendering. Default: Debian's
    /// `fluid-soundfont-gm`, `/usr/share/sounds/sf2/FluidR3_GM.sf2`.
    pub soundfont: PathBuf,
    /// Limits on the input file.
    pub decode_limits: DecodeLimits,
    /// Loudness target of every output in LUFS (default -14, ITU-R BS.1770 integrated).
    pub target_lufs: f32,
    /// Threads one render may use (default 2).
    pub threads: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            soundfont: PathBuf::from("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
            decode_limits: DecodeLimits::default(),
            target_lufs: -14.0,
            threads: 2,
        }
    }
}

/// Why the engine could not make a song.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    /// The input is not usable audio (the user's fault; the message says which way).
    #[error(transparent)]
    Input(#[from] DecodeError),
    /// The audio decoded but holds nothing to accompany (the user's fault).
    #[error("{0}")]
    Unusable(String),
    /// Generation failed for a reason of ours (callback code 501).
    #[error("generation failed: {0}")]
    Generation(String),
    /// Configuration or environment problem (a missing SoundFont …; callback code 500).
    #[error("internal error: {0}")]
    Internal(String),
}

impl EngineError {
    /// Whether the user's file is at fault (answer 400 with this message) rather than us.
    pub fn is_user_error(&self) -> bool {
        matches!(self, EngineError::Input(_) | EngineError::Unusable(_))
    }

    /// The error callback code of the contract (API.md): 400 for unusable input, 501 for a
    /// failed generation, 500 for internal errors.
    pub fn callback_code(&self) -> u16 {
        match self {
            EngineError::Input(_) | EngineError::Unusable(_) => 400,
            EngineError::Generation(_) => 501,
            EngineError::Internal(_) => 500,
        }
    }
}

/// Stages reported to a progress observer, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Decoding the input file.
    Decode,
    /// Hearing the vocal: pitch, notes, beats, key.
    Analyse,
    /// Choosing chords and style.
    Harmonise,
    /// Arranging variation n.
    Arrange(u8),
    /// Synthesising variation n.
    Render(u8),
    /// Mixing variation n.
    Mix(u8),
    /// Encoding variation n.
    Encode(u8),
}

/// What `prepare` produces: everything both variations share.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The request settings.
    pub params: GenerationParams,
    /// The decoded vocal at its own rate and channel count (it is mixed as it came).
    pub vocal: AudioBuffer,
    /// Codec of the input (`mp3`, `pcm_s16le`, …).
    pub codec: String,
    /// What was heard in the vocal.
    pub analysis: Analysis,
    /// Key, tempo, beats, chord chart and style: what both variations are arranged from.
    pub plan: Plan,
}

fn compose_error(e: ComposeError) -> EngineError {
    match e {
        ComposeError::TooLong { .. } => EngineError::Unusable(e.to_string()),
        ComposeError::InvalidVariation(_) => EngineError::Internal(e.to_string()),
    }
}

/// One finished variation.
#[derive(Debug, Clone)]
pub struct Track {
    /// 1 or 2.
    pub variation: u8,
    /// Length of the song in seconds.
    pub duration_s: f64,
    /// The song: vocal and band, MP3.
    pub song_mp3: Vec<u8>,
    /// The band alone, MP3.
    pub instrumental_mp3: Vec<u8>,
    /// The arrangement as a type-1 Standard MIDI File.
    pub midi: Vec<u8>,
    /// Cover art, PNG 1024x1024.
    pub cover_png: Vec<u8>,
    /// One MP3 per part (`("piano", bytes)`, …), plus the processed vocal.
    pub stems: Vec<(String, Vec<u8>)>,
    /// The plan and arrangement summary as JSON (key, tempo, beats, chord chart, style, parts).
    pub plan_json: String,
    /// Integrated loudness of the song (LUFS).
    pub loudness_lufs: f32,
    /// True peak of the song (dBTP).
    pub true_peak_dbtp: f32,
}

/// Which mix a WAV is wanted of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WavKind {
    /// Vocal and band.
    Song,
    /// The band alone.
    Instrumental,
}

/// The pipeline, with its heavy assets loaded.
#[derive(Debug)]
pub struct Engine {
    config: EngineConfig,
}

impl Engine {
    /// Load assets and validate the configuration.
    pub fn new(config: EngineConfig) -> Result<Self, EngineError> {
        config
            .decode_limits
            .validate()
            .map_err(EngineError::Internal)?;
        Ok(Self { config })
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Decode, analyse and harmonise: the `text` stage. `extension` is an optional hint from
    /// the file name or content type.
    pub fn prepare(
        &self,
        input: &[u8],
        extension: Option<&str>,
        params: &GenerationParams,
        progress: &mut dyn FnMut(Stage),
    ) -> Result<Prepared, EngineError> {
        progress(Stage::Decode);
        let decoded = bandmate_audio::decode(input, extension, &self.config.decode_limits)?;
        progress(Stage::Analyse);
        let settings = AnalysisSettings::for_voice(params.vocal_gender);
        let analysis =
            bandmate_analysis::analyze(&decoded.audio, &settings).map_err(|e| match e {
                AnalysisError::NoMelody { .. } => EngineError::Unusable(e.to_string()),
                other => EngineError::Internal(other.to_string()),
            })?;
        progress(Stage::Harmonise);
        let plan = bandmate_compose::plan(&analysis, params).map_err(compose_error)?;
        Ok(Prepared {
            params: params.clone(),
            vocal: decoded.audio,
            codec: decoded.codec,
            analysis,
            plan,
        })
    }

    /// The plan as JSON (key, tempo, beats, chord chart, style, unknown tags), for the `text`
    /// callback, the record and the player. Times are seconds of the input file.
    pub fn plan_json(&self, prepared: &Prepared) -> serde_json::Value {
        let (a, p) = (&prepared.analysis, &prepared.plan);
        serde_json::json!({
            "durationSeconds": prepared.vocal.duration_s(),
            "codec": prepared.codec,
            "key": p.key.to_string(),
            "keyConfidence": p.key_confidence,
            "tempo": (p.tempo_bpm * 10.0).round() / 10.0,
            "beatsPerBar": p.grid.beats_per_bar,
            "beats": p.grid.beats,
            "downbeats": p.grid.downbeats(),
            "tuningCents": a.tuning_cents,
            "chords": p.chart(),
            "style": p.style,
            "unknownTags": p.unknown_tags,
            "excluded": p.excluded,
        })
    }

    /// Arrange one variation (1 or 2): what each instrument plays, in song time.
    pub fn arrange(&self, prepared: &Prepared, variation: u8) -> Result<Arrangement, EngineError> {
        bandmate_compose::arrange(
            &prepared.analysis,
            &prepared.plan,
            &prepared.params,
            variation,
        )
        .map_err(compose_error)
    }

    /// Arrange, render, mix and encode one variation (1 or 2): the `first` / `complete` stages.
    pub fn render(
        &self,
        prepared: &Prepared,
        variation: u8,
        progress: &mut dyn FnMut(Stage),
    ) -> Result<Track, EngineError> {
        let _ = (prepared, variation, progress);
        Err(EngineError::Internal(
            "rendering is not wired into the engine yet".into(),
        ))
    }

    /// The WAV (16-bit, 44.1 kHz stereo) of one variation's song or instrumental, bit-identical
    /// in content to what `render` encoded to MP3 (same seed, same mix).
    pub fn render_wav(
        &self,
        prepared: &Prepared,
        variation: u8,
        kind: WavKind,
    ) -> Result<Vec<u8>, EngineError> {
        let _ = (prepared, variation, kind);
        Err(EngineError::Internal(
            "rendering is not wired into the engine yet".into(),
        ))
    }
}
