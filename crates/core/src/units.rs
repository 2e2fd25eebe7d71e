//! Small validated types for units and user-facing numbers.
//!
//! Each is parsed once at the edge (the request, the command line, a file header) and trusted
//! afterwards: a `Weight` is always in `0..=1` with two decimals, a `Bpm` always in the range a
//! musician would tap, a `SampleRate` always one a decoder could produce.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::CoreError;

/// Samples per second of one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct SampleRate(u32);

impl SampleRate {
    /// The lowest rate accepted (telephone-band recordings still carry a melody).
    pub const MIN: u32 = 4_000;
    /// The highest rate accepted (the top of what recorders write).
    pub const MAX: u32 = 768_000;
    /// CD rate, the rate of every rendered output.
    pub const CD: SampleRate = SampleRate(44_100);

    /// A validated sample rate.
    pub fn new(hz: u32) -> Result<Self, CoreError> {
        if (Self::MIN..=Self::MAX).contains(&hz) {
            Ok(Self(hz))
        } else {
            Err(CoreError::OutOfRange {
                what: "sample rate",
                value: f64::from(hz),
                min: f64::from(Self::MIN),
                max: f64::from(Self::MAX),
            })
        }
    }

    /// The rate in hertz.
    pub fn hz(self) -> u32 {
        self.0
    }

    /// The rate in hertz as a float, for arithmetic.
    pub fn as_f64(self) -> f64 {
        f64::from(self.0)
    }
}

impl TryFrom<u32> for SampleRate {
    type Error = CoreError;
    fn try_from(v: u32) -> Result<Self, CoreError> {
        Self::new(v)
    }
}

impl From<SampleRate> for u32 {
    fn from(v: SampleRate) -> u32 {
        v.0
    }
}

impl fmt::Display for SampleRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} Hz", self.0)
    }
}

/// Tempo in quarter-note beats per minute.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Bpm(f64);

impl Bpm {
    /// Slowest tempo Bandmate plays (a very slow ballad counted in quarters).
    pub const MIN: f64 = 30.0;
    /// Fastest tempo Bandmate plays (drum and bass counted in quarters).
    pub const MAX: f64 = 300.0;

    /// A validated tempo.
    pub fn new(bpm: f64) -> Result<Self, CoreError> {
        if bpm.is_finite() && (Self::MIN..=Self::MAX).contains(&bpm) {
            Ok(Self(bpm))
        } else {
            Err(CoreError::OutOfRange {
                what: "tempo (BPM)",
                value: bpm,
                min: Self::MIN,
                max: Self::MAX,
            })
        }
    }

    /// Beats per minute.
    pub fn get(self) -> f64 {
        self.0
    }

    /// Length of one beat in seconds.
    pub fn beat_seconds(self) -> f64 {
        60.0 / self.0
    }
}

impl TryFrom<f64> for Bpm {
    type Error = CoreError;
    fn try_from(v: f64) -> Result<Self, CoreError> {
        Self::new(v)
    }
}

impl From<Bpm> for f64 {
    fn from(v: Bpm) -> f64 {
        v.0
    }
}

/// A request weight in `0..=1`, kept to two decimals as the upstream contract says
/// (`multipleOf: 0.01`). Stored as hundredths so equality and hashing are exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Weight(u8);

impl Weight {
    /// 0.
    pub const ZERO: Weight = Weight(0);
    /// 1.
    pub const ONE: Weight = Weight(100);

    /// A weight from a number in `0..=1`, rounded to the nearest hundredth.
    pub fn new(v: f64) -> Result<Self, CoreError> {
        if v.is_finite() && (0.0..=1.0).contains(&v) {
            // In range, so the rounded value is in 0..=100 and fits a u8.
            Ok(Self((v * 100.0).round() as u8))
        } else {
            Err(CoreError::OutOfRange {
                what: "weight",
                value: v,
                min: 0.0,
                max: 1.0,
            })
        }
    }

    /// A weight from hundredths (`65` is 0.65); values above 100 are clamped.
    pub const fn from_hundredths(h: u8) -> Self {
        Self(if h > 100 { 100 } else { h })
    }

    /// The weight as a float in `0..=1`.
    pub fn get(self) -> f32 {
        f32::from(self.0) / 100.0
    }

    /// The weight in hundredths, `0..=100`.
    pub fn hundredths(self) -> u8 {
        self.0
    }
}

impl TryFrom<f64> for Weight {
    type Error = CoreError;
    fn try_from(v: f64) -> Result<Self, CoreError> {
        Self::new(v)
    }
}

impl From<Weight> for f64 {
    fn from(v: Weight) -> f64 {
        f64::from(v.0) / 100.0
    }
}

impl fmt::Display for Weight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2}", f64::from(*self))
    }
}

/// Convert a frequency in hertz to a (fractional) MIDI note number, A4 = 440 Hz = 69.
pub fn hz_to_midi(hz: f64) -> f64 {
    69.0 + 12.0 * (hz / 440.0).log2()
}

/// Convert a (fractional) MIDI note number to hertz, A4 = 69 = 440 Hz.
pub fn midi_to_hz(midi: f64) -> f64 {
    440.0 * ((midi - 69.0) / 12.0).exp2()
}

/// Decibels (20 log10) of a linear amplitude; `-inf` for zero.
pub fn amp_to_db(a: f64) -> f64 {
    20.0 * a.log10()
}

/// Linear amplitude of a level in decibels.
pub fn db_to_amp(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_rounds_to_hundredths_and_rejects_out_of_range() {
        assert_eq!(Weight::new(0.614).unwrap().hundredths(), 61);
        assert_eq!(Weight::new(0.615).unwrap().hundredths(), 62);
        assert_eq!(Weight::new(1.0).unwrap(), Weight::ONE);
        assert!(Weight::new(1.01).is_err());
        assert!(Weight::new(-0.01).is_err());
        assert!(Weight::new(f64::NAN).is_err());
        let msg = Weight::new(2.0).unwrap_err().to_string();
        assert_eq!(msg, "weight 2 is out of range (0 to 1)");
    }

    #[test]
    fn a4_is_440() {
        assert!((hz_to_midi(440.0) - 69.0).abs() < 1e-12);
        assert!((midi_to_hz(60.0) - 261.625_565).abs() < 1e-5);
        assert!((hz_to_midi(midi_to_hz(47.3)) - 47.3).abs() < 1e-9);
    }

    #[test]
    fn sample_rate_and_bpm_bounds() {
        assert!(SampleRate::new(44_100).is_ok());
        assert!(SampleRate::new(100).is_err());
        assert!(Bpm::new(120.0).is_ok());
        assert!(Bpm::new(f64::INFINITY).is_err());
        assert!((Bpm::new(120.0).unwrap().beat_seconds() - 0.5).abs() < 1e-12);
    }

    #[test]
    fn serde_validates() {
        let w: Result<Weight, _> = serde_json::from_str("0.5");
        assert_eq!(w.unwrap().hundredths(), 50);
        let w: Result<Weight, _> = serde_json::from_str("1.5");
        assert!(w.is_err());
    }
}
