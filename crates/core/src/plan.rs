//! The musical plan: key, tempo, beat grid and chord chart, plus the style chosen from the
//! tags. It is what the `text` stage reports and what both variations are arranged from.

use serde::{Deserialize, Serialize};

use crate::{BeatGrid, Chord, Key};

/// One chord of the chart, over `[start, end)` seconds; `None` is "no chord" (`N`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChordSpan {
    /// Start (s).
    pub start: f64,
    /// End (s).
    pub end: f64,
    /// The chord, or `None` for silence / no harmony.
    pub chord: Option<Chord>,
}

/// A chord chart entry spelled for a key, as the player and the plan JSON show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChartEntry {
    /// Start (s).
    pub start: f64,
    /// End (s).
    pub end: f64,
    /// Harte label (`"Bb:maj7"`, `"N"`).
    pub label: String,
    /// Lead-sheet symbol (`"Bbmaj7"`, `"N.C."`).
    pub symbol: String,
}

/// Spell a chord chart for a key.
pub fn spell_chart(chords: &[ChordSpan], key: Key) -> Vec<ChartEntry> {
    chords
        .iter()
        .map(|c| ChartEntry {
            start: c.start,
            end: c.end,
            label: c
                .chord
                .map_or_else(|| "N".to_string(), |ch| ch.harte_in(Some(key))),
            symbol: c
                .chord
                .map_or_else(|| "N.C.".to_string(), |ch| ch.symbol_in(Some(key))),
        })
        .collect()
}

/// The style the tags resolved to, as reported to the user.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StyleChoice {
    /// Catalogue id of the main style (`piano_ballad`, `lofi`, …).
    pub id: String,
    /// Display name (`Piano ballad`).
    pub name: String,
    /// Other styles blended in, with their weights.
    pub blend: Vec<(String, f32)>,
    /// Moods recognised in the tags (`relaxing`, `dark`, …).
    pub moods: Vec<String>,
    /// Instruments the band will use (display names).
    pub instruments: Vec<String>,
    /// Swing amount, 0 straight … 1 full triplet swing.
    pub swing: f32,
    /// Overall energy, 0 calm … 1 driving.
    pub energy: f32,
}

/// The plan both variations share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// The key.
    pub key: Key,
    /// How sure the key estimate is, `0..=1`.
    pub key_confidence: f32,
    /// Tempo in BPM.
    pub tempo_bpm: f64,
    /// Beats and meter over the vocal (times in seconds of the input file).
    pub grid: BeatGrid,
    /// The chord chart over the vocal (times in seconds of the input file).
    pub chords: Vec<ChordSpan>,
    /// The style the tags resolved to.
    pub style: StyleChoice,
    /// Tags the catalogue does not know: kept and reported, never an error.
    pub unknown_tags: Vec<String>,
    /// What the negative tags excluded (instruments, genres, "fast drums" …).
    pub excluded: Vec<String>,
}

impl Plan {
    /// The chart spelled in the plan's key.
    pub fn chart(&self) -> Vec<ChartEntry> {
        spell_chart(&self.chords, self.key)
    }
}
