//! How the vocal-to-band balance follows `audioWeight`: for each weight, the balance the mix
//! planned (loudness of the vocal as mixed minus the band as mixed under it, over the sung
//! passages) and an independent measurement of the rendered song (BS.1770 loudness of the
//! vocal stem against the song with the vocal stem taken out, over the whole song).
//!
//! ```text
//! cargo run --release -p bandmate-render --example balance -- [--sf2 PATH] [--vocal take.wav] [--tags "pop"]
//! ```

use bandmate_audio::{DecodeLimits, decode, measure_loudness};
use bandmate_core::{AudioBuffer, GenerationParams, ModelProfile, SampleRate, Weight};
use bandmate_render::{MixSettings, Renderer, VocalTrack};

mod common;
use common::arg;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let sf2 = arg(&args, "--sf2").unwrap_or_else(|| "/usr/share/sounds/sf2/FluidR3_GM.sf2".into());
    let path = arg(&args, "--vocal").unwrap_or_else(|| "/tmp/vocal3.wav".into());
    let tags = arg(&args, "--tags").unwrap_or_else(|| "pop".into());
    let renderer = Renderer::from_path(&sf2).expect("SoundFont");
    let bytes = std::fs::read(&path).expect("vocal file");
    let vocal = decode(&bytes, None, &DecodeLimits::default())
        .expect("vocal")
        .audio;
    let analysis = bandmate_analysis::analyze(
        &vocal,
        &bandmate_analysis::AnalysisSettings::for_voice(None),
    )
    .expect("analysis");
    let track = VocalTrack::new(&vocal, None).expect("vocal");
    println!("| audioWeight | target (LU) | planned (LU) | measured (LU) | band ducked (dB) |");
    println!("|---|---|---|---|---|");
    for w in [0.0, 0.25, 0.5, 0.65, 0.75, 1.0] {
        let params = GenerationParams {
            tags: tags.clone(),
            audio_weight: Weight::new(w).expect("weight"),
            model: ModelProfile::V45Plus,
            seed: 3,
            ..GenerationParams::default()
        };
        let plan = bandmate_compose::plan(&analysis, &params).expect("plan");
        let arr = bandmate_compose::arrange(&analysis, &plan, &params, 1).expect("arrangement");
        let settings = MixSettings::from_params(&params);
        let mix = renderer.mix(&arr, &track, &settings).expect("mix");
        let song = mix.song();
        let voc = mix.vocal();
        let band: Vec<Vec<f32>> = (0..2)
            .map(|c| {
                song.channel(c)
                    .iter()
                    .zip(voc.channel(c))
                    .map(|(s, v)| s - v)
                    .collect()
            })
            .collect();
        let band = AudioBuffer::new(SampleRate::CD, band).expect("stereo");
        let measured =
            measure_loudness(&voc).integrated_lufs - measure_loudness(&band).integrated_lufs;
        println!(
            "| {w:.2} | {:+.1} | {:+.1} | {:+.1} | {:.1} |",
            -1.0 + 6.0 * w,
            mix.vocal_to_band_db(),
            measured,
            1.0 + 4.0 * w
        );
    }
}
