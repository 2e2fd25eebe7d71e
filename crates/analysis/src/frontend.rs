//! The analysis front end: one mono signal at the analysis rate, cleaned of rumble, and its
//! level envelope on the analysis hop.
//!
//! Everything after this works on [`Signal`]: 16 kHz mono (the singing voice's fundamental and
//! the first harmonics that matter for pitch lie far below 8 kHz), high-passed at 50 Hz so breath
//! pops and handling noise do not look like low notes.

use bandmate_audio::resample::{Quality, resample};
use bandmate_core::{AudioBuffer, Envelope};

/// Sample rate of the analysis (Hz).
pub const ANALYSIS_RATE: u32 = 16_000;
/// Analysis hop in samples: 10 ms, the frame grid of the f0 track and every envelope.
pub const HOP: usize = 160;
/// Hop in seconds.
pub const HOP_S: f64 = HOP as f64 / ANALYSIS_RATE as f64;

/// The mono analysis signal.
#[derive(Debug, Clone)]
pub struct Signal {
    /// Samples at [`ANALYSIS_RATE`].
    pub x: Vec<f32>,
    /// Number of analysis frames (`ceil(len / HOP)`).
    pub frames: usize,
    /// Prefix sums of squared samples at hop boundaries (`hop_energy[j]` = sum of
    /// `x[..j * HOP]²`), for O(1) window energy. Per hop rather than per sample: 8 bytes a
    /// hop instead of 8 bytes a sample (77 MB for ten minutes, twice the signal itself).
    hop_energy: Vec<f64>,
}

impl Signal {
    /// A signal from samples at the analysis rate.
    pub fn new(x: Vec<f32>) -> Self {
        let mut hop_energy = Vec::with_capacity(x.len() / HOP + 2);
        let mut acc = 0.0f64;
        hop_energy.push(0.0);
        for hop in x.chunks(HOP) {
            for &s in hop {
                acc += f64::from(s) * f64::from(s);
            }
            hop_energy.push(acc);
        }
        let frames = x.len().div_ceil(HOP);
        Self {
            x,
            frames,
            hop_energy,
        }
    }

    /// Sum of `x[..k]²`: the hop's prefix sum continued sample by sample, in the order a
    /// per-sample prefix sum adds them, so it is the same number bit for bit.
    fn prefix_energy(&self, k: usize) -> f64 {
        let j = k / HOP;
        let mut acc = self.hop_energy[j];
        for &s in &self.x[j * HOP..k] {
            acc += f64::from(s) * f64::from(s);
        }
        acc
    }

    /// Mean square of `x[a..b]` (clamped to the signal), 0 for an empty window.
    pub fn mean_square(&self, a: usize, b: usize) -> f64 {
        let (a, b) = (a.min(self.x.len()), b.min(self.x.len()));
        if b > a {
            (self.prefix_energy(b) - self.prefix_energy(a)) / (b - a) as f64
        } else {
            0.0
        }
    }
}

/// Downmix, resample to the analysis rate and high-pass.
pub fn prepare(audio: &AudioBuffer) -> Signal {
    // A mono buffer is resampled in place (no full-length copy of the input).
    let mono: std::borrow::Cow<'_, [f32]> = if audio.channel_count() == 1 {
        audio.channel(0).into()
    } else {
        audio.to_mono().into()
    };
    let mut x = resample(&mono, audio.rate().hz(), ANALYSIS_RATE, Quality::Analysis);
    drop(mono);
    highpass_50(&mut x);
    Signal::new(x)
}

/// Second-order Butterworth high-pass at 50 Hz (RBJ cookbook, Q = 1/sqrt 2), in place.
fn highpass_50(x: &mut [f32]) {
    let w0 = std::f64::consts::TAU * 50.0 / f64::from(ANALYSIS_RATE);
    let (s, c) = w0.sin_cos();
    let alpha = s / std::f64::consts::SQRT_2;
    let a0 = 1.0 + alpha;
    let b0 = ((1.0 + c) / 2.0) / a0;
    let b1 = -(1.0 + c) / a0;
    let b2 = b0;
    let a1 = (-2.0 * c) / a0;
    let a2 = (1.0 - alpha) / a0;
    let (mut x1, mut x2, mut y1, mut y2) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for v in x.iter_mut() {
        let x0 = f64::from(*v);
        let y0 = b0 * x0 + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
        x2 = x1;
        x1 = x0;
        y2 = y1;
        y1 = y0;
        *v = y0 as f32;
    }
}

/// RMS level per hop over a 20 ms window centred on the frame, in dBFS (floored at -120).
pub fn level_envelope(sig: &Signal) -> Envelope {
    let half = HOP; // 20 ms window = two hops
    let db = (0..sig.frames)
        .map(|i| {
            let c = i * HOP;
            let ms = sig.mean_square(c.saturating_sub(half), c + half);
            if ms <= 1e-12 {
                -120.0
            } else {
                (10.0 * ms.log10()).max(-120.0) as f32
            }
        })
        .collect();
    Envelope { hop_s: HOP_S, db }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bandmate_core::SampleRate;
    use bandmate_testkit::sine;

    #[test]
    fn resamples_and_measures_level() {
        let tone = sine(440.0, 2.0, 44_100, 0.5);
        let a = AudioBuffer::mono(SampleRate::CD, tone);
        let s = prepare(&a);
        assert_eq!(s.x.len(), 32_000);
        assert_eq!(s.frames, 200);
        let env = level_envelope(&s);
        // RMS of a 0.5 sine is 0.354 = -9.03 dBFS
        assert!((env.db[100] - (-9.03)).abs() < 0.2, "{}", env.db[100]);
    }

    #[test]
    fn window_energy_matches_a_direct_sum() {
        let x: Vec<f32> = (0..5_000)
            .map(|i| ((i * 7919 % 1000) as f32 / 500.0 - 1.0) * 0.3)
            .collect();
        let sig = Signal::new(x.clone());
        for (a, b) in [
            (0, 0),
            (0, 1),
            (3, 160),
            (159, 161),
            (160, 320),
            (77, 4_999),
            (4_000, 9_000),
        ] {
            let (a2, b2) = (a.min(x.len()), b.min(x.len()));
            let direct = if b2 > a2 {
                x[a2..b2]
                    .iter()
                    .map(|&v| f64::from(v) * f64::from(v))
                    .sum::<f64>()
                    / (b2 - a2) as f64
            } else {
                0.0
            };
            let got = sig.mean_square(a, b);
            assert!(
                (got - direct).abs() <= 1e-12 * direct.max(1e-300),
                "{a}..{b}: {got} {direct}"
            );
        }
    }

    #[test]
    fn rumble_is_removed() {
        let hum = sine(20.0, 2.0, 16_000, 0.5);
        let a = AudioBuffer::mono(SampleRate::new(16_000).unwrap(), hum);
        let s = prepare(&a);
        let env = level_envelope(&s);
        assert!(env.db[100] < -22.0, "{}", env.db[100]);
    }
}
