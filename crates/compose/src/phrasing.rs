//! Phrases from sung notes, for analyses that do not carry them (ground-truth files, tests).
//!
//! A phrase ends where the singer breathes: a rest of at least 0.9 beat, or a rest of at least
//! 0.3 beat after a note held 1.5 beats or more (the long last note of a sung line).

use bandmate_core::{BeatGrid, Note, Phrase};

/// Split notes into phrases at rests (see the module docs). Notes must be in time order.
pub fn phrases_from_notes(notes: &[Note], grid: &BeatGrid) -> Vec<Phrase> {
    let mut out = Vec::new();
    if notes.is_empty() {
        return out;
    }
    let mut first = 0;
    for i in 1..=notes.len() {
        let brk = if i == notes.len() {
            true
        } else {
            let prev = &notes[i - 1];
            let gap = grid.beat_at(notes[i].onset) - grid.beat_at(prev.offset);
            let held = grid.beat_at(prev.offset) - grid.beat_at(prev.onset);
            gap >= 0.9 || (gap >= 0.3 && held >= 1.5)
        };
        if brk {
            out.push(Phrase {
                start: notes[first].onset,
                end: notes[i - 1].offset,
                first_note: first,
                end_note: i,
            });
            first = i;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(on: f64, off: f64) -> Note {
        Note {
            onset: on,
            offset: off,
            pitch: 60.0,
            salience: 1.0,
        }
    }

    #[test]
    fn rests_split_phrases() {
        let g = BeatGrid::steady(0.0, 120.0, 40, 4).unwrap();
        // four eighths, a one-beat rest, two quarters, a held note, a short rest, one note
        let notes = vec![
            note(0.0, 0.25),
            note(0.25, 0.5),
            note(0.5, 0.75),
            note(0.75, 1.0),
            note(1.5, 2.0),
            note(2.0, 2.5),
            note(2.5, 3.5),
            note(3.7, 4.0),
        ];
        let p = phrases_from_notes(&notes, &g);
        let bounds: Vec<(usize, usize)> = p.iter().map(|x| (x.first_note, x.end_note)).collect();
        assert_eq!(bounds, vec![(0, 4), (4, 7), (7, 8)]);
        assert!(phrases_from_notes(&[], &g).is_empty());
    }
}
