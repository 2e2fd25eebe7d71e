//! Planning speed: a 3-minute song (75 bars of 4/4 at 100 BPM, a generated song melody with
//! about 500 notes), harmonised and arranged in both variations, then written as MIDI.
//!
//! `cargo bench -p bandmate-compose` — the budget is 50 ms of one core for
//! `plan + arrange(1) + arrange(2)`.

use bandmate_core::{
    Analysis, BeatGrid, Envelope, F0Track, GenerationParams, Key, Mode, Note, PitchClass, Weight,
};
use bandmate_testkit::Melody;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn song() -> Analysis {
    let m = Melody::generate(Key::new(PitchClass::new(2), Mode::Major), 100.0, 4, 75, 42);
    let spb = 60.0 / m.bpm;
    let beats = (m.bars * m.beats_per_bar) as usize;
    let grid = BeatGrid::new(
        (0..beats).map(|i| m.lead_in_s + i as f64 * spb).collect(),
        4,
        0,
    )
    .expect("grid");
    let notes: Vec<Note> = m
        .notes
        .iter()
        .map(|n| Note {
            onset: m.lead_in_s + n.beat * spb,
            offset: m.lead_in_s + (n.beat + n.beats) * spb,
            pitch: n.midi as f32,
            salience: 1.0,
        })
        .collect();
    let duration = m.lead_in_s + beats as f64 * spb + 1.0;
    let db = (0..(duration / 0.01) as usize)
        .map(|i| -30.0 + 6.0 * ((i as f32) * 0.001).sin())
        .collect();
    Analysis {
        duration_s: duration,
        tuning_cents: 0.0,
        f0: F0Track {
            hop_s: 0.01,
            hz: vec![],
            voicing: vec![],
        },
        loudness: Envelope { hop_s: 0.01, db },
        phrases: bandmate_compose::phrasing::phrases_from_notes(&notes, &grid),
        notes,
        onsets: vec![],
        tempo_bpm: 100.0,
        beats: grid,
        key: m.key,
        key_confidence: 0.9,
    }
}

fn bench(c: &mut Criterion) {
    let a = song();
    let mut group = c.benchmark_group("3-minute song");
    for (name, tags, weird) in [
        ("pop, default weirdness", "pop", 30u8),
        ("jazz, weirdness 0.8", "jazz", 80),
    ] {
        let params = GenerationParams {
            tags: tags.into(),
            weirdness: Weight::from_hundredths(weird),
            seed: 1,
            ..GenerationParams::default()
        };
        group.bench_function(format!("plan + 2 arrangements ({name})"), |b| {
            b.iter(|| {
                let plan = bandmate_compose::plan(black_box(&a), &params).expect("plan");
                let v1 = bandmate_compose::arrange(&a, &plan, &params, 1).expect("v1");
                let v2 = bandmate_compose::arrange(&a, &plan, &params, 2).expect("v2");
                black_box((plan, v1, v2))
            })
        });
        let plan = bandmate_compose::plan(&a, &params).expect("plan");
        let v1 = bandmate_compose::arrange(&a, &plan, &params, 1).expect("v1");
        group.bench_function(format!("to_midi ({name})"), |b| {
            b.iter(|| black_box(bandmate_compose::to_midi(black_box(&v1))))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
