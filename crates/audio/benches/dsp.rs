//! `cargo bench -p bandmate-audio`: the mix's per-sample filters on a realistic block (8192
//! stereo frames of noise, the render's chunk), in nanoseconds per frame.
//!
//! The part EQ is two sections (a high-pass and a bell); a regression here shows in the render
//! stage's CPU time (`docs/render.md`). The figures are for noise at two levels: the cost must
//! not depend on the signal (no subnormal arithmetic on any lane).

use bandmate_audio::dsp::{Biquad, BiquadCoeffs, FilterKind, MonoChain, StereoEq};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const FRAMES: usize = 8192;

fn noise(seed: u32, amp: f32) -> Vec<f32> {
    let mut s = seed;
    (0..FRAMES)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s as f32 / u32::MAX as f32 - 0.5) * amp
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let rate = 44_100.0;
    let hp = BiquadCoeffs::new(
        FilterKind::HighPass,
        150.0,
        std::f32::consts::FRAC_1_SQRT_2,
        rate,
    );
    let bell = BiquadCoeffs::new(FilterKind::Peaking { gain_db: -3.0 }, 350.0, 0.8, rate);
    let mut g = c.benchmark_group("stereo_eq");
    g.throughput(Throughput::Elements(FRAMES as u64));
    for (name, stages) in [
        ("one_section", vec![hp]),
        ("two_sections", vec![hp, bell]),
        ("three_sections", vec![hp, bell, hp]),
    ] {
        for amp in [1.0f32, 1e-3] {
            let (l0, r0) = (noise(1, amp), noise(2, amp));
            let mut eq = StereoEq::new(&stages);
            let (mut l, mut r) = (l0.clone(), r0.clone());
            g.bench_with_input(BenchmarkId::new(name, amp), &amp, |b, _| {
                b.iter(|| {
                    l.copy_from_slice(&l0);
                    r.copy_from_slice(&r0);
                    eq.process(&mut l, &mut r);
                    l[FRAMES / 2]
                })
            });
        }
    }
    g.finish();
    // Five sections on one channel, shaped like the vocal's chain (render's `vocal.rs`): two
    // high-pass sections, two bells, a high shelf.
    let vocal: Vec<BiquadCoeffs> = [
        (FilterKind::HighPass, 90.0, 0.541),
        (FilterKind::HighPass, 90.0, 1.307),
        (FilterKind::Peaking { gain_db: -2.0 }, 300.0, 1.0),
        (FilterKind::Peaking { gain_db: 2.0 }, 3500.0, 0.8),
        (FilterKind::HighShelf { gain_db: 1.5 }, 10_000.0, 0.707),
    ]
    .into_iter()
    .map(|(kind, f, q)| BiquadCoeffs::new(kind, f, q, rate))
    .collect();
    let mut g = c.benchmark_group("mono_chain_5");
    g.throughput(Throughput::Elements(FRAMES as u64));
    let x0 = noise(3, 0.5);
    let mut x = x0.clone();
    let mut chain = MonoChain::new(&vocal);
    g.bench_function("lanes", |b| {
        b.iter(|| {
            x.copy_from_slice(&x0);
            chain.process(&mut x);
            x[FRAMES / 2]
        })
    });
    let mut seq: Vec<Biquad> = vocal.iter().copied().map(Biquad::new).collect();
    g.bench_function("biquad_run", |b| {
        b.iter(|| {
            x.copy_from_slice(&x0);
            for v in x.iter_mut() {
                let mut s = *v;
                for q in seq.iter_mut() {
                    s = q.run(s);
                }
                *v = s;
            }
            x[FRAMES / 2]
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
