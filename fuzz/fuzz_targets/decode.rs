//! Fuzz the decoder: any bytes must give audio or a typed error, never a panic or a hang.
//!
//! `cargo fuzz run decode` (cargo-fuzz; on a stable toolchain prefix RUSTC_BOOTSTRAP=1).
#![no_main]

use bandmate_audio::{DecodeLimits, decode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: {
    // libfuzzer-sys aborts on every panic, even one `decode` catches (Symphonia has panicked on
    // crafted headers; `decode` turns that into `DecodeError::Corrupt`). A silent hook keeps the
    // caught ones quiet; a panic that escapes `decode` still aborts and is reported.
    std::panic::set_hook(Box::new(|_| {}));
}, |data: &[u8]| {
    // Small limits keep each run fast; the code paths are the same.
    let limits = DecodeLimits { max_seconds: 20.0, min_seconds: 0.1, ..DecodeLimits::default() };
    let _ = decode(data, None, &limits);
});
