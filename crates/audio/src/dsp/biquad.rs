//! Second-order IIR filters designed with Robert Bristow-Johnson's "Cookbook formulae for audio
//! EQ biquad filter coefficients" (the W3C Audio EQ Cookbook), run in direct form I.

use std::f64::consts::PI;

use wide::f32x4;

use super::{FLUSH_BELOW, flush_tiny};

/// The filter shapes of the cookbook that the mix uses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FilterKind {
    /// 12 dB/octave low-pass at the corner, resonance `q` (0.7071 for Butterworth).
    LowPass,
    /// 12 dB/octave high-pass at the corner.
    HighPass,
    /// Band-pass with 0 dB peak gain.
    BandPass,
    /// Bell boost or cut of `gain_db` around the centre.
    Peaking {
        /// Gain at the centre in dB.
        gain_db: f32,
    },
    /// Shelf below the corner.
    LowShelf {
        /// Shelf gain in dB.
        gain_db: f32,
    },
    /// Shelf above the corner.
    HighShelf {
        /// Shelf gain in dB.
        gain_db: f32,
    },
}

/// Normalised coefficients (`a0 = 1`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BiquadCoeffs {
    b0: f32,
    b1: f32,
    b2: f32,
    a1: f32,
    a2: f32,
}

impl BiquadCoeffs {
    /// Pass-through.
    pub const IDENTITY: BiquadCoeffs = BiquadCoeffs {
        b0: 1.0,
        b1: 0.0,
        b2: 0.0,
        a1: 0.0,
        a2: 0.0,
    };

    /// Design a filter at `freq` Hz (clamped inside 10 Hz .. 0.49 x `rate`) with quality `q`
    /// (for shelves, the cookbook's Q with S = 1 at 0.7071).
    pub fn new(kind: FilterKind, freq: f32, q: f32, rate: f32) -> Self {
        let rate = f64::from(rate.max(1.0));
        let f0 = f64::from(freq).clamp(10.0, 0.49 * rate);
        let q = f64::from(q).max(0.05);
        let w0 = 2.0 * PI * f0 / rate;
        let (sn, cs) = w0.sin_cos();
        let alpha = sn / (2.0 * q);
        let (b0, b1, b2, a0, a1, a2) = match kind {
            FilterKind::LowPass => (
                (1.0 - cs) / 2.0,
                1.0 - cs,
                (1.0 - cs) / 2.0,
                1.0 + alpha,
                -2.0 * cs,
                1.0 - alpha,
            ),
            FilterKind::HighPass => (
                (1.0 + cs) / 2.0,
                -(1.0 + cs),
                (1.0 + cs) / 2.0,
                1.0 + alpha,
                -2.0 * cs,
                1.0 - alpha,
            ),
            FilterKind::BandPass => (alpha, 0.0, -alpha, 1.0 + alpha, -2.0 * cs, 1.0 - alpha),
            FilterKind::Peaking { gain_db } => {
                let a = 10f64.powf(f64::from(gain_db) / 40.0);
                (
                    1.0 + alpha * a,
                    -2.0 * cs,
                    1.0 - alpha * a,
                    1.0 + alpha / a,
                    -2.0 * cs,
                    1.0 - alpha / a,
                )
            }
            FilterKind::LowShelf { gain_db } => {
                let a = 10f64.powf(f64::from(gain_db) / 40.0);
                let sq = 2.0 * a.sqrt() * alpha;
                (
                    a * ((a + 1.0) - (a - 1.0) * cs + sq),
                    2.0 * a * ((a - 1.0) - (a + 1.0) * cs),
                    a * ((a + 1.0) - (a - 1.0) * cs - sq),
                    (a + 1.0) + (a - 1.0) * cs + sq,
                    -2.0 * ((a - 1.0) + (a + 1.0) * cs),
                    (a + 1.0) + (a - 1.0) * cs - sq,
                )
            }
            FilterKind::HighShelf { gain_db } => {
                let a = 10f64.powf(f64::from(gain_db) / 40.0);
                let sq = 2.0 * a.sqrt() * alpha;
                (
                    a * ((a + 1.0) + (a - 1.0) * cs + sq),
                    -2.0 * a * ((a - 1.0) + (a + 1.0) * cs),
                    a * ((a + 1.0) + (a - 1.0) * cs - sq),
                    (a + 1.0) - (a - 1.0) * cs + sq,
                    2.0 * ((a - 1.0) - (a + 1.0) * cs),
                    (a + 1.0) - (a - 1.0) * cs - sq,
                )
            }
        };
        Self {
            b0: (b0 / a0) as f32,
            b1: (b1 / a0) as f32,
            b2: (b2 / a0) as f32,
            a1: (a1 / a0) as f32,
            a2: (a2 / a0) as f32,
        }
    }

    /// The coefficients `[b0, b1, b2, a1, a2]` (`a0` normalised to 1), for code that runs
    /// its own loop over them.
    pub fn as_array(&self) -> [f32; 5] {
        [self.b0, self.b1, self.b2, self.a1, self.a2]
    }

    /// Magnitude response in dB at `freq` Hz (for tests and the docs).
    pub fn response_db(&self, freq: f32, rate: f32) -> f32 {
        let w = 2.0 * PI * f64::from(freq) / f64::from(rate);
        let (b0, b1, b2) = (f64::from(self.b0), f64::from(self.b1), f64::from(self.b2));
        let (a1, a2) = (f64::from(self.a1), f64::from(self.a2));
        // |B(e^jw)| / |A(e^jw)| with z^-1 = e^-jw.
        let (c1, s1) = (w.cos(), -w.sin());
        let (c2, s2) = ((2.0 * w).cos(), -(2.0 * w).sin());
        let nr = b0 + b1 * c1 + b2 * c2;
        let ni = b1 * s1 + b2 * s2;
        let dr = 1.0 + a1 * c1 + a2 * c2;
        let di = a1 * s1 + a2 * s2;
        (10.0 * ((nr * nr + ni * ni) / (dr * dr + di * di)).log10()) as f32
    }
}

/// A biquad with its state, for one channel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Biquad {
    c: BiquadCoeffs,
    x1: f32,
    x2: f32,
    y1: f32,
    y2: f32,
}

impl Biquad {
    /// A filter with cleared state.
    pub fn new(c: BiquadCoeffs) -> Self {
        Self {
            c,
            x1: 0.0,
            x2: 0.0,
            y1: 0.0,
            y2: 0.0,
        }
    }

    /// Design and build in one step.
    pub fn design(kind: FilterKind, freq: f32, q: f32, rate: f32) -> Self {
        Self::new(BiquadCoeffs::new(kind, freq, q, rate))
    }

    /// Change the coefficients, keeping the state (for slowly moving filters).
    pub fn set(&mut self, c: BiquadCoeffs) {
        self.c = c;
    }

    /// One sample.
    #[inline]
    pub fn run(&mut self, x: f32) -> f32 {
        let c = &self.c;
        // The terms that do not wait for the previous output first: the recursive dependency
        // is then one multiply and one subtraction per sample.
        let ff = c.b0 * x + c.b1 * self.x1 + c.b2 * self.x2 - c.a2 * self.y2;
        let y = ff - c.a1 * self.y1;
        self.x2 = self.x1;
        self.x1 = x;
        self.y2 = self.y1;
        // Flush denormals: a decaying tail must not slow the whole chain down.
        self.y1 = flush_tiny(y);
        y
    }

    /// Filter a block in place.
    #[inline]
    pub fn process(&mut self, x: &mut [f32]) {
        for v in x {
            *v = self.run(*v);
        }
    }
}

/// Biquad sections in cascade on one channel: what [`Biquad::run`] computes section after
/// section, bit for bit (per-sample flush of each section's fed-back output included), up to
/// four sections at a time as the lanes of one vector. Section `j` of a group runs `2 j`
/// frames behind the first, fed the previous section's output of two steps before, so a step
/// waits only on each lane's own recursion (a multiply, a subtraction and the flush) instead
/// of on every section of the frame in turn. For the vocal chain (five sections) this is two
/// passes over a block instead of five dependent ones per frame.
#[derive(Debug, Clone)]
pub struct MonoChain {
    groups: Vec<MonoGroup>,
}

/// Up to four sections (unused lanes hold zero coefficients: they compute exact zeros).
#[derive(Debug, Clone)]
struct MonoGroup {
    c: [f32x4; 5],
    lanes: usize,
    /// Per lane: x1, x2 (inputs as fed), y1, y2 (outputs as fed back, flushed).
    st: [f32x4; 4],
}

impl MonoChain {
    /// The cascade of `stages`, state cleared.
    pub fn new(stages: &[BiquadCoeffs]) -> Self {
        let groups = stages
            .chunks(4)
            .map(|g| {
                let c = std::array::from_fn(|k| {
                    let mut v = [0.0f32; 4];
                    for (lane, s) in g.iter().enumerate() {
                        v[lane] = s.as_array()[k];
                    }
                    f32x4::new(v)
                });
                MonoGroup {
                    c,
                    lanes: g.len(),
                    st: [f32x4::ZERO; 4],
                }
            })
            .collect();
        Self { groups }
    }

    /// Filter a block in place.
    pub fn process(&mut self, x: &mut [f32]) {
        for g in &mut self.groups {
            g.process(x);
        }
    }
}

impl MonoGroup {
    /// One step of every lane: the outputs (not flushed) and the state moved on, its newest
    /// output flushed as `Biquad::run` flushes it.
    #[inline(always)]
    fn step(&self, x: f32x4, st: &mut [f32x4; 4]) -> f32x4 {
        let y = lanes_step(&self.c, x, st);
        let tiny = y.abs().simd_lt(f32x4::splat(FLUSH_BELOW));
        st[2] = tiny.bitselect(f32x4::ZERO, y);
        y
    }

    fn process(&mut self, x: &mut [f32]) {
        let n = x.len();
        let last = self.lanes - 1;
        // Step t: lane j filters frame t - 2j, fed lane j - 1's output of step t - 2 (kept
        // in `o2`, before any flush). Lanes outside the block keep their state.
        let (mut o1, mut o2) = ([0.0f32; 4], [0.0f32; 4]);
        let mut st = self.st;
        for t in 0..n + 2 * last {
            let input = if t < n { x[t] } else { 0.0 };
            let feed = f32x4::new([input, o2[0], o2[1], o2[2]]);
            let edge = t < 2 * last || t >= n;
            let before = st;
            let y = self.step(feed, &mut st).to_array();
            if edge {
                let (mut now, was) = (st.map(f32x4::to_array), before.map(f32x4::to_array));
                for lane in 0..4 {
                    let f = t as isize - 2 * lane as isize;
                    if f < 0 || f >= n as isize {
                        for (v, w) in now.iter_mut().zip(&was) {
                            v[lane] = w[lane];
                        }
                    }
                }
                st = now.map(f32x4::new);
            }
            if t >= 2 * last {
                x[t - 2 * last] = y[last];
            }
            (o2, o1) = (o1, y);
        }
        self.st = st;
    }
}

/// The state of one biquad section on a stereo pair: `[x1, x2, y1, y2]` per channel.
type StageState = [[f32; 4]; 2];

/// Biquads in cascade on a stereo pair, run a block at a time (the mix's part and bus EQs,
/// the reverb's output filters). Each section computes what [`Biquad::run`] computes, in the
/// same order; the state is flushed to zero under 1e-20 at the end of each block (not each
/// sample: within a block nothing decays that far).
///
/// A section's recursion waits for its previous output (a multiply and a subtraction), so one
/// section on two channels leaves most of the processor idle. Sections are therefore run in
/// pairs as one four-lane recursion — left and right of the first section, left and right of
/// the second two frames behind — as one vector operation per step (`wide::f32x4`); the
/// arithmetic of each lane is that of the section alone, so the output is the same bit for
/// bit (`stereo_eq_equals_biquads_in_sequence`).
#[derive(Debug, Clone)]
pub struct StereoEq {
    c: Vec<[f32; 5]>,
    s: Vec<StageState>,
}

impl StereoEq {
    /// The cascade of `stages`, state cleared.
    pub fn new(stages: &[BiquadCoeffs]) -> Self {
        Self {
            c: stages.iter().map(BiquadCoeffs::as_array).collect(),
            s: vec![[[0.0; 4]; 2]; stages.len()],
        }
    }

    /// Filter a block of both channels in place (`l` and `r` the same length).
    pub fn process(&mut self, l: &mut [f32], r: &mut [f32]) {
        let n = l.len().min(r.len());
        let (l, r) = (&mut l[..n], &mut r[..n]);
        let mut k = 0;
        while k + 1 < self.c.len() {
            let (s0, s1) = self.s.split_at_mut(k + 1);
            two_stages([self.c[k], self.c[k + 1]], &mut s0[k], &mut s1[0], l, r);
            k += 2;
        }
        if k < self.c.len() {
            self.s[k] = one_stage(self.c[k], self.s[k], l, r);
        }
    }
}

/// One section on a stereo pair, outputs in place, state flushed at the end.
fn one_stage(c: [f32; 5], s: StageState, l: &mut [f32], r: &mut [f32]) -> StageState {
    let [x1, x2, y1, y2] = run_pair(c, s, l, r).map(f32x4::to_array);
    [
        [x1[0], x2[0], y1[0], y2[0]].map(flush_tiny),
        [x1[1], x2[1], y1[1], y2[1]].map(flush_tiny),
    ]
}

/// One section on a stereo pair: lanes `[left, right, 0, 0]` (the idle lanes hold exact zeros:
/// zero state, zero input). Returns the state as lanes `[x1, x2, y1, y2]`, not flushed.
fn run_pair(c: [f32; 5], s: StageState, l: &mut [f32], r: &mut [f32]) -> [f32x4; 4] {
    let coeff = c.map(f32x4::splat);
    let mut st: [f32x4; 4] = std::array::from_fn(|k| f32x4::new([s[0][k], s[1][k], 0.0, 0.0]));
    for (a, b) in l.iter_mut().zip(r.iter_mut()) {
        let [yl, yr, _, _] = lanes_step(&coeff, f32x4::new([*a, *b, 0.0, 0.0]), &mut st).to_array();
        *a = yl;
        *b = yr;
    }
    st
}

/// One step of a four-lane recursion: the outputs for inputs `x`, the state `[x1, x2, y1, y2]`
/// moved on. Explicit vectors rather than arrays left to the auto-vectoriser: it packed the
/// arrays into registers whose unused lanes ran recursions of their own on leftover values,
/// which decayed into subnormals and cost a microcode assist per instruction on Intel cores
/// (the part EQs took 2.3 s of CPU per song pair instead of 0.3 s).
#[inline(always)]
fn lanes_step(c: &[f32x4; 5], x: f32x4, st: &mut [f32x4; 4]) -> f32x4 {
    let [b0, b1, b2, a1, a2] = *c;
    let [x1, x2, y1, y2] = *st;
    // Same operations in the same order as `Biquad::run`: bit for bit its output.
    let y = (b0 * x + b1 * x1 + b2 * x2 - a2 * y2) - a1 * y1;
    *st = [x, x1, y, y1];
    y
}

/// Two sections in cascade over a block as one four-lane recursion: lanes `[first section
/// left, right, second section left, right]`, the second section two frames behind the first.
/// Two, not one: its input is then the first section's output of the step before last, so the
/// step-to-step dependency is the recursion's own multiply and subtraction, not the whole
/// section's arithmetic behind the first section's newest output.
fn two_stages(
    c: [[f32; 5]; 2],
    s0: &mut StageState,
    s1: &mut StageState,
    l: &mut [f32],
    r: &mut [f32],
) {
    let n = l.len();
    if n < 3 {
        *s0 = one_stage(c[0], *s0, l, r);
        *s1 = one_stage(c[1], *s1, l, r);
        return;
    }
    // Frames 0 and 1 through the first section alone; its outputs stay in its state.
    let first = run_pair(c[0], *s0, &mut l[..2], &mut r[..2]);
    let coeff: [f32x4; 5] =
        std::array::from_fn(|k| f32x4::new([c[0][k], c[0][k], c[1][k], c[1][k]]));
    let mut st: [f32x4; 4] = std::array::from_fn(|k| {
        let a = first[k].to_array();
        f32x4::new([a[0], a[1], s1[0][k], s1[1][k]])
    });
    // Frame i through the first section with frame i - 2 through the second (its input, the
    // first section's output two frames back, is the state's y2).
    for i in 2..n {
        let [p, q, _, _] = st[3].to_array();
        let [_, _, yl, yr] = lanes_step(&coeff, f32x4::new([l[i], r[i], p, q]), &mut st).to_array();
        l[i - 2] = yl;
        r[i - 2] = yr;
    }
    // The first section's last two outputs through the second section alone.
    let [x1, x2, y1, y2] = st.map(f32x4::to_array);
    (l[n - 2], r[n - 2], l[n - 1], r[n - 1]) = (y2[0], y2[1], y1[0], y1[1]);
    *s0 = [
        [x1[0], x2[0], y1[0], y2[0]].map(flush_tiny),
        [x1[1], x2[1], y1[1], y2[1]].map(flush_tiny),
    ];
    *s1 = one_stage(
        c[1],
        [[x1[2], x2[2], y1[2], y2[2]], [x1[3], x2[3], y1[3], y2[3]]],
        &mut l[n - 2..],
        &mut r[n - 2..],
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use bandmate_testkit::sine;
    use proptest::prelude::*;

    proptest! {
        /// The cascade, pairs of sections as four lanes, equals the sections one after the
        /// other, sample by sample, bit for bit, whatever the blocks.
        #[test]
        fn stereo_eq_equals_biquads_in_sequence(
            x in prop::collection::vec(-1.0f32..1.0, 1..600),
            stages in 1usize..6,
            block in 1usize..200,
        ) {
            let rate = 44_100.0;
            let designs: Vec<BiquadCoeffs> = [
                BiquadCoeffs::new(FilterKind::HighPass, 120.0, 0.7, rate),
                BiquadCoeffs::new(FilterKind::Peaking { gain_db: -3.0 }, 300.0, 0.8, rate),
                BiquadCoeffs::new(FilterKind::HighShelf { gain_db: 2.0 }, 8000.0, 0.7, rate),
                BiquadCoeffs::new(FilterKind::LowShelf { gain_db: 1.5 }, 90.0, 0.7, rate),
                BiquadCoeffs::new(FilterKind::LowPass, 9000.0, 0.7, rate),
            ][..stages].to_vec();
            let mut eq = StereoEq::new(&designs);
            let (mut l, mut r) = (x.clone(), x.iter().map(|v| -0.5 * v).collect::<Vec<_>>());
            let (mut el, mut er) = (l.clone(), r.clone());
            for c in [&mut el, &mut er] {
                for d in &designs {
                    Biquad::new(*d).process(c);
                }
            }
            let mut i = 0;
            while i < l.len() {
                let m = block.min(l.len() - i);
                eq.process(&mut l[i..i + m], &mut r[i..i + m]);
                i += m;
            }
            prop_assert_eq!(l, el);
            prop_assert_eq!(r, er);
        }
    }

    proptest! {
        /// The mono cascade, up to four sections as lanes, equals the sections one after the
        /// other sample by sample, bit for bit, whatever the blocks and the number of sections
        /// (more than four: several groups), with signals small enough that the fed-back
        /// outputs cross the flush threshold.
        #[test]
        fn mono_chain_equals_biquads_in_sequence(
            x in prop::collection::vec(-1.0f32..1.0, 1..400),
            scale in prop::sample::select(vec![1.0f32, 1e-18, 3e-20]),
            stages in 1usize..10,
            block in 1usize..150,
        ) {
            let rate = 44_100.0;
            let all = [
                BiquadCoeffs::new(FilterKind::HighPass, 90.0, 0.541, rate),
                BiquadCoeffs::new(FilterKind::HighPass, 90.0, 1.307, rate),
                BiquadCoeffs::new(FilterKind::Peaking { gain_db: -2.0 }, 300.0, 1.0, rate),
                BiquadCoeffs::new(FilterKind::Peaking { gain_db: 2.0 }, 3500.0, 0.8, rate),
                BiquadCoeffs::new(FilterKind::HighShelf { gain_db: 1.5 }, 10_000.0, 0.7, rate),
            ];
            let designs: Vec<BiquadCoeffs> = (0..stages).map(|i| all[i % all.len()]).collect();
            let x: Vec<f32> = x.iter().map(|v| v * scale).collect();
            let mut seq: Vec<Biquad> = designs.iter().map(|d| Biquad::new(*d)).collect();
            let want: Vec<f32> = x
                .iter()
                .map(|&v| seq.iter_mut().fold(v, |s, q| q.run(s)))
                .collect();
            let mut chain = MonoChain::new(&designs);
            let mut got = x.clone();
            let mut i = 0;
            while i < got.len() {
                let m = block.min(got.len() - i);
                chain.process(&mut got[i..i + m]);
                i += m;
            }
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(&got), bits(&want));
        }
    }

    fn measured_gain_db(kind: FilterKind, f0: f32, q: f32, probe: f64) -> f32 {
        let rate = 44_100u32;
        let mut b = Biquad::design(kind, f0, q, rate as f32);
        let mut x = sine(probe, 1.0, rate, 0.5);
        b.process(&mut x);
        let tail = &x[22_050..];
        let rms = (tail.iter().map(|v| v * v).sum::<f32>() / tail.len() as f32).sqrt();
        20.0 * (rms / (0.5 / 2f32.sqrt())).log10()
    }

    #[test]
    fn cookbook_shapes_measure_as_designed() {
        // High-pass: -3 dB at the corner, about -24 dB an octave... two octaves below.
        let hp = |f| {
            measured_gain_db(
                FilterKind::HighPass,
                100.0,
                std::f32::consts::FRAC_1_SQRT_2,
                f,
            )
        };
        assert!((hp(100.0) + 3.0).abs() < 0.3);
        assert!(hp(25.0) < -22.0);
        assert!(hp(1000.0).abs() < 0.1);
        // Low-pass mirror.
        let lp = |f| {
            measured_gain_db(
                FilterKind::LowPass,
                2000.0,
                std::f32::consts::FRAC_1_SQRT_2,
                f,
            )
        };
        assert!((lp(2000.0) + 3.0).abs() < 0.3);
        assert!(lp(200.0).abs() < 0.1);
        // Peaking cut of 6 dB lands at the centre, unity far away.
        let pk = |f| measured_gain_db(FilterKind::Peaking { gain_db: -6.0 }, 2500.0, 1.0, f);
        assert!((pk(2500.0) + 6.0).abs() < 0.2);
        assert!(pk(100.0).abs() < 0.1);
        // Shelves reach their gain well inside the shelf.
        let ls = |f| {
            measured_gain_db(
                FilterKind::LowShelf { gain_db: 4.0 },
                200.0,
                std::f32::consts::FRAC_1_SQRT_2,
                f,
            )
        };
        assert!((ls(30.0) - 4.0).abs() < 0.3);
        assert!(ls(5000.0).abs() < 0.1);
        let hs = |f| {
            measured_gain_db(
                FilterKind::HighShelf { gain_db: -5.0 },
                6000.0,
                std::f32::consts::FRAC_1_SQRT_2,
                f,
            )
        };
        assert!((hs(16_000.0) + 5.0).abs() < 0.4);
        assert!(hs(200.0).abs() < 0.1);
    }

    #[test]
    fn analytic_response_matches_measurement() {
        let c = BiquadCoeffs::new(FilterKind::Peaking { gain_db: 5.0 }, 800.0, 2.0, 44_100.0);
        for f in [100.0, 400.0, 800.0, 1600.0, 6000.0] {
            let m = measured_gain_db(
                FilterKind::Peaking { gain_db: 5.0 },
                800.0,
                2.0,
                f64::from(f),
            );
            assert!((c.response_db(f, 44_100.0) - m).abs() < 0.15, "{f}");
        }
    }

    #[test]
    fn stays_finite_on_silence_and_extreme_designs() {
        let mut b = Biquad::design(FilterKind::HighPass, 0.0, 0.0, 44_100.0);
        let mut x = vec![0.0f32; 1000];
        x[0] = 1.0;
        b.process(&mut x);
        assert!(x.iter().all(|v| v.is_finite()));
        let mut b = Biquad::design(FilterKind::LowPass, 1e9, 50.0, 44_100.0);
        let mut x = sine(1000.0, 0.2, 44_100, 0.5);
        b.process(&mut x);
        assert!(x.iter().all(|v| v.is_finite()));
    }
}
