//! The vocal, prepared once per task and mixed into both variations: mono, 44.1 kHz, cleaned
//! and gently compressed, with what the mix needs to know about it measured up front (its
//! loudness, where it is singing, and where in the spectrum the voice sits).
//!
//! The chain (starting points from common vocal-mixing practice; e.g. Senior, "Mixing Secrets
//! for the Small Studio", 2011, ch. 11–12):
//! 1. fold to mono and resample to 44.1 kHz ([`bandmate_audio::resample`], `Quality::Mix`);
//! 2. 24 dB/octave high-pass (two RBJ sections, Butterworth Q 0.541 and 1.307) at 80 Hz for a
//!    male voice, 120 Hz for a female one, 90 Hz when unknown: rumble, handling noise and
//!    plosive thumps go, the voice stays;
//! 3. -2 dB at 300 Hz (boxiness), +2 dB at 3.5 kHz (presence), +1.5 dB shelf above 10 kHz (air);
//! 4. a 3:1 compressor with a 6 dB knee, 5 ms attack and 120 ms release whose threshold sits
//!    3 dB above the median peak level of the sung passages, so only the louder third of the
//!    phrases is touched ("gentle").
//!
//! Memory: the prepared vocal is stored as block floating point (2 bytes a sample), about
//! 53 MB for ten minutes; the engine can drop the decoded buffer once this exists.

use std::sync::Arc;

use bandmate_audio::dsp::{BiquadCoeffs, Compressor, CompressorSettings, FilterKind, MonoChain};
use bandmate_audio::resample::{Quality, resample};
use bandmate_audio::{KWeighting, LoudnessMeter};
use bandmate_core::{AudioBuffer, SampleRate, VocalGender};

use realfft::RealFftPlanner;

use crate::compact::CompactChannel;
use crate::{RATE, RenderError};

/// Frames per envelope value (1.45 ms at 44.1 kHz).
pub(crate) const HOP: usize = 64;

/// Most samples accepted (20 minutes at 44.1 kHz): a guard, the decoder's limits are tighter.
const MAX_FRAMES: usize = 20 * 60 * RATE as usize;

#[derive(Debug)]
struct VocalData {
    audio: CompactChannel,
    /// Per hop: RMS level in dBFS of the prepared vocal.
    env_db: Vec<f32>,
    /// Per hop: peak and energy (sum of squares) of the prepared vocal.
    peak: Vec<f32>,
    energy: Vec<f32>,
    /// Per hop: K-weighted energy (sum of squares) of the prepared vocal, for predicting the
    /// song's loudness before it is rendered.
    k_energy: Vec<f32>,
    loudness_lufs: f32,
    active_db: f32,
    presence_hz: f32,
    body_hz: f32,
}

/// The prepared vocal (cheap to clone: the data sits behind an `Arc`).
#[derive(Debug, Clone)]
pub struct VocalTrack {
    data: Arc<VocalData>,
}

impl VocalTrack {
    /// Prepare a decoded vocal (any rate, any channel count) for mixing.
    ///
    /// Memory: a mono 44.1 kHz input is read in place; anything else is folded to mono and
    /// resampled once (one full-length copy). The chain then streams over it twice (peaks for
    /// the compressor's threshold, then the processing itself) straight into the compact
    /// store, so no other full-length `f32` copy is made.
    pub fn new(vocal: &AudioBuffer, gender: Option<VocalGender>) -> Result<Self, RenderError> {
        let converted: Option<Vec<f32>> = if vocal.rate().hz() == RATE && vocal.channel_count() == 1
        {
            None
        } else {
            let mono = vocal.to_mono();
            Some(if vocal.rate().hz() == RATE {
                mono
            } else {
                resample(&mono, vocal.rate().hz(), RATE, Quality::Mix)
            })
        };
        let src: &[f32] = converted.as_deref().unwrap_or_else(|| vocal.channel(0));
        if src.len() > MAX_FRAMES {
            return Err(RenderError::Vocal(format!(
                "it lasts {:.0} s, longer than {} s",
                src.len() as f64 / f64::from(RATE),
                MAX_FRAMES / RATE as usize
            )));
        }
        let rate = RATE as f32;
        let corner = match gender {
            Some(VocalGender::Male) => 80.0,
            Some(VocalGender::Female) => 120.0,
            None => 90.0,
        };
        let chain = [
            BiquadCoeffs::new(FilterKind::HighPass, corner, 0.541, rate),
            BiquadCoeffs::new(FilterKind::HighPass, corner, 1.307, rate),
            BiquadCoeffs::new(FilterKind::Peaking { gain_db: -2.0 }, 300.0, 1.0, rate),
            BiquadCoeffs::new(FilterKind::Peaking { gain_db: 2.0 }, 3500.0, 0.8, rate),
            BiquadCoeffs::new(
                FilterKind::HighShelf { gain_db: 1.5 },
                10_000.0,
                0.707,
                rate,
            ),
        ];
        const PIECE: usize = 1 << 16;
        let mut buf = vec![0.0f32; PIECE];
        // A sample that is not finite counts as silence.
        let sanitised = |from: &[f32], to: &mut [f32]| {
            for (o, &v) in to.iter_mut().zip(from) {
                *o = if v.is_finite() { v } else { 0.0 };
            }
        };
        // Pass 1: 16 ms peaks of the high-passed signal (the EQ's +-2 dB hardly moves them).
        // Threshold: 3 dB above the median peak of the sung passages (those within 30 dB of
        // the loudest).
        // Only the two high-pass sections run: the rest of the chain would pass this signal
        // unchanged but for the sign of a zero, which a peak does not see.
        let mut hp = MonoChain::new(&chain[..2]);
        let mut peaks = Vec::with_capacity(src.len() / 706 + 1);
        let mut cur = 0.0f32;
        let mut in_window = 0;
        for piece in src.chunks(PIECE) {
            let out = &mut buf[..piece.len()];
            sanitised(piece, out);
            hp.process(out);
            for &v in out.iter() {
                cur = cur.max(v.abs());
                in_window += 1;
                if in_window == 706 {
                    peaks.push(cur);
                    cur = 0.0;
                    in_window = 0;
                }
            }
        }
        if in_window > 0 {
            peaks.push(cur);
        }
        let loudest = peaks.iter().fold(0.0f32, |m, &p| m.max(p));
        if loudest <= 1e-6 {
            return Err(RenderError::Vocal("it is silent".into()));
        }
        let mut sung: Vec<f32> = peaks
            .iter()
            .copied()
            .filter(|&p| p > loudest * 0.031_6)
            .collect();
        sung.sort_by(f32::total_cmp);
        let median = sung[sung.len() / 2];
        let mut comp = Compressor::new(
            CompressorSettings {
                threshold_db: 20.0 * median.log10() + 3.0,
                ratio: 3.0,
                knee_db: 6.0,
                attack_ms: 5.0,
                release_ms: 120.0,
                makeup_db: 0.0,
            },
            rate,
        );
        // Pass 2: the chain again, the compressor, the measurements and the store.
        let mut c2 = MonoChain::new(&chain);
        let hops = src.len().div_ceil(HOP);
        let (mut env_db, mut k_energy) = (Vec::with_capacity(hops), Vec::with_capacity(hops));
        let (mut peak, mut energy) = (Vec::with_capacity(hops), Vec::with_capacity(hops));
        let mut kw = KWeighting::new(RATE);
        let mut meter = LoudnessMeter::loudness_only(RATE, 1);
        let mut audio = CompactChannel::with_capacity(src.len());
        for piece in src.chunks(PIECE) {
            let out = &mut buf[..piece.len()];
            sanitised(piece, out);
            c2.process(out);
            comp.process_mono(out);
            for c in out.chunks(HOP) {
                let (p, e) = c
                    .iter()
                    .fold((0.0f32, 0.0f32), |(m, e), v| (m.max(v.abs()), e + v * v));
                peak.push(p);
                energy.push(e);
                env_db.push(10.0 * (e / HOP as f32 + 1e-12).log10());
                k_energy.push(kw.energy(c) as f32);
            }
            meter.add(&[out]);
            audio.push(out);
        }
        audio.finish();
        drop(converted);
        let loudness_lufs = meter.finish().integrated_lufs;
        if !loudness_lufs.is_finite() {
            return Err(RenderError::Vocal("it is too quiet to mix".into()));
        }
        // The level of singing: the median envelope of hops within 30 dB of the loudest.
        let top = env_db.iter().fold(f32::MIN, |m, &v| m.max(v));
        let mut active: Vec<f32> = env_db.iter().copied().filter(|&v| v > top - 30.0).collect();
        active.sort_by(f32::total_cmp);
        let active_db = active[active.len() / 2];
        let (body_hz, presence_hz) = where_the_voice_sits(&audio, &env_db, active_db);
        Ok(Self {
            data: Arc::new(VocalData {
                audio,
                env_db,
                peak,
                energy,
                k_energy,
                loudness_lufs,
                active_db,
                presence_hz,
                body_hz,
            }),
        })
    }

    /// Length in frames at 44.1 kHz.
    pub fn frames(&self) -> usize {
        self.data.audio.len()
    }

    /// Length in seconds.
    pub fn duration_s(&self) -> f64 {
        self.frames() as f64 / f64::from(RATE)
    }

    /// Integrated loudness of the prepared vocal (LUFS, mono).
    pub fn loudness_lufs(&self) -> f32 {
        self.data.loudness_lufs
    }

    /// The centre of the voice's presence region (the "singer's formant", 1.5–5 kHz) in Hz,
    /// where the band's mid channel is carved.
    pub fn presence_hz(&self) -> f32 {
        self.data.presence_hz
    }

    /// The centre of the voice's body (its fundamental and first formant, 150–800 Hz) in Hz.
    pub fn body_hz(&self) -> f32 {
        self.data.body_hz
    }

    /// The prepared vocal as a mono buffer at 44.1 kHz (materialised; 4 bytes a sample).
    pub fn audio(&self) -> AudioBuffer {
        let mut x = vec![0.0f32; self.frames()];
        self.data.audio.read(0, &mut x);
        AudioBuffer::mono(SampleRate::CD, x)
    }

    /// Read prepared samples from vocal frame `start` (negative or past the end reads silence).
    pub(crate) fn read(&self, start: i64, out: &mut [f32]) {
        if start >= 0 {
            self.data.audio.read(start as usize, out);
        } else {
            let lead = ((-start) as usize).min(out.len());
            out[..lead].fill(0.0);
            self.data.audio.read(0, &mut out[lead..]);
        }
    }

    /// Envelope in dBFS at hop `h` (silence outside).
    pub(crate) fn env_db(&self, h: i64) -> f32 {
        if h < 0 {
            return -120.0;
        }
        self.data.env_db.get(h as usize).copied().unwrap_or(-120.0)
    }

    /// Peak of hop `h` (0 outside).
    pub(crate) fn hop_peak(&self, h: i64) -> f32 {
        if h < 0 {
            return 0.0;
        }
        self.data.peak.get(h as usize).copied().unwrap_or(0.0)
    }

    /// Energy (sum of squares) of hop `h` (0 outside).
    pub(crate) fn hop_energy(&self, h: i64) -> f32 {
        if h < 0 {
            return 0.0;
        }
        self.data.energy.get(h as usize).copied().unwrap_or(0.0)
    }

    /// K-weighted energy of hop `h`.
    pub(crate) fn k_energy(&self, h: i64) -> f32 {
        if h < 0 {
            return 0.0;
        }
        self.data.k_energy.get(h as usize).copied().unwrap_or(0.0)
    }

    /// The typical level of the sung passages, dBFS (RMS over a hop).
    pub(crate) fn active_db(&self) -> f32 {
        self.data.active_db
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        let d = &self.data;
        d.audio.bytes()
            + (d.env_db.capacity()
                + d.k_energy.capacity()
                + d.peak.capacity()
                + d.energy.capacity())
                * 4
    }
}

/// Body and presence centres from the average spectrum of the sung passages: the loudest
/// third-octave band in 150–800 Hz and in 1.5–5 kHz (Hann-windowed 4096-point FFTs of up to
/// 256 frames spread over the vocal).
fn where_the_voice_sits(x: &CompactChannel, env_db: &[f32], active_db: f32) -> (f32, f32) {
    const N: usize = 4096;
    let mut planner = RealFftPlanner::<f32>::new();
    let fft = planner.plan_fft_forward(N);
    let mut input = fft.make_input_vec();
    let mut spec = fft.make_output_vec();
    let mut power = vec![0.0f64; N / 2 + 1];
    let frames = x.len() / N;
    let mut frame = vec![0.0f32; N];
    let step = (frames / 256).max(1);
    let window: Vec<f32> = (0..N)
        .map(|i| 0.5 - 0.5 * (std::f32::consts::TAU * i as f32 / N as f32).cos())
        .collect();
    let mut used = 0;
    for f in (0..frames).step_by(step) {
        let start = f * N;
        // Only frames where the voice sings.
        let h = (start + N / 2) / HOP;
        if env_db.get(h).is_none_or(|&e| e < active_db - 12.0) {
            continue;
        }
        x.read(start, &mut frame);
        for ((v, &s), &w) in input.iter_mut().zip(&frame).zip(&window) {
            *v = s * w;
        }
        if fft.process(&mut input, &mut spec).is_ok() {
            for (p, c) in power.iter_mut().zip(&spec) {
                *p += f64::from(c.norm_sqr());
            }
            used += 1;
        }
    }
    if used == 0 {
        return (300.0, 3000.0);
    }
    let bin_hz = f64::from(RATE) / N as f64;
    let band = |lo: f64, hi: f64| {
        // Third-octave bands stepped by a sixth of an octave; the centre of the loudest.
        let mut best = (lo * 2f64.powf(1.0 / 6.0), 0.0f64);
        let mut c = lo * 2f64.powf(1.0 / 6.0);
        while c <= hi / 2f64.powf(1.0 / 6.0) {
            let (a, b) = (c / 2f64.powf(1.0 / 6.0), c * 2f64.powf(1.0 / 6.0));
            let e: f64 = power[(a / bin_hz) as usize..=((b / bin_hz) as usize).min(N / 2)]
                .iter()
                .sum();
            if e > best.1 {
                best = (c, e);
            }
            c *= 2f64.powf(1.0 / 6.0);
        }
        best.0 as f32
    };
    (band(150.0, 800.0), band(1500.0, 5000.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bandmate_core::{Key, Mode, PitchClass};
    use bandmate_testkit::{Melody, SingerSettings, sing};

    fn take(seconds_bars: u32, rate: u32) -> AudioBuffer {
        let m = Melody::generate(
            Key::new(PitchClass::new(2), Mode::Major),
            100.0,
            4,
            seconds_bars,
            5,
        );
        let s = SingerSettings {
            rate,
            ..SingerSettings::default()
        };
        let t = sing(&m, &s, 9);
        AudioBuffer::mono(SampleRate::new(t.rate).unwrap(), t.audio)
    }

    #[test]
    fn prepares_any_rate_and_keeps_length() {
        let v = take(8, 48_000);
        let t = VocalTrack::new(&v, Some(VocalGender::Female)).unwrap();
        assert!((t.duration_s() - v.duration_s()).abs() < 0.001);
        assert!(t.loudness_lufs().is_finite());
        let a = t.audio();
        assert!(a.channels()[0].iter().all(|x| x.is_finite()));
        // The voice sits where voices sit.
        assert!((150.0..=800.0).contains(&t.body_hz()), "{}", t.body_hz());
        assert!(
            (1500.0..=5000.0).contains(&t.presence_hz()),
            "{}",
            t.presence_hz()
        );
    }

    #[test]
    fn removes_rumble_below_the_voice() {
        // A voice plus a 40 Hz hum: the hum is cut after preparation.
        let v = take(4, 44_100);
        let hum: Vec<f32> = (0..v.frames())
            .map(|i| 0.2 * (std::f32::consts::TAU * 40.0 * i as f32 / 44_100.0).sin())
            .collect();
        let x: Vec<f32> = v.to_mono().iter().zip(&hum).map(|(a, b)| a + b).collect();
        let t = VocalTrack::new(
            &AudioBuffer::mono(SampleRate::CD, x),
            Some(VocalGender::Male),
        )
        .unwrap();
        let y = t.audio().to_mono();
        let corr = |s: &[f32]| {
            let (mut a, mut b) = (0.0f64, 0.0f64);
            for (i, &v) in s.iter().enumerate() {
                let ph = std::f64::consts::TAU * 40.0 * i as f64 / 44_100.0;
                a += f64::from(v) * ph.sin();
                b += f64::from(v) * ph.cos();
            }
            2.0 * (a * a + b * b).sqrt() / s.len() as f64
        };
        // A 4th-order Butterworth high-pass is 24 dB down an octave under its corner (80 Hz
        // for a male voice).
        let db = 20.0 * (corr(&y) / 0.2).log10();
        assert!(db < -22.0, "40 Hz down by only {db:.1} dB");
    }

    #[test]
    fn silence_is_refused() {
        let s = AudioBuffer::silence(SampleRate::CD, 1, 44_100 * 3);
        assert!(VocalTrack::new(&s, None).is_err());
    }
}
