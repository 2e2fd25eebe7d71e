//! Inputs found by `cargo fuzz run decode` (see `fuzz/README.md`), kept as regressions: each must
//! give a typed error, never a panic.

use bandmate_audio::{DecodeError, DecodeLimits, decode};

#[test]
fn wav_fmt_chunk_overflow_is_corrupt() {
    // A WAV whose fmt chunk makes Symphonia multiply channels by bytes per sample past u16.
    let bytes = include_bytes!("fixtures/wav-fmt-overflow.bin");
    let e = decode(bytes, None, &DecodeLimits::default()).unwrap_err();
    assert!(matches!(e, DecodeError::Corrupt(_)), "{e:?}");
}
