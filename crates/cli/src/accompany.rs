//! `bandmate accompany VOCAL -o song.mp3`: the offline main job.
//!
//! Decode, analyse and harmonise once, then arrange, render, mix and encode each variation,
//! with one progress line per stage and a summary at the end. With `--variations 2` every
//! output name gets `-1` / `-2` before its extension (`song-1.mp3`, `song-2.mp3`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bandmate_core::{GenerationParams, ModelProfile, VocalGender, Weight};
use bandmate_engine::{Engine, EngineConfig, EngineError, Stage, WavKind};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// Arguments of `bandmate accompany`.
#[derive(clap::Args)]
pub struct Args {
    /// The vocal or melody recording (MP3, WAV, FLAC, Ogg, M4A …).
    vocal: PathBuf,
    /// Styles, moods and instruments to include, comma-separated ("relaxing, piano, soothing").
    #[arg(long, default_value = "")]
    tags: String,
    /// Styles and instruments to exclude ("heavy metal, fast drums"); exclusions win.
    #[arg(long, default_value = "")]
    negative_tags: String,
    /// How literally the tags are followed, 0..=1.
    #[arg(long, default_value_t = 0.5)]
    style_weight: f64,
    /// Creative distance, 0..=1.
    #[arg(long = "weirdness", default_value_t = 0.3)]
    weirdness: f64,
    /// How closely the band follows the recording, 0..=1.
    #[arg(long, default_value_t = 0.65)]
    audio_weight: f64,
    /// Voice range hint: m or f.
    #[arg(long)]
    vocal_gender: Option<String>,
    /// Engine profile: V4_5PLUS (richer) or V5 (more dynamic, lighter).
    #[arg(long, default_value = "V4_5PLUS")]
    model: String,
    /// Seed of every random choice (same input and seed, same song).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Title (MP3 tags, cover).
    #[arg(long)]
    title: Option<String>,
    /// The song (vocal and band) as MP3.
    #[arg(short, long)]
    output: PathBuf,
    /// Also write the band alone as MP3 here.
    #[arg(long)]
    instrumental: Option<PathBuf>,
    /// Also write WAV files next to the MP3s (16-bit, 44.1 kHz).
    #[arg(long)]
    wav: bool,
    /// Write one MP3 per part (and the processed vocal) into this folder.
    #[arg(long)]
    stems: Option<PathBuf>,
    /// Write the arrangement as a Standard MIDI File.
    #[arg(long)]
    midi: Option<PathBuf>,
    /// Write the cover art (PNG, 1024x1024).
    #[arg(long)]
    cover: Option<PathBuf>,
    /// How many variations to make (1 or 2).
    #[arg(long, default_value_t = 1)]
    variations: u8,
    /// The General MIDI SoundFont (SF2).
    #[arg(
        long,
        env = "BANDMATE_SOUNDFONT",
        default_value = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
    )]
    soundfont: PathBuf,
}

/// Output path for a variation: `song.mp3` → `song-2.mp3` when there are several.
fn numbered(path: &Path, variation: u8, count: u8) -> PathBuf {
    if count <= 1 {
        return path.to_path_buf();
    }
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("song");
    let name = match path.extension().and_then(|e| e.to_str()) {
        Some(ext) => format!("{stem}-{variation}.{ext}"),
        None => format!("{stem}-{variation}"),
    };
    path.with_file_name(name)
}

fn weight(name: &str, v: f64) -> anyhow::Result<Weight> {
    Weight::new(v).map_err(|_| anyhow::anyhow!("--{name} must be between 0 and 1 (got {v})"))
}

/// One line per stage: a spinner while it runs, then its time.
struct StageLines {
    multi: MultiProgress,
    current: Option<(ProgressBar, Instant)>,
}

impl StageLines {
    fn new() -> Self {
        Self {
            multi: MultiProgress::new(),
            current: None,
        }
    }

    fn start(&mut self, label: String) {
        self.finish();
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(label);
        bar.enable_steady_tick(Duration::from_millis(100));
        self.current = Some((bar, Instant::now()));
    }

    fn finish(&mut self) {
        if let Some((bar, t0)) = self.current.take() {
            let msg = format!("✓ {} ({:.2} s)", bar.message(), t0.elapsed().as_secs_f64());
            bar.set_style(
                ProgressStyle::with_template("{msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.finish_with_message(msg);
        }
    }

    fn stage(&mut self, s: Stage) {
        let label = match s {
            Stage::Decode => "decode".to_string(),
            Stage::Analyse => "analyse the vocal".to_string(),
            Stage::Harmonise => "harmonise".to_string(),
            Stage::Arrange(v) => format!("variation {v}: arrange"),
            Stage::Render(v) => format!("variation {v}: render and mix the band"),
            Stage::Encode(v) => format!("variation {v}: encode"),
            Stage::Stems(v) => format!("variation {v}: stems"),
        };
        self.start(label);
    }
}

fn write(path: &Path, bytes: &[u8], written: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    written.push(path.to_path_buf());
    Ok(())
}

/// What the summary prints of a finished variation.
struct Summary {
    variation: u8,
    duration_s: f64,
    loudness_lufs: f32,
    true_peak_dbtp: f32,
}

/// Make the song(s).
pub fn run(args: Args) -> anyhow::Result<()> {
    if !(1..=2).contains(&args.variations) {
        bail!("--variations must be 1 or 2");
    }
    let model: ModelProfile = args
        .model
        .parse()
        .map_err(|e: bandmate_core::CoreError| anyhow::anyhow!("--model: {e}"))?;
    let vocal_gender = match &args.vocal_gender {
        None => None,
        Some(g) => Some(
            g.parse::<VocalGender>()
                .map_err(|e| anyhow::anyhow!("--vocal-gender: {e}"))?,
        ),
    };
    let title = args.title.clone().unwrap_or_else(|| {
        args.output
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("Untitled")
            .to_string()
    });
    let params = GenerationParams {
        title,
        tags: args.tags.clone(),
        negative_tags: args.negative_tags.clone(),
        style_weight: weight("style-weight", args.style_weight)?,
        weirdness: weight("weirdness", args.weirdness)?,
        audio_weight: weight("audio-weight", args.audio_weight)?,
        vocal_gender,
        model,
        seed: args.seed,
    };
    let ext = args.vocal.extension().and_then(|e| e.to_str());
    let config = EngineConfig {
        soundfont: args.soundfont.clone(),
        stems: args.stems.is_some(),
        instrumental: args.instrumental.is_some(),
        midi: args.midi.is_some(),
        cover: args.cover.is_some(),
        ..EngineConfig::default()
    };
    let limits = config.decode_limits.clone();

    let started = Instant::now();
    let mut lines = StageLines::new();
    lines.stage(Stage::Decode);
    // The SoundFont loads on a thread of its own while this one reads and decodes the vocal:
    // each is one core's work, reading a file and converting it. The file's bytes are freed
    // before the analysis: for a 10-minute WAV they are 53 MB the rest of the run does not
    // need. Errors come in the order the steps would run one after another: the vocal cannot
    // be read, the engine cannot start, the vocal cannot be decoded.
    let (decoded, engine) = std::thread::scope(|s| {
        let engine = s.spawn(|| Engine::new(config));
        let decoded =
            std::fs::read(&args.vocal).map(|bytes| bandmate_engine::decode(&bytes, ext, &limits));
        (decoded, engine.join())
    });
    let decoded = decoded.with_context(|| format!("cannot read {}", args.vocal.display()))?;
    let engine = engine
        .map_err(|_| anyhow::anyhow!("cannot start the engine: loading the SoundFont panicked"))?
        .map_err(|e| match e {
            // What the service calls an internal error is the user's own setting here (the
            // SoundFont path): say what is wrong without calling it internal.
            EngineError::Internal(why) => anyhow::anyhow!("cannot start the engine: {why}"),
            other => anyhow::anyhow!("cannot start the engine: {other}"),
        })?;
    let decoded = decoded.with_context(|| format!("{}", args.vocal.display()))?;
    let prepared = engine
        .prepare_decoded(decoded, &params, &mut |s| lines.stage(s))
        .with_context(|| format!("{}", args.vocal.display()))?;
    let mut written = Vec::new();
    let mut tracks: Vec<Summary> = Vec::new();
    for v in 1..=args.variations {
        let track = engine.render(&prepared, v, &mut |s| lines.stage(s))?;
        let n = args.variations;
        write(&numbered(&args.output, v, n), &track.song_mp3, &mut written)?;
        if let Some(p) = &args.instrumental {
            write(&numbered(p, v, n), &track.instrumental_mp3, &mut written)?;
        }
        if let Some(dir) = &args.stems {
            let dir = if n > 1 {
                dir.join(format!("variation-{v}"))
            } else {
                dir.clone()
            };
            for (name, bytes) in &track.stems {
                write(&dir.join(format!("{name}.mp3")), bytes, &mut written)?;
            }
        }
        if let Some(p) = &args.midi {
            write(&numbered(p, v, n), &track.midi, &mut written)?;
        }
        if let Some(p) = &args.cover {
            write(&numbered(p, v, n), &track.cover_png, &mut written)?;
        }
        // Only the summary is kept: the MP3s and stems are written and freed before the WAVs
        // and the next variation render.
        tracks.push(Summary {
            variation: track.variation,
            duration_s: track.duration_s,
            loudness_lufs: track.loudness_lufs,
            true_peak_dbtp: track.true_peak_dbtp,
        });
        drop(track);
        // Each WAV (4 bytes a frame: 106 MB for 10 minutes) is rendered, written and freed
        // before the next: holding one while the other renders took a 10-minute run to 556 MB.
        if args.wav {
            lines.start(format!("variation {v}: WAV"));
            let wav = engine.render_wav(&prepared, v, WavKind::Song)?;
            write(
                &numbered(&args.output.with_extension("wav"), v, n),
                &wav,
                &mut written,
            )?;
            drop(wav);
            if let Some(p) = &args.instrumental {
                let wav = engine.render_wav(&prepared, v, WavKind::Instrumental)?;
                write(
                    &numbered(&p.with_extension("wav"), v, n),
                    &wav,
                    &mut written,
                )?;
            }
        }
    }
    lines.finish();

    let plan = engine.plan_json(&prepared);
    println!();
    println!("key       {}", plan["key"].as_str().unwrap_or("?"));
    println!(
        "tempo     {:.1} BPM, {}/4",
        plan["tempo"].as_f64().unwrap_or(0.0),
        plan["beatsPerBar"]
    );
    if let Some(style) = plan["style"]["name"].as_str() {
        println!("style     {style}");
    }
    if let Some(chart) = plan["chords"].as_array() {
        let symbols: Vec<&str> = chart
            .iter()
            .filter_map(|c| c["symbol"].as_str())
            .take(16)
            .collect();
        let more = if chart.len() > 16 { " …" } else { "" };
        println!("chords    {}{more}", symbols.join(" "));
    }
    for t in &tracks {
        println!(
            "song {}    {:.1} s, {:.1} LUFS, true peak {:.1} dBTP",
            t.variation, t.duration_s, t.loudness_lufs, t.true_peak_dbtp
        );
    }
    println!("written   ({:.1} s)", started.elapsed().as_secs_f64());
    for p in &written {
        println!("          {}", p.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variation_names() {
        assert_eq!(
            numbered(Path::new("out/song.mp3"), 2, 2),
            PathBuf::from("out/song-2.mp3")
        );
        assert_eq!(
            numbered(Path::new("song.mp3"), 1, 1),
            PathBuf::from("song.mp3")
        );
        assert_eq!(numbered(Path::new("song"), 1, 2), PathBuf::from("song-1"));
    }
}
