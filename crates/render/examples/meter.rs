//! Measure audio files with our BS.1770-4 meter and with the `ebur128` crate side by side.
//! `cargo run --release -p bandmate-render --example meter -- FILE...`

use bandmate_audio::{DecodeLimits, decode, measure_loudness};

fn main() {
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path).expect("file");
        let a = decode(
            &bytes,
            None,
            &DecodeLimits {
                max_seconds: 3600.0,
                ..DecodeLimits::default()
            },
        )
        .expect("audio")
        .audio;
        let ours = measure_loudness(&a);
        let mut m = ebur128::EbuR128::new(
            a.channel_count() as u32,
            a.rate().hz(),
            ebur128::Mode::I | ebur128::Mode::TRUE_PEAK,
        )
        .expect("meter");
        let chans: Vec<&[f32]> = a.channels().iter().map(Vec::as_slice).collect();
        m.add_frames_planar_f32(&chans).expect("frames");
        let tp = (0..a.channel_count() as u32)
            .map(|c| m.true_peak(c).unwrap_or(0.0))
            .fold(0.0f64, f64::max);
        println!(
            "{path}: ours {:.2} LUFS {:.2} dBTP | ebur128 crate {:.2} LUFS {:.2} dBTP",
            ours.integrated_lufs,
            ours.true_peak_dbtp,
            m.loudness_global().unwrap_or(f64::NAN),
            20.0 * tp.log10()
        );
    }
}
