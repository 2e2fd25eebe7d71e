//! Writes the band's part: harmonisation (chords for the melody), the style catalogue and tag
//! parsing, arrangement into timed note events, MIDI export. Pure and synchronous.
//!
//! ```text
//! plan(analysis, params)                   tags -> style; melody -> chords (both variations share it)
//! arrange(analysis, plan, params, 1 | 2)   style + chords + vocal -> parts (song time)
//! to_midi(arrangement)                     -> Standard MIDI File, type 1
//! ```
//!
//! Every random choice draws from [`bandmate_core::Rng`] seeded with `params.seed`, with a
//! named sub-stream per purpose (`harmony`, `variation-1`, `drums`, `bass`, `layer-n`,
//! `human-<part>`), so the same input and seed give the same output, bit for bit.
//!
//! How each request field acts is written in `docs/compose.md` and in the module docs:
//! [`tags`] (tags, negativeTags, styleWeight), [`harmony`] (audioWeight, weirdnessConstraint),
//! [`mod@arrange`] (model, vocal range, two variations).

pub mod arrange;
pub mod harmony;
mod midi;
pub mod phrasing;
#[cfg(test)]
mod properties;
pub mod style;
pub mod tags;

use bandmate_core::{Analysis, Arrangement, ChordSpan, GenerationParams, Plan, Rng, StyleChoice};

pub use arrange::MAX_BEATS;
pub use midi::to_midi;
pub use style::presets;

/// Why the band's part could not be written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ComposeError {
    /// Only variations 1 and 2 exist.
    #[error("variation {0} does not exist (1 or 2)")]
    InvalidVariation(u8),
    /// The song is longer than the arranger accepts.
    #[error("the song has {beats} beats; at most {max} can be arranged")]
    TooLong {
        /// Beats of the song.
        beats: usize,
        /// The limit.
        max: usize,
    },
}

/// Harmonise the vocal and resolve the style: the plan both variations share.
///
/// `Plan.grid` is the analysis grid; `Plan.chords` cover `[0, duration]` of the input file
/// without gaps (spans before the first beat extend the first chord). `Plan.key` is the key
/// the chords are written in: the analysis key unless the sung notes plainly contradict it
/// ([`harmony::harmony_key`]).
pub fn plan(analysis: &Analysis, params: &GenerationParams) -> Result<Plan, ComposeError> {
    let resolved = tags::resolve(
        &params.tags,
        &params.negative_tags,
        params.style_weight,
        analysis.tempo_bpm,
    );
    let grid = harmony::harmony_grid(analysis);
    if grid.len() > MAX_BEATS {
        return Err(ComposeError::TooLong {
            beats: grid.len(),
            max: MAX_BEATS,
        });
    }
    let mut a = analysis.clone();
    a.notes.retain(|n| {
        n.onset.is_finite() && n.offset.is_finite() && n.pitch.is_finite() && n.offset > n.onset
    });
    if a.phrases.is_empty() {
        a.phrases = phrasing::phrases_from_notes(&a.notes, &analysis.beats);
    }
    let settings = harmony::HarmonySettings {
        melody_weight: params.audio_weight.get(),
        weirdness: params.weirdness.get(),
        habits: resolved.habits,
    };
    let mut rng = Rng::new(params.seed).fork("harmony");
    let key = harmony::harmony_key(&a);
    let spans = harmony::harmonize(&a, &grid, &settings, &mut rng);
    let chords = clip(&spans, analysis.duration_s);
    let instruments = band_names(&resolved, params);
    Ok(Plan {
        key,
        key_confidence: analysis.key_confidence,
        tempo_bpm: analysis.tempo_bpm,
        grid: analysis.beats.clone(),
        chords,
        style: StyleChoice {
            id: resolved.main.id.to_string(),
            name: resolved.main.name.to_string(),
            blend: resolved
                .blend
                .iter()
                .map(|(s, w)| (s.id.to_string(), (w * 100.0).round() / 100.0))
                .collect(),
            moods: resolved.moods.clone(),
            instruments,
            swing: resolved.swing,
            energy: resolved.energy,
        },
        unknown_tags: resolved.unknown.clone(),
        excluded: resolved.excluded.clone(),
    })
}

/// Arrange one variation (1 or 2) of a plan: see [`arrange::arrange`].
pub fn arrange(
    analysis: &Analysis,
    plan: &Plan,
    params: &GenerationParams,
    variation: u8,
) -> Result<Arrangement, ComposeError> {
    arrange::arrange(analysis, plan, params, variation)
}

/// Clip a chart to `[0, end]`, extending the first chord back to 0 (and over a sliver
/// shorter than 0.25 s before it).
fn clip(spans: &[ChordSpan], end: f64) -> Vec<ChordSpan> {
    let mut out: Vec<ChordSpan> = spans
        .iter()
        .filter(|s| s.end > 0.0 && s.start < end)
        .map(|s| ChordSpan {
            start: s.start.max(0.0),
            end: s.end.min(end),
            chord: s.chord,
        })
        .filter(|s| s.end > s.start)
        .collect();
    // a sliver before the first full chord (a clipped pickup chord) joins the next chord
    if out.len() >= 2 && out[0].end - out[0].start < 0.25 {
        out.remove(0);
    }
    if let Some(f) = out.first_mut() {
        f.start = 0.0;
    }
    out
}

/// Display names of variation 1's band (drums, bass, layers).
fn band_names(style: &tags::ResolvedStyle, params: &GenerationParams) -> Vec<String> {
    let s = style.main;
    let mut v = Vec::new();
    if style.drums != tags::DrumsMode::Off && !s.grooves.is_empty() {
        v.push(match style.drums {
            tags::DrumsMode::Sparse => "Drums (sparse)".to_string(),
            _ => "Drums".to_string(),
        });
    }
    if !style.excluded_families.contains(&style::Family::Bass) {
        v.push(s.bass.0[0].name.to_string());
    }
    for l in arrange::layers_for(style, 1, params.model) {
        v.push(l.instrument.name.to_string());
    }
    v
}
