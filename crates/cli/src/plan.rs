//! `bandmate plan FILE`: what the band will play for a vocal — key, tempo, chord chart and
//! style from the tags — printed as a lead sheet or as JSON, with the arrangement as a
//! Standard MIDI File on request.
//!
//! FILE is a vocal recording (decoded and analysed first) or an analysis saved as JSON
//! (`bandmate_core::Analysis`, `.json`), which skips the analysis.

use std::path::{Path, PathBuf};

use anyhow::Context;
use bandmate_core::{
    Analysis, GenerationParams, ModelProfile, Plan, Prediction, VocalGender, Weight,
};

/// Arguments of `bandmate plan`.
#[derive(clap::Args)]
pub struct Args {
    /// The vocal (MP3, WAV, FLAC, Ogg, M4A …) or its analysis as JSON.
    file: PathBuf,
    /// Styles, moods and instruments to include (comma-separated).
    #[arg(long, default_value = "")]
    tags: String,
    /// Styles and instruments to exclude (comma-separated); exclusions win.
    #[arg(long, default_value = "")]
    negative_tags: String,
    /// How literally the tags are followed, 0..=1.
    #[arg(long, default_value_t = 0.5)]
    style_weight: f64,
    /// Creative distance (chord vocabulary, sampling temperature), 0..=1.
    #[arg(long, default_value_t = 0.3)]
    weirdness: f64,
    /// How closely the band follows the recording, 0..=1.
    #[arg(long, default_value_t = 0.65)]
    audio_weight: f64,
    /// Engine profile: V4_5PLUS or V5.
    #[arg(long, default_value = "V4_5PLUS")]
    model: String,
    /// Vocal gender hint: m or f.
    #[arg(long)]
    vocal_gender: Option<String>,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print the plan as JSON.
    #[arg(long)]
    json: bool,
    /// Print the evaluation kit's prediction format (key, tempo, beats, notes, chords).
    #[arg(long, conflicts_with = "json")]
    prediction: bool,
    /// Write the arrangement of `--variation` as a MIDI file.
    #[arg(long)]
    midi: Option<PathBuf>,
    /// Which variation `--midi` writes (1 or 2).
    #[arg(long, default_value_t = 1)]
    variation: u8,
}

fn params(args: &Args) -> anyhow::Result<GenerationParams> {
    let weight = |name: &str, v: f64| -> anyhow::Result<Weight> {
        Weight::new(v).map_err(|e| anyhow::anyhow!("--{name}: {e}"))
    };
    Ok(GenerationParams {
        title: "Untitled".into(),
        tags: args.tags.clone(),
        negative_tags: args.negative_tags.clone(),
        style_weight: weight("style-weight", args.style_weight)?,
        weirdness: weight("weirdness", args.weirdness)?,
        audio_weight: weight("audio-weight", args.audio_weight)?,
        vocal_gender: args
            .vocal_gender
            .as_deref()
            .map(str::parse::<VocalGender>)
            .transpose()
            .map_err(|e| anyhow::anyhow!("--vocal-gender: {e}"))?,
        model: args
            .model
            .parse::<ModelProfile>()
            .map_err(|e| anyhow::anyhow!("--model: {e}"))?,
        seed: args.seed,
    })
}

fn load_analysis(path: &Path, gender: Option<VocalGender>) -> anyhow::Result<Analysis> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let ext = path.extension().and_then(|e| e.to_str());
    if ext.is_some_and(|e| e.eq_ignore_ascii_case("json")) {
        return serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not an analysis JSON", path.display()));
    }
    let decoded = bandmate_audio::decode(&bytes, ext, &bandmate_audio::DecodeLimits::default())
        .with_context(|| format!("{}", path.display()))?;
    bandmate_analysis::analyze(
        &decoded.audio,
        &bandmate_analysis::AnalysisSettings::for_voice(gender),
    )
    .with_context(|| format!("{}", path.display()))
}

/// The chord chart for an analysis with default settings and the given tags, for
/// `bandmate analyze --json`.
pub fn default_chords(
    analysis: &Analysis,
    tags: &str,
) -> anyhow::Result<(Vec<bandmate_core::ChordSpan>, bandmate_core::Key)> {
    let params = GenerationParams {
        tags: tags.to_string(),
        ..GenerationParams::default()
    };
    let plan = bandmate_compose::plan(analysis, &params)?;
    Ok((plan.chords, plan.key))
}

/// A lead sheet: one line per four bars, chords by bar.
fn lead_sheet(plan: &Plan) -> String {
    let grid = &plan.grid;
    let downs = grid.downbeats();
    let chart = plan.chart();
    let mut bars: Vec<String> = Vec::new();
    for (i, &d) in downs.iter().enumerate() {
        let end = downs
            .get(i + 1)
            .copied()
            .unwrap_or(d + grid.period() * f64::from(grid.beats_per_bar));
        let syms: Vec<&str> = chart
            .iter()
            .filter(|c| c.end > d + 1e-6 && c.start < end - 1e-6)
            .map(|c| c.symbol.as_str())
            .collect();
        let mut dedup: Vec<&str> = Vec::new();
        for s in syms {
            if dedup.last() != Some(&s) {
                dedup.push(s);
            }
        }
        bars.push(dedup.join(" "));
    }
    bars.chunks(4)
        .map(|c| format!("| {} |", c.join(" | ")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Plan, print, and write MIDI if asked.
pub fn run(args: Args) -> anyhow::Result<()> {
    let params = params(&args)?;
    let analysis = load_analysis(&args.file, params.vocal_gender)?;
    let plan = bandmate_compose::plan(&analysis, &params)?;
    if let Some(path) = &args.midi {
        let arr = bandmate_compose::arrange(&analysis, &plan, &params, args.variation)?;
        std::fs::write(path, bandmate_compose::to_midi(&arr))
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!(
            "wrote {} (variation {}, {} parts, {:.1} s, vocal enters at {:.2} s)",
            path.display(),
            args.variation,
            arr.parts.len(),
            arr.length_s,
            arr.vocal_offset_s
        );
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
    } else if args.prediction {
        let pred = Prediction::from_analysis(&analysis).with_chords(&plan.chords, plan.key);
        println!("{}", serde_json::to_string(&pred)?);
    } else {
        println!(
            "key {} ({:.0} % sure), {:.1} BPM, {}/4",
            plan.key,
            plan.key_confidence * 100.0,
            plan.tempo_bpm,
            plan.grid.beats_per_bar
        );
        println!(
            "style {} ({})",
            plan.style.name,
            plan.style.instruments.join(", ")
        );
        if !plan.style.moods.is_empty() {
            println!("moods {}", plan.style.moods.join(", "));
        }
        if !plan.unknown_tags.is_empty() {
            println!("unknown tags {}", plan.unknown_tags.join(", "));
        }
        if !plan.excluded.is_empty() {
            println!("excluded {}", plan.excluded.join(", "));
        }
        println!("{}", lead_sheet(&plan));
    }
    Ok(())
}
