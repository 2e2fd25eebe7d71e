//! Bandmate's audio I/O: decoding untrusted files with limits ([`decode()`]) and resampling
//! ([`resample`]). Pure and synchronous: bytes in, buffers out.

mod decode;
pub mod resample;

pub use decode::{DecodeError, DecodeLimits, Decoded, decode, loudest_window_dbfs};
