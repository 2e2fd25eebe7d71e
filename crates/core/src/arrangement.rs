//! The arrangement: what each instrument of the band plays, as timed note events in song time,
//! ready for a synthesizer or a MIDI file.
//!
//! Song time starts at the first beat of the intro; the vocal starts at `vocal_offset_s`.

use serde::{Deserialize, Serialize};

use crate::{BeatGrid, ChordSpan, Key, ModelProfile};

/// What a part does in the band; decides its mix treatment and how it keeps out of the voice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartRole {
    /// Drum kit (General MIDI channel 10).
    Drums,
    /// Hand percussion (shaker, conga …), also on the drum channel.
    Percussion,
    /// Bass line.
    Bass,
    /// Piano comping or arpeggios.
    Piano,
    /// Electric piano, organ and other keyboards.
    Keys,
    /// Guitar comping, strums or picking.
    Guitar,
    /// Sustained string section.
    Strings,
    /// Synth or choir pad.
    Pad,
    /// Horns and brass stabs.
    Brass,
    /// Counter-melodies and fills between vocal phrases.
    Lead,
    /// Arpeggiated synth or plucks.
    Arp,
}

impl PartRole {
    /// Whether the part plays on the General MIDI percussion channel.
    pub fn is_percussion(self) -> bool {
        matches!(self, PartRole::Drums | PartRole::Percussion)
    }
}

/// One note: song-time start and length in seconds, MIDI key and velocity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NoteEvent {
    /// Start (s, song time).
    pub start: f64,
    /// Length (s).
    pub duration: f64,
    /// MIDI key 0..=127 (for drums, the General MIDI percussion key).
    pub key: u8,
    /// MIDI velocity 1..=127.
    pub velocity: u8,
}

/// A MIDI control change (sustain pedal 64, expression 11, modulation 1 …).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ControlEvent {
    /// When (s, song time).
    pub time: f64,
    /// Controller number 0..=127.
    pub controller: u8,
    /// Value 0..=127.
    pub value: u8,
}

/// How a part sits in the mix, chosen by the arranger for its role and the style.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartMix {
    /// Gain in dB before the mix bus.
    pub gain_db: f32,
    /// Pan, -1 left … 1 right.
    pub pan: f32,
    /// Send to the reverb, 0..=1.
    pub reverb_send: f32,
    /// High-pass corner in Hz (0 = none).
    pub low_cut_hz: f32,
}

impl Default for PartMix {
    fn default() -> Self {
        Self {
            gain_db: 0.0,
            pan: 0.0,
            reverb_send: 0.2,
            low_cut_hz: 0.0,
        }
    }
}

/// One instrument's part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Part {
    /// Display and track name (`Piano`, `Bass`, `Drums`).
    pub name: String,
    /// What it does in the band.
    pub role: PartRole,
    /// General MIDI program 0..=127 (ignored for percussion, which uses `bank` 128 kits).
    pub program: u8,
    /// SoundFont bank (0 melodic, 128 percussion).
    pub bank: u16,
    /// MIDI channel 0..=15 (9 for percussion).
    pub channel: u8,
    /// Notes, sorted by start.
    pub notes: Vec<NoteEvent>,
    /// Control changes, sorted by time.
    pub controls: Vec<ControlEvent>,
    /// Mix placement.
    pub mix: PartMix,
}

/// Everything the band plays in one variation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Arrangement {
    /// Which variation (1 or 2).
    pub variation: u8,
    /// The seed this variation was drawn with.
    pub seed: u64,
    /// Engine profile.
    pub profile: ModelProfile,
    /// Key (for spelling and the cover).
    pub key: Key,
    /// Tempo in BPM.
    pub tempo_bpm: f64,
    /// The beat grid in song time, intro and ending included (the MIDI tempo map).
    pub grid: BeatGrid,
    /// Where the vocal starts in song time (s).
    pub vocal_offset_s: f64,
    /// Length of the song (s), ending and release tails included.
    pub length_s: f64,
    /// The chord chart in song time, intro and ending included.
    pub chart: Vec<ChordSpan>,
    /// Display name of the style.
    pub style_name: String,
    /// The parts.
    pub parts: Vec<Part>,
}
