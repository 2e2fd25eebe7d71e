//! How styleWeight, weirdnessConstraint and audioWeight move the harmony, measured on the
//! evaluation kit's ground-truth melodies (notes, beats, key):
//!
//! ```text
//! cargo run --release -p bandmate-compose --example sweep -- /path/to/eval-inputs/gt
//! ```
//! For each setting it prints the mean over clips of: distinct chords, chord entropy (nats,
//! over chord time), chord-tone ratio (share of sung time on chord tones), and the share of
//! chord time on four-note-or-richer chords (sevenths, sixths, ninths). The other two
//! parameters stay at their defaults; styleWeight is swept with the tags "jazz".

use std::collections::HashMap;
use std::path::Path;

use bandmate_core::{Analysis, GenerationParams, Plan, Weight};

mod gt;

struct Figures {
    distinct: f64,
    entropy: f64,
    chord_tone: f64,
    rich: f64,
}

fn figures(a: &Analysis, plan: &Plan) -> Figures {
    let mut time: HashMap<String, f64> = HashMap::new();
    let mut rich = 0.0;
    let mut total = 0.0;
    for c in &plan.chords {
        if let Some(ch) = c.chord {
            let d = c.end - c.start;
            *time.entry(ch.to_string()).or_default() += d;
            total += d;
            if ch.pitch_classes().len() >= 4 {
                rich += d;
            }
        }
    }
    let entropy = -time
        .values()
        .map(|&t| t / total)
        .map(|p| p * p.ln())
        .sum::<f64>();
    let (mut on, mut sung) = (0.0, 0.0);
    for n in &a.notes {
        let pc = bandmate_core::PitchClass::new(n.midi(a.tuning_cents));
        for c in &plan.chords {
            let ov = n.offset.min(c.end) - n.onset.max(c.start);
            if ov > 0.0 {
                sung += ov;
                if c.chord.is_some_and(|ch| ch.contains(pc)) {
                    on += ov;
                }
            }
        }
    }
    Figures {
        distinct: time.len() as f64,
        entropy,
        chord_tone: on / sung.max(1e-9),
        rich: rich / total.max(1e-9),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: sweep GT_DIR")?;
    let mut clips: Vec<Analysis> = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(Path::new(&dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with("_voice.json"))
        .collect();
    paths.sort();
    for p in paths {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p)?)?;
        if let Some(a) = gt::analysis_from_gt(&v) {
            clips.push(a);
        }
    }
    let values = [0u8, 25, 50, 75, 100];
    println!(
        "{} clips (the voice renders; the flute renders carry the same notes)\n",
        clips.len()
    );
    println!(
        "| parameter | value | distinct chords | chord entropy | chord-tone ratio | 4+-note chord share |"
    );
    println!("|---|---|---|---|---|---|");
    for which in [
        "styleWeight (tags: jazz)",
        "weirdnessConstraint",
        "audioWeight",
    ] {
        for &v in &values {
            let w = Weight::from_hundredths(v);
            let mut params = GenerationParams {
                seed: 1,
                ..GenerationParams::default()
            };
            match which {
                "weirdnessConstraint" => params.weirdness = w,
                "audioWeight" => params.audio_weight = w,
                _ => {
                    params.tags = "jazz".into();
                    params.style_weight = w;
                }
            }
            let (mut d, mut e, mut c, mut r) = (0.0, 0.0, 0.0, 0.0);
            for a in &clips {
                let plan = bandmate_compose::plan(a, &params)?;
                let f = figures(a, &plan);
                d += f.distinct;
                e += f.entropy;
                c += f.chord_tone;
                r += f.rich;
            }
            let n = clips.len() as f64;
            println!(
                "| {which} | {:.2} | {:.2} | {:.3} | {:.3} | {:.3} |",
                f64::from(v) / 100.0,
                d / n,
                e / n,
                c / n,
                r / n
            );
        }
    }
    Ok(())
}
