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
use bandmate_core::{Analysis, BeatGrid, Envelope, F0Track, Key, Note, Prediction, Rng};

fn analysis_from_gt(v: &serde_json::Value) -> Option<Analysis> {
    let f = |x: &serde_json::Value| x.as_f64();
    let beats: Vec<f64> = v["beats"].as_array()?.iter().filter_map(f).collect();
    let downs: Vec<f64> = v["downbeats"].as_array()?.iter().filter_map(f).collect();
    let bpb = v["beats_per_bar"].as_u64()? as u8;
    let fd = downs
        .first()
        .and_then(|d| beats.iter().position(|b| (b - d).abs() < 1e-3))
        .unwrap_or(0)
        % usize::from(bpb);
    let grid = BeatGrid::new(beats, bpb, fd).ok()?;
    let key: Key = v["key"].as_str()?.parse().ok()?;
    let notes: Vec<Note> = v["notes"]
        .as_array()?
        .iter()
        .filter_map(|n| {
            let a = n.as_array()?;
            Some(Note {
                onset: a[0].as_f64()?,
                offset: a[1].as_f64()?,
                pitch: a[2].as_f64()? as f32,
                salience: 1.0,
            })
        })
        .collect();
    let phrases = bandmate_compose::phrasing::phrases_from_notes(&notes, &grid);
    Some(Analysis {
        duration_s: v["duration"].as_f64()?,
        tuning_cents: 0.0,
        f0: F0Track {
            hop_s: 0.01,
            hz: vec![],
            voicing: vec![],
        },
        loudness: Envelope {
            hop_s: 0.01,
            db: vec![],
        },
        notes,
        phrases,
        onsets: vec![],
        tempo_bpm: grid.tempo_bpm(),
        beats: grid,
        key,
        key_confidence: 1.0,
    })
}

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
