//! Writes the band's part: harmonisation (chords for the melody), the style catalogue and tag
//! parsing, arrangement into timed note events, MIDI export. Pure and synchronous.

pub mod harmony;
pub mod phrasing;
pub mod style;
pub mod tags;
