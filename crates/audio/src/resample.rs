//! Sample-rate conversion by windowed-sinc interpolation (Smith, "Digital Audio Resampling",
//! CCRMA), with a Kaiser window and a precomputed polyphase table.
//!
//! [`Quality::Analysis`] is short and fast (the analysis only needs the voice band);
//! [`Quality::Mix`] keeps aliasing below -90 dB for audio that is heard.

/// How good the filter is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quality {
    /// 8 zero crossings each side, Kaiser beta 6: fast, about -60 dB stop band, plenty for
    /// pitch and onsets.
    Analysis,
    /// 32 zero crossings each side, Kaiser beta 10: about -95 dB stop band.
    Mix,
}

impl Quality {
    fn params(self) -> (usize, f64) {
        match self {
            Quality::Analysis => (8, 6.0),
            Quality::Mix => (32, 10.0),
        }
    }
}

/// Largest number of exact polyphase phases; rarer ratios use this many phases with linear
/// interpolation between them.
const MAX_EXACT_PHASES: usize = 1024;

fn bessel_i0(x: f64) -> f64 {
    // Power series; converges fast for the betas used here.
    let mut sum = 1.0;
    let mut term = 1.0;
    let q = x * x / 4.0;
    for k in 1..50 {
        term *= q / (k * k) as f64;
        sum += term;
        if term < 1e-12 * sum {
            break;
        }
    }
    sum
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Dot product with eight independent accumulators, so the compiler vectorises it.
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; 8];
    let chunks = n / 8;
    for c in 0..chunks {
        let (x, y) = (&a[c * 8..c * 8 + 8], &b[c * 8..c * 8 + 8]);
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut s = acc.iter().sum::<f32>();
    for k in chunks * 8..n {
        s += a[k] * b[k];
    }
    s
}

/// The polyphase filter of one conversion: what [`resample`] and [`Resampler`] share.
#[derive(Debug, Clone)]
struct Filter {
    from: u32,
    to: u32,
    half_len: usize,
    taps: usize,
    /// Exact phases (l, m: output j sits at input j * m / l) or interpolated ones.
    exact: bool,
    l: usize,
    m: usize,
    phases: usize,
    /// table[p][k]: weight of input sample (base - half_len + 1 + k) at sub-position p / phases.
    table: Vec<f32>,
}

impl Filter {
    fn new(from: u32, to: u32, quality: Quality) -> Self {
        let (zeros, beta) = quality.params();
        let ratio = f64::from(to) / f64::from(from);
        // Cut-off relative to the input Nyquist: below the lower of the two rates, with a 5 %
        // transition band.
        let cutoff = ratio.min(1.0) * 0.95;
        // The filter spans `zeros` zero crossings of the (stretched) sinc on each side.
        let half_len = (zeros as f64 / cutoff).ceil() as usize;
        let taps = 2 * half_len;
        let g = gcd(u64::from(from), u64::from(to));
        let (l, m) = ((u64::from(to) / g) as usize, (u64::from(from) / g) as usize);
        let exact = l <= MAX_EXACT_PHASES;
        let phases = if exact { l } else { MAX_EXACT_PHASES };
        let i0b = bessel_i0(beta);
        let rows = if exact { phases } else { phases + 1 };
        let mut table = vec![0.0f32; rows * taps];
        for p in 0..rows {
            let frac = p as f64 / phases as f64;
            let row = &mut table[p * taps..(p + 1) * taps];
            for (k, w) in row.iter_mut().enumerate() {
                let x = k as f64 - (half_len as f64 - 1.0) - frac; // distance in input samples
                let sinc = if x.abs() < 1e-12 {
                    1.0
                } else {
                    (std::f64::consts::PI * x * cutoff).sin() / (std::f64::consts::PI * x)
                };
                let r = x / (half_len as f64);
                let win = if r.abs() >= 1.0 {
                    0.0
                } else {
                    bessel_i0(beta * (1.0 - r * r).sqrt()) / i0b
                };
                *w = (sinc * win) as f32;
            }
            // Unity DC gain per phase.
            let s: f32 = row.iter().sum();
            if s.abs() > 1e-9 {
                row.iter_mut().for_each(|w| *w /= s);
            }
        }
        Self {
            from,
            to,
            half_len,
            taps,
            exact,
            l,
            m,
            phases,
            table,
        }
    }

    /// Outputs for `len` input samples.
    fn out_len(&self, len: usize) -> usize {
        (len as f64 * f64::from(self.to) / f64::from(self.from)).round() as usize
    }

    /// Output `j`'s first input sample (may be negative), phase and phase fraction.
    fn position(&self, j: usize) -> (isize, usize, f32) {
        let (base, p, t) = if self.exact {
            let num = j * self.m; // position in units of 1/l input samples
            ((num / self.l) as isize, num % self.l, 0.0f32)
        } else {
            let pos = j as f64 * f64::from(self.from) / f64::from(self.to);
            let base = pos.floor();
            let pf = (pos - base) * self.phases as f64;
            let p = (pf as usize).min(self.phases - 1);
            (base as isize, p, (pf - p as f64) as f32)
        };
        (base - self.half_len as isize + 1, p, t)
    }

    /// Output for the `taps` input samples `src` at phase `p`, fraction `t`.
    fn output(&self, src: &[f32], p: usize, t: f32) -> f32 {
        let taps = self.taps;
        let a0 = dot(&self.table[p * taps..(p + 1) * taps], src);
        if self.exact {
            a0
        } else {
            let a1 = dot(&self.table[(p + 1) * taps..(p + 2) * taps], src);
            a0 + (a1 - a0) * t
        }
    }
}

/// Fill `window` with input samples `start ..` where `input` holds samples
/// `from .. from + input.len()` and the input ends at `end`: zeros outside (before the start,
/// after the end), as the filter sees the edges.
fn fill_window(window: &mut [f32], input: &[f32], from: usize, end: usize, start: isize) {
    for (k, w) in window.iter_mut().enumerate() {
        let idx = start + k as isize;
        *w = if idx >= from as isize && idx < end as isize {
            input[idx as usize - from]
        } else {
            0.0
        };
    }
}

/// Resample `input` from `from` Hz to `to` Hz.
pub fn resample(input: &[f32], from: u32, to: u32, quality: Quality) -> Vec<f32> {
    if from == to || input.is_empty() || from == 0 || to == 0 {
        return input.to_vec();
    }
    let f = Filter::new(from, to, quality);
    let out_len = f.out_len(input.len());
    let mut out = Vec::with_capacity(out_len);
    let n = input.len() as isize;
    let mut window = vec![0.0f32; f.taps];
    for j in 0..out_len {
        let (start, p, t) = f.position(j);
        let src: &[f32] = if start >= 0 && start + f.taps as isize <= n {
            &input[start as usize..start as usize + f.taps]
        } else {
            fill_window(&mut window, input, 0, input.len(), start);
            &window
        };
        out.push(f.output(src, p, t));
    }
    out
}

/// [`resample`] a piece at a time: feed the input in any pieces with [`Resampler::process`],
/// end with [`Resampler::finish`]; the outputs are those of [`resample`] on the whole input,
/// bit for bit, while only the filter's span of input is kept.
#[derive(Debug, Clone)]
pub struct Resampler {
    /// None when the rates are equal (the input passes through).
    filter: Option<Filter>,
    /// Input kept from sample `kept_from` on.
    kept: Vec<f32>,
    kept_from: usize,
    /// Input samples fed so far.
    fed: usize,
    /// The next output's index.
    next: usize,
    /// The filter's span of input where it reaches past an edge.
    window: Vec<f32>,
}

impl Resampler {
    /// A converter from `from` Hz to `to` Hz.
    pub fn new(from: u32, to: u32, quality: Quality) -> Self {
        let filter = (from != to && from != 0 && to != 0).then(|| Filter::new(from, to, quality));
        let window = vec![0.0; filter.as_ref().map_or(0, |f| f.taps)];
        Self {
            filter,
            kept: Vec::new(),
            kept_from: 0,
            fed: 0,
            next: 0,
            window,
        }
    }

    /// Feed `input`; every output whose span of input has fully arrived is appended to `out`.
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) {
        let Some(f) = &self.filter else {
            out.extend_from_slice(input);
            return;
        };
        self.kept.extend_from_slice(input);
        self.fed += input.len();
        loop {
            let (start, p, t) = f.position(self.next);
            if start + f.taps as isize > self.fed as isize {
                break;
            }
            let src: &[f32] = if start >= self.kept_from as isize {
                let at = start as usize - self.kept_from;
                &self.kept[at..at + f.taps]
            } else {
                // Only before the input's start (zeros there, as in `resample`).
                fill_window(
                    &mut self.window,
                    &self.kept,
                    self.kept_from,
                    self.fed,
                    start,
                );
                &self.window
            };
            out.push(f.output(src, p, t));
            self.next += 1;
        }
        // Drop what no later output reads (in bulk, so the copying stays linear).
        let (start, ..) = f.position(self.next);
        let keep_from = start.max(0) as usize;
        if keep_from > self.kept_from + (1 << 16) {
            self.kept.drain(..keep_from - self.kept_from);
            self.kept_from = keep_from;
        }
    }

    /// The end of the input: the remaining outputs (the input taken as zeros past its end).
    pub fn finish(mut self, out: &mut Vec<f32>) {
        let Some(f) = &self.filter else {
            return;
        };
        if self.fed == 0 {
            return;
        }
        for j in self.next..f.out_len(self.fed) {
            let (start, p, t) = f.position(j);
            fill_window(
                &mut self.window,
                &self.kept,
                self.kept_from,
                self.fed,
                start,
            );
            out.push(f.output(&self.window, p, t));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bandmate_testkit::sine;

    fn rms(v: &[f32]) -> f64 {
        (v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
    }

    /// Amplitude of `freq` in `v` by correlation with a sine and cosine.
    fn tone_amp(v: &[f32], freq: f64, rate: f64) -> f64 {
        let (mut s, mut c) = (0.0, 0.0);
        for (i, &x) in v.iter().enumerate() {
            let ph = std::f64::consts::TAU * freq * i as f64 / rate;
            s += f64::from(x) * ph.sin();
            c += f64::from(x) * ph.cos();
        }
        2.0 * (s * s + c * c).sqrt() / v.len() as f64
    }

    #[test]
    fn passband_tone_survives_downsampling() {
        let x = sine(440.0, 1.0, 44_100, 0.5);
        let y = resample(&x, 44_100, 16_000, Quality::Analysis);
        assert_eq!(y.len(), 16_000);
        let mid = &y[2000..14_000];
        assert!((tone_amp(mid, 440.0, 16_000.0) - 0.5).abs() < 0.005);
    }

    #[test]
    fn tone_above_new_nyquist_is_removed() {
        let x = sine(12_000.0, 1.0, 44_100, 0.5);
        let y = resample(&x, 44_100, 16_000, Quality::Mix);
        assert!(
            rms(&y[1000..15_000]) < 0.5 * 1e-4,
            "{}",
            rms(&y[1000..15_000])
        );
    }

    #[test]
    fn odd_ratio_uses_interpolated_phases() {
        // 44_100 -> 44_123 has 44_123 exact phases: the interpolated path.
        let x = sine(1000.0, 0.5, 44_100, 0.5);
        let y = resample(&x, 44_100, 44_123, Quality::Mix);
        assert!((tone_amp(&y[2000..20_000], 1000.0, 44_123.0) - 0.5).abs() < 0.003);
    }

    #[test]
    fn upsampling_keeps_tone() {
        let x = sine(1000.0, 0.5, 22_050, 0.5);
        let y = resample(&x, 22_050, 44_100, Quality::Mix);
        assert_eq!(y.len(), 22_050);
        assert!((tone_amp(&y[2000..20_000], 1000.0, 44_100.0) - 0.5).abs() < 0.003);
    }
}

#[cfg(test)]
mod streaming {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Fed in any pieces, the streaming converter gives `resample`'s output bit for bit,
        /// exact and interpolated phases, up and down.
        #[test]
        fn pieces_give_the_whole_conversion(
            len in 0usize..6000,
            cuts in proptest::collection::vec(0usize..6000, 0..6),
            rates in prop_oneof![
                Just((48_000u32, 44_100u32)),
                Just((96_000, 44_100)),
                Just((44_100, 16_000)),
                Just((22_050, 44_100)),
                Just((44_100, 44_123)),
                Just((44_100, 44_100)),
            ],
            seed in any::<u64>(),
        ) {
            let mut s = seed | 1;
            let input: Vec<f32> = (0..len)
                .map(|_| {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
                })
                .collect();
            let (from, to) = rates;
            let whole = resample(&input, from, to, Quality::Mix);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(len)).collect();
            cuts.sort_unstable();
            let mut r = Resampler::new(from, to, Quality::Mix);
            let mut out = Vec::new();
            let mut at = 0;
            for c in cuts.into_iter().chain([len]) {
                r.process(&input[at..c], &mut out);
                at = c;
            }
            r.finish(&mut out);
            prop_assert_eq!(out.len(), whole.len());
            for (k, (a, b)) in out.iter().zip(&whole).enumerate() {
                prop_assert_eq!(a.to_bits(), b.to_bits(), "output {}", k);
            }
        }
    }

    /// Long enough that the converter drops input it no longer needs, several times.
    #[test]
    fn a_long_input_in_pieces_is_the_whole_conversion() {
        let input: Vec<f32> = (0..300_000)
            .map(|i| ((i as f32) * 0.013).sin() * 0.7)
            .collect();
        for (from, to) in [(96_000, 44_100), (44_100, 44_123)] {
            let whole = resample(&input, from, to, Quality::Mix);
            let mut r = Resampler::new(from, to, Quality::Mix);
            let mut out = Vec::new();
            for piece in input.chunks(70_001) {
                r.process(piece, &mut out);
            }
            r.finish(&mut out);
            assert!(
                out.iter()
                    .zip(&whole)
                    .all(|(a, b)| a.to_bits() == b.to_bits())
            );
            assert_eq!(out.len(), whole.len());
        }
    }
}
