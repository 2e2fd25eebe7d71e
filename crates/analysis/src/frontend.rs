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
    /// Prefix sums of squared samples (`energy[k]` = sum of `x[..k]²`), for O(1) window energy.
    pub energy: Vec<f64>,
}

impl Signal {
    /// A signal from samples at the analysis rate.
    pub fn new(x: Vec<f32>) -> Self {
        let mut energy = Vec::with_capacity(x.len() + 1);
        let mut acc = 0.0f64;
        energy.push(0.0);
        for &s in &x {
            acc += f64::from(s) * f64::from(s);
            energy.push(acc);
        }
        let frames = x.len().div_ceil(HOP);
        Self { x, frames, energy }
    }

    /// Mean square of `x[a..b]` (clamped to the signal), 0 for an empty window.
    pub fn mean_square(&self, a: usize, b: usize) -> f64 {
        let (a, b) = (a.min(self.x.len()), b.min(self.x.len()));
        if b > a {
            (self.energy[b] - self.energy[a]) / (b - a) as f64
        } else {
            0.0
        }
    }
}

/// Downmix, resample to the analysis rate and high-pass.
pub fn prepare(audio: &AudioBuffer) -> Signal {
    let mono = audio.to_mono();
    let mut x = resample(&mono, audio.rate().hz(), ANALYSIS_RATE, Quality::Analysis);
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
    fn rumble_is_removed() {
        let hum = sine(20.0, 2.0, 16_000, 0.5);
        let a = AudioBuffer::mono(SampleRate::new(16_000).unwrap(), hum);
        let s = prepare(&a);
        let env = level_envelope(&s);
        assert!(env.db[100] < -22.0, "{}", env.db[100]);
    }
}
