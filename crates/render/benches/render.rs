//! `cargo bench -p bandmate-render`: the render stage of one variation (synthesis, mix,
//! song and instrumental MP3), on the generated test SoundFont (always) and on FluidR3 GM for
//! a three-minute song (when `/usr/share/sounds/sf2/FluidR3_GM.sf2` is installed).
//!
//! The whole task (both variations, wall and CPU time, memory) is measured by the
//! `render_song` example; see `docs/render.md`.

#[path = "../src/testband.rs"]
mod testband;
use bandmate_testkit::soundfont as testfont;

use bandmate_audio::Mp3Settings;
use bandmate_core::{AudioBuffer, Key, Mode, ModelProfile, PitchClass, SampleRate};
use bandmate_render::{MixSettings, OutputRequest, Renderer, VocalTrack};
use bandmate_testkit::{Melody, SingerSettings, sing};
use criterion::{Criterion, criterion_group, criterion_main};

fn vocal(seconds: f64) -> AudioBuffer {
    let bars = ((seconds - 5.0) / 2.5).max(2.0) as u32;
    let m = Melody::generate(
        Key::new(PitchClass::new(0), Mode::Major),
        testband::BPM,
        4,
        bars,
        3,
    );
    let t = sing(&m, &SingerSettings::default(), 5);
    AudioBuffer::mono(SampleRate::new(t.rate).expect("rate"), t.audio)
}

fn variation(r: &Renderer, track: &VocalTrack, seconds: f64) -> usize {
    let arr = testband::band(seconds, ModelProfile::V45Plus, 1, 7);
    let mix = r.mix(&arr, track, &MixSettings::default()).expect("mix");
    let o = mix
        .encode(&OutputRequest {
            song_mp3: Some(Mp3Settings::default()),
            instrumental_mp3: Some(Mp3Settings::default()),
            ..OutputRequest::default()
        })
        .expect("encode");
    o.song_mp3.map_or(0, |b| b.len()) + o.instrumental_mp3.map_or(0, |b| b.len())
}

fn bench(c: &mut Criterion) {
    let test = Renderer::new(&mut testfont::font().as_slice()).expect("test font");
    let short = VocalTrack::new(&vocal(30.0), None).expect("vocal");
    let mut g = c.benchmark_group("render");
    g.sample_size(10);
    g.bench_function("variation_30s_test_font", |b| {
        b.iter(|| variation(&test, &short, 30.0))
    });
    let fluid = "/usr/share/sounds/sf2/FluidR3_GM.sf2";
    if std::path::Path::new(fluid).exists() {
        let r = Renderer::from_path(fluid).expect("FluidR3");
        let long = VocalTrack::new(&vocal(180.0), None).expect("vocal");
        g.measurement_time(std::time::Duration::from_secs(40));
        g.bench_function("variation_3min_fluidr3", |b| {
            b.iter(|| variation(&r, &long, 180.0))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
