//! Onset detection: a log-filterbank spectral flux with a frequency max-filter (SuperFlux,
//! Böck & Widmer 2013), which rises where new partials start and stays quiet through vibrato,
//! plus peak picking.
//!
//! The STFT uses a 32 ms Hann window on the 10 ms analysis hop; the filterbank has 12
//! triangular bands per octave from 80 Hz to 7.5 kHz (narrow bands merge into single FFT bins);
//! magnitudes are compressed with `log10(1 + 100 |X|)` (Böck's λ).

use realfft::RealFftPlanner;
use realfft::num_complex::Complex;

use crate::frontend::{ANALYSIS_RATE, HOP, HOP_S, Signal};

/// FFT and window size of the onset STFT (32 ms at 16 kHz).
const N_FFT: usize = 512;
/// Frames between the two spectra that are compared (20 ms).
const LAG: usize = 2;

/// The onset detection function, one value per analysis frame (the flux arriving at frame i).
#[derive(Debug, Clone)]
pub struct OnsetFunction {
    /// Flux per frame, non-negative.
    pub flux: Vec<f32>,
    /// Per-frame log-filterbank spectra (bands × frames, frame-major), kept for pitch-specific
    /// queries by the note segmenter.
    pub bands: Vec<f32>,
    /// Number of bands per frame.
    pub n_bands: usize,
    /// Centre frequency of each band (Hz).
    pub band_hz: Vec<f32>,
}

/// Triangular log-spaced filterbank over the FFT bins: (first bin, weights) per band.
fn filterbank() -> (Vec<(usize, Vec<f32>)>, Vec<f32>) {
    let bin_hz = ANALYSIS_RATE as f32 / N_FFT as f32;
    let (lo, hi) = (80.0f32, 7500.0f32);
    let n = (12.0 * (hi / lo).log2()).floor() as usize;
    let centres: Vec<f32> = (0..=n + 1).map(|k| lo * (k as f32 / 12.0).exp2()).collect();
    let mut bands: Vec<(usize, Vec<f32>)> = Vec::new();
    let mut hz = Vec::new();
    let mut last_bin = usize::MAX;
    for k in 1..=n {
        let (l, c, r) = (centres[k - 1], centres[k], centres[k + 1]);
        let (bl, br) = ((l / bin_hz).floor() as usize, (r / bin_hz).ceil() as usize);
        let cb = (c / bin_hz).round() as usize;
        if br - bl <= 2 {
            // narrower than a bin: one band per bin
            if cb != last_bin {
                bands.push((cb, vec![1.0]));
                hz.push(cb as f32 * bin_hz);
                last_bin = cb;
            }
            continue;
        }
        let w: Vec<f32> = (bl..=br)
            .map(|b| {
                let f = b as f32 * bin_hz;
                if f <= c {
                    ((f - l) / (c - l)).max(0.0)
                } else {
                    ((r - f) / (r - c)).max(0.0)
                }
            })
            .collect();
        let s: f32 = w.iter().sum();
        bands.push((bl, w.into_iter().map(|v| v / s.max(1e-9)).collect()));
        hz.push(c);
        last_bin = cb;
    }
    (bands, hz)
}

/// Compute the onset function of a signal.
pub fn onset_function(sig: &Signal) -> OnsetFunction {
    let x = &sig.x;
    let mut planner = RealFftPlanner::<f32>::new();
    let fft = planner.plan_fft_forward(N_FFT);
    let mut buf = fft.make_input_vec();
    let mut spec: Vec<Complex<f32>> = fft.make_output_vec();
    let mut scratch = fft.make_scratch_vec();
    let window: Vec<f32> = (0..N_FFT)
        .map(|i| 0.5 - 0.5 * (std::f32::consts::TAU * i as f32 / N_FFT as f32).cos())
        .collect();
    let (fb, band_hz) = filterbank();
    let nb = fb.len();
    let mut bands = vec![0.0f32; nb * sig.frames];
    let mut mag = vec![0.0f32; N_FFT / 2 + 1];
    for i in 0..sig.frames {
        let start = (i * HOP) as isize - (N_FFT / 2) as isize;
        for (k, b) in buf.iter_mut().enumerate() {
            let idx = start + k as isize;
            *b = if idx >= 0 && (idx as usize) < x.len() {
                x[idx as usize] * window[k]
            } else {
                0.0
            };
        }
        // Lengths are fixed by the plan; the call cannot fail.
        let _ = fft.process_with_scratch(&mut buf, &mut spec, &mut scratch);
        for (m, c) in mag.iter_mut().zip(&spec) {
            *m = (c.re * c.re + c.im * c.im).sqrt();
        }
        let row = &mut bands[i * nb..(i + 1) * nb];
        for (r, (first, w)) in row.iter_mut().zip(&fb) {
            let e: f32 = w
                .iter()
                .enumerate()
                .map(|(k, &wk)| wk * mag.get(first + k).copied().unwrap_or(0.0))
                .sum();
            *r = (1.0 + 100.0 * e).log10();
        }
    }
    // SuperFlux: difference against the max over neighbouring bands LAG frames earlier.
    let mut flux = vec![0.0f32; sig.frames];
    for i in LAG..sig.frames {
        let (prev, cur) = (
            &bands[(i - LAG) * nb..(i - LAG + 1) * nb],
            &bands[i * nb..(i + 1) * nb],
        );
        let mut s = 0.0f32;
        for (b, &c) in cur.iter().enumerate() {
            let lo = b.saturating_sub(1);
            let hi = (b + 1).min(nb - 1);
            let m = prev[lo..=hi].iter().fold(f32::MIN, |a, &v| a.max(v));
            s += (c - m).max(0.0);
        }
        flux[i] = s;
    }
    OnsetFunction {
        flux,
        bands,
        n_bands: nb,
        band_hz,
    }
}

/// Peaks of the onset function: local maxima over ±30 ms that exceed the local mean over the
/// previous 100 ms by `delta` (relative to the function's 95th percentile), at least 50 ms apart.
/// Returns `(frame, strength)` pairs; strength is relative to the 95th percentile.
pub fn pick_peaks(odf: &[f32], delta: f32) -> Vec<(usize, f32)> {
    if odf.is_empty() {
        return Vec::new();
    }
    let mut sorted: Vec<f32> = odf.to_vec();
    sorted.sort_by(f32::total_cmp);
    let p95 = sorted[(sorted.len() * 95 / 100).min(sorted.len() - 1)].max(1e-6);
    let min_gap = (0.05 / HOP_S).round() as usize;
    let mut peaks: Vec<(usize, f32)> = Vec::new();
    for i in 0..odf.len() {
        let v = odf[i];
        let lo = i.saturating_sub(3);
        let hi = (i + 3).min(odf.len() - 1);
        if odf[lo..=hi].iter().any(|&u| u > v) {
            continue;
        }
        let mlo = i.saturating_sub(10);
        let mean = odf[mlo..=hi].iter().sum::<f32>() / (hi - mlo + 1) as f32;
        if v - mean < delta * p95 {
            continue;
        }
        let strength = v / p95;
        if let Some(last) = peaks.last_mut()
            && i - last.0 < min_gap
        {
            if strength > last.1 {
                *last = (i, strength);
            }
            continue;
        }
        peaks.push((i, strength));
    }
    peaks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frontend::prepare;
    use bandmate_core::{AudioBuffer, SampleRate};
    use bandmate_testkit::{click_track, tone_sequence};

    #[test]
    fn clicks_are_onsets() {
        let x = click_track(120.0, 4, 4.0, 0.25, 16_000);
        let sig = prepare(&AudioBuffer::mono(SampleRate::new(16_000).unwrap(), x));
        let odf = onset_function(&sig);
        let peaks = pick_peaks(&odf.flux, 0.1);
        let times: Vec<f64> = peaks.iter().map(|p| p.0 as f64 * HOP_S).collect();
        assert_eq!(times.len(), 8, "{times:?}");
        for (k, t) in times.iter().enumerate() {
            assert!((t - (0.25 + 0.5 * k as f64)).abs() <= 0.03, "{times:?}");
        }
    }

    #[test]
    fn note_changes_are_onsets() {
        let x = tone_sequence(
            &[(60.0, 0.5), (64.0, 0.5), (67.0, 0.5), (72.0, 0.5)],
            16_000,
            0.5,
        );
        let sig = prepare(&AudioBuffer::mono(SampleRate::new(16_000).unwrap(), x));
        let odf = onset_function(&sig);
        let peaks = pick_peaks(&odf.flux, 0.1);
        let times: Vec<f64> = peaks.iter().map(|p| p.0 as f64 * HOP_S).collect();
        for want in [0.5, 1.0, 1.5] {
            assert!(
                times.iter().any(|t| (t - want).abs() <= 0.03),
                "{want} not in {times:?}"
            );
        }
    }
}
