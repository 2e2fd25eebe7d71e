//! `bandmate analyze FILE`: what Bandmate hears in a vocal.
//!
//! Without `--json`: a readable summary. With `--json`: exactly the prediction format of the
//! evaluation kit (`../shared/eval/README.md`): tempo, beats, downbeats, key, notes, f0.

use std::path::PathBuf;

use anyhow::Context;
use bandmate_analysis::{AnalysisSettings, analyze};
use bandmate_audio::{DecodeLimits, decode};
use bandmate_core::{Prediction, VocalGender};

/// Arguments of `bandmate analyze`.
#[derive(clap::Args)]
pub struct Args {
    /// The vocal or melody recording (MP3, WAV, FLAC, Ogg, M4A …).
    file: PathBuf,
    /// Voice range hint: m or f.
    #[arg(long, value_parser = parse_gender)]
    vocal_gender: Option<VocalGender>,
    /// Print the prediction JSON of the evaluation kit instead of a summary.
    #[arg(long)]
    json: bool,
    /// Tags for the chords the JSON includes (the default band when empty).
    #[arg(long, default_value = "")]
    tags: String,
    /// Also write the whole analysis as JSON to this file; `bandmate plan` takes it in place
    /// of the recording and skips decoding and analysis.
    #[arg(long, value_name = "PATH")]
    save_analysis: Option<PathBuf>,
}

fn parse_gender(s: &str) -> Result<VocalGender, String> {
    s.parse()
        .map_err(|e: bandmate_core::CoreError| e.to_string())
}

/// Decode and analyse the file, then print.
pub fn run(args: Args) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let ext = args.file.extension().and_then(|e| e.to_str());
    let name = args.file.display();
    let decoded =
        decode(&bytes, ext, &DecodeLimits::default()).with_context(|| format!("{name}"))?;
    let analysis = analyze(
        &decoded.audio,
        &AnalysisSettings::for_voice(args.vocal_gender),
    )
    .with_context(|| format!("{name}"))?;
    if let Some(path) = &args.save_analysis {
        std::fs::write(path, serde_json::to_vec(&analysis)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&{
                let (chords, key) = crate::plan::default_chords(&analysis, &args.tags)?;
                Prediction::from_analysis(&analysis).with_chords(&chords, key)
            })?
        );
        return Ok(());
    }
    let a = &analysis;
    println!(
        "{name}: {:.1} s, {}, {}",
        a.duration_s,
        decoded.codec,
        decoded.audio.rate()
    );
    println!("key      {} (confidence {:.2})", a.key, a.key_confidence);
    println!(
        "tempo    {:.1} BPM, {}/4, {} beats, first downbeat at {:.2} s",
        a.tempo_bpm,
        a.beats.beats_per_bar,
        a.beats.len(),
        a.beats.downbeats().first().copied().unwrap_or(0.0)
    );
    println!("tuning   {:+.0} cents", a.tuning_cents);
    let range = a
        .vocal_range()
        .map(|(lo, hi)| format!("{} to {}", note_name(lo), note_name(hi)))
        .unwrap_or_default();
    println!(
        "melody   {} notes in {} phrases, range {range}",
        a.notes.len(),
        a.phrases.len()
    );
    Ok(())
}

fn note_name(midi: f32) -> String {
    let m = midi.round() as i32;
    format!(
        "{}{}",
        bandmate_core::PitchClass::new(m).sharp_name(),
        m.div_euclid(12) - 1
    )
}
