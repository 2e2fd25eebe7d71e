//! Development harness: f0 of every WAV in a folder, as prediction JSONs (f0 only).
use std::path::Path;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (inp, out) = (Path::new(&args[1]), Path::new(&args[2]));
    std::fs::create_dir_all(out).unwrap();
    let mut total = std::time::Duration::ZERO;
    let mut parts = [std::time::Duration::ZERO; 3];
    for e in std::fs::read_dir(inp).unwrap() {
        let p = e.unwrap().path();
        if p.extension().and_then(|e| e.to_str()) != Some("wav") {
            continue;
        }
        eprintln!("FILE {}", p.file_stem().unwrap().to_str().unwrap());
        let bytes = std::fs::read(&p).unwrap();
        let d = bandmate_audio::decode(&bytes, Some("wav"), &Default::default()).unwrap();
        let t0 = std::time::Instant::now();
        let sig = bandmate_analysis::frontend::prepare(&d.audio);
        let t1 = std::time::Instant::now();
        let s = bandmate_analysis::pitch::PitchSettings::default();
        let c = bandmate_analysis::pitch::candidates(&sig, &s);
        let t2 = std::time::Instant::now();
        let mut f0 = bandmate_analysis::pitch::track(&c, &s);
        let odf = bandmate_analysis::onsets::onset_function(&sig);
        let level = bandmate_analysis::frontend::level_envelope(&sig);
        let tuning = bandmate_analysis::notes::estimate_tuning(&f0);
        let notes =
            bandmate_analysis::notes::segment(&f0, &odf, &level, tuning, &Default::default());
        bandmate_analysis::notes::align_f0(&mut f0, &notes);
        let t3 = std::time::Instant::now();
        total += t0.elapsed();
        parts[0] += t1 - t0;
        parts[1] += t2 - t1;
        parts[2] += t3 - t2;
        let times: Vec<f64> = (0..f0.len()).map(|i| f0.time(i)).collect();
        let hz: Vec<f64> = (0..f0.len())
            .map(|i| {
                if f0.is_voiced(i) {
                    f64::from(f0.hz[i])
                } else {
                    -f64::from(f0.hz[i])
                }
            })
            .collect();
        let tn = f64::from(tuning) / 100.0;
        let notes: Vec<[f64; 3]> = notes
            .iter()
            .map(|n| [n.onset, n.offset, (f64::from(n.pitch) - tn).round() + tn])
            .collect();
        let j = serde_json::json!({"f0": {"times": times, "hz": hz}, "notes": notes});
        let name = p.file_stem().unwrap().to_str().unwrap();
        std::fs::write(out.join(format!("{name}.json")), j.to_string()).unwrap();
    }
    eprintln!(
        "analysis time {:?} (frontend {:?}, candidates {:?}, viterbi {:?})",
        total, parts[0], parts[1], parts[2]
    );
}
