//! `cargo bench -p bandmate-audio`: the mix's per-sample filters on a realistic block (8192
//! stereo frames of noise, the render's chunk), in nanoseconds per frame.
//!
//! The part EQ is two sections (a high-pass and a bell); a regression here shows in the render
//! stage's CPU time (`docs/render.md`). The figures are for noise at two levels: the cost must
//! not depend on the signal (no subnormal arithmetic on any lane).

use bandmate_audio::dsp::{BiquadCoeffs, FilterKind, StereoEq};
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
}

criterion_group!(benches, bench);
criterion_main!(benches);
