//! Dynamics: an envelope follower (for ducking), a feed-forward compressor, and the look-ahead
//! true-peak limiter that guarantees every output's ceiling.
//!
//! The compressor follows Giannoulis, Massberg and Reiss, "Digital Dynamic Range Compressor
//! Design — A Tutorial and Analysis" (JAES 2012): a soft-knee gain computer in the log domain
//! and a smooth, branching peak detector on the gain reduction. The detector runs on 16-sample
//! sub-blocks (0.36 ms at 44.1 kHz, far finer than any attack it is given) so the logarithms
//! are not taken per sample; the gain is ramped linearly across each sub-block.

use super::{db_to_gain, gain_to_db, one_pole_coeff};
use crate::loudness::{TruePeakInterpolator, abs_max};

/// Sub-block of the compressor's detector, in samples.
const SUB: usize = 16;

/// A one-pole envelope follower on the absolute value, with separate attack and release.
#[derive(Debug, Clone, Copy)]
pub struct EnvelopeFollower {
    att: f32,
    rel: f32,
    env: f32,
}

impl EnvelopeFollower {
    /// Attack and release time constants in milliseconds at `rate` Hz.
    pub fn new(attack_ms: f32, release_ms: f32, rate: f32) -> Self {
        Self {
            att: one_pole_coeff(attack_ms, rate),
            rel: one_pole_coeff(release_ms, rate),
            env: 0.0,
        }
    }

    /// Follow one sample; returns the envelope.
    #[inline]
    pub fn run(&mut self, x: f32) -> f32 {
        let a = x.abs();
        let c = if a > self.env { self.att } else { self.rel };
        self.env = a + c * (self.env - a);
        self.env
    }

    /// The current envelope.
    pub fn value(&self) -> f32 {
        self.env
    }
}

/// Compressor settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompressorSettings {
    /// Threshold in dBFS.
    pub threshold_db: f32,
    /// Ratio (>= 1).
    pub ratio: f32,
    /// Knee width in dB.
    pub knee_db: f32,
    /// Attack time constant in ms.
    pub attack_ms: f32,
    /// Release time constant in ms.
    pub release_ms: f32,
    /// Gain after compression in dB.
    pub makeup_db: f32,
}

impl Default for CompressorSettings {
    /// A gentle glue setting: 2:1 above -18 dBFS, 6 dB knee, 10 ms attack, 150 ms release.
    fn default() -> Self {
        Self {
            threshold_db: -18.0,
            ratio: 2.0,
            knee_db: 6.0,
            attack_ms: 10.0,
            release_ms: 150.0,
            makeup_db: 0.0,
        }
    }
}

/// A stereo-linked feed-forward compressor (also usable on one channel, or keyed from a
/// side chain).
#[derive(Debug, Clone)]
pub struct Compressor {
    s: CompressorSettings,
    att: f32,
    rel: f32,
    /// Smoothed gain reduction in dB (>= 0).
    gr_db: f32,
    /// Linear gain applied at the end of the last sub-block.
    gain: f32,
    makeup: f32,
    /// Largest gain reduction seen (dB), for reports.
    max_gr_db: f32,
}

impl Compressor {
    /// A compressor at `rate` Hz.
    pub fn new(s: CompressorSettings, rate: f32) -> Self {
        let sub_rate = rate / SUB as f32;
        Self {
            s: CompressorSettings {
                ratio: s.ratio.max(1.0),
                knee_db: s.knee_db.max(0.0),
                ..s
            },
            att: one_pole_coeff(s.attack_ms, sub_rate),
            rel: one_pole_coeff(s.release_ms, sub_rate),
            gr_db: 0.0,
            gain: db_to_gain(s.makeup_db),
            makeup: db_to_gain(s.makeup_db),
            max_gr_db: 0.0,
        }
    }

    /// The static curve: gain reduction in dB for a level in dB (soft knee).
    pub fn gain_reduction_db(&self, level_db: f32) -> f32 {
        let (t, r, w) = (self.s.threshold_db, self.s.ratio, self.s.knee_db);
        let over = level_db - t;
        let out = if 2.0 * over < -w {
            level_db
        } else if w > 0.0 && 2.0 * over.abs() <= w {
            level_db + (1.0 / r - 1.0) * (over + w / 2.0).powi(2) / (2.0 * w)
        } else {
            t + over / r
        };
        (level_db - out).max(0.0)
    }

    /// Move the threshold (for a compressor that follows the programme's level).
    pub fn set_threshold_db(&mut self, threshold_db: f32) {
        self.s.threshold_db = threshold_db;
    }

    /// Largest gain reduction applied so far, in dB.
    pub fn max_gain_reduction_db(&self) -> f32 {
        self.max_gr_db
    }

    fn step(&mut self, peak: f32) -> f32 {
        let target = self.gain_reduction_db(gain_to_db(peak.max(1e-9)));
        let c = if target > self.gr_db {
            self.att
        } else {
            self.rel
        };
        self.gr_db = target + c * (self.gr_db - target);
        self.max_gr_db = self.max_gr_db.max(self.gr_db);
        db_to_gain(-self.gr_db) * self.makeup
    }

    /// Compress a stereo pair in place (both channels get the same gain).
    pub fn process_stereo(&mut self, l: &mut [f32], r: &mut [f32]) {
        let n = l.len().min(r.len());
        let mut i = 0;
        while i < n {
            let m = SUB.min(n - i);
            let peak = l[i..i + m]
                .iter()
                .chain(&r[i..i + m])
                .fold(0.0f32, |a, &v| a.max(v.abs()));
            let g1 = self.step(peak);
            self.ramp(&mut l[i..i + m], &mut r[i..i + m], g1);
            i += m;
        }
    }

    /// Compress one channel in place.
    pub fn process_mono(&mut self, x: &mut [f32]) {
        let mut i = 0;
        while i < x.len() {
            let m = SUB.min(x.len() - i);
            let peak = x[i..i + m].iter().fold(0.0f32, |a, &v| a.max(v.abs()));
            let g1 = self.step(peak);
            let g0 = self.gain;
            let d = (g1 - g0) / m as f32;
            for (k, v) in x[i..i + m].iter_mut().enumerate() {
                *v *= g0 + d * (k + 1) as f32;
            }
            self.gain = g1;
            i += m;
        }
    }

    fn ramp(&mut self, l: &mut [f32], r: &mut [f32], g1: f32) {
        let g0 = self.gain;
        let d = (g1 - g0) / l.len() as f32;
        for (k, (a, b)) in l.iter_mut().zip(r.iter_mut()).enumerate() {
            let g = g0 + d * (k + 1) as f32;
            *a *= g;
            *b *= g;
        }
        self.gain = g1;
    }
}

/// Limiter settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LimiterSettings {
    /// The ceiling in dBTP: no sample and no inter-sample point (4x oversampled) of the
    /// output exceeds it.
    pub ceiling_dbtp: f32,
    /// Look-ahead (and attack ramp) in ms.
    pub lookahead_ms: f32,
    /// Release time constant in ms.
    pub release_ms: f32,
}

impl Default for LimiterSettings {
    /// -1 dBTP, 1.5 ms look-ahead, 80 ms release.
    fn default() -> Self {
        Self {
            ceiling_dbtp: -1.0,
            lookahead_ms: 1.5,
            release_ms: 80.0,
        }
    }
}

/// A look-ahead true-peak brick-wall limiter.
///
/// For each input sample it finds the needed gain (the ceiling over the larger of the sample
/// and the 4x-interpolated points on either side of it), holds the minimum over the look-ahead
/// window, averages that over the same window (so the gain ramps down linearly before the peak
/// and is at or below the needed gain when the peak leaves), and lets it recover with a
/// one-pole release. The audio is delayed by [`Limiter::latency`] frames.
///
/// Cost: interpolation runs only where the filter's L1 bound says a point could reach the
/// ceiling, checked 64 frames at a time; the rest is a few operations a frame.
#[derive(Debug, Clone)]
pub struct Limiter {
    channels: usize,
    ceiling: f32,
    window: usize,
    rel: f32,
    interp: TruePeakInterpolator,
    /// Per channel: input not yet output, with the interpolation context in front;
    /// `hist_start` is the stream index of `hist[c][0]`.
    hist: Vec<Vec<f32>>,
    hist_start: usize,
    /// Stream index of the next input frame.
    fed: usize,
    /// Next frame whose needed gain is to be computed.
    next_req: usize,
    /// Peak of the points between frame `k - 1` and `k`, waiting for `k`.
    pending_between: f32,
    /// Monotonic deque (index, needed gain) for the sliding minimum.
    minq: std::collections::VecDeque<(usize, f32)>,
    /// The last `window` sliding minima (a ring) and their sum, for the box average.
    box_ring: Vec<f32>,
    box_pos: usize,
    box_sum: f64,
    /// `box_sum` over the window, as the gain uses it (kept: it changes only with the sum).
    avg: f32,
    /// Values since the last exact recomputation of `box_sum` (bounds rounding drift).
    box_count: usize,
    gain: f32,
    /// Next output frame.
    out_pos: usize,
    min_gain: f32,
    /// Scratch: gains of this call's output frames, and the interpolated peaks.
    gains: Vec<f32>,
}

impl Limiter {
    /// A limiter for `channels` channels at `rate` Hz.
    pub fn new(s: LimiterSettings, rate: f32, channels: usize) -> Self {
        // At least 16 frames, so the first window reaches back over the interpolation context.
        let window = ((s.lookahead_ms * 0.001 * rate).round() as usize).max(16);
        let channels = channels.max(1);
        // Stream frames 0 .. latency are the silence before the input: output frame 0 takes
        // the gain computed at frame `window - 1`, which needs frames up to `window + 5`.
        let lead = window + TruePeakInterpolator::AFTER - 2;
        Self {
            channels,
            ceiling: db_to_gain(s.ceiling_dbtp),
            window,
            rel: one_pole_coeff(s.release_ms, rate),
            interp: TruePeakInterpolator::new(),
            hist: vec![vec![0.0; lead]; channels],
            hist_start: 0,
            fed: lead,
            next_req: window - 1,
            pending_between: 0.0,
            minq: std::collections::VecDeque::with_capacity(window + 1),
            box_ring: vec![1.0; window],
            box_pos: 0,
            box_sum: window as f64,
            avg: 1.0,
            box_count: 0,
            gain: 1.0,
            out_pos: 0,
            min_gain: 1.0,
            gains: Vec::new(),
        }
    }

    /// Frames of delay between input and output.
    pub fn latency(&self) -> usize {
        self.window + TruePeakInterpolator::AFTER - 2
    }

    /// The smallest gain applied so far (linear).
    pub fn min_gain(&self) -> f32 {
        self.min_gain
    }

    /// Feed planar input (equal lengths, `channels` slices) and write the same number of
    /// delayed, limited frames to `output` (the first [`Limiter::latency`] frames of a stream
    /// are the silence before it).
    pub fn process(&mut self, input: &[&[f32]], output: &mut [&mut [f32]]) {
        let n = input.iter().map(|c| c.len()).min().unwrap_or(0);
        for (c, h) in self.hist.iter_mut().enumerate() {
            match input.get(c) {
                Some(x) => h.extend(x[..n].iter().map(|&v| if v.is_finite() { v } else { 0.0 })),
                None => h.extend(std::iter::repeat_n(0.0, n)),
            }
        }
        self.fed += n;
        self.gains.clear();
        self.compute_gains();
        debug_assert_eq!(self.gains.len(), n);
        let base = self.out_pos - self.hist_start;
        for (c, out) in output.iter_mut().enumerate().take(self.channels) {
            let h = &self.hist[c][base..base + n];
            for ((o, &x), &g) in out[..n].iter_mut().zip(h).zip(&self.gains) {
                // The gain guarantees the ceiling; the clamp only guards rounding.
                *o = (x * g).clamp(-self.ceiling, self.ceiling);
            }
        }
        self.out_pos += n;
        // Drop what is output, keeping the interpolation context of the next frame.
        let keep_from = self.out_pos;
        if keep_from > self.hist_start + 8192 {
            let drop = keep_from - self.hist_start;
            for h in &mut self.hist {
                h.drain(..drop);
            }
            self.hist_start = keep_from;
        }
    }

    fn compute_gains(&mut self) {
        const TAPS: usize = TruePeakInterpolator::TAPS;
        const RUN: usize = 64;
        let before = TruePeakInterpolator::BEFORE;
        let bound = self.interp.l1();
        let ceiling = self.ceiling;
        // Frame k's needed gain can be computed once frame k + 6 has arrived.
        let last = self.fed - TruePeakInterpolator::AFTER; // inclusive
        let from = self.gains.len();
        // Per frame of a run: the sample peak over the channels, and the largest interpolated
        // point after it that could reach the ceiling (0 where the screen shows none can).
        let mut sample = [0.0f32; RUN];
        let mut between = [0.0f32; RUN];
        let mut screen = [0.0f32; RUN];
        let mut k0 = self.next_req;
        while k0 <= last {
            let k1 = (k0 + RUN).min(last + 1);
            let m = k1 - k0;
            let i0 = k0 - self.hist_start;
            // The window of every frame in this run: [k0 - BEFORE, k1 + AFTER - 1).
            let (w0, w1) = (i0 - before, i0 + m - 1 - before + TAPS);
            sample[..m].fill(0.0);
            between[..m].fill(0.0);
            for h in &self.hist {
                for (s, v) in sample[..m].iter_mut().zip(&h[i0..i0 + m]) {
                    *s = s.max(v.abs());
                }
            }
            let local = self.hist.iter().fold(0.0f32, |a, h| abs_max(&h[w0..w1], a));
            if local * bound > ceiling {
                for h in &self.hist {
                    let span = &h[w0..w1];
                    self.interp.screen_run(span, &mut screen[..m]);
                    for (t, &sc) in screen[..m].iter().enumerate() {
                        if self.interp.screen_passes(sc, ceiling) {
                            let p = self.interp.peak_between(&span[t..t + TAPS]);
                            between[t] = between[t].max(p);
                        }
                    }
                }
            }
            for (t, k) in (k0..k1).enumerate() {
                let peak = sample[t].max(between[t]).max(self.pending_between);
                self.pending_between = between[t];
                let need = if peak > ceiling { ceiling / peak } else { 1.0 };
                let held = self.hold(k, need);
                self.ramp(held);
            }
            k0 = k1;
        }
        self.next_req = last + 1;
        // A minimum is exact in any order: taken over the run's gains, off the gain's chain.
        self.min_gain = self.gains[from..]
            .iter()
            .fold(self.min_gain, |a, &g| a.min(g));
    }

    /// The sliding minimum of the needed gain over the look-ahead window ending at frame `k`.
    #[inline]
    fn hold(&mut self, k: usize, need: f32) -> f32 {
        if need >= 1.0 && self.minq.is_empty() {
            return 1.0;
        }
        while self.minq.back().is_some_and(|&(_, v)| v >= need) {
            self.minq.pop_back();
        }
        if need < 1.0 {
            self.minq.push_back((k, need));
        }
        while self
            .minq
            .front()
            .is_some_and(|&(i, _)| i + self.window <= k)
        {
            self.minq.pop_front();
        }
        self.minq.front().map_or(1.0, |&(_, v)| v)
    }

    /// Box-average the held gain over the window and apply the release: the gain of the next
    /// output frame.
    #[inline]
    fn ramp(&mut self, held: f32) {
        let old = self.box_ring[self.box_pos];
        self.box_ring[self.box_pos] = held;
        self.box_pos = if self.box_pos + 1 == self.window {
            0
        } else {
            self.box_pos + 1
        };
        self.box_count += 1;
        if held != old {
            self.box_sum += f64::from(held) - f64::from(old);
            self.avg = ((self.box_sum / self.window as f64) as f32).min(1.0);
        }
        if self.box_count >= 1 << 16 {
            self.box_sum = self.box_ring.iter().map(|&v| f64::from(v)).sum();
            self.avg = ((self.box_sum / self.window as f64) as f32).min(1.0);
            self.box_count = 0;
        }
        let avg = self.avg;
        // In the steady state (gain settled on the average) nothing moves: skip the release's
        // arithmetic, whose result would be `avg` again.
        if self.gain != avg {
            self.gain = if avg < self.gain {
                avg
            } else {
                // The release only slows the recovery: never above what the window asked for.
                // With gain <= avg the step `rel * (gain - avg)` is <= 0, and rounding is
                // monotonic, so the sum never exceeds `avg` (no `min(avg)` needed: it would
                // only lengthen the chain from one frame's gain to the next).
                avg + self.rel * (self.gain - avg)
            };
        }
        self.gains.push(self.gain);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loudness::measure_loudness;
    use bandmate_core::{AudioBuffer, SampleRate};
    use bandmate_testkit::sine;
    use proptest::prelude::*;

    fn limit_all(x: &[Vec<f32>], s: LimiterSettings, block: usize) -> Vec<Vec<f32>> {
        let mut lim = Limiter::new(s, 44_100.0, x.len());
        let lat = lim.latency();
        let n = x[0].len();
        let padded: Vec<Vec<f32>> = x
            .iter()
            .map(|c| {
                c.iter()
                    .copied()
                    .chain(std::iter::repeat_n(0.0, lat))
                    .collect()
            })
            .collect();
        let mut out = vec![vec![0.0f32; n + lat]; x.len()];
        let mut i = 0;
        while i < n + lat {
            let m = block.min(n + lat - i);
            let inp: Vec<&[f32]> = padded.iter().map(|c| &c[i..i + m]).collect();
            let mut o: Vec<&mut [f32]> = out.iter_mut().map(|c| &mut c[i..i + m]).collect();
            lim.process(&inp, &mut o);
            i += m;
        }
        out.into_iter().map(|c| c[lat..].to_vec()).collect()
    }

    /// The limiter's arithmetic written out frame by frame over the whole stream (no runs, no
    /// queue, no skipped steps), for checking the streaming one bit for bit.
    fn limit_reference(x: &[Vec<f32>], s: LimiterSettings) -> Vec<Vec<f32>> {
        const TAPS: usize = TruePeakInterpolator::TAPS;
        let lim = Limiter::new(s, 44_100.0, x.len());
        let (window, lat, ceiling, rel) = (lim.window, lim.latency(), lim.ceiling, lim.rel);
        let interp = TruePeakInterpolator::new();
        let n = x[0].len();
        // The stream: the limiter's leading silence, the input, and `lat` frames to flush it.
        let stream: Vec<Vec<f32>> = x
            .iter()
            .map(|c| {
                let mut v = vec![0.0f32; lat];
                v.extend_from_slice(c);
                v.extend(std::iter::repeat_n(0.0, lat));
                v
            })
            .collect();
        let frames = n + lat;
        let first = window - 1;
        let last = first + frames - 1;
        let mut need = vec![1.0f32; last + 1];
        let mut pending = 0.0f32;
        for (k, nk) in need.iter_mut().enumerate().skip(first) {
            let b = k - TruePeakInterpolator::BEFORE;
            let sample = stream.iter().fold(0.0f32, |m, c| m.max(c[k].abs()));
            let between = stream.iter().fold(0.0f32, |m, c| {
                m.max(interp.peak_between_over(&c[b..b + TAPS], ceiling))
            });
            let peak = sample.max(between).max(pending);
            pending = between;
            *nk = if peak > ceiling { ceiling / peak } else { 1.0 };
        }
        let mut ring = vec![1.0f32; window];
        let (mut pos, mut count, mut sum, mut gain) = (0usize, 0usize, window as f64, 1.0f32);
        let mut gains = Vec::with_capacity(frames);
        for k in first..=last {
            let held = need[(k + 1).saturating_sub(window).max(first)..=k]
                .iter()
                .fold(1.0f32, |m, &v| m.min(v));
            let old = ring[pos];
            ring[pos] = held;
            pos = (pos + 1) % window;
            sum += f64::from(held) - f64::from(old);
            count += 1;
            if count >= 1 << 16 {
                sum = ring.iter().map(|&v| f64::from(v)).sum();
                count = 0;
            }
            let avg = ((sum / window as f64) as f32).min(1.0);
            gain = if avg < gain {
                avg
            } else {
                (avg + rel * (gain - avg)).min(avg)
            };
            gains.push(gain);
        }
        stream
            .iter()
            .map(|c| {
                (lat..frames)
                    .map(|j| (c[j] * gains[j]).clamp(-ceiling, ceiling))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn limiter_equals_its_frame_by_frame_reference_bit_for_bit() {
        let programme = |n: usize, amp: f32, seed: u32| {
            let mut s = seed.wrapping_mul(2_654_435_761) | 1;
            let mut lp = 0.0f32;
            (0..n)
                .map(|i| {
                    s ^= s << 13;
                    s ^= s >> 17;
                    s ^= s << 5;
                    lp = 0.6 * lp + 0.4 * (s as f32 / u32::MAX as f32 - 0.5);
                    let t = i as f32 / 44_100.0;
                    let burst = [0.2, 1.0, 0.6, 1.3, 0.05][(i / 2_500) % 5];
                    amp * burst
                        * (0.6 * (std::f32::consts::TAU * 220.0 * t).sin()
                            + 0.3 * (std::f32::consts::TAU * 11_025.0 * t + 0.785).sin()
                            + lp)
                })
                .collect::<Vec<f32>>()
        };
        let cases: [(usize, usize, f32, usize); 5] = [
            (1, 9_000, 1.5, 1),
            (2, 20_000, 0.9, 333),
            (2, 20_000, 3.0, 8_192),
            (2, 70_000, 2.0, 4_096), // past 2^16 frames: the box sum is recomputed
            (1, 5_000, 0.3, 100),    // under the ceiling: untouched
        ];
        for (channels, n, amp, block) in cases {
            let x: Vec<Vec<f32>> = (0..channels)
                .map(|c| programme(n, amp, 7 + c as u32))
                .collect();
            let s = LimiterSettings {
                ceiling_dbtp: -2.0,
                ..LimiterSettings::default()
            };
            let got = limit_all(&x, s, block);
            let want = limit_reference(&x, s);
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(g.len(), w.len());
                for (i, (a, b)) in g.iter().zip(w).enumerate() {
                    assert_eq!(
                        a.to_bits(),
                        b.to_bits(),
                        "{channels} ch x{amp} block {block}: frame {i}"
                    );
                }
            }
        }
    }

    #[test]
    fn limiter_holds_the_true_peak_ceiling_and_keeps_time() {
        // A loud fs/4 sine phased for +3 dB inter-sample peaks, with a click on top.
        let n = 44_100;
        let mut x: Vec<f32> = (0..n)
            .map(|i| 1.4 * (std::f64::consts::FRAC_PI_2 * i as f64 + 0.785).sin() as f32)
            .collect();
        x[20_000] = 3.0;
        let y = limit_all(&[x.clone()], LimiterSettings::default(), 333);
        let l = measure_loudness(&AudioBuffer::mono(SampleRate::CD, y[0].clone()));
        assert!(l.true_peak_dbtp <= -1.0 + 0.05, "{}", l.true_peak_dbtp);
        // Quiet material passes untouched and exactly in time.
        let q = sine(440.0, 0.5, 44_100, 0.1);
        let yq = limit_all(std::slice::from_ref(&q), LimiterSettings::default(), 1000);
        for (a, b) in q.iter().zip(&yq[0]) {
            assert!((a - b).abs() < 1e-6);
        }
    }

    #[test]
    fn compressor_follows_its_static_curve() {
        let s = CompressorSettings {
            threshold_db: -20.0,
            ratio: 4.0,
            knee_db: 0.0,
            attack_ms: 1.0,
            release_ms: 50.0,
            makeup_db: 0.0,
        };
        let c = Compressor::new(s, 44_100.0);
        assert_eq!(c.gain_reduction_db(-30.0), 0.0);
        assert!((c.gain_reduction_db(-8.0) - 9.0).abs() < 1e-4);
        // A steady tone 12 dB over the threshold settles 9 dB down (peak detector on a sine).
        let mut comp = Compressor::new(s, 44_100.0);
        let mut x = sine(200.0, 1.0, 44_100, db_to_gain(-8.0));
        comp.process_mono(&mut x);
        let tail = &x[30_000..40_000];
        let peak = tail.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(
            (gain_to_db(peak) + 17.0).abs() < 0.6,
            "{}",
            gain_to_db(peak)
        );
    }

    #[test]
    fn envelope_follower_rises_fast_and_falls_slowly() {
        let mut e = EnvelopeFollower::new(1.0, 100.0, 44_100.0);
        for _ in 0..441 {
            e.run(1.0);
        }
        assert!(e.value() > 0.99);
        for _ in 0..4410 {
            e.run(0.0);
        }
        // After one release time constant about 37 % is left.
        assert!((e.value() - 0.368).abs() < 0.02, "{}", e.value());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        /// Whatever goes in (any level, any block size), the limiter's output never exceeds
        /// the ceiling, sample or true peak, and is never NaN.
        #[test]
        fn limiter_never_exceeds_ceiling(
            f in 30.0f64..18_000.0,
            amp in 0.1f32..8.0,
            ceiling in -6.0f32..-0.5,
            block in 1usize..2000,
            seed in 0u32..1000,
        ) {
            let mut s = seed.wrapping_mul(2_654_435_761) | 1;
            let noise: Vec<f32> = (0..22_050).map(|_| {
                s ^= s << 13; s ^= s >> 17; s ^= s << 5;
                (s as f32 / u32::MAX as f32 - 0.5) * amp
            }).collect();
            let tone = sine(f, 0.5, 44_100, amp);
            let l: Vec<f32> = tone.iter().zip(&noise).map(|(a, b)| a + 0.5 * b).collect();
            let r: Vec<f32> = tone.iter().zip(&noise).map(|(a, b)| a - 0.5 * b).collect();
            let settings = LimiterSettings { ceiling_dbtp: ceiling, ..LimiterSettings::default() };
            let y = limit_all(&[l, r], settings, block);
            prop_assert!(y.iter().flatten().all(|v| v.is_finite()));
            let m = measure_loudness(&AudioBuffer::new(SampleRate::CD, y).unwrap());
            prop_assert!(m.sample_peak_dbfs <= ceiling + 1e-3);
            prop_assert!(m.true_peak_dbtp <= ceiling + 0.1, "{} > {}", m.true_peak_dbtp, ceiling);
        }
    }
}
