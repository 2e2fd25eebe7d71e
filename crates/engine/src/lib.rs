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
use bandmate_audio::{DecodeError, DecodeLimits, Decoded, Mp3Settings, WavSampleFormat};
use bandmate_compose::ComposeError;
use bandmate_core::{Analysis, Arrangement, GenerationParams, Part, Plan, spell_chart};
use bandmate_render::{
    Mix, MixSettings, MixedVocal, OutputRequest, RenderError, Renderer, VocalTrack, cover_png,
};

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
    /// Threads one render (or one `prepare`: the vocal is prepared beside the analysis) may
    /// use (default 2).
    pub threads: usize,
    /// Whether `render` also makes one MP3 per part (default true). Each stem costs a
    /// synthesis of its part and an MP3 encode (about 0.6 s of CPU for 3 minutes).
    pub stems: bool,
    /// Whether `render` also makes the instrumental MP3 (default true). Off, the band-alone
    /// output is not rendered at all (about a fifth of the encoding).
    pub instrumental: bool,
    /// Whether `render` also writes the arrangement as a MIDI file (default true).
    pub midi: bool,
    /// Whether `render` also draws the cover art (default true; ~0.07 s of CPU a variation).
    pub cover: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            soundfont: PathBuf::from("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
            decode_limits: DecodeLimits::default(),
            target_lufs: -14.0,
            threads: 2,
            stems: true,
            instrumental: true,
            midi: true,
            cover: true,
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
    /// Synthesising and mixing variation n.
    Render(u8),
    /// Encoding variation n.
    Encode(u8),
    /// Rendering the per-part stems of variation n.
    Stems(u8),
}

/// What `prepare` produces: everything both variations share.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The request settings.
    pub params: GenerationParams,
    /// The vocal prepared for the mix (high-passed, levelled, at the mix rate).
    pub vocal: VocalTrack,
    /// Length of the input in seconds.
    pub duration_s: f64,
    /// Codec of the input (`mp3`, `pcm_s16le`, …).
    pub codec: String,
    /// What was heard in the vocal.
    pub analysis: Analysis,
    /// Key, tempo, beats, chord chart and style: what both variations are arranged from.
    pub plan: Plan,
}

fn render_error(e: RenderError) -> EngineError {
    if e.is_user_error() {
        EngineError::Unusable(e.to_string())
    } else {
        EngineError::Generation(e.to_string())
    }
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
    /// The band alone, MP3 (empty with `EngineConfig::instrumental` off).
    pub instrumental_mp3: Vec<u8>,
    /// The arrangement as a type-1 Standard MIDI File (empty with `EngineConfig::midi` off).
    pub midi: Vec<u8>,
    /// Cover art, PNG 1024x1024 (empty with `EngineConfig::cover` off).
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

/// What a variation's stems are made from, kept from its songs' render
/// ([`Engine::render_songs`]) so the stems need no second mix.
pub struct PendingStems {
    variation: u8,
    arrangement: Arrangement,
    settings: MixSettings,
    vocal: MixedVocal,
}

impl std::fmt::Debug for PendingStems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingStems")
            .field("variation", &self.variation)
            .finish_non_exhaustive()
    }
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
pub struct Engine {
    config: EngineConfig,
    renderer: Renderer,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Decode an input the way the engine needs it: folded to mono (everything after decoding
/// works on mono) and at the mix rate, converted while decoding, so a file at another rate
/// never exists whole at its own rate (a 10-minute 96 kHz upload would be 230 MB, and its
/// 44.1 kHz copy 106 MB more). The analysis resamples this to its own rate.
pub fn decode(
    input: &[u8],
    extension: Option<&str>,
    limits: &DecodeLimits,
) -> Result<Decoded, EngineError> {
    Ok(bandmate_audio::decode_mono_at(
        input,
        extension,
        limits,
        bandmate_render::RATE,
    )?)
}

impl Engine {
    /// Load assets (the SoundFont, once) and validate the configuration. Only the presets an
    /// arrangement can ask for ([`bandmate_compose::presets`]) and the samples they play are
    /// kept (on FluidR3 GM 98 of 148 MB); the songs are the same, bit for bit.
    pub fn new(config: EngineConfig) -> Result<Self, EngineError> {
        config
            .decode_limits
            .validate()
            .map_err(EngineError::Internal)?;
        if config.threads == 0 {
            return Err(EngineError::Internal("threads must be at least 1".into()));
        }
        let renderer =
            Renderer::from_path_with_presets(&config.soundfont, &bandmate_compose::presets())
                .map_err(|e| EngineError::Internal(e.to_string()))?;
        Ok(Self { config, renderer })
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
        let decoded = self.decode(input, extension)?;
        self.prepare_decoded(decoded, params, progress)
    }

    /// Decode the input within the configured limits ([`decode`]). With
    /// [`Engine::prepare_decoded`] this is [`Engine::prepare`] in two steps, so a caller can
    /// free the input's bytes before the analysis starts.
    pub fn decode(&self, input: &[u8], extension: Option<&str>) -> Result<Decoded, EngineError> {
        decode(input, extension, &self.config.decode_limits)
    }

    /// Analyse and harmonise a decoded input, and prepare its vocal for the mix.
    ///
    /// Memory: the decoded audio is consumed and freed as soon as the analysis signal (16 kHz)
    /// and the prepared vocal (2 bytes a sample) exist. With two or more threads the vocal is
    /// prepared on a scoped thread, started first, while the analysis (its resampling to
    /// 16 kHz included) runs on this one.
    pub fn prepare_decoded(
        &self,
        decoded: Decoded,
        params: &GenerationParams,
        progress: &mut dyn FnMut(Stage),
    ) -> Result<Prepared, EngineError> {
        progress(Stage::Analyse);
        let settings = AnalysisSettings::for_voice(params.vocal_gender);
        let Decoded { audio, codec } = decoded;
        let duration_s = audio.duration_s();
        let gender = params.vocal_gender;
        let analyse = |signal| {
            bandmate_analysis::analyze_signal(signal, duration_s, &settings).map_err(|e| match e {
                AnalysisError::NoMelody { .. } => EngineError::Unusable(e.to_string()),
                other => EngineError::Internal(other.to_string()),
            })
        };
        let (analysis, vocal) = if self.config.threads >= 2 {
            let both = std::thread::scope(|s| {
                // The vocal thread starts first, beside the analysis's own resampling.
                let audio = &audio;
                let vocal = s.spawn(move || VocalTrack::new(audio, gender).map_err(render_error));
                let analysis = analyse(bandmate_analysis::frontend::prepare(audio));
                let vocal = vocal.join().unwrap_or_else(|_| {
                    Err(EngineError::Internal(
                        "the vocal preparation panicked".into(),
                    ))
                });
                (analysis, vocal)
            });
            drop(audio);
            both
        } else {
            let signal = bandmate_analysis::frontend::prepare(&audio);
            let vocal = VocalTrack::new(&audio, gender).map_err(render_error);
            drop(audio);
            (analyse(signal), vocal)
        };
        // An unusable recording is reported as the analysis saw it, as before.
        let analysis = analysis?;
        let vocal = vocal?;
        progress(Stage::Harmonise);
        let plan = bandmate_compose::plan(&analysis, params).map_err(compose_error)?;
        Ok(Prepared {
            params: params.clone(),
            duration_s,
            vocal,
            codec,
            analysis,
            plan,
        })
    }

    /// The plan as JSON (key, tempo, beats, chord chart, style, unknown tags), for the `text`
    /// callback, the record and the player. Times are seconds of the input file.
    pub fn plan_json(&self, prepared: &Prepared) -> serde_json::Value {
        let (a, p) = (&prepared.analysis, &prepared.plan);
        let mut plan = serde_json::json!({
            "durationSeconds": prepared.duration_s,
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
        });
        tidy_numbers(&mut plan);
        plan
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

    fn mix_settings(&self, params: &GenerationParams) -> MixSettings {
        let mut settings = MixSettings::from_params(params);
        settings.target_lufs = self.config.target_lufs;
        settings.render.threads = self.config.threads;
        settings
    }

    /// Arrange, synthesise and mix one variation.
    fn mix_variation(
        &self,
        prepared: &Prepared,
        variation: u8,
        progress: &mut dyn FnMut(Stage),
    ) -> Result<(Arrangement, MixSettings, Mix), EngineError> {
        progress(Stage::Arrange(variation));
        let arrangement = self.arrange(prepared, variation)?;
        progress(Stage::Render(variation));
        let settings = self.mix_settings(&prepared.params);
        let mix = self
            .renderer
            .mix(&arrangement, &prepared.vocal, &settings)
            .map_err(render_error)?;
        Ok((arrangement, settings, mix))
    }

    /// MP3 tags for an output of this request.
    fn tags(prepared: &Prepared, title: String) -> Mp3Settings {
        Mp3Settings {
            title,
            artist: "Bandmate".into(),
            genre: prepared.plan.style.name.clone(),
            comment: format!("{} {}", prepared.plan.key, prepared.params.model),
            ..Mp3Settings::default()
        }
    }

    /// Arrange, render, mix and encode one variation (1 or 2), with its stems when
    /// configured: [`Engine::render_songs`] then [`Engine::render_stems`].
    pub fn render(
        &self,
        prepared: &Prepared,
        variation: u8,
        progress: &mut dyn FnMut(Stage),
    ) -> Result<Track, EngineError> {
        let (mut track, pending) = self.render_songs(prepared, variation, progress)?;
        if let Some(pending) = pending {
            track.stems = self.render_stems(prepared, pending, progress)?;
        }
        Ok(track)
    }

    /// Arrange, render, mix and encode one variation (1 or 2): the song, the instrumental,
    /// the MIDI file and the cover, with `stems` left empty. With `EngineConfig::stems` on,
    /// also what [`Engine::render_stems`] needs to make this variation's stems later without
    /// mixing it again.
    pub fn render_songs(
        &self,
        prepared: &Prepared,
        variation: u8,
        progress: &mut dyn FnMut(Stage),
    ) -> Result<(Track, Option<PendingStems>), EngineError> {
        let (arrangement, settings, mix) = self.mix_variation(prepared, variation, progress)?;
        progress(Stage::Encode(variation));
        let title = &prepared.params.title;
        let encode = || {
            mix.encode(&OutputRequest {
                song_mp3: Some(Self::tags(prepared, title.clone())),
                instrumental_mp3: self
                    .config
                    .instrumental
                    .then(|| Self::tags(prepared, format!("{title} (instrumental)"))),
                song_wav: None,
                instrumental_wav: None,
            })
        };
        // The cover and the MIDI file need only the arrangement: with two or more threads
        // they are made on a thread of their own while the outputs encode, filling the gaps
        // the encoders leave, instead of on one core after them.
        // Only what was asked for: an offline run that wants neither makes neither.
        let (want_midi, want_cover) = (self.config.midi, self.config.cover);
        let extras = || {
            (
                if want_midi {
                    bandmate_compose::to_midi(&arrangement)
                } else {
                    Vec::new()
                },
                if want_cover {
                    cover_png(&arrangement, title)
                } else {
                    Vec::new()
                },
            )
        };
        let (out, (midi, cover)) = if self.config.threads >= 2 && (want_midi || want_cover) {
            std::thread::scope(|s| {
                let extras = s.spawn(extras);
                let out = encode();
                let extras = extras.join().map_err(|_| {
                    EngineError::Internal("making the cover or the MIDI file failed".into())
                });
                extras.map(|e| (out, e))
            })?
        } else {
            (encode(), extras())
        };
        let out = out.map_err(render_error)?;
        let missing = || EngineError::Internal("the mixer returned no MP3".into());
        let song_mp3 = out.song_mp3.ok_or_else(missing)?;
        let instrumental_mp3 = match out.instrumental_mp3 {
            Some(mp3) => mp3,
            None if !self.config.instrumental => Vec::new(),
            None => return Err(missing()),
        };
        let report = out.report;
        let plan_json = self.track_json(prepared, &arrangement, report.start_s, report.duration_s);
        let track = Track {
            variation,
            duration_s: report.duration_s,
            song_mp3,
            instrumental_mp3,
            midi,
            cover_png: cover,
            stems: Vec::new(),
            plan_json: plan_json.to_string(),
            loudness_lufs: report.song.integrated_lufs,
            true_peak_dbtp: report.song.true_peak_dbtp,
        };
        let pending = self.config.stems.then(|| PendingStems {
            variation,
            // The band's bus is freed: only the vocal's place in the mix is needed.
            vocal: mix.into_vocal(),
            arrangement,
            settings,
        });
        Ok((track, pending))
    }

    /// The per-part stems of the variation `pending` came from ([`Engine::render_songs`]):
    /// one MP3 per part, then the vocal as mixed.
    pub fn render_stems(
        &self,
        prepared: &Prepared,
        pending: PendingStems,
        progress: &mut dyn FnMut(Stage),
    ) -> Result<Vec<(String, Vec<u8>)>, EngineError> {
        progress(Stage::Stems(pending.variation));
        self.stems(
            prepared,
            &pending.arrangement,
            &pending.settings,
            &pending.vocal,
        )
    }

    /// One MP3 per part, dry (no bus processing), aligned with the song MP3, then the vocal as
    /// mixed: each rendered and encoded a chunk at a time, on the configured threads
    /// ([`bandmate_render::encode_stems`]).
    fn stems(
        &self,
        prepared: &Prepared,
        arrangement: &Arrangement,
        settings: &MixSettings,
        vocal: &MixedVocal,
    ) -> Result<Vec<(String, Vec<u8>)>, EngineError> {
        let title = &prepared.params.title;
        let tags = |part: Option<&Part>| {
            let name = part.map_or("vocal", |p| p.name.as_str());
            Self::tags(prepared, format!("{title} — {name}"))
        };
        let mp3s = bandmate_render::encode_stems(
            &self.renderer,
            arrangement,
            vocal,
            &settings.render,
            &tags,
        )
        .map_err(render_error)?;
        let names = arrangement
            .parts
            .iter()
            .map(|p| slug(&p.name))
            .chain(std::iter::once("vocal".to_string()));
        let mut out: Vec<(String, Vec<u8>)> = Vec::with_capacity(mp3s.len());
        for (name, mp3) in names.zip(mp3s) {
            out.push((unique_name(&out, &name), mp3));
        }
        Ok(out)
    }

    /// The track's plan and arrangement summary, in the MP3's time (song time minus the
    /// trimmed lead-in): what the player runs under the playhead.
    fn track_json(
        &self,
        prepared: &Prepared,
        arrangement: &Arrangement,
        start_s: f64,
        duration_s: f64,
    ) -> serde_json::Value {
        let shift = |t: f64| ((t - start_s) * 1000.0).round() / 1000.0;
        let chart: Vec<serde_json::Value> = spell_chart(&arrangement.chart, arrangement.key)
            .into_iter()
            .map(|c| serde_json::json!({"start": shift(c.start), "end": shift(c.end), "label": c.label, "symbol": c.symbol}))
            .collect();
        let mut plan = self.plan_json(prepared);
        if let Some(m) = plan.as_object_mut() {
            m.insert("variation".into(), arrangement.variation.into());
            m.insert("songDurationSeconds".into(), duration_s.into());
            m.insert(
                "vocalOffsetSeconds".into(),
                shift(arrangement.vocal_offset_s).into(),
            );
            m.insert(
                "songBeats".into(),
                arrangement
                    .grid
                    .beats
                    .iter()
                    .map(|&t| shift(t))
                    .collect::<Vec<_>>()
                    .into(),
            );
            m.insert(
                "songDownbeats".into(),
                arrangement
                    .grid
                    .downbeats()
                    .into_iter()
                    .map(shift)
                    .collect::<Vec<_>>()
                    .into(),
            );
            m.insert("chart".into(), chart.into());
            m.insert("styleName".into(), arrangement.style_name.clone().into());
            m.insert(
                "parts".into(),
                arrangement
                    .parts
                    .iter()
                    .map(|p| serde_json::json!({"name": p.name, "role": p.role, "program": p.program, "notes": p.notes.len()}))
                    .collect::<Vec<_>>()
                    .into(),
            );
        }
        tidy_numbers(&mut plan);
        plan
    }

    /// The WAV (16-bit, 44.1 kHz stereo) of one variation's song or instrumental: the same
    /// arrangement and mix as `render` made (same seed), rendered again.
    pub fn render_wav(
        &self,
        prepared: &Prepared,
        variation: u8,
        kind: WavKind,
    ) -> Result<Vec<u8>, EngineError> {
        let (_, _, mix) = self.mix_variation(prepared, variation, &mut |_| {})?;
        let fmt = Some(WavSampleFormat::Pcm16);
        let request = match kind {
            WavKind::Song => OutputRequest {
                song_wav: fmt,
                song_mp3: None,
                instrumental_mp3: None,
                instrumental_wav: None,
            },
            WavKind::Instrumental => OutputRequest {
                instrumental_wav: fmt,
                song_mp3: None,
                instrumental_mp3: None,
                song_wav: None,
            },
        };
        let out = mix.encode(&request).map_err(render_error)?;
        match kind {
            WavKind::Song => out.song_wav,
            WavKind::Instrumental => out.instrumental_wav,
        }
        .ok_or_else(|| EngineError::Internal("the mixer returned no WAV".into()))
    }
}

/// A file-name slug: lower case ASCII letters and digits, words joined by `-`.
fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let s = s
        .split('-')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    if s.is_empty() { "part".into() } else { s }
}

/// `base`, or `base-2`, `base-3` … if the name is taken.
fn unique_name(taken: &[(String, Vec<u8>)], base: &str) -> String {
    let used = |n: &str| taken.iter().any(|(t, _)| t == n);
    if !used(base) {
        return base.to_string();
    }
    (2..)
        .map(|k| format!("{base}-{k}"))
        .find(|n| !used(n))
        .unwrap_or_else(|| base.to_string())
}

/// Rounds every fractional number in a plan to 0.1 ms / 1e-4: `f32` fields widened to `f64`
/// and sums of beat periods otherwise reach readers as `0.6499999761581421` or
/// `16.830000000000002`, noise no reader wants and no figure needs.
fn tidy_numbers(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Number(n) if n.is_f64() => {
            if let Some(x) = n.as_f64().map(|x| (x * 1e4).round() / 1e4)
                && let Some(tidy) = serde_json::Number::from_f64(x)
            {
                *n = tidy;
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(tidy_numbers),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(tidy_numbers),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The engine loads only the arranger's presets, and its songs are the whole font's.
    #[test]
    fn the_engine_loads_only_the_arrangers_presets_and_renders_the_same() {
        let path = std::env::temp_dir().join(format!(
            "bandmate-engine-presets-{}.sf2",
            std::process::id()
        ));
        std::fs::write(&path, bandmate_testkit::soundfont::font()).unwrap();
        let engine = Engine::new(EngineConfig {
            soundfont: path.clone(),
            stems: false,
            ..EngineConfig::default()
        })
        .unwrap();
        let full = Renderer::from_path(&path).unwrap();
        std::fs::remove_file(&path).ok();
        let font = engine.renderer.soundfont();
        let listed = bandmate_compose::presets();
        assert!(listed.iter().all(|&(b, p)| font.serves(b, p)));
        // A program no style plays (gunshot) was not loaded; the whole font serves it.
        assert!(!listed.contains(&(0, 127)));
        assert!(!font.serves(0, 127) && full.soundfont().serves(0, 127));
        let melody = bandmate_testkit::Melody::generate(
            bandmate_core::Key::new(
                bandmate_core::PitchClass::new(9),
                bandmate_core::Mode::Minor,
            ),
            96.0,
            4,
            4,
            2,
        );
        let analysis = melody.analysis();
        let params = GenerationParams {
            tags: "ballad, piano, strings".into(),
            seed: 11,
            ..GenerationParams::default()
        };
        let plan = bandmate_compose::plan(&analysis, &params).unwrap();
        let arrangement = bandmate_compose::arrange(&analysis, &plan, &params, 2).unwrap();
        let settings = bandmate_render::RenderSettings::default();
        assert_eq!(
            engine
                .renderer
                .render_stems(&arrangement, &settings)
                .unwrap(),
            full.render_stems(&arrangement, &settings).unwrap()
        );
    }

    #[test]
    fn songs_then_stems_are_the_whole_render() {
        let path =
            std::env::temp_dir().join(format!("bandmate-engine-split-{}.sf2", std::process::id()));
        std::fs::write(&path, bandmate_testkit::soundfont::font()).unwrap();
        let engine = |stems| {
            Engine::new(EngineConfig {
                soundfont: path.clone(),
                stems,
                ..EngineConfig::default()
            })
            .unwrap()
        };
        let (with, without) = (engine(true), engine(false));
        std::fs::remove_file(&path).ok();
        let take = bandmate_testkit::sing(
            &bandmate_testkit::Melody::scale(60, 120.0),
            &bandmate_testkit::SingerSettings::default(),
            7,
        );
        let wav = bandmate_testkit::wav_bytes(
            &[take.audio],
            take.rate,
            bandmate_testkit::WavFormat::Int16,
        );
        let params = GenerationParams {
            tags: "acoustic, piano".into(),
            seed: 5,
            ..GenerationParams::default()
        };
        let prepared = with
            .prepare(&wav, Some("wav"), &params, &mut |_| {})
            .unwrap();
        let whole = with.render(&prepared, 1, &mut |_| {}).unwrap();
        let mut stages = Vec::new();
        let (songs, pending) = with
            .render_songs(&prepared, 1, &mut |s| stages.push(s))
            .unwrap();
        assert!(songs.stems.is_empty());
        assert!(!stages.contains(&Stage::Stems(1)), "{stages:?}");
        assert_eq!(songs.song_mp3, whole.song_mp3);
        assert_eq!(songs.instrumental_mp3, whole.instrumental_mp3);
        let stems = with
            .render_stems(&prepared, pending.expect("stems on"), &mut |s| {
                stages.push(s)
            })
            .unwrap();
        assert_eq!(stages.last(), Some(&Stage::Stems(1)));
        assert!(!stems.is_empty());
        assert_eq!(stems, whole.stems);
        let (_, none) = without.render_songs(&prepared, 1, &mut |_| {}).unwrap();
        assert!(none.is_none(), "stems off: nothing pending");
    }

    #[test]
    fn plan_numbers_lose_float_noise_but_keep_their_value() {
        let mut v = serde_json::json!({
            "beats": [0.0, 16.830000000000002, 21.3],
            "style": {"blend": [["pop", 0.65_f32]], "energy": 0.05_f32},
            "beatsPerBar": 4,
            "key": "C major",
        });
        tidy_numbers(&mut v);
        assert_eq!(
            v.to_string(),
            r#"{"beats":[0.0,16.83,21.3],"beatsPerBar":4,"key":"C major","style":{"blend":[["pop",0.65]],"energy":0.05}}"#
        );
    }
}
