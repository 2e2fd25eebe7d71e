//! Stereo placement: the pan law, mid/side width, and a doubler that widens a part with two
//! short, slowly drifting delayed copies (the "double-tracked" sound of a layered arrangement).

use super::biquad::{Biquad, FilterKind};

/// Constant-power pan law (sine/cosine, -3 dB at the centre): `pan` -1 is hard left, 1 hard
/// right. Returns the (left, right) gains, whose squares sum to 1.
pub fn pan_gains(pan: f32) -> (f32, f32) {
    let p = if pan.is_finite() {
        pan.clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let angle = (p + 1.0) * std::f32::consts::FRAC_PI_4;
    (angle.cos(), angle.sin())
}

/// Mid/side width: 0 folds to mono, 1 leaves the image alone, above 1 widens (the side
/// signal is scaled, the mid kept).
#[derive(Debug, Clone, Copy)]
pub struct Width {
    width: f32,
}

impl Width {
    /// A width stage (`width` clamped to 0..=2).
    pub fn new(width: f32) -> Self {
        Self {
            width: width.clamp(0.0, 2.0),
        }
    }

    /// Apply in place.
    pub fn process(&self, l: &mut [f32], r: &mut [f32]) {
        if (self.width - 1.0).abs() < 1e-6 {
            return;
        }
        let w = self.width;
        for (a, b) in l.iter_mut().zip(r.iter_mut()) {
            let m = 0.5 * (*a + *b);
            let s = 0.5 * (*a - *b) * w;
            *a = m + s;
            *b = m - s;
        }
    }
}

/// Two delayed copies of a part's mid signal, one to each side, at `level` below the dry
/// signal: 13 ms left and 19 ms right (inside the precedence-effect window, so they fuse with
/// the original instead of sounding as echoes), each drifting by +-0.4 ms at 0.2–0.3 Hz the way
/// a second take drifts against the first, high-passed at 250 Hz so the low end stays mono.
///
/// The drift moves so slowly that the delay is updated every 32 frames and interpolated
/// linearly between, and the high-pass sits on the delay line's input (one filter, not two).
#[derive(Debug, Clone)]
pub struct Doubler {
    buf: Vec<f32>,
    mask: usize,
    pos: usize,
    /// Base delays and drift depth, in samples.
    base: [f32; 2],
    depth: f32,
    /// LFO phase (0..1) and increment per sample, per side.
    phase: [f32; 2],
    inc: [f32; 2],
    level: f32,
    hp: Biquad,
}

/// Frames between delay updates.
const DOUBLER_STEP: usize = 32;

impl Doubler {
    /// A doubler at `rate` Hz whose copies sit `level_db` below the dry signal.
    pub fn new(level_db: f32, rate: f32) -> Self {
        let len = ((0.025 * rate) as usize + DOUBLER_STEP + 4).next_power_of_two();
        Self {
            buf: vec![0.0; len],
            mask: len - 1,
            pos: 0,
            base: [0.013 * rate, 0.019 * rate],
            depth: 0.0004 * rate,
            phase: [0.0, 0.5],
            inc: [0.21 / rate, 0.29 / rate],
            level: 10f32.powf(level_db / 20.0),
            hp: Biquad::design(
                FilterKind::HighPass,
                250.0,
                std::f32::consts::FRAC_1_SQRT_2,
                rate,
            ),
        }
    }

    fn delay_at(&self, side: usize, phase: f32) -> f32 {
        // Triangle LFO in -1..1.
        let tri = 4.0 * (phase - 0.5).abs() - 1.0;
        self.base[side] + self.depth * tri
    }

    /// Add the copies to a stereo pair in place.
    pub fn process(&mut self, l: &mut [f32], r: &mut [f32]) {
        let n = l.len().min(r.len());
        let mut i = 0;
        while i < n {
            let m = DOUBLER_STEP.min(n - i);
            let wet = self.block(&l[i..i + m], &r[i..i + m]);
            for k in 0..m {
                l[i + k] += wet[0][k];
                r[i + k] += wet[1][k];
            }
            i += m;
        }
    }

    /// Add the copies of `src` to `dst` (a bus the source is already part of): doubling a sum
    /// of parts equals summing the parts doubled, so one doubler serves them all.
    pub fn add_copies(
        &mut self,
        src_l: &[f32],
        src_r: &[f32],
        dst_l: &mut [f32],
        dst_r: &mut [f32],
    ) {
        let n = src_l
            .len()
            .min(src_r.len())
            .min(dst_l.len())
            .min(dst_r.len());
        let mut i = 0;
        while i < n {
            let m = DOUBLER_STEP.min(n - i);
            let wet = self.block(&src_l[i..i + m], &src_r[i..i + m]);
            for k in 0..m {
                dst_l[i + k] += wet[0][k];
                dst_r[i + k] += wet[1][k];
            }
            i += m;
        }
    }

    /// One block of at most `DOUBLER_STEP` frames: store its high-passed mid, return the
    /// delayed copies.
    fn block(&mut self, l: &[f32], r: &[f32]) -> [[f32; DOUBLER_STEP]; 2] {
        let m = l.len();
        // Write the block's high-passed mid first: the shortest delay (13 ms) is longer than a
        // block, so every read below reaches back before it.
        for k in 0..m {
            let mid = 0.5 * (l[k] + r[k]);
            self.buf[(self.pos + k) & self.mask] = self.hp.run(mid);
        }
        let mut wet = [[0.0f32; DOUBLER_STEP]; 2];
        for (side, w) in wet.iter_mut().enumerate() {
            let d0 = self.delay_at(side, self.phase[side]);
            let mut ph = self.phase[side] + self.inc[side] * m as f32;
            if ph >= 1.0 {
                ph -= 1.0;
            }
            let d1 = self.delay_at(side, ph);
            self.phase[side] = ph;
            let dd = (d1 - d0) / m as f32;
            // The drift moves the delay by ~0.015 samples a block: nearly always the whole
            // block reads at one integer delay, from one contiguous stretch of the line (same
            // arithmetic per frame as the general loop below, in a loop that vectorises).
            let di = d0 as usize;
            let start = self.pos.wrapping_sub(di + 1) & self.mask;
            if (d0 + dd * (m - 1) as f32) as usize == di && start + m < self.buf.len() {
                let (b, a) = (
                    &self.buf[start..start + m],
                    &self.buf[start + 1..start + 1 + m],
                );
                for (k, ((o, &a), &b)) in w[..m].iter_mut().zip(a).zip(b).enumerate() {
                    let frac = (d0 + dd * k as f32) - di as f32;
                    *o = (a + frac * (b - a)) * self.level;
                }
                continue;
            }
            for (k, o) in w[..m].iter_mut().enumerate() {
                let d = d0 + dd * k as f32;
                let di = d as usize;
                let frac = d - di as f32;
                let at = self.pos + k;
                let a = self.buf[at.wrapping_sub(di) & self.mask];
                let b = self.buf[at.wrapping_sub(di + 1) & self.mask];
                *o = (a + frac * (b - a)) * self.level;
            }
        }
        self.pos = (self.pos + m) & self.mask;
        wet
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bandmate_testkit::sine;

    #[test]
    fn pan_law_is_constant_power() {
        for p in [-1.0f32, -0.5, 0.0, 0.3, 1.0] {
            let (l, r) = pan_gains(p);
            assert!((l * l + r * r - 1.0).abs() < 1e-6);
        }
        let (l, r) = pan_gains(0.0);
        assert!((l - r).abs() < 1e-6 && (20.0 * l.log10() + 3.01).abs() < 0.01);
        assert!(pan_gains(-1.0).1.abs() < 1e-6);
        assert_eq!(pan_gains(f32::NAN), pan_gains(0.0));
    }

    #[test]
    fn width_zero_is_mono_and_one_is_identity() {
        let mut l = vec![1.0, 0.5];
        let mut r = vec![0.0, -0.5];
        Width::new(1.0).process(&mut l, &mut r);
        assert_eq!((l.clone(), r.clone()), (vec![1.0, 0.5], vec![0.0, -0.5]));
        Width::new(0.0).process(&mut l, &mut r);
        assert_eq!(l, r);
    }

    #[test]
    fn doubler_widens_a_centred_part_and_keeps_bass_mono() {
        let rate = 44_100.0;
        let x = sine(1000.0, 1.0, 44_100, 0.5);
        let (mut l, mut r) = (x.clone(), x.clone());
        Doubler::new(-6.0, rate).process(&mut l, &mut r);
        let side: f32 = l.iter().zip(&r).map(|(a, b)| (a - b).powi(2)).sum();
        assert!(side > 100.0, "{side}");
        let x = sine(60.0, 1.0, 44_100, 0.5);
        let (mut l, mut r) = (x.clone(), x.clone());
        Doubler::new(-6.0, rate).process(&mut l, &mut r);
        let side: f32 = l.iter().zip(&r).map(|(a, b)| (a - b).powi(2)).sum();
        let total: f32 = l.iter().map(|a| a * a).sum();
        assert!(side < 0.01 * total, "{side} vs {total}");
    }
}
