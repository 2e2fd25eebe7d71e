//! `bandmate analyze FILE`: what Bandmate hears in a vocal.

use std::path::PathBuf;

use anyhow::Context;

/// Arguments of `bandmate analyze`.
#[derive(clap::Args)]
pub struct Args {
    /// The vocal or melody recording (MP3, WAV, FLAC, Ogg, M4A …).
    file: PathBuf,
}

/// Decode the file and print what was found.
pub fn run(args: Args) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let ext = args.file.extension().and_then(|e| e.to_str());
    let decoded = bandmate_audio::decode(&bytes, ext, &bandmate_audio::DecodeLimits::default())
        .with_context(|| format!("{}", args.file.display()))?;
    println!(
        "{}: {:.2} s, {} channel(s), {}, {}",
        args.file.display(),
        decoded.audio.duration_s(),
        decoded.audio.channel_count(),
        decoded.audio.rate(),
        decoded.codec
    );
    Ok(())
}
