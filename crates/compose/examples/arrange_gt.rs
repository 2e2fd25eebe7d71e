//! Plan and arrange a ground-truth clip of the evaluation kit, write both variations as MIDI
//! the analysis and the plan as JSON, to listen to (render with fluidsynth) or look at:
//!
//! ```text
//! cargo run -p bandmate-compose --example arrange_gt -- GT.json OUT_PREFIX "tags" ["negative"] [V5]
//! ```

use bandmate_core::{GenerationParams, ModelProfile};

mod gt;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: arrange_gt GT.json OUT_PREFIX TAGS [NEGATIVE] [V5]");
        std::process::exit(2);
    }
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&args[1])?)?;
    let a = gt::analysis_from_gt(&v).ok_or("not a GT file")?;
    let params = GenerationParams {
        tags: args[3].clone(),
        negative_tags: args.get(4).cloned().unwrap_or_default(),
        model: if args.get(5).is_some_and(|m| m == "V5") {
            ModelProfile::V5
        } else {
            ModelProfile::V45Plus
        },
        seed: 7,
        ..GenerationParams::default()
    };
    std::fs::write(
        format!("{}.analysis.json", args[2]),
        serde_json::to_vec(&a)?,
    )?;
    let plan = bandmate_compose::plan(&a, &params)?;
    std::fs::write(
        format!("{}.plan.json", args[2]),
        serde_json::to_vec_pretty(&plan)?,
    )?;
    for var in [1u8, 2] {
        let arr = bandmate_compose::arrange(&a, &plan, &params, var)?;
        std::fs::write(
            format!("{}-{var}.mid", args[2]),
            bandmate_compose::to_midi(&arr),
        )?;
        std::fs::write(format!("{}-{var}.json", args[2]), serde_json::to_vec(&arr)?)?;
        eprintln!(
            "variation {var}: {} parts ({}), vocal at {:.2} s, {:.1} s long",
            arr.parts.len(),
            arr.parts
                .iter()
                .map(|p| format!("{} {}", p.name, p.notes.len()))
                .collect::<Vec<_>>()
                .join(", "),
            arr.vocal_offset_s,
            arr.length_s
        );
    }
    Ok(())
}
