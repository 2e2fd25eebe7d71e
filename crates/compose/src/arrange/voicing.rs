//! Voicings: which notes of a chord each instrument plays, in a register kept out of the
//! singer's way, moving as little as possible from one chord to the next (voice leading by
//! least total motion, the rule of thumb of every keyboard harmony text).

use bandmate_core::Chord;

/// A register window in MIDI notes (inclusive).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Window {
    pub lo: i32,
    pub hi: i32,
}

/// How a voicing is spread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spread {
    /// Close position, all voices within an octave.
    Close,
    /// Drop-2: the second voice from the top dropped an octave (open, guitar-like).
    Drop2,
    /// Pad spread: root low, the others an octave or more above.
    Wide,
}

/// The pitch classes to voice, at most `voices`: the colour tones first kept (seventh,
/// ninth), then third, root, fifth (the fifth is the first dropped, as in jazz voicing).
fn tones(chord: Chord, voices: usize) -> Vec<i32> {
    let ivs = chord.quality.intervals();
    let root = chord.root.index() as i32;
    let mut order: Vec<i32> = Vec::new();
    // third (or sus tone), colours, root, fifth
    for &iv in ivs.iter().skip(1) {
        if iv != 7 {
            order.push(i32::from(iv % 12));
        }
    }
    order.insert(0, 0);
    if ivs.contains(&7) {
        order.push(7);
    }
    // keep the root first so a small voicing still names the chord
    let mut out: Vec<i32> = Vec::new();
    for iv in order {
        let pc = (root + iv).rem_euclid(12);
        if !out.contains(&pc) {
            out.push(pc);
        }
    }
    if out.len() > voices {
        // drop the fifth first, then the root (the bass has it)
        if let Some(p) = out.iter().position(|&pc| pc == (root + 7).rem_euclid(12))
            && out.len() > voices
        {
            out.remove(p);
        }
        while out.len() > voices {
            out.remove(0);
        }
    }
    while out.len() < voices.min(4) && out.len() < 3 {
        out.push(root.rem_euclid(12));
    }
    out
}

/// Every close-position stack of the pitch classes with its lowest note in the window.
fn candidates(pcs: &[i32], w: Window) -> Vec<Vec<i32>> {
    let mut out = Vec::new();
    for rot in 0..pcs.len() {
        let mut order: Vec<i32> = pcs[rot..].iter().chain(&pcs[..rot]).copied().collect();
        order.dedup();
        for base in (w.lo - 12)..=w.hi {
            if base.rem_euclid(12) != order[0] {
                continue;
            }
            let mut v = vec![base];
            for &pc in &order[1..] {
                let last = *v.last().unwrap_or(&base);
                let mut n = last + 1;
                while n.rem_euclid(12) != pc {
                    n += 1;
                }
                v.push(n);
            }
            out.push(v);
        }
    }
    out
}

fn spread(v: &mut [i32], s: Spread) {
    match s {
        Spread::Close => {}
        Spread::Drop2 => {
            if v.len() >= 3 {
                let i = v.len() - 2;
                v[i] -= 12;
                v.sort_unstable();
            }
        }
        Spread::Wide => {
            if v.len() >= 3 {
                v[0] -= 12;
                v.sort_unstable();
            }
        }
    }
}

/// Voice `chord` with `voices` notes inside `w`, closest to `prev` (sum of moves between
/// sorted voices), spread as asked. Falls back to the lowest close voicing.
pub(crate) fn voice(
    chord: Chord,
    voices: usize,
    w: Window,
    s: Spread,
    prev: Option<&[i32]>,
) -> Vec<i32> {
    let pcs = tones(chord, voices);
    let mut best: Option<(i32, Vec<i32>)> = None;
    for mut v in candidates(&pcs, w) {
        spread(&mut v, s);
        let (lo, hi) = (v[0], v[v.len() - 1]);
        if lo < w.lo || hi > w.hi {
            continue;
        }
        let cost = match prev {
            Some(p) if p.len() == v.len() => p.iter().zip(&v).map(|(a, b)| (a - b).abs()).sum(),
            Some(p) => {
                let pm = p.iter().sum::<i32>() / p.len().max(1) as i32;
                let vm = v.iter().sum::<i32>() / v.len() as i32;
                (pm - vm).abs() * 2
            }
            // no previous voicing: centre of the window
            None => (v.iter().sum::<i32>() / v.len() as i32 - (w.lo + w.hi) / 2).abs(),
        };
        if best.as_ref().is_none_or(|b| cost < b.0) {
            best = Some((cost, v));
        }
    }
    best.map(|b| b.1).unwrap_or_else(|| {
        // the window is too narrow for this spread: close position from the window's bottom
        // (each pitch class at its lowest place in the window: inside it when the window
        // spans an octave, which every window of the arranger does)
        let mut v: Vec<i32> = pcs
            .iter()
            .map(|&pc| w.lo + (pc - w.lo).rem_euclid(12))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bandmate_core::{ChordQuality, PitchClass};

    #[test]
    fn voicings_stay_in_window_and_hold_the_chord() {
        let w = Window { lo: 48, hi: 67 };
        for q in ChordQuality::ALL {
            for r in 0..12 {
                let c = Chord::new(PitchClass::new(r), q);
                for s in [Spread::Close, Spread::Drop2, Spread::Wide] {
                    let v = voice(c, 4, w, s, None);
                    assert!(
                        v.iter().all(|&n| (w.lo..=w.hi).contains(&n)),
                        "{c} {s:?} {v:?}"
                    );
                    assert!(
                        v.iter().all(|&n| c.contains(PitchClass::new(n))),
                        "{c} {v:?}"
                    );
                    assert!(v.contains(&v.iter().copied().find(|&n| n % 12 == r).unwrap_or(v[0])));
                }
            }
        }
    }

    #[test]
    fn voice_leading_moves_little() {
        let w = Window { lo: 50, hi: 72 };
        let c = Chord::new(PitchClass::new(0), ChordQuality::Major);
        let f = Chord::new(PitchClass::new(5), ChordQuality::Major);
        let a = voice(c, 3, w, Spread::Close, None);
        let b = voice(f, 3, w, Spread::Close, Some(&a));
        let moved: i32 = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum();
        assert!(moved <= 4, "{a:?} -> {b:?}");
    }
}
