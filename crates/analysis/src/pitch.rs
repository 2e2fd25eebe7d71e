//! Fundamental frequency with voicing: probabilistic YIN candidates smoothed by Viterbi
//! decoding over a candidate lattice.
//!
//! 1. YIN (de Cheveigné & Kawahara 2002): per 10 ms frame the cumulative mean normalised
//!    difference function d'(τ), computed through FFT cross-correlation and prefix sums.
//! 2. pYIN candidates (Mauch & Dixon 2014): instead of one threshold, a Beta(2, 11.33)
//!    distribution over thresholds (mean 0.15, pYIN's default); each trough of d' collects the
//!    probability of the thresholds for which it is the first trough below threshold.
//! 3. Viterbi over the lattice of candidates plus an unvoiced state per frame. Pitch moves are
//!    scored by a mixture of a Laplacian on the interval (continuity inside a note, vibrato)
//!    and a flat floor (notes may leap anywhere), so octave errors must win on evidence over
//!    several frames to be taken; voicing switches cost a fixed probability per frame.
//!
//! Cost: three real FFTs per voiced-looking frame; silent frames are skipped.

use std::sync::Arc;

use bandmate_core::{F0Track, hz_to_midi};
use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use crate::frontend::{ANALYSIS_RATE, HOP, HOP_S, Signal};

/// Settings of the pitch tracker.
#[derive(Debug, Clone, PartialEq)]
pub struct PitchSettings {
    /// Lowest f0 searched (Hz).
    pub fmin: f32,
    /// Highest f0 searched (Hz).
    pub fmax: f32,
    /// Probability of a voicing switch between adjacent frames (pYIN uses 0.01 at a 5.8 ms
    /// hop; 0.02 at our 10 ms hop keeps the same switch rate per second).
    pub switch_prob: f32,
    /// Scale of the Laplacian on pitch moves between frames, in semitones (vibrato of ±50
    /// cents at 6 Hz moves about 0.2 semitone per 10 ms frame).
    pub jump_scale_st: f32,
    /// Weight of the flat floor of the pitch-move model (the cost of a leap is `-ln` of it).
    pub leap_floor: f32,
    /// Frames quieter than the loudest frame by more than this many dB are not analysed.
    pub gate_db: f32,
}

impl Default for PitchSettings {
    fn default() -> Self {
        Self {
            fmin: bandmate_core::WIDE_F0_RANGE_HZ.0,
            fmax: bandmate_core::WIDE_F0_RANGE_HZ.1,
            switch_prob: 0.02,
            jump_scale_st: 0.4,
            leap_floor: 0.01,
            gate_db: 55.0,
        }
    }
}

/// One pitch candidate of a frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// Frequency (Hz).
    pub hz: f32,
    /// Probability that this is the frame's f0.
    pub prob: f32,
}

/// Candidates of every frame, flat.
#[derive(Debug, Clone, Default)]
pub struct Candidates {
    /// All candidates, frame after frame.
    pub items: Vec<Candidate>,
    /// `starts[i]..starts[i + 1]` are frame `i`'s candidates.
    pub starts: Vec<u32>,
}

impl Candidates {
    /// Frame `i`'s candidates.
    pub fn frame(&self, i: usize) -> &[Candidate] {
        &self.items[self.starts[i] as usize..self.starts[i + 1] as usize]
    }

    /// Number of frames.
    pub fn frames(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }
}

/// Thresholds of the pYIN prior: 0.01, 0.02, … 1.00.
const N_THRESH: usize = 100;
/// Mass given to the global minimum for thresholds no trough is below (pYIN's p_a).
const P_ABSOLUTE_MIN: f32 = 0.01;
/// At most this many candidates per frame are kept (the most probable).
const MAX_CANDIDATES: usize = 8;

/// Cumulative Beta(2, 11.33) probability at each threshold index (mean 0.15).
fn beta_cdf_table() -> [f32; N_THRESH + 1] {
    let (a, b) = (2.0f64, 11.333f64);
    // pdf ∝ s^(a-1) (1-s)^(b-1); integrate on a fine grid and normalise.
    let steps = 10_000;
    let mut cdf = [0.0f32; N_THRESH + 1];
    let mut acc = 0.0f64;
    let mut total = 0.0f64;
    let mut vals = vec![0.0f64; steps];
    for (k, v) in vals.iter_mut().enumerate() {
        let s = (k as f64 + 0.5) / steps as f64;
        *v = s.powf(a - 1.0) * (1.0 - s).powf(b - 1.0);
        total += *v;
    }
    let mut j = 0;
    for (k, v) in vals.iter().enumerate() {
        acc += v;
        let s = (k + 1) as f64 / steps as f64;
        while j <= N_THRESH && (j as f64) / N_THRESH as f64 <= s {
            cdf[j] = (acc / total) as f32;
            j += 1;
        }
    }
    cdf[0] = 0.0;
    cdf[N_THRESH] = 1.0;
    cdf
}

/// Probability mass of thresholds in `(lo, hi]` under the prior.
fn mass(cdf: &[f32; N_THRESH + 1], lo: f32, hi: f32) -> f32 {
    let idx = |v: f32| -> usize { ((v * N_THRESH as f32).floor().max(0.0) as usize).min(N_THRESH) };
    let (a, b) = (idx(lo), idx(hi.min(1.0)));
    if b > a { cdf[b] - cdf[a] } else { 0.0 }
}

/// Per-frame YIN machinery, allocated once.
struct Yin {
    w: usize,
    tau_min: usize,
    tau_max: usize,
    n: usize,
    fwd: Arc<dyn RealToComplex<f32>>,
    inv: Arc<dyn ComplexToReal<f32>>,
    buf_a: Vec<f32>,
    buf_b: Vec<f32>,
    spec_a: Vec<Complex<f32>>,
    spec_b: Vec<Complex<f32>>,
    scratch_f: Vec<Complex<f32>>,
    scratch_i: Vec<Complex<f32>>,
    r: Vec<f32>,
    d: Vec<f32>,
}

impl Yin {
    fn new(fmin: f32, fmax: f32) -> Self {
        let rate = ANALYSIS_RATE as f32;
        let tau_max = (rate / fmin).ceil() as usize + 1;
        let tau_min = ((rate / fmax).floor() as usize).max(2);
        // Integration window: 1.5 of the longest period (enough for YIN's estimate), at least
        // 16 ms (time resolution on fast notes), at most 32 ms.
        let w = ((tau_max as f32 * 1.5) as usize).clamp(256, 512);
        let n = (w + tau_max + 1).next_power_of_two();
        let mut planner = RealFftPlanner::<f32>::new();
        let fwd = planner.plan_fft_forward(n);
        let inv = planner.plan_fft_inverse(n);
        let scratch_f = fwd.make_scratch_vec();
        let scratch_i = inv.make_scratch_vec();
        Self {
            w,
            tau_min,
            tau_max,
            n,
            buf_a: fwd.make_input_vec(),
            buf_b: fwd.make_input_vec(),
            spec_a: fwd.make_output_vec(),
            spec_b: fwd.make_output_vec(),
            r: inv.make_output_vec(),
            fwd,
            inv,
            scratch_f,
            scratch_i,
            d: vec![0.0; tau_max + 2],
        }
    }

    /// Samples a frame needs: the window plus the longest lag.
    fn span(&self) -> usize {
        self.w + self.tau_max + 1
    }

    /// Compute d'(τ) for the frame starting at `seg` (length `span()`), with `pre` the prefix
    /// sums of squares of `seg`. Leaves the result in `self.d`.
    fn cmnd(&mut self, seg: &[f32], pre: &[f64]) {
        let (w, l) = (self.w, self.span());
        self.buf_a[..w].copy_from_slice(&seg[..w]);
        self.buf_a[w..].fill(0.0);
        self.buf_b[..l].copy_from_slice(&seg[..l]);
        self.buf_b[l..].fill(0.0);
        // Errors here can only come from wrong buffer lengths, which `new` fixes.
        let _ =
            self.fwd
                .process_with_scratch(&mut self.buf_a, &mut self.spec_a, &mut self.scratch_f);
        let _ =
            self.fwd
                .process_with_scratch(&mut self.buf_b, &mut self.spec_b, &mut self.scratch_f);
        for (b, a) in self.spec_b.iter_mut().zip(&self.spec_a) {
            *b *= a.conj();
        }
        // The imaginary parts of DC and Nyquist must be zero for the inverse real FFT.
        if let Some(first) = self.spec_b.first_mut() {
            first.im = 0.0;
        }
        if let Some(last) = self.spec_b.last_mut() {
            last.im = 0.0;
        }
        let _ = self
            .inv
            .process_with_scratch(&mut self.spec_b, &mut self.r, &mut self.scratch_i);
        let scale = 1.0 / self.n as f64;
        let e_a = pre[w];
        self.d[0] = 1.0;
        let mut running = 0.0f64;
        for tau in 1..=self.tau_max {
            let e_b = pre[tau + w] - pre[tau];
            let diff = (e_a + e_b - 2.0 * f64::from(self.r[tau]) * scale).max(0.0);
            running += diff;
            self.d[tau] = if running > 0.0 {
                (diff * tau as f64 / running) as f32
            } else {
                1.0
            };
        }
    }
}

/// pYIN candidates for every frame of the signal.
pub fn candidates(sig: &Signal, settings: &PitchSettings) -> Candidates {
    let mut yin = Yin::new(settings.fmin, settings.fmax);
    let cdf = beta_cdf_table();
    let span = yin.span();
    let half = span / 2;
    let x = &sig.x;
    let rate = ANALYSIS_RATE as f32;

    // Gate: frame energy against the loudest frame.
    let frame_energy = |c: usize| -> f64 { sig.mean_square(c.saturating_sub(half), c + half) };
    let loudest = (0..sig.frames)
        .map(|i| frame_energy(i * HOP))
        .fold(0.0f64, f64::max);
    let gate = loudest * 10f64.powf(-f64::from(settings.gate_db) / 10.0);

    let mut out = Candidates {
        items: Vec::new(),
        starts: Vec::with_capacity(sig.frames + 1),
    };
    out.starts.push(0);
    let mut seg = vec![0.0f32; span];
    let mut pre = vec![0.0f64; span + 1];
    let mut troughs: Vec<(f32, f32)> = Vec::with_capacity(32); // (tau, value)
    let mut frame_cands: Vec<Candidate> = Vec::with_capacity(32);
    for i in 0..sig.frames {
        let c = i * HOP;
        if frame_energy(c) <= gate.max(1e-10) {
            out.starts.push(out.items.len() as u32);
            continue;
        }
        // The segment [c - half, c - half + span), zero-padded at the edges.
        let start = c as isize - half as isize;
        for (k, s) in seg.iter_mut().enumerate() {
            let idx = start + k as isize;
            *s = if idx >= 0 && (idx as usize) < x.len() {
                x[idx as usize]
            } else {
                0.0
            };
        }
        let mut a = 0.0f64;
        for (k, &s) in seg.iter().enumerate() {
            a += f64::from(s) * f64::from(s);
            pre[k + 1] = a;
        }
        yin.cmnd(&seg, &pre);

        // Troughs of d' in [tau_min, tau_max), refined by parabolic interpolation.
        troughs.clear();
        let d = &yin.d;
        for tau in yin.tau_min.max(1)..yin.tau_max {
            let (p, v, n) = (d[tau - 1], d[tau], d[tau + 1]);
            if v < p && v <= n {
                let den = p - 2.0 * v + n;
                let (dt, val) = if den > 1e-9 {
                    let off = 0.5 * (p - n) / den;
                    (off, v - 0.25 * (p - n) * off)
                } else {
                    (0.0, v)
                };
                troughs.push((tau as f32 + dt, val.max(0.0)));
            }
        }
        frame_cands.clear();
        if !troughs.is_empty() {
            // Each trough takes the thresholds in (its value, min of earlier troughs].
            let mut earlier_min = f32::INFINITY;
            let mut global = 0usize;
            for (k, &(tau, val)) in troughs.iter().enumerate() {
                if val < troughs[global].1 {
                    global = k;
                }
                let p = mass(&cdf, val, earlier_min.min(1.0));
                if p > 1e-4 {
                    frame_cands.push(Candidate {
                        hz: rate / tau,
                        prob: p,
                    });
                }
                earlier_min = earlier_min.min(val);
            }
            // Thresholds below every trough: the global minimum gets a small share.
            let below_all = mass(&cdf, 0.0, troughs[global].1);
            if below_all > 0.0 {
                let hz = rate / troughs[global].0;
                let add = below_all * P_ABSOLUTE_MIN;
                match frame_cands.iter_mut().find(|c| (c.hz - hz).abs() < 1e-3) {
                    Some(c) => c.prob += add,
                    None => frame_cands.push(Candidate { hz, prob: add }),
                }
            }
            if frame_cands.len() > MAX_CANDIDATES {
                frame_cands.sort_by(|a, b| b.prob.total_cmp(&a.prob));
                frame_cands.truncate(MAX_CANDIDATES);
            }
            out.items.extend_from_slice(&frame_cands);
        }
        out.starts.push(out.items.len() as u32);
    }
    out
}

/// Viterbi decoding of the candidate lattice into an f0 track with voicing.
pub fn track(c: &Candidates, settings: &PitchSettings) -> F0Track {
    let n = c.frames();
    let ln_sw = settings.switch_prob.ln();
    let ln_stay = (1.0 - settings.switch_prob).ln();
    let floor = settings.leap_floor;
    let b = settings.jump_scale_st;
    // Log-probabilities of each frame's states: candidates first, unvoiced last.
    let mut score: Vec<f32> = Vec::new();
    let mut back: Vec<u8> = Vec::new(); // per state: index of best predecessor state
    let mut offsets: Vec<usize> = Vec::with_capacity(n + 1);
    let midi: Vec<f32> = c
        .items
        .iter()
        .map(|k| hz_to_midi(f64::from(k.hz)) as f32)
        .collect();
    let emis_u = |f: &[Candidate]| -> f32 {
        let total: f32 = f.iter().map(|k| k.prob).sum();
        (1.0 - total).max(1e-4).ln()
    };
    offsets.push(0);
    for i in 0..n {
        let f = c.frame(i);
        let base = c.starts[i] as usize;
        let k_now = f.len();
        if i == 0 {
            for cand in f {
                score.push(cand.prob.max(1e-4).ln());
                back.push(0);
            }
            score.push(emis_u(f));
            back.push(0);
            offsets.push(score.len());
            continue;
        }
        let (p0, p1) = (offsets[i - 1], offsets[i]);
        let prev_base = c.starts[i - 1] as usize;
        let k_prev = p1 - p0 - 1;
        for (j, cand) in f.iter().enumerate() {
            let m = midi[base + j];
            // from the unvoiced state
            let mut best = score[p1 - 1] + ln_sw;
            let mut arg = k_prev as u8;
            for k in 0..k_prev {
                let dm = (midi[prev_base + k] - m).abs();
                let w = (1.0 - floor) * (-dm / b).exp() + floor;
                let s = score[p0 + k] + ln_stay + w.ln();
                if s > best {
                    best = s;
                    arg = k as u8;
                }
            }
            score.push(best + cand.prob.max(1e-4).ln());
            back.push(arg);
        }
        // unvoiced state
        let mut best = score[p1 - 1] + ln_stay;
        let mut arg = k_prev as u8;
        for k in 0..k_prev {
            let s = score[p0 + k] + ln_sw;
            if s > best {
                best = s;
                arg = k as u8;
            }
        }
        score.push(best + emis_u(f));
        back.push(arg);
        offsets.push(score.len());
        debug_assert_eq!(offsets[i + 1] - offsets[i], k_now + 1);
    }
    // Backtrack.
    let mut path = vec![0usize; n]; // state index within the frame
    if n > 0 {
        let (p0, p1) = (offsets[n - 1], offsets[n]);
        let mut best = p0;
        for s in p0..p1 {
            if score[s] > score[best] {
                best = s;
            }
        }
        path[n - 1] = best - p0;
        for i in (1..n).rev() {
            path[i - 1] = usize::from(back[offsets[i] + path[i]]);
        }
    }
    let mut hz = vec![0.0f32; n];
    let mut voicing = vec![0.0f32; n];
    let mut voiced = vec![false; n];
    for i in 0..n {
        let f = c.frame(i);
        let total: f32 = f.iter().map(|k| k.prob).sum();
        if path[i] < f.len() {
            hz[i] = f[path[i]].hz;
            voicing[i] = total.clamp(0.5, 1.0);
            voiced[i] = true;
        } else {
            voicing[i] = total.min(0.49);
        }
    }
    fill_unvoiced_guesses(&mut hz, &voiced, c);
    F0Track {
        hop_s: HOP_S,
        hz,
        voicing,
    }
}

/// Give unvoiced frames a pitch guess: the nearest voiced frame's pitch within 0.3 s, else the
/// frame's most probable candidate, else none.
fn fill_unvoiced_guesses(hz: &mut [f32], voiced: &[bool], c: &Candidates) {
    let n = hz.len();
    let reach = (0.3 / HOP_S) as usize;
    let mut last: Option<usize> = None;
    let mut prev_voiced = vec![None; n];
    for i in 0..n {
        if voiced[i] {
            last = Some(i);
        }
        prev_voiced[i] = last;
    }
    let mut next: Option<usize> = None;
    for i in (0..n).rev() {
        if voiced[i] {
            next = Some(i);
            continue;
        }
        let dp = prev_voiced[i].map(|p| i - p);
        let dn = next.map(|q| q - i);
        let pick = match (dp, dn) {
            (Some(a), Some(b)) if a <= b => prev_voiced[i],
            (Some(_), Some(_)) => next,
            (Some(_), None) => prev_voiced[i],
            (None, Some(_)) => next,
            (None, None) => None,
        };
        let near = pick.filter(|&j| j.abs_diff(i) <= reach);
        hz[i] = match near {
            Some(j) => hz[j],
            None => c
                .frame(i)
                .iter()
                .max_by(|a, b| a.prob.total_cmp(&b.prob))
                .map_or(0.0, |k| k.hz),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frontend::prepare;
    use bandmate_core::{AudioBuffer, SampleRate};
    use bandmate_testkit::{sine, tone_sequence};

    fn f0_of(samples: Vec<f32>, rate: u32) -> F0Track {
        let audio = AudioBuffer::mono(SampleRate::new(rate).unwrap(), samples);
        let sig = prepare(&audio);
        let s = PitchSettings::default();
        track(&candidates(&sig, &s), &s)
    }

    #[test]
    fn a_440_hz_sine_is_a4() {
        let t = f0_of(sine(440.0, 1.0, 44_100, 0.5), 44_100);
        let mid = &t.hz[20..80];
        assert!(mid.iter().all(|&h| (h - 440.0).abs() < 1.0), "{mid:?}");
        assert!((20..80).all(|i| t.is_voiced(i)));
    }

    #[test]
    fn threshold_prior_is_a_distribution() {
        let cdf = beta_cdf_table();
        assert!(cdf.iter().all(|v| v.is_finite()));
        assert!(cdf.windows(2).all(|w| w[1] >= w[0]));
        // mean 0.15: about 60 % of the mass lies below 0.15
        assert!((cdf[15] - 0.6).abs() < 0.08, "{}", cdf[15]);
    }

    #[test]
    fn low_and_high_voices_are_tracked() {
        for f in [82.41, 110.0, 196.0, 523.25, 880.0] {
            let t = f0_of(sine(f, 0.8, 44_100, 0.3), 44_100);
            let h = t.hz[40];
            let cents = 1200.0 * (f64::from(h) / f).log2();
            assert!(cents.abs() < 10.0, "{f} Hz read as {h} Hz");
        }
    }

    #[test]
    fn harmonic_voice_with_weak_fundamental_keeps_its_octave() {
        // 150 Hz with a fundamental 12 dB below the 2nd and 3rd harmonics.
        let rate = 16_000;
        let n = rate as usize;
        let x: Vec<f32> = (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(rate);
                let w = std::f64::consts::TAU * 150.0 * t;
                (0.1 * w.sin()
                    + 0.4 * (2.0 * w).sin()
                    + 0.4 * (3.0 * w).sin()
                    + 0.2 * (4.0 * w).sin()) as f32
            })
            .collect();
        let t = f0_of(x, rate);
        let ok = (10..90).filter(|&i| (t.hz[i] - 150.0).abs() < 3.0).count();
        assert!(ok >= 78, "{ok} of 80 frames at 150 Hz: {:?}", &t.hz[10..90]);
    }

    #[test]
    fn silence_between_notes_is_unvoiced() {
        let mut x = sine(330.0, 0.5, 16_000, 0.5);
        x.extend(vec![0.0; 8000]);
        x.extend(sine(330.0, 0.5, 16_000, 0.5));
        let t = f0_of(x, 16_000);
        assert!(t.is_voiced(25));
        assert!(!t.is_voiced(75));
        assert!(t.is_voiced(125));
    }

    #[test]
    fn note_changes_are_followed() {
        let x = tone_sequence(
            &[(60.0, 0.4), (67.0, 0.4), (64.0, 0.4), (72.0, 0.4)],
            44_100,
            0.5,
        );
        let t = f0_of(x, 44_100);
        for (k, want) in [60.0, 67.0, 64.0, 72.0].into_iter().enumerate() {
            let i = 20 + 40 * k;
            let got = hz_to_midi(f64::from(t.hz[i]));
            assert!((got - want).abs() < 0.1, "note {k}: {got} want {want}");
        }
    }
}
