//! Builds LAME 3.100's encoder library with the `cc` crate.
//!
//! The published crate runs LAME's autotools build with the flags the `cc` crate chooses for the
//! profile; LAME's `configure` then drops its own optimisation flags (`-O3 -ffast-math
//! -fomit-frame-pointer`) and, on x86-64, never enables its SSE code (`MIN_ARCH_SSE` is set by no
//! build file). Here both are on, scoped to LAME alone (a global `CFLAGS` would reach SQLite's C,
//! where fast-math is not acceptable). The encoder sources and headers are LAME 3.100's,
//! unchanged but for `psymodel.c`'s spreading convolution and `VbrTag.c`'s music CRC
//! (README.bandmate.md, byte-identical output); `config.h` is written here with what `configure`
//! finds on a glibc system.

use std::path::Path;

const SOURCES: &[&str] = &[
    "VbrTag.c",
    "bitstream.c",
    "encoder.c",
    "fft.c",
    "gain_analysis.c",
    "id3tag.c",
    "lame.c",
    "newmdct.c",
    "presets.c",
    "psymodel.c",
    "quantize.c",
    "quantize_pvt.c",
    "reservoir.c",
    "set_get.c",
    "tables.c",
    "takehiro.c",
    "util.c",
    "vbrquantize.c",
    "version.c",
];

fn main() {
    if std::env::var("DOCS_RS").is_ok_and(|v| v == "1") {
        return;
    }
    let lame = Path::new("lame-3.100");
    let lib = lame.join("libmp3lame");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let mut cc = cc::Build::new();
    cc.include("config")
        .include(lame.join("include"))
        .include(&lib)
        .define("HAVE_CONFIG_H", None)
        .opt_level(3)
        .flag_if_supported("-ffast-math")
        .flag_if_supported("-fomit-frame-pointer")
        .warnings(false)
        .extra_warnings(false);
    for f in SOURCES {
        cc.file(lib.join(f));
    }
    if arch == "x86_64" {
        // SSE2 is part of x86-64: LAME's SSE FFT (psychoacoustic model) and quantiser helpers.
        cc.define("MIN_ARCH_SSE", None)
            .define("HAVE_XMMINTRIN_H", "1")
            .file(lib.join("vector/xmm_quantize_sub.c"));
    }
    if matches!(arch.as_str(), "x86_64" | "x86" | "aarch64" | "powerpc" | "powerpc64") {
        cc.define("TAKEHIRO_IEEE754_HACK", "1").define("USE_FAST_LOG", "1");
    }
    cc.compile("mp3lame");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=config/config.h");
    println!("cargo:rerun-if-changed=lame-3.100");
}
