//! Harmonise the evaluation kit's ground truth and write predictions (key and chords), to
//! score the harmoniser alone with `scoring.py`:
//!
//! ```text
//! cargo run -p bandmate-compose --example eval_gt -- GT_DIR OUT_DIR [tags [styleWeight weirdness audioWeight]]
//! python scoring.py --inputs eval-inputs --pred-dir OUT_DIR
//! ```
//! The ground truth's notes become the sung notes (salience 1), its beats and downbeats the
//! beat grid, its key the key; phrases come from rests ([`bandmate_compose::phrasing`]).

use std::path::Path;

use bandmate_compose::harmony;
use bandmate_core::{Prediction, Rng};

mod gt;
use gt::analysis_from_gt;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: eval_gt GT_DIR OUT_DIR [audio_weight weirdness]");
        std::process::exit(2);
    }
    let (gt_dir, out_dir) = (Path::new(&args[1]), Path::new(&args[2]));
    let mut settings = harmony::HarmonySettings::default();
    if args.len() >= 5 {
        settings.melody_weight = args[3].parse()?;
        settings.weirdness = args[4].parse()?;
    }
    std::fs::create_dir_all(out_dir)?;
    let mut paths: Vec<_> = std::fs::read_dir(gt_dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    for p in paths {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p)?)?;
        let Some(a) = analysis_from_gt(&v) else {
            eprintln!("skip {}", p.display());
            continue;
        };
        let grid = harmony::harmony_grid(&a);
        let mut rng = Rng::new(1);
        let mut chords = harmony::harmonize(&a, &grid, &settings, &mut rng);
        for c in &mut chords {
            c.start = c.start.max(0.0);
            c.end = c.end.min(a.duration_s);
        }
        chords.retain(|c| c.end > c.start);
        let pred = Prediction {
            key: Some(a.key.to_string()),
            ..Prediction::default()
        }
        .with_chords(&chords, a.key);
        let name = p.file_name().ok_or("bad name")?;
        std::fs::write(out_dir.join(name), serde_json::to_vec(&pred)?)?;
    }
    Ok(())
}
