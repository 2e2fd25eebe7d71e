//! WAV writing: 16-bit PCM (with TPDF dither) or 32-bit IEEE float, from a whole buffer
//! ([`encode_wav`]) or block by block ([`WavWriter`], for mixes too long to hold twice).
//!
//! The dither is deterministic (a fixed-seed generator), so the same mix always gives the same
//! file, bit for bit.

use bandmate_core::AudioBuffer;

/// Sample format of a WAV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WavSampleFormat {
    /// 16-bit signed PCM, triangular-PDF dithered at 1 LSB (the CD format; plays everywhere).
    #[default]
    Pcm16,
    /// 32-bit IEEE float (`WAVE_FORMAT_IEEE_FLOAT`), the mix exactly as computed.
    Float32,
}

impl WavSampleFormat {
    fn bytes(self) -> usize {
        match self {
            WavSampleFormat::Pcm16 => 2,
            WavSampleFormat::Float32 => 4,
        }
    }
}

/// A whole buffer as a WAV file in memory.
pub fn encode_wav(audio: &AudioBuffer, format: WavSampleFormat) -> Vec<u8> {
    let mut w = WavWriter::new(
        audio.rate().hz(),
        audio.channel_count(),
        audio.frames(),
        format,
    );
    let chans: Vec<&[f32]> = audio.channels().iter().map(Vec::as_slice).collect();
    w.write(&chans);
    w.finish()
}

/// Writes a WAV file of a known length block by block.
#[derive(Debug)]
pub struct WavWriter {
    out: Vec<u8>,
    channels: usize,
    format: WavSampleFormat,
    frames_declared: usize,
    frames_written: usize,
    dither: u32,
}

impl WavWriter {
    /// A writer for `frames` frames of `channels` channels at `rate` Hz; the header is written
    /// now. If fewer frames arrive, [`WavWriter::finish`] pads with silence; extra frames are
    /// dropped, so the header always tells the truth.
    pub fn new(rate: u32, channels: usize, frames: usize, format: WavSampleFormat) -> Self {
        let channels = channels.max(1);
        let bps = format.bytes();
        let data_len = frames * channels * bps;
        let mut out = Vec::with_capacity(58 + data_len);
        let float = format == WavSampleFormat::Float32;
        // RIFF header; float files carry the `fact` chunk WAVE_FORMAT_IEEE_FLOAT asks for.
        let fmt_len: u32 = if float { 18 } else { 16 };
        let fact_len = if float { 12 } else { 0 };
        let riff_len = 4 + (8 + fmt_len as usize) + fact_len + 8 + data_len;
        out.extend_from_slice(b"RIFF");
        out.extend_from_slice(&(riff_len.min(u32::MAX as usize) as u32).to_le_bytes());
        out.extend_from_slice(b"WAVE");
        out.extend_from_slice(b"fmt ");
        out.extend_from_slice(&fmt_len.to_le_bytes());
        out.extend_from_slice(&(if float { 3u16 } else { 1u16 }).to_le_bytes());
        out.extend_from_slice(&(channels as u16).to_le_bytes());
        out.extend_from_slice(&rate.to_le_bytes());
        out.extend_from_slice(&(rate * (channels * bps) as u32).to_le_bytes());
        out.extend_from_slice(&((channels * bps) as u16).to_le_bytes());
        out.extend_from_slice(&((bps * 8) as u16).to_le_bytes());
        if float {
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(b"fact");
            out.extend_from_slice(&4u32.to_le_bytes());
            out.extend_from_slice(&(frames.min(u32::MAX as usize) as u32).to_le_bytes());
        }
        out.extend_from_slice(b"data");
        out.extend_from_slice(&(data_len.min(u32::MAX as usize) as u32).to_le_bytes());
        Self {
            out,
            channels,
            format,
            frames_declared: frames,
            frames_written: 0,
            dither: 0x2545_F491,
        }
    }

    fn next_uniform(&mut self) -> f32 {
        // xorshift32: a fixed sequence, so the dither (and the file) is reproducible.
        let mut x = self.dither;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.dither = x;
        x as f32 / u32::MAX as f32
    }

    /// Append planar samples (one slice per channel, equal lengths).
    pub fn write(&mut self, channels: &[&[f32]]) {
        let n = channels
            .iter()
            .map(|c| c.len())
            .min()
            .unwrap_or(0)
            .min(self.frames_declared - self.frames_written);
        match self.format {
            WavSampleFormat::Float32 => {
                for i in 0..n {
                    for c in 0..self.channels {
                        let v = channels.get(c).map_or(0.0, |ch| ch[i]);
                        let v = if v.is_finite() { v } else { 0.0 };
                        self.out.extend_from_slice(&v.to_le_bytes());
                    }
                }
            }
            WavSampleFormat::Pcm16 => {
                for i in 0..n {
                    for c in 0..self.channels {
                        let v = channels.get(c).map_or(0.0, |ch| ch[i]);
                        let v = if v.is_finite() { v } else { 0.0 };
                        // TPDF dither: the sum of two uniforms, +-1 LSB peak.
                        let d = self.next_uniform() - self.next_uniform();
                        let q = (v * 32767.0 + d).round().clamp(-32768.0, 32767.0) as i16;
                        self.out.extend_from_slice(&q.to_le_bytes());
                    }
                }
            }
        }
        self.frames_written += n;
    }

    /// The finished file.
    pub fn finish(mut self) -> Vec<u8> {
        let missing = self.frames_declared - self.frames_written;
        self.out.resize(
            self.out.len() + missing * self.channels * self.format.bytes(),
            0,
        );
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bandmate_core::SampleRate;
    use bandmate_testkit::sine;
    use std::io::Cursor;

    #[test]
    fn pcm16_round_trips_through_hound() {
        let x = sine(440.0, 0.5, 44_100, 0.5);
        let b = AudioBuffer::new(
            SampleRate::CD,
            vec![x.clone(), x.iter().map(|v| -v).collect()],
        )
        .unwrap();
        let bytes = encode_wav(&b, WavSampleFormat::Pcm16);
        let mut r = hound::WavReader::new(Cursor::new(bytes)).unwrap();
        let spec = r.spec();
        assert_eq!(
            (spec.channels, spec.sample_rate, spec.bits_per_sample),
            (2, 44_100, 16)
        );
        let s: Vec<i16> = r.samples::<i16>().map(|v| v.unwrap()).collect();
        assert_eq!(s.len(), x.len() * 2);
        for (i, &v) in x.iter().enumerate() {
            // Within the dither (+-1 LSB) and rounding.
            assert!((f32::from(s[2 * i]) - v * 32767.0).abs() <= 1.6);
            assert!((f32::from(s[2 * i + 1]) + v * 32767.0).abs() <= 1.6);
        }
    }

    #[test]
    fn float32_is_exact_and_sanitises() {
        let b = AudioBuffer::mono(
            SampleRate::new(48_000).unwrap(),
            vec![0.25, -1.5, f32::NAN, 1e-9],
        );
        let bytes = encode_wav(&b, WavSampleFormat::Float32);
        let mut r = hound::WavReader::new(Cursor::new(bytes)).unwrap();
        assert_eq!(r.spec().sample_format, hound::SampleFormat::Float);
        let s: Vec<f32> = r.samples::<f32>().map(|v| v.unwrap()).collect();
        assert_eq!(s, vec![0.25, -1.5, 0.0, 1e-9]);
    }

    #[test]
    fn pcm16_clips_instead_of_wrapping_and_is_reproducible() {
        let b = AudioBuffer::mono(SampleRate::CD, vec![2.0, -2.0, 0.0]);
        let one = encode_wav(&b, WavSampleFormat::Pcm16);
        assert_eq!(one, encode_wav(&b, WavSampleFormat::Pcm16));
        let mut r = hound::WavReader::new(Cursor::new(one)).unwrap();
        let s: Vec<i16> = r.samples::<i16>().map(|v| v.unwrap()).collect();
        assert_eq!(&s[..2], &[32767, -32768]);
    }

    #[test]
    fn streaming_writer_pads_short_input() {
        let mut w = WavWriter::new(44_100, 2, 10, WavSampleFormat::Pcm16);
        w.write(&[&[0.0; 4], &[0.0; 4]]);
        let bytes = w.finish();
        let r = hound::WavReader::new(Cursor::new(bytes)).unwrap();
        assert_eq!(r.duration(), 10);
    }
}
