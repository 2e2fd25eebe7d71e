//! Planning speed: a 3-minute song (75 bars of 4/4 at 100 BPM, a generated song melody with
//! about 500 notes), harmonised and arranged in both variations, then written as MIDI.
//!
//! `cargo bench -p bandmate-compose` — the budget is 50 ms of one core for
//! `plan + arrange(1) + arrange(2)`.

use bandmate_core::{Analysis, GenerationParams, Key, Mode, PitchClass, Weight};
use bandmate_testkit::Melody;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn song() -> Analysis {
    let m = Melody::generate(Key::new(PitchClass::new(2), Mode::Major), 100.0, 4, 75, 42);
    // The melody heard exactly, with a second of tail, a moving loudness envelope and the
    // phrases the arranger's dynamics follow.
    let mut a = m.analysis();
    a.duration_s = m.duration_s() + 1.0;
    a.loudness.db = (0..(a.duration_s / a.loudness.hop_s) as usize)
        .map(|i| -30.0 + 6.0 * ((i as f32) * 0.001).sin())
        .collect();
    a.phrases = bandmate_compose::phrasing::phrases_from_notes(&a.notes, &a.beats);
    a
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
