//! Standard MIDI File export (type 1) with midly: a conductor track with the tempo map (one
//! tempo event per beat of the song grid, so the file follows the singer's timing), the meter,
//! the key and markers; then one named track per part with its bank and program, control
//! changes and notes. Percussion plays on channel 10 (index 9).

use bandmate_core::{Arrangement, Mode};
use midly::num::{u4, u7, u15, u24, u28};
use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};

/// Ticks per quarter note.
pub const PPQ: u16 = 480;

/// Seconds → ticks through the song grid (one beat = one quarter note).
fn ticks(a: &Arrangement, t: f64) -> u64 {
    (a.grid.beat_at(t.max(0.0)) * f64::from(PPQ))
        .round()
        .max(0.0) as u64
}

fn delta_events(mut ev: Vec<(u64, u8, TrackEventKind<'_>)>) -> Vec<TrackEvent<'_>> {
    // sort by time, then note-offs (order 0) before controls (1) before note-ons (2)
    ev.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut last = 0u64;
    let mut out = Vec::with_capacity(ev.len() + 1);
    for (t, _, kind) in ev {
        let d = (t - last).min(0x0FFF_FFFF) as u32;
        last = t;
        out.push(TrackEvent {
            delta: u28::new(d),
            kind,
        });
    }
    out.push(TrackEvent {
        delta: u28::new(0),
        kind: TrackEventKind::Meta(MetaMessage::EndOfTrack),
    });
    out
}

/// The arrangement as a type-1 Standard MIDI File.
pub fn to_midi(a: &Arrangement) -> Vec<u8> {
    let names: Vec<Vec<u8>> = a
        .parts
        .iter()
        .map(|p| p.name.clone().into_bytes())
        .collect();
    let title = format!("Bandmate - {}", a.style_name).into_bytes();
    let mut tracks = Vec::with_capacity(a.parts.len() + 1);

    // conductor
    let mut ev: Vec<(u64, u8, TrackEventKind<'_>)> =
        vec![(0, 1, TrackEventKind::Meta(MetaMessage::TrackName(&title)))];
    ev.push((
        0,
        1,
        TrackEventKind::Meta(MetaMessage::TimeSignature(a.grid.beats_per_bar, 2, 24, 8)),
    ));
    let sf = key_signature(a);
    ev.push((
        0,
        1,
        TrackEventKind::Meta(MetaMessage::KeySignature(sf, a.key.mode == Mode::Minor)),
    ));
    let b = &a.grid.beats;
    for i in 0..b.len() {
        let period = if i + 1 < b.len() {
            b[i + 1] - b[i]
        } else {
            b[i] - b[i - 1]
        };
        let us = (period * 1e6).round().clamp(1.0, 16_777_215.0) as u32;
        let t = (i as u64) * u64::from(PPQ);
        ev.push((t, 1, TrackEventKind::Meta(MetaMessage::Tempo(u24::new(us)))));
    }
    ev.push((
        ticks(a, a.vocal_offset_s),
        1,
        TrackEventKind::Meta(MetaMessage::Marker(b"Vocal")),
    ));
    tracks.push(delta_events(ev));

    for (p, name) in a.parts.iter().zip(&names) {
        let ch = u4::new(p.channel.min(15));
        let mut ev: Vec<(u64, u8, TrackEventKind<'_>)> =
            vec![(0, 1, TrackEventKind::Meta(MetaMessage::TrackName(name)))];
        let bank = p.bank.min(16383);
        ev.push((
            0,
            1,
            TrackEventKind::Midi {
                channel: ch,
                message: MidiMessage::Controller {
                    controller: u7::new(0),
                    value: u7::new((bank >> 7) as u8 & 0x7F),
                },
            },
        ));
        ev.push((
            0,
            1,
            TrackEventKind::Midi {
                channel: ch,
                message: MidiMessage::Controller {
                    controller: u7::new(32),
                    value: u7::new(bank as u8 & 0x7F),
                },
            },
        ));
        ev.push((
            0,
            1,
            TrackEventKind::Midi {
                channel: ch,
                message: MidiMessage::ProgramChange {
                    program: u7::new(p.program.min(127)),
                },
            },
        ));
        let pan = ((f64::from(p.mix.pan) + 1.0) * 63.5)
            .round()
            .clamp(0.0, 127.0) as u8;
        ev.push((
            0,
            1,
            TrackEventKind::Midi {
                channel: ch,
                message: MidiMessage::Controller {
                    controller: u7::new(10),
                    value: u7::new(pan),
                },
            },
        ));
        let rev = (f64::from(p.mix.reverb_send) * 127.0)
            .round()
            .clamp(0.0, 127.0) as u8;
        ev.push((
            0,
            1,
            TrackEventKind::Midi {
                channel: ch,
                message: MidiMessage::Controller {
                    controller: u7::new(91),
                    value: u7::new(rev),
                },
            },
        ));
        for c in &p.controls {
            ev.push((
                ticks(a, c.time),
                1,
                TrackEventKind::Midi {
                    channel: ch,
                    message: MidiMessage::Controller {
                        controller: u7::new(c.controller.min(127)),
                        value: u7::new(c.value.min(127)),
                    },
                },
            ));
        }
        for n in &p.notes {
            let on = ticks(a, n.start);
            let off = ticks(a, n.start + n.duration).max(on + 1);
            let key = u7::new(n.key.min(127));
            ev.push((
                on,
                2,
                TrackEventKind::Midi {
                    channel: ch,
                    message: MidiMessage::NoteOn {
                        key,
                        vel: u7::new(n.velocity.clamp(1, 127)),
                    },
                },
            ));
            ev.push((
                off,
                0,
                TrackEventKind::Midi {
                    channel: ch,
                    message: MidiMessage::NoteOff {
                        key,
                        vel: u7::new(0),
                    },
                },
            ));
        }
        tracks.push(delta_events(ev));
    }
    let smf = Smf {
        header: Header::new(Format::Parallel, Timing::Metrical(u15::new(PPQ))),
        tracks,
    };
    let mut out = Vec::new();
    // writing into a Vec cannot fail
    let _ = smf.write_std(&mut out);
    out
}

/// Sharps (positive) or flats (negative) of the key signature.
fn key_signature(a: &Arrangement) -> i8 {
    let major_tonic = match a.key.mode {
        Mode::Major => a.key.tonic.index(),
        Mode::Minor => (a.key.tonic.index() + 3) % 12,
    };
    // circle of fifths position of each major tonic, flats preferred where the key spells flat
    const SF: [i8; 12] = [0, -5, 2, -3, 4, -1, -6, 1, -4, 3, -2, 5];
    let v = SF[major_tonic];
    if v == -6 && !a.key.prefers_flats() {
        6
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bandmate_core::{GenerationParams, Key, PitchClass};
    use bandmate_testkit::Melody;

    #[test]
    fn midi_file_reads_back_with_tempo_map_names_programs_and_drum_channel() {
        let m = Melody::generate(Key::new(PitchClass::new(9), Mode::Minor), 84.0, 4, 8, 2);
        let a = crate::properties::analysis_of(&m);
        let params = GenerationParams {
            tags: "pop, strings".into(),
            seed: 3,
            ..GenerationParams::default()
        };
        let plan = crate::plan(&a, &params).unwrap();
        let arr = crate::arrange(&a, &plan, &params, 1).unwrap();
        let bytes = to_midi(&arr);
        let smf = Smf::parse(&bytes).expect("a valid SMF");
        assert_eq!(smf.header.format, Format::Parallel);
        assert_eq!(smf.header.timing, Timing::Metrical(u15::new(PPQ)));
        assert_eq!(smf.tracks.len(), arr.parts.len() + 1);
        // conductor: one tempo per beat, the first matching the first beat period
        let tempos: Vec<u32> = smf.tracks[0]
            .iter()
            .filter_map(|e| match e.kind {
                TrackEventKind::Meta(MetaMessage::Tempo(t)) => Some(t.as_int()),
                _ => None,
            })
            .collect();
        assert_eq!(tempos.len(), arr.grid.len());
        let p0 = ((arr.grid.beats[1] - arr.grid.beats[0]) * 1e6).round() as u32;
        assert_eq!(tempos[0], p0);
        for (track, part) in smf.tracks[1..].iter().zip(&arr.parts) {
            let name = track.iter().find_map(|e| match e.kind {
                TrackEventKind::Meta(MetaMessage::TrackName(n)) => Some(n),
                _ => None,
            });
            assert_eq!(name, Some(part.name.as_bytes()));
            let mut ons = 0;
            for e in track {
                if let TrackEventKind::Midi { channel, message } = e.kind {
                    assert_eq!(channel.as_int(), part.channel);
                    match message {
                        MidiMessage::NoteOn { .. } => ons += 1,
                        MidiMessage::ProgramChange { program } => {
                            assert_eq!(program.as_int(), part.program)
                        }
                        _ => {}
                    }
                }
            }
            assert_eq!(ons, part.notes.len(), "{}", part.name);
            if part.role.is_percussion() {
                assert_eq!(part.channel, 9);
            }
        }
    }

    #[test]
    fn seconds_map_to_ticks_through_the_grid() {
        let m = Melody::generate(Key::new(PitchClass::C, Mode::Major), 120.0, 4, 4, 1);
        let a = crate::properties::analysis_of(&m);
        let params = GenerationParams::default();
        let plan = crate::plan(&a, &params).unwrap();
        let arr = crate::arrange(&a, &plan, &params, 1).unwrap();
        for (i, &t) in arr.grid.beats.iter().enumerate() {
            assert_eq!(ticks(&arr, t), i as u64 * u64::from(PPQ));
        }
    }
}
