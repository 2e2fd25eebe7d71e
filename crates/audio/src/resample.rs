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

/// Resample `input` from `from` Hz to `to` Hz.
pub fn resample(input: &[f32], from: u32, to: u32, quality: Quality) -> Vec<f32> {
    if from == to || input.is_empty() || from == 0 || to == 0 {
        return input.to_vec();
    }
    let (zeros, beta) = quality.params();
    let ratio = f64::from(to) / f64::from(from);
    // Cut-off relative to the input Nyquist: below the lower of the two rates, with a 5 %
    // transition band.
    let cutoff = ratio.min(1.0) * 0.95;
    // The filter spans `zeros` zero crossings of the (stretched) sinc on each side.
    let half_len = (zeros as f64 / cutoff).ceil() as usize;
    let taps = 2 * half_len;
    // Output sample j sits at input position j * from / to = base + p / phases.
    let g = gcd(u64::from(from), u64::from(to));
    let (l, m) = ((u64::from(to) / g) as usize, (u64::from(from) / g) as usize);
    let exact = l <= MAX_EXACT_PHASES;
    let phases = if exact { l } else { MAX_EXACT_PHASES };
    // table[p][k]: weight of input sample (base - half_len + 1 + k) at sub-position p / phases.
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
    let out_len = (input.len() as f64 * ratio).round() as usize;
    let mut out = Vec::with_capacity(out_len);
    let n = input.len() as isize;
    let mut window = vec![0.0f32; taps];
    for j in 0..out_len {
        let (base, p, t) = if exact {
            let num = j * m; // position in units of 1/l input samples
            ((num / l) as isize, num % l, 0.0f32)
        } else {
            let pos = j as f64 * f64::from(from) / f64::from(to);
            let base = pos.floor();
            let pf = (pos - base) * phases as f64;
            let p = (pf as usize).min(phases - 1);
            (base as isize, p, (pf - p as f64) as f32)
        };
        let start = base - half_len as isize + 1;
        let src: &[f32] = if start >= 0 && start + taps as isize <= n {
            &input[start as usize..start as usize + taps]
        } else {
            for (k, w) in window.iter_mut().enumerate() {
                let idx = start + k as isize;
                *w = if idx >= 0 && idx < n {
                    input[idx as usize]
                } else {
                    0.0
                };
            }
            &window
        };
        let a0 = dot(&table[p * taps..(p + 1) * taps], src);
        if exact {
            out.push(a0);
        } else {
            let a1 = dot(&table[(p + 1) * taps..(p + 2) * taps], src);
            out.push(a0 + (a1 - a0) * t);
        }
    }
    out
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
