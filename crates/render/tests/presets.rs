//! A renderer loaded with only the presets the arranger can ask for (`bandmate_compose::presets`)
//! renders real arrangements exactly as the whole font does: on the generated test font always,
//! and on FluidR3 GM when it is installed (skipped otherwise).

use bandmate_core::{Arrangement, GenerationParams, Key, Mode, ModelProfile, PitchClass, Weight};
use bandmate_render::{RenderSettings, Renderer};
use bandmate_testkit::Melody;

const FLUID: &str = "/usr/share/sounds/sf2/FluidR3_GM.sf2";

/// Arrangements over many styles, instrument tags, weirdness (its pad swaps) and both models.
fn arrangements(bars: u32) -> Vec<Arrangement> {
    let melody = Melody::generate(Key::new(PitchClass::new(2), Mode::Major), 112.0, 4, bars, 9);
    let analysis = melody.analysis();
    let requests = [
        ("pop", 0.0, ModelProfile::V45Plus, 1),
        ("jazz, vibraphone, sax", 0.5, ModelProfile::V5, 2),
        ("edm, synth, choir", 0.9, ModelProfile::V45Plus, 3),
        ("bossa nova, flute, congas", 0.8, ModelProfile::V45Plus, 4),
        ("rock, organ, brass", 0.2, ModelProfile::V5, 5),
        ("lofi, rhodes, harp", 1.0, ModelProfile::V45Plus, 6),
        (
            "cinematic, strings, mallets",
            0.75,
            ModelProfile::V45Plus,
            7,
        ),
        ("country, banjo, harmonica", 0.4, ModelProfile::V5, 8),
    ];
    let mut out = Vec::new();
    for (tags, weird, model, seed) in requests {
        let params = GenerationParams {
            tags: tags.into(),
            weirdness: Weight::new(weird).expect("weirdness"),
            model,
            seed,
            ..GenerationParams::default()
        };
        let plan = bandmate_compose::plan(&analysis, &params).expect("plan");
        for v in [1, 2] {
            out.push(bandmate_compose::arrange(&analysis, &plan, &params, v).expect("arrangement"));
        }
    }
    out
}

fn same_bits(full: &Renderer, subset: &Renderer, arrangements: &[Arrangement]) {
    let settings = RenderSettings::default();
    for a in arrangements {
        let x = full.render_stems(a, &settings).expect("whole font");
        let y = subset.render_stems(a, &settings).expect("subset");
        assert_eq!(x.len(), y.len());
        assert!(
            x.iter().any(|s| s.audio.peak() > 0.01),
            "{} is silent",
            a.style_name
        );
        for (s, t) in x.iter().zip(&y) {
            assert!(s == t, "{} ({}) differs", s.name, a.style_name);
        }
    }
}

#[test]
fn composes_presets_render_the_same_bits_on_the_test_font() {
    let font = bandmate_testkit::soundfont::font();
    let full = Renderer::new(&mut font.as_slice()).unwrap();
    let subset =
        Renderer::with_presets(&mut font.as_slice(), &bandmate_compose::presets()).unwrap();
    same_bits(&full, &subset, &arrangements(4));
}

#[test]
fn composes_presets_render_the_same_bits_on_fluidr3() {
    if !std::path::Path::new(FLUID).exists() {
        eprintln!("skipped: {FLUID} is not installed");
        return;
    }
    let presets = bandmate_compose::presets();
    let full = Renderer::from_path(FLUID).unwrap();
    let subset = Renderer::from_path_with_presets(FLUID, &presets).unwrap();
    let (a, b) = (full.soundfont(), subset.soundfont());
    eprintln!(
        "FluidR3: {} presets, {:.1} MB of samples; subset {} presets, {:.1} MB",
        a.presets().len(),
        a.sample_bytes() as f64 / 1e6,
        b.presets().len(),
        b.sample_bytes() as f64 / 1e6
    );
    assert_eq!(b.presets().len(), presets.len());
    assert!(b.sample_bytes() < a.sample_bytes() * 3 / 4);
    same_bits(&full, &subset, &arrangements(2));
}
