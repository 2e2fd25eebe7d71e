//! Decoding any common audio file into an [`AudioBuffer`], with limits.
//!
//! MP3, WAV (8/16/24/32-bit integer and 32/64-bit float), FLAC, Ogg Vorbis, AAC/ALAC in MP4/M4A,
//! AIFF, CAF and Matroska/WebM audio go through Symphonia. Untrusted bytes never panic: every
//! way a file can be wrong is a [`DecodeError`] whose message says what is wrong in words a
//! singer understands, and whose [`DecodeError::is_user_error`] keeps the user's fault apart
//! from ours. Limits ([`DecodeLimits`]) bound size, length and memory before and during decoding.

use std::io::Cursor;

use bandmate_core::{AudioBuffer, SampleRate};
use symphonia::core::codecs::CodecParameters;
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;

use crate::resample::{Quality, Resampler};

/// Limits on an untrusted input file.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeLimits {
    /// Largest accepted file in bytes (default 100 MB).
    pub max_bytes: u64,
    /// Longest accepted audio in seconds (default 600 s = 10 minutes).
    pub max_seconds: f64,
    /// Shortest accepted audio in seconds (default 2 s: less holds no melody to accompany).
    pub min_seconds: f64,
    /// Below this level (dBFS, the loudest 50 ms RMS window) the file counts as silent
    /// (default -60 dBFS, about the noise floor of a quiet room through a phone microphone).
    pub silence_dbfs: f32,
    /// Most channels accepted (default 32).
    pub max_channels: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_bytes: 100 * 1000 * 1000,
            max_seconds: 600.0,
            min_seconds: 2.0,
            silence_dbfs: -60.0,
            max_channels: 32,
        }
    }
}

impl DecodeLimits {
    /// Check the limits themselves make sense.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_bytes == 0 {
            return Err("max_bytes must be positive".into());
        }
        if !(self.min_seconds >= 0.0 && self.max_seconds > self.min_seconds) {
            return Err(format!(
                "max_seconds ({}) must be greater than min_seconds ({}) and both non-negative",
                self.max_seconds, self.min_seconds
            ));
        }
        if self.max_channels == 0 {
            return Err("max_channels must be positive".into());
        }
        Ok(())
    }
}

/// Why a file could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    /// The file is empty.
    #[error("the file is empty")]
    Empty,
    /// The file is larger than the limit.
    #[error("the file is too large: {} (the limit is {})", human_bytes(*bytes), human_bytes(*limit))]
    TooLarge {
        /// Its size.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// No known audio container or stream was recognised.
    #[error("the file is not audio (no known audio format was recognised)")]
    NotAudio,
    /// A container was recognised but it holds no audio track.
    #[error("the file holds no audio track")]
    NoAudioTrack,
    /// A container was recognised but its codec is not supported.
    #[error("the audio codec is not supported ({0})")]
    Unsupported(String),
    /// The data is damaged or ends early.
    #[error("the audio is truncated or corrupt ({0})")]
    Corrupt(String),
    /// The audio is longer than the limit.
    #[error("the audio is too long: {} (the limit is {})", human_duration(*seconds), human_duration(*limit))]
    TooLong {
        /// Its length (or the length decoded before giving up).
        seconds: f64,
        /// The limit.
        limit: f64,
    },
    /// The audio is shorter than the minimum.
    #[error("the audio is too short: {seconds:.1} s (at least {min:.0} s are needed)")]
    TooShort {
        /// Its length.
        seconds: f64,
        /// The minimum.
        min: f64,
    },
    /// The audio holds no signal.
    #[error("the audio is silent (loudest passage {level_dbfs:.0} dBFS)")]
    Silent {
        /// Level of the loudest 50 ms window.
        level_dbfs: f32,
    },
    /// The sample rate is outside what Bandmate accepts.
    #[error("the audio has an unusable sample rate ({0} Hz)")]
    BadSampleRate(u32),
    /// Too many channels.
    #[error("the audio has too many channels ({channels}; at most {limit})")]
    TooManyChannels {
        /// Its channel count.
        channels: usize,
        /// The limit.
        limit: usize,
    },
}

impl DecodeError {
    /// Whether the file is at fault (the service answers 400 with this message) rather than
    /// Bandmate. Every decode error is the file's fault: decoding has no other inputs.
    pub fn is_user_error(&self) -> bool {
        true
    }
}

fn human_bytes(b: u64) -> String {
    let mb = b as f64 / 1e6;
    if mb >= 1.0 {
        format!("{mb:.1} MB")
    } else {
        format!("{:.1} kB", b as f64 / 1e3)
    }
}

fn human_duration(s: f64) -> String {
    let total = s.round() as u64;
    format!("{}:{:02}", total / 60, total % 60)
}

/// A decoded file.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The audio at its own sample rate and channel count.
    pub audio: AudioBuffer,
    /// Short name of the codec (`mp3`, `pcm_s16le`, `flac`, …) for logs and the plan.
    pub codec: String,
}

/// Decode a whole file held in memory.
///
/// `extension` (without the dot) is a hint for formats that have no magic bytes (raw ADTS AAC,
/// some MP3s); detection works without it.
pub fn decode(
    bytes: &[u8],
    extension: Option<&str>,
    limits: &DecodeLimits,
) -> Result<Decoded, DecodeError> {
    decode_guarded(bytes, extension, limits, false, None)
}

/// Decode a whole file held in memory, folded to mono (the mean of its channels) packet by
/// packet as it is decoded.
///
/// The same checks and errors as [`decode`], and the same samples as `decode(…).audio.to_mono()`,
/// but a stereo file never exists as two full-length channels: for a 10-minute stereo upload
/// that is 106 MB instead of 212 MB (plus the 106 MB copy `to_mono` would make). The engine
/// uses this, as everything after decoding (analysis, the prepared vocal) works on mono.
pub fn decode_mono(
    bytes: &[u8],
    extension: Option<&str>,
    limits: &DecodeLimits,
) -> Result<Decoded, DecodeError> {
    decode_guarded(bytes, extension, limits, true, None)
}

/// [`decode_mono`] converted to `rate` Hz as it decodes ([`Resampler`], [`Quality::Mix`]):
/// the audio at the file's own rate never exists whole. For a 10-minute 96 kHz upload that is
/// 230 MB that [`decode_mono`] would hold (and then a 44.1 kHz copy beside it). A file already
/// at `rate` decodes exactly as with [`decode_mono`]; otherwise the samples are those of
/// `resample(decode_mono(..), from, rate, Quality::Mix)`, bit for bit. Limits (length, the
/// declared length, silence) are judged as for [`decode_mono`].
pub fn decode_mono_at(
    bytes: &[u8],
    extension: Option<&str>,
    limits: &DecodeLimits,
    rate: u32,
) -> Result<Decoded, DecodeError> {
    decode_guarded(bytes, extension, limits, true, Some(rate))
}

fn decode_guarded(
    bytes: &[u8],
    extension: Option<&str>,
    limits: &DecodeLimits,
    mono: bool,
    target: Option<u32>,
) -> Result<Decoded, DecodeError> {
    // Symphonia has panicked on crafted headers (an arithmetic overflow in its WAV `fmt `
    // parser, found by this crate's tests); a damaged upload must not take the worker down.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        decode_inner(bytes, extension, limits, mono, target)
    }))
    .unwrap_or_else(|_| {
        Err(DecodeError::Corrupt(
            "the decoder rejected the file's structure".into(),
        ))
    })
}

fn decode_inner(
    bytes: &[u8],
    extension: Option<&str>,
    limits: &DecodeLimits,
    mono: bool,
    target: Option<u32>,
) -> Result<Decoded, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    if bytes.len() as u64 > limits.max_bytes {
        return Err(DecodeError::TooLarge {
            bytes: bytes.len() as u64,
            limit: limits.max_bytes,
        });
    }
    let mss = MediaSourceStream::new(
        Box::new(Cursor::new(bytes)),
        MediaSourceStreamOptions::default(),
    );
    let mut hint = Hint::new();
    if let Some(ext) = extension {
        hint.with_extension(ext);
    }
    let mut reader = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| match e {
            SymError::Unsupported(_) => DecodeError::NotAudio,
            SymError::IoError(_) => DecodeError::NotAudio,
            SymError::LimitError(what) => DecodeError::Corrupt(format!("limit reached: {what}")),
            other => DecodeError::Corrupt(other.to_string()),
        })?;

    let track = reader
        .default_track(TrackType::Audio)
        .ok_or(DecodeError::NoAudioTrack)?;
    let track_id = track.id;
    let declared_frames = track.num_frames;
    let params = match &track.codec_params {
        Some(CodecParameters::Audio(p)) => p.clone(),
        _ => return Err(DecodeError::NoAudioTrack),
    };
    let codec_name = symphonia::default::get_codecs()
        .get_audio_decoder(params.codec)
        .map_or_else(
            || format!("{:?}", params.codec),
            |d| d.codec.info.short_name.to_string(),
        );

    // Refuse early what the header already says is too long.
    if let (Some(frames), Some(rate)) = (declared_frames, params.sample_rate)
        && rate > 0
    {
        let secs = frames as f64 / f64::from(rate);
        if secs > limits.max_seconds * 1.02 + 1.0 {
            return Err(DecodeError::TooLong {
                seconds: secs,
                limit: limits.max_seconds,
            });
        }
    }

    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|e| match e {
            SymError::Unsupported(what) => DecodeError::Unsupported(what.to_string()),
            other => DecodeError::Corrupt(other.to_string()),
        })?;

    let mut channels: Vec<Vec<f32>> = Vec::new();
    let mut rate: Option<u32> = None;
    let mut scratch: Vec<Vec<f32>> = Vec::new();
    let mut good_packets = 0usize;
    let mut bad_packets = 0usize;
    let mut last_error = String::new();
    let mut max_frames = usize::MAX;
    let mut stream_channels = 0usize;
    // Mono at another rate than the file's: each packet is folded, cleaned and converted as it
    // comes (`frames_in` counts the file's frames, for the limits).
    let mut convert: Option<Resampler> = None;
    let mut folded: Vec<f32> = Vec::new();
    let mut frames_in = 0usize;

    loop {
        let packet = match reader.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            // A stream that ends mid-packet: keep what was decoded, judged below.
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymError::ResetRequired) => {
                decoder.reset();
                continue;
            }
            Err(e) => {
                bad_packets += 1;
                last_error = e.to_string();
                if good_packets == 0 || bad_packets > 16 {
                    break;
                }
                continue;
            }
        };
        if packet.track_id != track_id {
            continue;
        }
        match decoder.decode(&packet) {
            Ok(buf) => {
                let spec_rate = buf.spec().rate();
                let n_ch = buf.spec().channels().count().max(buf.num_planes());
                if n_ch == 0 || buf.frames() == 0 {
                    continue;
                }
                if n_ch > limits.max_channels {
                    return Err(DecodeError::TooManyChannels {
                        channels: n_ch,
                        limit: limits.max_channels,
                    });
                }
                match rate {
                    None => {
                        let sr = SampleRate::new(spec_rate)
                            .map_err(|_| DecodeError::BadSampleRate(spec_rate))?;
                        rate = Some(spec_rate);
                        max_frames =
                            (limits.max_seconds * sr.as_f64() * 1.02 + sr.as_f64()) as usize;
                        // Room for the declared length (within the limit) up front: growing
                        // by doubling would leave up to twice the audio allocated (and copy it).
                        // A header is untrusted, so no more than 16 bytes of samples per byte
                        // of file are reserved (PCM needs 2-4, a 128 kbps MP3 about 11).
                        let stored = if mono { 1 } else { n_ch };
                        let room = declared_frames
                            .map_or(0, |f| usize::try_from(f).unwrap_or(usize::MAX))
                            .min(max_frames)
                            .min(bytes.len().saturating_mul(4) / stored);
                        let room = match target {
                            Some(t) if mono && t != spec_rate => {
                                convert = Some(Resampler::new(spec_rate, t, Quality::Mix));
                                (room as f64 * f64::from(t) / f64::from(spec_rate)) as usize + 1
                            }
                            _ => room,
                        };
                        channels = (0..stored).map(|_| Vec::with_capacity(room)).collect();
                        stream_channels = n_ch;
                    }
                    Some(r) if r != spec_rate || stream_channels != n_ch => {
                        return Err(DecodeError::Corrupt(format!(
                            "the stream changes format midway ({r} Hz, {stream_channels} channels to {spec_rate} Hz, {n_ch} channels)",
                        )));
                    }
                    Some(_) => {}
                }
                buf.copy_to_vecs_planar::<f32>(&mut scratch);
                if let Some(conv) = &mut convert {
                    // Non-finite samples silenced as at the end (a NaN must not reach the
                    // filter), then converted.
                    folded.clear();
                    let frames = append_mean(&scratch, &mut folded);
                    for s in folded.iter_mut() {
                        if !s.is_finite() {
                            *s = 0.0;
                        }
                    }
                    conv.process(&folded, &mut channels[0]);
                    frames_in += frames;
                } else if mono {
                    append_mean(&scratch, &mut channels[0]);
                } else {
                    for (dst, src) in channels.iter_mut().zip(&scratch) {
                        dst.extend_from_slice(src);
                    }
                }
                good_packets += 1;
                let decoded = if convert.is_some() {
                    frames_in
                } else {
                    channels[0].len()
                };
                if decoded > max_frames {
                    let r = f64::from(rate.unwrap_or(44_100));
                    return Err(DecodeError::TooLong {
                        seconds: decoded as f64 / r,
                        limit: limits.max_seconds,
                    });
                }
            }
            // A damaged packet: skip it, as players do, unless the whole stream is damaged.
            Err(SymError::DecodeError(what)) => {
                bad_packets += 1;
                last_error = what.to_string();
            }
            Err(SymError::ResetRequired) => decoder.reset(),
            Err(SymError::Unsupported(what)) => {
                return Err(DecodeError::Unsupported(what.to_string()));
            }
            Err(e) => {
                bad_packets += 1;
                last_error = e.to_string();
                if bad_packets > 16 {
                    break;
                }
            }
        }
    }

    let Some(rate) = rate else {
        return Err(if bad_packets > 0 {
            DecodeError::Corrupt(format!("no audio could be decoded: {last_error}"))
        } else {
            DecodeError::Corrupt("the stream holds no audio data".into())
        });
    };
    if bad_packets * 10 > good_packets + bad_packets {
        return Err(DecodeError::Corrupt(format!(
            "{bad_packets} of {} packets are damaged: {last_error}",
            good_packets + bad_packets
        )));
    }
    // The converted stream's tail, and its rate from here on; `frames` stays in the file's
    // frames, for the limits.
    let (out_rate, frames) = match convert.take() {
        Some(conv) => {
            conv.finish(&mut channels[0]);
            (target.unwrap_or(rate), frames_in)
        }
        None => (rate, channels.iter().map(Vec::len).min().unwrap_or(0)),
    };
    // Keep channel lengths equal (a damaged last packet may leave them ragged).
    let kept = channels.iter().map(Vec::len).min().unwrap_or(0);
    for c in &mut channels {
        c.truncate(kept);
        // Non-finite samples only come from damaged float files; silence them.
        for s in c.iter_mut() {
            if !s.is_finite() {
                *s = 0.0;
            }
        }
    }
    let seconds = frames as f64 / f64::from(rate);
    if let Some(declared) = declared_frames {
        // Containers that state their length (WAV, FLAC, AIFF) and deliver much less were cut.
        let missing = declared.saturating_sub(frames as u64) as f64 / f64::from(rate);
        if missing > 1.0 && (frames as f64) < declared as f64 * 0.98 {
            return Err(DecodeError::Corrupt(format!(
                "the file ends early: {} of {} decoded",
                human_duration(seconds),
                human_duration(declared as f64 / f64::from(rate))
            )));
        }
    }
    if seconds > limits.max_seconds {
        return Err(DecodeError::TooLong {
            seconds,
            limit: limits.max_seconds,
        });
    }
    if seconds < limits.min_seconds {
        return Err(DecodeError::TooShort {
            seconds,
            min: limits.min_seconds,
        });
    }
    let sr = SampleRate::new(out_rate).map_err(|_| DecodeError::BadSampleRate(out_rate))?;
    let audio = AudioBuffer::new(sr, channels).map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    let level = loudest_window_dbfs(&audio, 0.05);
    if level < limits.silence_dbfs {
        return Err(DecodeError::Silent { level_dbfs: level });
    }
    Ok(Decoded {
        audio,
        codec: codec_name,
    })
}

/// Append one packet's planar `channels` to `dst` as mono: the mean of the channels, as
/// `AudioBuffer::to_mono` computes it, or the one channel as it is. Returns the frames added.
fn append_mean(channels: &[Vec<f32>], dst: &mut Vec<f32>) -> usize {
    let frames = channels.iter().map(Vec::len).min().unwrap_or(0);
    if let [one] = channels {
        dst.extend_from_slice(&one[..frames]);
        return frames;
    }
    let k = 1.0 / channels.len() as f32;
    let at = dst.len();
    dst.resize(at + frames, 0.0);
    for src in channels {
        for (o, &s) in dst[at..].iter_mut().zip(src) {
            *o += s * k;
        }
    }
    frames
}

/// Level in dBFS of the loudest window of `window_s` seconds (RMS of the channel mean, DC
/// removed per window), -120 for digital silence.
pub fn loudest_window_dbfs(audio: &AudioBuffer, window_s: f64) -> f32 {
    // A mono buffer is read in place (no full-length copy).
    let mono: std::borrow::Cow<'_, [f32]> = if audio.channel_count() == 1 {
        audio.channel(0).into()
    } else {
        audio.to_mono().into()
    };
    let w = ((window_s * audio.rate().as_f64()) as usize).max(1);
    let mut best = 0.0f64;
    for chunk in mono.chunks(w) {
        let n = chunk.len() as f64;
        let mean = chunk.iter().map(|&s| f64::from(s)).sum::<f64>() / n;
        let var = chunk
            .iter()
            .map(|&s| (f64::from(s) - mean).powi(2))
            .sum::<f64>()
            / n;
        best = best.max(var);
    }
    if best <= 1e-12 {
        -120.0
    } else {
        (10.0 * best.log10()) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bandmate_testkit::{WavFormat, sine, wav_bytes};

    fn limits() -> DecodeLimits {
        DecodeLimits::default()
    }

    #[test]
    fn decodes_every_wav_sample_format() {
        let tone = sine(440.0, 3.0, 44_100, 0.5);
        for fmt in [
            WavFormat::Int16,
            WavFormat::Int24,
            WavFormat::Int32,
            WavFormat::Float32,
        ] {
            let bytes = wav_bytes(&[tone.clone(), tone.clone()], 44_100, fmt);
            let d = decode(&bytes, None, &limits()).unwrap_or_else(|e| panic!("{fmt:?}: {e}"));
            assert_eq!(d.audio.channel_count(), 2, "{fmt:?}");
            assert_eq!(d.audio.frames(), tone.len(), "{fmt:?}");
            let peak = d.audio.peak();
            assert!((peak - 0.5).abs() < 1e-3, "{fmt:?} peak {peak}");
        }
    }

    #[test]
    fn decoding_at_a_rate_is_decoding_then_resampling() {
        use crate::resample::{Quality, resample};
        let (l, mut r) = (
            sine(440.0, 3.0, 48_000, 0.5),
            sine(660.0, 3.0, 48_000, 0.25),
        );
        // A damaged float sample: silenced before the filter, as `decode_mono` silences it.
        r[70_000] = f32::NAN;
        for fmt in [WavFormat::Int16, WavFormat::Float32] {
            let bytes = wav_bytes(&[l.clone(), r.clone()], 48_000, fmt);
            let mono = decode_mono(&bytes, None, &limits()).unwrap();
            let at = decode_mono_at(&bytes, None, &limits(), 44_100).unwrap();
            assert_eq!(at.audio.rate().hz(), 44_100);
            assert_eq!(at.codec, mono.codec);
            let want = resample(mono.audio.channel(0), 48_000, 44_100, Quality::Mix);
            assert_eq!(at.audio.channel(0).len(), want.len());
            assert!(
                at.audio
                    .channel(0)
                    .iter()
                    .zip(&want)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{fmt:?}"
            );
        }
        // At its own rate a file decodes exactly as `decode_mono` decodes it.
        let same = wav_bytes(std::slice::from_ref(&l), 48_000, WavFormat::Int16);
        assert_eq!(
            decode_mono_at(&same, None, &limits(), 48_000)
                .unwrap()
                .audio,
            decode_mono(&same, None, &limits()).unwrap().audio
        );
        // Limits are the file's: 3 s is too long for 2, however many frames it converts to.
        let lim = DecodeLimits {
            max_seconds: 2.0,
            min_seconds: 1.0,
            ..limits()
        };
        let long = wav_bytes(&[l.clone(), r.clone()], 48_000, WavFormat::Int16);
        assert_eq!(
            decode_mono_at(&long, None, &lim, 44_100).unwrap_err(),
            decode_mono(&long, None, &lim).unwrap_err()
        );
        let lim = DecodeLimits {
            min_seconds: 4.0,
            ..limits()
        };
        assert_eq!(
            decode_mono_at(&long, None, &lim, 44_100).unwrap_err(),
            decode_mono(&long, None, &lim).unwrap_err()
        );
    }

    #[test]
    fn mono_decoding_equals_the_mean_of_the_channels() {
        let (l, r) = (
            sine(440.0, 3.0, 48_000, 0.5),
            sine(660.0, 3.0, 48_000, 0.25),
        );
        for fmt in [WavFormat::Int16, WavFormat::Float32] {
            let bytes = wav_bytes(&[l.clone(), r.clone()], 48_000, fmt);
            let full = decode(&bytes, None, &limits()).unwrap();
            let mono = decode_mono(&bytes, None, &limits()).unwrap();
            assert_eq!(mono.audio.channel_count(), 1);
            assert_eq!(mono.audio.rate().hz(), 48_000);
            assert_eq!(mono.codec, full.codec);
            assert_eq!(mono.audio.channel(0), full.audio.to_mono().as_slice());
        }
        // A mono file is the same either way; limits apply the same way.
        let one = wav_bytes(std::slice::from_ref(&l), 48_000, WavFormat::Int16);
        assert_eq!(
            decode_mono(&one, None, &limits()).unwrap().audio,
            decode(&one, None, &limits()).unwrap().audio
        );
        let lim = DecodeLimits {
            max_seconds: 2.0,
            min_seconds: 1.0,
            ..limits()
        };
        let stereo = wav_bytes(&[l, r], 48_000, WavFormat::Int16);
        assert!(matches!(
            decode_mono(&stereo, None, &lim),
            Err(DecodeError::TooLong { .. })
        ));
    }

    #[test]
    fn keeps_original_rate_and_mono() {
        let tone = sine(300.0, 2.5, 22_050, 0.3);
        let bytes = wav_bytes(&[tone], 22_050, WavFormat::Int16);
        let d = decode(&bytes, Some("wav"), &limits()).unwrap();
        assert_eq!(d.audio.rate().hz(), 22_050);
        assert_eq!(d.audio.channel_count(), 1);
    }

    #[test]
    fn refuses_what_is_not_usable_audio_with_clear_messages() {
        let e = decode(b"", None, &limits()).unwrap_err();
        assert_eq!(e.to_string(), "the file is empty");
        let e = decode(
            b"<!DOCTYPE html><html><body>Not found</body></html>",
            None,
            &limits(),
        )
        .unwrap_err();
        assert_eq!(e, DecodeError::NotAudio);
        assert_eq!(
            e.to_string(),
            "the file is not audio (no known audio format was recognised)"
        );

        let short = wav_bytes(&[sine(440.0, 1.0, 44_100, 0.5)], 44_100, WavFormat::Int16);
        let e = decode(&short, None, &limits()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the audio is too short: 1.0 s (at least 2 s are needed)"
        );

        let silent = wav_bytes(&[vec![0.0; 44_100 * 3]], 44_100, WavFormat::Int16);
        let e = decode(&silent, None, &limits()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the audio is silent (loudest passage -120 dBFS)"
        );

        let long = wav_bytes(&[sine(440.0, 5.0, 8_000, 0.5)], 8_000, WavFormat::Int16);
        let lim = DecodeLimits {
            max_seconds: 3.0,
            min_seconds: 1.0,
            ..limits()
        };
        let e = decode(&long, None, &lim).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the audio is too long: 0:05 (the limit is 0:03)"
        );

        let lim = DecodeLimits {
            max_bytes: 1000,
            ..limits()
        };
        let e = decode(&long, None, &lim).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the file is too large: 80.0 kB (the limit is 1.0 kB)"
        );
    }

    #[test]
    fn truncated_wav_is_reported() {
        let bytes = wav_bytes(&[sine(440.0, 10.0, 44_100, 0.5)], 44_100, WavFormat::Int16);
        let cut = &bytes[..bytes.len() / 3];
        let e = decode(cut, None, &limits()).unwrap_err();
        assert!(matches!(e, DecodeError::Corrupt(_)), "{e:?}");
        assert!(
            e.to_string()
                .starts_with("the audio is truncated or corrupt (the file ends early"),
            "{e}"
        );
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut r = bandmate_core::Rng::new(5);
        for len in [1usize, 10, 100, 1000, 10_000] {
            let junk: Vec<u8> = (0..len).map(|_| r.next_u64() as u8).collect();
            assert!(decode(&junk, None, &limits()).is_err());
        }
    }

    #[test]
    fn damaged_wav_header_never_panics() {
        let bytes = wav_bytes(&[sine(440.0, 3.0, 44_100, 0.5)], 44_100, WavFormat::Int16);
        let mut r = bandmate_core::Rng::new(9);
        for _ in 0..200 {
            let mut b = bytes.clone();
            for _ in 0..4 {
                let i = r.below(64);
                b[i] = r.next_u64() as u8;
            }
            let _ = decode(&b, None, &limits());
        }
    }
}
