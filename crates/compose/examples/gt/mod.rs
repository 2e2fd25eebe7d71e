//! Ground-truth JSON of the evaluation kit → an `Analysis`.

use bandmate_core::{Analysis, BeatGrid, Envelope, F0Track, Key, Note};

/// The GT's notes (salience 1), beats, downbeats and key as an analysis.
pub fn analysis_from_gt(v: &serde_json::Value) -> Option<Analysis> {
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
