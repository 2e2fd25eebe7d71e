//! `AudioBuffer`: planar `f32` samples with their rate, the currency between decode, analysis,
//! rendering and encoding.

use crate::{CoreError, SampleRate};

/// Planar audio: one `Vec<f32>` per channel, all the same length, nominally in `-1..=1`.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioBuffer {
    rate: SampleRate,
    channels: Vec<Vec<f32>>,
}

impl AudioBuffer {
    /// A buffer from planar channels; every channel must have the same length and there must
    /// be at least one.
    pub fn new(rate: SampleRate, channels: Vec<Vec<f32>>) -> Result<Self, CoreError> {
        let Some(first) = channels.first() else {
            return Err(CoreError::Invalid(
                "an audio buffer needs at least one channel".into(),
            ));
        };
        let n = first.len();
        if let Some(bad) = channels.iter().find(|c| c.len() != n) {
            return Err(CoreError::Invalid(format!(
                "channels differ in length ({} and {} samples)",
                n,
                bad.len()
            )));
        }
        Ok(Self { rate, channels })
    }

    /// A mono buffer.
    pub fn mono(rate: SampleRate, samples: Vec<f32>) -> Self {
        Self {
            rate,
            channels: vec![samples],
        }
    }

    /// A silent buffer.
    pub fn silence(rate: SampleRate, channels: usize, frames: usize) -> Self {
        Self {
            rate,
            channels: vec![vec![0.0; frames]; channels.max(1)],
        }
    }

    /// The sample rate.
    pub fn rate(&self) -> SampleRate {
        self.rate
    }

    /// Number of channels (at least one).
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// Number of sample frames (samples per channel).
    pub fn frames(&self) -> usize {
        self.channels[0].len()
    }

    /// Length in seconds.
    pub fn duration_s(&self) -> f64 {
        self.frames() as f64 / self.rate.as_f64()
    }

    /// One channel's samples.
    pub fn channel(&self, i: usize) -> &[f32] {
        &self.channels[i]
    }

    /// One channel's samples, mutable.
    pub fn channel_mut(&mut self, i: usize) -> &mut [f32] {
        &mut self.channels[i]
    }

    /// All channels.
    pub fn channels(&self) -> &[Vec<f32>] {
        &self.channels
    }

    /// All channels, mutable (lengths must stay equal; use [`AudioBuffer::resize`]).
    pub fn channels_mut(&mut self) -> &mut [Vec<f32>] {
        &mut self.channels
    }

    /// The channels, consumed.
    pub fn into_channels(self) -> Vec<Vec<f32>> {
        self.channels
    }

    /// Change the length of every channel, padding with silence.
    pub fn resize(&mut self, frames: usize) {
        for c in &mut self.channels {
            c.resize(frames, 0.0);
        }
    }

    /// The mean of all channels.
    pub fn to_mono(&self) -> Vec<f32> {
        if self.channels.len() == 1 {
            return self.channels[0].clone();
        }
        let k = 1.0 / self.channels.len() as f32;
        let mut out = vec![0.0f32; self.frames()];
        for c in &self.channels {
            for (o, &s) in out.iter_mut().zip(c) {
                *o += s * k;
            }
        }
        out
    }

    /// Largest absolute sample value over all channels (sample peak, not true peak).
    pub fn peak(&self) -> f32 {
        self.channels
            .iter()
            .flatten()
            .fold(0.0f32, |m, &s| m.max(s.abs()))
    }

    /// Interleaved samples (`L R L R …`), as encoders want them.
    pub fn interleaved(&self) -> Vec<f32> {
        let (n, c) = (self.frames(), self.channels.len());
        let mut out = Vec::with_capacity(n * c);
        for i in 0..n {
            for ch in &self.channels {
                out.push(ch[i]);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_ragged_channels() {
        let r = AudioBuffer::new(SampleRate::CD, vec![vec![0.0; 3], vec![0.0; 2]]);
        assert_eq!(
            r.unwrap_err().to_string(),
            "channels differ in length (3 and 2 samples)"
        );
        assert!(AudioBuffer::new(SampleRate::CD, vec![]).is_err());
    }

    #[test]
    fn mono_mixdown_and_interleave() {
        let b = AudioBuffer::new(SampleRate::CD, vec![vec![1.0, 0.0], vec![0.0, -1.0]]).unwrap();
        assert_eq!(b.to_mono(), vec![0.5, -0.5]);
        assert_eq!(b.interleaved(), vec![1.0, 0.0, 0.0, -1.0]);
        assert_eq!(b.peak(), 1.0);
        assert!((b.duration_s() - 2.0 / 44_100.0).abs() < 1e-12);
    }
}
