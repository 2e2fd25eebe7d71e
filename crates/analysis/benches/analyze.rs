//! Analysis speed: a 3-minute synthetic vocal (WAV bytes in memory) decoded and analysed.
//!
//! `cargo bench -p bandmate-analysis` — criterion reports the time per 3-minute vocal; the
//! issue's budget is 0.3 s of one core, decode included.

use bandmate_analysis::{AnalysisSettings, analyze, key};
use bandmate_audio::{DecodeLimits, decode};
use bandmate_core::{Key, Mode, PitchClass};
use bandmate_testkit::{Melody, SingerSettings, WavFormat, sing, wav_bytes};
use criterion::{Criterion, criterion_group, criterion_main};

fn three_minute_vocal() -> Vec<u8> {
    // 72 bars of 4/4 at 96 BPM = 180 s.
    let melody = Melody::generate(Key::new(PitchClass::new(2), Mode::Major), 96.0, 4, 72, 5);
    let take = sing(&melody, &SingerSettings::default(), 9);
    wav_bytes(
        std::slice::from_ref(&take.audio),
        take.rate,
        WavFormat::Int16,
    )
}

fn bench(c: &mut Criterion) {
    let wav = three_minute_vocal();
    let limits = DecodeLimits::default();
    let settings = AnalysisSettings::default();
    let mut g = c.benchmark_group("analysis");
    g.sample_size(10);
    g.bench_function("decode+analyze 3-minute WAV vocal", |b| {
        b.iter(|| {
            let d = decode(&wav, Some("wav"), &limits).expect("decodes");
            analyze(&d.audio, &settings).expect("analyses")
        })
    });
    let decoded = decode(&wav, Some("wav"), &limits).expect("decodes");
    g.bench_function("analyze only (3-minute vocal)", |b| {
        b.iter(|| analyze(&decoded.audio, &settings).expect("analyses"))
    });
    // The key step alone, both finders side by side, on the analysed 3-minute vocal.
    let a = analyze(&decoded.audio, &settings).expect("analyses");
    g.bench_function("key by harmony (3-minute vocal)", |b| {
        b.iter(|| {
            let w = key::beat_windows(&a.notes, a.tuning_cents, &a.beats.beats);
            key::estimate_by_harmony(&w)
        })
    });
    g.bench_function("key by profile (3-minute vocal)", |b| {
        b.iter(|| key::estimate(&key::pitch_class_weights(&a.notes, a.tuning_cents)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
