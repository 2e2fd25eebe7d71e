//! MP3 encoding with LAME (through `mp3lame-encoder`): constant bit rate, 192 kbps or more,
//! an ID3v2.3 tag we write ourselves (title, artist, genre, album, comment) and LAME's own
//! Info frame at the start (exact length, encoder delay and padding, for gapless players).
//!
//! [`Mp3Encoder`] takes planar `f32` blocks as they are produced, so a long mix is never held
//! twice; [`encode_mp3`] encodes a whole buffer. Encoding is single-threaded and needs no
//! shared state: encode two outputs at once on two threads.

use std::fmt;

use bandmate_core::AudioBuffer;
use mp3lame_encoder::{Bitrate, Builder, DualPcm, FlushGap, MonoPcm, Quality};

/// Why audio could not be encoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EncodeError {
    /// Bit rate outside the accepted set.
    #[error("MP3 bit rate {0} kbps is not supported (192, 224, 256 or 320)")]
    Bitrate(u32),
    /// LAME quality outside 0..=9.
    #[error("MP3 encoder quality {0} is out of range (0 best to 9 fastest)")]
    Quality(u8),
    /// MPEG-1 layer III at these bit rates needs 32, 44.1 or 48 kHz.
    #[error("MP3 needs a sample rate of 32000, 44100 or 48000 Hz, not {0} Hz")]
    SampleRate(u32),
    /// MP3 carries one or two channels.
    #[error("MP3 carries 1 or 2 channels, not {0}")]
    Channels(usize),
    /// A tag field is longer than [`Mp3Settings::MAX_TAG_CHARS`].
    #[error("the MP3 {field} tag is {len} characters long (at most {max})")]
    TagTooLong {
        /// Which field.
        field: &'static str,
        /// Its length in characters.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// LAME refused or failed (our fault, not the user's).
    #[error("the MP3 encoder failed: {0}")]
    Encoder(String),
}

/// How an MP3 is made and labelled.
#[derive(Debug, Clone, PartialEq)]
pub struct Mp3Settings {
    /// Constant bit rate in kbps: 192 (default), 224, 256 or 320.
    pub bitrate_kbps: u32,
    /// LAME's algorithm quality, 0 (best, slowest) to 9 (fastest). Default 7 (LAME's `-f`):
    /// at 192 kbps and above the bit rate, not the search effort, decides what is heard, and
    /// it encodes about 1.6 times faster than LAME's default 5 (measured, `docs/render.md`).
    pub quality: u8,
    /// Title (ID3 `TIT2`); empty leaves it out.
    pub title: String,
    /// Artist (`TPE1`); empty leaves it out.
    pub artist: String,
    /// Genre (`TCON`), free text; empty leaves it out.
    pub genre: String,
    /// Album (`TALB`); empty leaves it out.
    pub album: String,
    /// Comment (`COMM`); empty leaves it out.
    pub comment: String,
    /// Joint (mid/side) stereo (default true) instead of plain left/right. Left/right
    /// skips LAME's mid/side analysis (a quarter of its time) and decodes with the same error
    /// energy on our mixes, but its decoded peaks overshoot the PCM by more (1.2 dB against
    /// under 1 dB on the test band), which the true-peak ceiling cannot afford
    /// (`docs/render.md`).
    pub joint_stereo: bool,
}

impl Default for Mp3Settings {
    fn default() -> Self {
        Self {
            bitrate_kbps: 192,
            quality: 7,
            title: String::new(),
            artist: String::new(),
            genre: String::new(),
            album: String::new(),
            comment: String::new(),
            joint_stereo: true,
        }
    }
}

impl Mp3Settings {
    /// Longest tag text accepted, in characters.
    pub const MAX_TAG_CHARS: usize = 1000;

    /// Check every field.
    pub fn validate(&self) -> Result<(), EncodeError> {
        bitrate(self.bitrate_kbps)?;
        if self.quality > 9 {
            return Err(EncodeError::Quality(self.quality));
        }
        for (field, text) in [
            ("title", &self.title),
            ("artist", &self.artist),
            ("genre", &self.genre),
            ("album", &self.album),
            ("comment", &self.comment),
        ] {
            let len = text.chars().count();
            if len > Self::MAX_TAG_CHARS {
                return Err(EncodeError::TagTooLong {
                    field,
                    len,
                    max: Self::MAX_TAG_CHARS,
                });
            }
        }
        Ok(())
    }
}

fn bitrate(kbps: u32) -> Result<Bitrate, EncodeError> {
    Ok(match kbps {
        192 => Bitrate::Kbps192,
        224 => Bitrate::Kbps224,
        256 => Bitrate::Kbps256,
        320 => Bitrate::Kbps320,
        other => return Err(EncodeError::Bitrate(other)),
    })
}

fn quality(q: u8) -> Quality {
    match q {
        0 => Quality::Best,
        1 => Quality::SecondBest,
        2 => Quality::NearBest,
        3 => Quality::VeryNice,
        4 => Quality::Nice,
        5 => Quality::Good,
        6 => Quality::Decent,
        7 => Quality::Ok,
        8 => Quality::SecondWorst,
        _ => Quality::Worst,
    }
}

fn lame_err(e: impl fmt::Display) -> EncodeError {
    EncodeError::Encoder(e.to_string())
}

/// Encode a whole buffer (1 or 2 channels at 32, 44.1 or 48 kHz).
pub fn encode_mp3(audio: &AudioBuffer, settings: &Mp3Settings) -> Result<Vec<u8>, EncodeError> {
    let mut enc = Mp3Encoder::new(audio.rate().hz(), audio.channel_count(), settings)?;
    enc.reserve_frames(audio.frames());
    let chans: Vec<&[f32]> = audio.channels().iter().map(Vec::as_slice).collect();
    enc.encode(&chans)?;
    enc.finish()
}

/// A streaming MP3 encoder.
pub struct Mp3Encoder {
    lame: mp3lame_encoder::Encoder,
    channels: usize,
    /// The ID3v2 tag, then LAME's frames.
    out: Vec<u8>,
    /// Where LAME's first frame (the Info frame it rewrites at the end) starts in `out`.
    stream_start: usize,
    /// Sanitised copy of the current block (non-finite samples zeroed, clamped to +-1).
    scratch: [Vec<f32>; 2],
    /// Bytes of MP3 per second (constant bit rate).
    bytes_per_s: usize,
    rate: u32,
}

impl fmt::Debug for Mp3Encoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mp3Encoder")
            .field("channels", &self.channels)
            .field("bytes", &self.out.len())
            .finish()
    }
}

/// Samples handed to LAME at once (LAME buffers internally; this bounds our scratch space).
const BLOCK: usize = 8192;

impl Mp3Encoder {
    /// An encoder for `channels` (1 or 2) at `rate` Hz.
    pub fn new(rate: u32, channels: usize, settings: &Mp3Settings) -> Result<Self, EncodeError> {
        settings.validate()?;
        if !matches!(rate, 32_000 | 44_100 | 48_000) {
            return Err(EncodeError::SampleRate(rate));
        }
        if !(1..=2).contains(&channels) {
            return Err(EncodeError::Channels(channels));
        }
        let mut b = Builder::new().ok_or_else(|| lame_err("cannot allocate the encoder"))?;
        b.set_num_channels(channels as u8).map_err(lame_err)?;
        b.set_sample_rate(rate).map_err(lame_err)?;
        b.set_brate(bitrate(settings.bitrate_kbps)?)
            .map_err(lame_err)?;
        b.set_quality(quality(settings.quality)).map_err(lame_err)?;
        b.set_mode(match (channels, settings.joint_stereo) {
            (2, true) => mp3lame_encoder::Mode::JointStereo,
            (2, false) => mp3lame_encoder::Mode::Stereo,
            _ => mp3lame_encoder::Mode::Mono,
        })
        .map_err(lame_err)?;
        // Keep LAME's Info frame: players read the exact length and gapless data from it.
        b.set_to_write_vbr_tag(true).map_err(lame_err)?;
        let lame = b.build().map_err(lame_err)?;
        let out = id3v2_tag(settings);
        let stream_start = out.len();
        Ok(Self {
            lame,
            channels,
            out,
            stream_start,
            scratch: [Vec::with_capacity(BLOCK), Vec::with_capacity(BLOCK)],
            bytes_per_s: settings.bitrate_kbps as usize * 1000 / 8,
            rate,
        })
    }

    /// Reserve room for the MP3 of `frames` sample frames (constant bit rate, plus a frame of
    /// slack per second and the flush), so the output is not grown by doubling: a 10-minute
    /// MP3 at 192 kbps is 15 MB, and doubling would briefly hold up to twice that.
    pub fn reserve_frames(&mut self, frames: usize) {
        let seconds = frames.div_ceil(self.rate as usize) + 1;
        let bytes = seconds * (self.bytes_per_s + 1_500) + 7_200 * 2;
        self.out
            .reserve(bytes.saturating_sub(self.out.len() - self.stream_start));
    }

    /// Encode planar samples (one slice per channel, equal lengths; extra channels are an
    /// error). Values outside -1..=1 are clamped, non-finite ones silenced.
    pub fn encode(&mut self, channels: &[&[f32]]) -> Result<(), EncodeError> {
        if channels.len() != self.channels {
            return Err(EncodeError::Channels(channels.len()));
        }
        let n = channels.iter().map(|c| c.len()).min().unwrap_or(0);
        let mut i = 0;
        while i < n {
            let m = BLOCK.min(n - i);
            for (c, src) in channels.iter().enumerate() {
                let s = &mut self.scratch[c];
                s.clear();
                s.extend(src[i..i + m].iter().map(|&v| {
                    if v.is_finite() {
                        v.clamp(-1.0, 1.0)
                    } else {
                        0.0
                    }
                }));
            }
            self.out
                .reserve(mp3lame_encoder::max_required_buffer_size(m));
            let r = if self.channels == 2 {
                self.lame.encode_to_vec(
                    DualPcm {
                        left: &self.scratch[0],
                        right: &self.scratch[1],
                    },
                    &mut self.out,
                )
            } else {
                self.lame
                    .encode_to_vec(MonoPcm(&self.scratch[0][..]), &mut self.out)
            };
            r.map_err(lame_err)?;
            i += m;
        }
        Ok(())
    }

    /// Flush LAME, write its Info frame over the placeholder at the start, and return the file.
    pub fn finish(mut self) -> Result<Vec<u8>, EncodeError> {
        self.out.reserve(7200 * 2);
        self.lame
            .flush_to_vec::<FlushGap>(&mut self.out)
            .map_err(lame_err)?;
        let mut tag = Vec::with_capacity(self.lame.lame_tag_size());
        if self.lame.lame_tag_encode_to_vec(&mut tag).is_some() {
            let end = self.stream_start + tag.len();
            if end <= self.out.len() {
                self.out[self.stream_start..end].copy_from_slice(&tag);
            }
        }
        Ok(self.out)
    }
}

/// An ID3v2.3 tag with the non-empty text fields of `s` (ISO-8859-1 when the text fits,
/// UTF-16 with a byte-order mark otherwise, as v2.3 requires); empty when none are set.
fn id3v2_tag(s: &Mp3Settings) -> Vec<u8> {
    let mut frames = Vec::new();
    for (id, text) in [
        (b"TIT2", &s.title),
        (b"TPE1", &s.artist),
        (b"TALB", &s.album),
        (b"TCON", &s.genre),
    ] {
        if !text.is_empty() {
            text_frame(&mut frames, id, &encode_text(text));
        }
    }
    if !s.comment.is_empty() {
        // COMM: encoding, language, empty short description, text.
        let enc = encode_text(&s.comment);
        let mut body = vec![enc[0]];
        body.extend_from_slice(b"eng");
        if enc[0] == 1 {
            body.extend_from_slice(&[0xFF, 0xFE, 0, 0]);
        } else {
            body.push(0);
        }
        body.extend_from_slice(&enc[1..]);
        frame(&mut frames, b"COMM", &body);
    }
    if frames.is_empty() {
        return frames;
    }
    let size = frames.len() as u32;
    let mut tag = Vec::with_capacity(10 + frames.len());
    tag.extend_from_slice(b"ID3");
    tag.extend_from_slice(&[3, 0, 0]);
    // Tag size: 28 bits, 7 per byte ("synchsafe").
    tag.extend_from_slice(&[
        ((size >> 21) & 0x7F) as u8,
        ((size >> 14) & 0x7F) as u8,
        ((size >> 7) & 0x7F) as u8,
        (size & 0x7F) as u8,
    ]);
    tag.extend_from_slice(&frames);
    tag
}

/// Text with its ID3 encoding byte in front: 0 (ISO-8859-1) or 1 (UTF-16LE with BOM).
fn encode_text(text: &str) -> Vec<u8> {
    // Control characters have no place in a tag; drop them.
    let clean: String = text.chars().filter(|c| !c.is_control()).collect();
    if clean.chars().all(|c| (c as u32) < 256) {
        let mut v = vec![0u8];
        v.extend(clean.chars().map(|c| c as u8));
        v
    } else {
        let mut v = vec![1u8, 0xFF, 0xFE];
        for u in clean.encode_utf16() {
            v.extend_from_slice(&u.to_le_bytes());
        }
        v
    }
}

fn text_frame(out: &mut Vec<u8>, id: &[u8; 4], encoded: &[u8]) {
    frame(out, id, encoded);
}

fn frame(out: &mut Vec<u8>, id: &[u8; 4], body: &[u8]) {
    out.extend_from_slice(id);
    // v2.3 frame sizes are plain big-endian.
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DecodeLimits, decode, measure_loudness};
    use bandmate_core::SampleRate;
    use bandmate_testkit::sine;

    fn settings() -> Mp3Settings {
        Mp3Settings {
            title: "Sunday Morning".into(),
            artist: "Bandmate".into(),
            genre: "Lo-fi Pop".into(),
            ..Mp3Settings::default()
        }
    }

    /// Find the text of a v2.3 text frame in a tag.
    fn find_frame(bytes: &[u8], id: &[u8; 4]) -> Option<String> {
        let size = bytes[6..10]
            .iter()
            .fold(0usize, |a, &b| (a << 7) | usize::from(b));
        let mut p = 10;
        while p + 10 <= 10 + size {
            let len = u32::from_be_bytes([bytes[p + 4], bytes[p + 5], bytes[p + 6], bytes[p + 7]])
                as usize;
            let body = &bytes[p + 10..p + 10 + len];
            if &bytes[p..p + 4] == id {
                return Some(if body[0] == 0 {
                    body[1..].iter().map(|&b| b as char).collect()
                } else {
                    let units: Vec<u16> = body[3..]
                        .chunks(2)
                        .map(|c| u16::from_le_bytes([c[0], c[1]]))
                        .collect();
                    String::from_utf16(&units).unwrap()
                });
            }
            p += 10 + len;
        }
        None
    }

    #[test]
    fn reserved_room_holds_the_whole_file_without_waste() {
        let rate = 44_100;
        for secs in [2.0, 30.0] {
            let tone = sine(440.0, secs, rate, 0.5);
            let mut enc = Mp3Encoder::new(rate, 2, &Mp3Settings::default()).unwrap();
            enc.reserve_frames(tone.len());
            let room = enc.out.capacity();
            enc.encode(&[&tone, &tone]).unwrap();
            let out = enc.finish().unwrap();
            // Never grown (the estimate covers the stream, the flush and the tags), and at most a
            // second of audio and the flush's margin over the file's size (plus 10 %).
            assert_eq!(out.capacity(), room, "{secs} s: grown past {room}");
            assert!(
                room as f64 <= out.len() as f64 * 1.1 + 45_000.0,
                "{secs} s: {room} for {}",
                out.len()
            );
        }
    }

    #[test]
    fn stereo_mp3_decodes_back_with_tags_and_length() {
        let x = sine(440.0, 3.0, 44_100, 0.5);
        let b = AudioBuffer::new(SampleRate::CD, vec![x.clone(), x]).unwrap();
        let bytes = encode_mp3(&b, &settings()).unwrap();
        assert_eq!(&bytes[..3], b"ID3");
        assert_eq!(
            find_frame(&bytes, b"TIT2").as_deref(),
            Some("Sunday Morning")
        );
        assert_eq!(find_frame(&bytes, b"TPE1").as_deref(), Some("Bandmate"));
        assert_eq!(find_frame(&bytes, b"TCON").as_deref(), Some("Lo-fi Pop"));
        // 192 kbps CBR: about 24 kB a second.
        let secs = bytes.len() as f64 / 24_000.0;
        assert!((2.9..3.3).contains(&secs), "{secs}");
        let d = decode(&bytes, Some("mp3"), &DecodeLimits::default()).unwrap();
        assert_eq!(d.audio.channel_count(), 2);
        // The Info frame lets the decoder trim LAME's delay and padding.
        assert!(
            (d.audio.duration_s() - 3.0).abs() < 0.03,
            "{}",
            d.audio.duration_s()
        );
        let l = measure_loudness(&d.audio);
        let r = measure_loudness(&b);
        // LAME itself reads a pure tone about 0.3 dB low (ffmpeg's libmp3lame does the same).
        assert!(
            (l.integrated_lufs - r.integrated_lufs).abs() < 0.5,
            "{} vs {}",
            l.integrated_lufs,
            r.integrated_lufs
        );
    }

    #[test]
    fn unicode_tags_use_utf16() {
        let s = Mp3Settings {
            title: "Café – 夜".into(),
            ..Mp3Settings::default()
        };
        let tag = id3v2_tag(&s);
        assert_eq!(find_frame(&tag, b"TIT2").as_deref(), Some("Café – 夜"));
        assert!(id3v2_tag(&Mp3Settings::default()).is_empty());
    }

    #[test]
    fn rejects_what_mp3_cannot_carry() {
        let b = AudioBuffer::mono(SampleRate::new(22_050).unwrap(), vec![0.0; 1000]);
        assert_eq!(
            encode_mp3(&b, &Mp3Settings::default()).unwrap_err(),
            EncodeError::SampleRate(22_050)
        );
        let s = Mp3Settings {
            bitrate_kbps: 128,
            ..Mp3Settings::default()
        };
        assert_eq!(s.validate().unwrap_err(), EncodeError::Bitrate(128));
        let s = Mp3Settings {
            genre: "x".repeat(1001),
            ..Mp3Settings::default()
        };
        assert!(matches!(s.validate(), Err(EncodeError::TagTooLong { .. })));
        let four = AudioBuffer::silence(SampleRate::CD, 4, 100);
        assert_eq!(
            encode_mp3(&four, &Mp3Settings::default()).unwrap_err(),
            EncodeError::Channels(4)
        );
    }

    #[test]
    fn mono_and_non_finite_input_encode() {
        let mut x = sine(1000.0, 2.5, 48_000, 0.3);
        x[100] = f32::NAN;
        x[200] = f32::INFINITY;
        x[300] = 7.0;
        let b = AudioBuffer::mono(SampleRate::new(48_000).unwrap(), x);
        let bytes = encode_mp3(&b, &Mp3Settings::default()).unwrap();
        let d = decode(&bytes, Some("mp3"), &DecodeLimits::default()).unwrap();
        assert_eq!(d.audio.channel_count(), 1);
        assert!(d.audio.channels()[0].iter().all(|v| v.is_finite()));
    }
}
