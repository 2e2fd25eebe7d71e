//! How long loading the SoundFont takes and what it keeps: the whole font or only the presets
//! the arranger can ask for (what `Engine::new` loads).
//!
//! ```sh
//! cargo run --release -p bandmate-engine --example soundfont_load -- [--subset] [--runs 5] \
//!     [--sf2 /usr/share/sounds/sf2/FluidR3_GM.sf2]
//! ```
//! Run it under `/usr/bin/time -v` for the peak memory of one mode.

use std::time::Instant;

use bandmate_render::Renderer;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let sf2 = arg("--sf2").unwrap_or_else(|| "/usr/share/sounds/sf2/FluidR3_GM.sf2".into());
    let runs: usize = arg("--runs").and_then(|r| r.parse().ok()).unwrap_or(5);
    let subset = args.iter().any(|a| a == "--subset");
    let presets = bandmate_compose::presets();
    let mut times = Vec::new();
    let mut kept = (0, 0);
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let r = if subset {
            Renderer::from_path_with_presets(&sf2, &presets)
        } else {
            Renderer::from_path(&sf2)
        }
        .expect("SoundFont");
        times.push(t.elapsed().as_secs_f64());
        kept = (r.soundfont().presets().len(), r.soundfont().sample_bytes());
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{}: {} presets, {:.1} MB of samples; load {:.3} s median of {} (range {:.3}-{:.3})",
        if subset { "subset" } else { "whole font" },
        kept.0,
        kept.1 as f64 / 1e6,
        times[times.len() / 2],
        times.len(),
        times[0],
        times[times.len() - 1]
    );
}
