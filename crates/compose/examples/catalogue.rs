//! Print the style catalogue as a Markdown table (for `docs/compose.md`):
//! `cargo run -p bandmate-compose --example catalogue`.

use bandmate_compose::style::CATALOGUE;

fn main() {
    println!(
        "| id | name | tempo (BPM) | swing | grooves (v1 / v2) | bass (v1 / v2) | comping (v1 / v2) | pads (v1 / v2) | extras |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for s in CATALOGUE {
        let names = |v: &[bandmate_compose::style::Layer]| {
            v.iter()
                .map(|l| l.instrument.name)
                .collect::<Vec<_>>()
                .join(" / ")
        };
        println!(
            "| `{}` | {} | {:.0}–{:.0} | {:.2} | {} | {} | {} | {} | {} |",
            s.id,
            s.name,
            s.tempo.0,
            s.tempo.1,
            s.swing,
            s.grooves
                .iter()
                .map(|g| g.name)
                .collect::<Vec<_>>()
                .join(" / "),
            s.bass
                .0
                .iter()
                .map(|i| i.name)
                .collect::<Vec<_>>()
                .join(" / "),
            names(s.comp),
            names(s.pads),
            names(s.extras),
        );
    }
}
