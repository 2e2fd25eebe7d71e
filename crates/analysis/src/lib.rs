//! Hears a vocal: f0 and voicing, sung notes, onsets, tempo, beats and meter, key and tuning.
//!
//! Pure and synchronous: an [`AudioBuffer`] in, an [`Analysis`] out. Stages:
//! [`frontend`] (mono, 16 kHz, high-pass, level) → [`pitch`] (pYIN + Viterbi).

pub mod frontend;
pub mod notes;
pub mod onsets;
pub mod pitch;

pub use bandmate_core::{Analysis, AudioBuffer};
