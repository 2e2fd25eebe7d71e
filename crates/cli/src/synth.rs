//! `bandmate synth-vocal`: a synthetic singer for tests, demos and benchmarks.
//!
//! Renders a generated melody (or a scale) as a voice with vibrato, scoops, drift, timing
//! jitter, breaths, consonants and room reverb, and can write its ground truth (notes, beats,
//! key) in the evaluation kit's format.

use std::path::PathBuf;

use anyhow::Context;
use bandmate_core::{Key, VocalGender};
use bandmate_testkit::{Melody, SingerSettings, WavFormat, sing, wav_bytes};

/// Arguments of `bandmate synth-vocal`.
#[derive(clap::Args)]
pub struct Args {
    /// Output WAV (mono, 16-bit).
    #[arg(short, long)]
    output: PathBuf,
    /// Also write the ground truth JSON here.
    #[arg(long)]
    truth: Option<PathBuf>,
    /// Key of the melody, e.g. "D major", "F# minor".
    #[arg(long, default_value = "C major")]
    key: String,
    /// Tempo in BPM.
    #[arg(long, default_value_t = 96.0)]
    bpm: f64,
    /// Beats per bar (3 or 4).
    #[arg(long, default_value_t = 4)]
    meter: u32,
    /// Length in bars.
    #[arg(long, default_value_t = 16)]
    bars: u32,
    /// Voice: m (lower, male formants) or f.
    #[arg(long, default_value = "m")]
    gender: String,
    /// Seed of the melody and of the performance.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Sing cleanly: no vibrato, scoops, drift, jitter, consonants, breaths or reverb.
    #[arg(long)]
    clean: bool,
}

/// Render and write.
pub fn run(args: Args) -> anyhow::Result<()> {
    let key: Key = args
        .key
        .parse()
        .with_context(|| format!("--key {}", args.key))?;
    let gender: VocalGender = args
        .gender
        .parse()
        .with_context(|| format!("--gender {}", args.gender))?;
    anyhow::ensure!(
        (30.0..=300.0).contains(&args.bpm),
        "--bpm must be between 30 and 300"
    );
    anyhow::ensure!(matches!(args.meter, 3 | 4), "--meter must be 3 or 4");
    anyhow::ensure!(
        (1..=200).contains(&args.bars),
        "--bars must be between 1 and 200"
    );
    let mut melody = Melody::generate(key, args.bpm, args.meter, args.bars, args.seed);
    let mut settings = if args.clean {
        SingerSettings::clean()
    } else {
        SingerSettings::default()
    };
    if gender == VocalGender::Female {
        // the generator's range (around C4–C5) with a smaller vocal tract
        settings.formant_scale = 1.17;
    } else {
        // an octave down for a male voice
        melody.notes.iter_mut().for_each(|n| n.midi -= 12);
    }
    let take = sing(&melody, &settings, args.seed.wrapping_mul(7919));
    std::fs::write(
        &args.output,
        wav_bytes(
            std::slice::from_ref(&take.audio),
            take.rate,
            WavFormat::Int16,
        ),
    )
    .with_context(|| format!("cannot write {}", args.output.display()))?;
    if let Some(path) = &args.truth {
        let id = args
            .output
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("take");
        std::fs::write(path, take.truth_json(id, args.meter))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
