//! Bandmate's audio I/O and DSP: decoding untrusted files with limits ([`decode()`]),
//! resampling ([`resample`]), encoding ([`encode_mp3`], [`encode_wav`]), loudness and true peak
//! ([`measure_loudness`], BS.1770-4) and the blocks of the mixing chain ([`dsp`]). Pure and
//! synchronous: bytes in, buffers out.

mod decode;
pub mod dsp;
mod loudness;
mod mp3;
pub mod resample;
mod wav;

pub use decode::{
    DecodeError, DecodeLimits, Decoded, decode, decode_mono, decode_mono_at, loudest_window_dbfs,
};
pub use loudness::{
    KWeighting, Loudness, LoudnessMeter, TruePeakInterpolator, abs_max, loudness_of_sub_blocks,
    measure_loudness,
};
pub use mp3::{EncodeError, Mp3Encoder, Mp3Settings, encode_mp3};
pub use wav::{WavSampleFormat, WavWriter, encode_wav};
