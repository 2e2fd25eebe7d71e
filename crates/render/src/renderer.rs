//! The [`Renderer`]: the SoundFont, loaded once, and the rendering of an arrangement's parts
//! to stems.
//!
//! Threading: [`Renderer::render_stems`] spreads the parts over up to
//! [`RenderSettings::threads`] scoped threads, each taking the next part not yet started (the
//! parts differ a lot in cost, so a shared queue balances better than a fixed split).

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bandmate_core::{Arrangement, AudioBuffer, Part, PartRole, SampleRate};

use crate::soundfont::{self, SoundFont};
use crate::synth::PartPlayer;
use crate::{RATE, RenderError, check_range};

/// How rendering runs, with its limits.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderSettings {
    /// Threads one render may use (default 2, the cores of the reference machine).
    pub threads: usize,
    /// Most voices one part sounds at once (default 64, rustysynth's default polyphony); past
    /// it the quietest voice fades out in 5 ms.
    pub max_voices_per_part: usize,
    /// Longest arrangement accepted, in seconds (default 1200: a 10-minute vocal with intro,
    /// ending and room to spare).
    pub max_seconds: f64,
    /// Most notes over all parts (default 200 000, about 50 notes a second for 20 minutes,
    /// twice a dense arrangement).
    pub max_notes: usize,
    /// Most parts (default 32).
    pub max_parts: usize,
}

impl Default for RenderSettings {
    fn default() -> Self {
        Self {
            threads: 2,
            max_voices_per_part: 64,
            max_seconds: 1200.0,
            max_notes: 200_000,
            max_parts: 32,
        }
    }
}

impl RenderSettings {
    /// Check every field.
    pub fn validate(&self) -> Result<(), RenderError> {
        check_range("render threads", self.threads as f64, 1.0, 64.0)?;
        check_range(
            "voices per part",
            self.max_voices_per_part as f64,
            8.0,
            256.0,
        )?;
        check_range("maximum song length (s)", self.max_seconds, 1.0, 7200.0)?;
        check_range("maximum notes", self.max_notes as f64, 1.0, 10_000_000.0)?;
        check_range("maximum parts", self.max_parts as f64, 1.0, 256.0)?;
        Ok(())
    }

    /// Check an arrangement against the limits; returns its length in frames at [`RATE`].
    pub(crate) fn frames_of(&self, a: &Arrangement) -> Result<usize, RenderError> {
        self.validate()?;
        if !(a.length_s.is_finite() && a.length_s > 0.0) {
            return Err(RenderError::Arrangement(format!(
                "its length {} s is not a positive number",
                a.length_s
            )));
        }
        if a.length_s > self.max_seconds {
            return Err(RenderError::Arrangement(format!(
                "it lasts {:.0} s, longer than the limit of {:.0} s",
                a.length_s, self.max_seconds
            )));
        }
        if a.parts.len() > self.max_parts {
            return Err(RenderError::Arrangement(format!(
                "it has {} parts, more than the limit of {}",
                a.parts.len(),
                self.max_parts
            )));
        }
        let notes: usize = a.parts.iter().map(|p| p.notes.len()).sum();
        if notes > self.max_notes {
            return Err(RenderError::Arrangement(format!(
                "it has {notes} notes, more than the limit of {}",
                self.max_notes
            )));
        }
        Ok((a.length_s * f64::from(RATE)).ceil() as usize)
    }
}

/// One part rendered alone: stereo, 44.1 kHz, in song time (frame 0 is song time 0), the
/// length of the arrangement.
#[derive(Debug, Clone, PartialEq)]
pub struct Stem {
    /// The part's name.
    pub name: String,
    /// What it does in the band.
    pub role: PartRole,
    /// The audio, dry: the synthesizer's output before any of the mix's processing.
    pub audio: AudioBuffer,
}

/// The SoundFont synthesizer.
#[derive(Debug, Clone)]
pub struct Renderer {
    font: Arc<SoundFont>,
}

/// The preset a part plays, as `(bank, program)`: percussion roles and banks from 128 up play
/// a kit (bank 128).
pub(crate) fn preset_of(part: &Part) -> (u16, u8) {
    let bank = if part.role.is_percussion() {
        128
    } else {
        part.bank
    };
    soundfont::request(bank, part.program)
}

fn open(path: &Path) -> Result<std::io::BufReader<std::fs::File>, RenderError> {
    let file = std::fs::File::open(path).map_err(|e| RenderError::SoundFontFile {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    Ok(std::io::BufReader::with_capacity(1 << 20, file))
}

impl Renderer {
    /// Load a SoundFont 2 from any reader (read once, front to back), every preset.
    pub fn new<R: Read>(sf2: &mut R) -> Result<Self, RenderError> {
        Ok(Self {
            font: Arc::new(SoundFont::new(sf2)?),
        })
    }

    /// Load only the presets `presets` (`(bank, program)` as parts ask for them) resolve to,
    /// and only the sample data they play ([`SoundFont::with_presets`]). Arrangements whose
    /// parts stay in the list render bit for bit as with the whole font; a part outside it is
    /// refused with [`RenderError::PresetNotLoaded`] before anything is synthesised.
    pub fn with_presets<R: Read>(sf2: &mut R, presets: &[(u16, u8)]) -> Result<Self, RenderError> {
        Ok(Self {
            font: Arc::new(SoundFont::with_presets(sf2, presets)?),
        })
    }

    /// Load a SoundFont 2 file, every preset.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, RenderError> {
        Self::new(&mut open(path.as_ref())?)
    }

    /// Load a SoundFont 2 file, only the presets listed ([`Renderer::with_presets`]).
    pub fn from_path_with_presets(
        path: impl AsRef<Path>,
        presets: &[(u16, u8)],
    ) -> Result<Self, RenderError> {
        Self::with_presets(&mut open(path.as_ref())?, presets)
    }

    /// The loaded font.
    pub fn soundfont(&self) -> &SoundFont {
        &self.font
    }

    /// Check that every part of `arrangement` plays a preset this renderer loaded.
    pub fn check_presets(&self, arrangement: &Arrangement) -> Result<(), RenderError> {
        for part in &arrangement.parts {
            let (bank, program) = preset_of(part);
            if !self.font.serves(bank, program) {
                return Err(RenderError::PresetNotLoaded {
                    part: part.name.clone(),
                    bank,
                    program,
                });
            }
        }
        Ok(())
    }

    pub(crate) fn player<'a>(&'a self, part: &Part, settings: &RenderSettings) -> PartPlayer<'a> {
        PartPlayer::new(&self.font, part, RATE, settings.max_voices_per_part)
    }

    /// Render every part to its own stem, in the arrangement's part order. Each stem holds the
    /// whole song (8 bytes a frame: about 64 MB for three minutes), so for the mix alone use
    /// [`Renderer::mix`], which never holds them.
    pub fn render_stems(
        &self,
        arrangement: &Arrangement,
        settings: &RenderSettings,
    ) -> Result<Vec<Stem>, RenderError> {
        let frames = settings.frames_of(arrangement)?;
        self.check_presets(arrangement)?;
        let parts = &arrangement.parts;
        let next = AtomicUsize::new(0);
        let threads = settings.threads.min(parts.len()).max(1);
        let mut done: Vec<(usize, Stem)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        let mut out = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(part) = parts.get(i) else { break };
                            let mut player = self.player(part, settings);
                            let mut l = vec![0.0f32; frames];
                            let mut r = vec![0.0f32; frames];
                            player.render(&mut l, &mut r);
                            let audio = AudioBuffer::new(SampleRate::CD, vec![l, r])
                                .expect("two channels of equal length");
                            out.push((
                                i,
                                Stem {
                                    name: part.name.clone(),
                                    role: part.role,
                                    audio,
                                },
                            ));
                        }
                        out
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        if done.len() != parts.len() {
            return Err(RenderError::Arrangement(
                "a rendering thread stopped before finishing its parts".into(),
            ));
        }
        done.sort_by_key(|(i, _)| *i);
        Ok(done.into_iter().map(|(_, s)| s).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testband;
    use bandmate_core::{ControlEvent, ModelProfile, NoteEvent, Part, PartMix};
    use bandmate_testkit::soundfont as testfont;

    pub(crate) fn test_renderer() -> Renderer {
        Renderer::new(&mut testfont::font().as_slice()).unwrap()
    }

    fn one_part(
        role: PartRole,
        program: u8,
        notes: Vec<NoteEvent>,
        controls: Vec<ControlEvent>,
        len: f64,
    ) -> Arrangement {
        let mut a = testband::band(8.0, ModelProfile::V45Plus, 1, 1);
        a.parts = vec![Part {
            name: "Test".into(),
            role,
            program,
            bank: if role.is_percussion() { 128 } else { 0 },
            channel: 0,
            notes,
            controls,
            mix: PartMix::default(),
        }];
        a.length_s = len;
        a
    }

    fn note(start: f64, duration: f64, key: u8, velocity: u8) -> NoteEvent {
        NoteEvent {
            start,
            duration,
            key,
            velocity,
        }
    }

    fn render_one(a: &Arrangement) -> Vec<f32> {
        let stems = test_renderer()
            .render_stems(a, &RenderSettings::default())
            .unwrap();
        stems[0].audio.to_mono()
    }

    /// Frequency by counting upward zero crossings, interpolated.
    fn frequency(x: &[f32], rate: f64) -> f64 {
        let mut first = None;
        let mut last = 0.0;
        let mut count = 0;
        for i in 1..x.len() {
            if x[i - 1] < 0.0 && x[i] >= 0.0 {
                let t = (i - 1) as f64 + f64::from(-x[i - 1] / (x[i] - x[i - 1]));
                if first.is_none() {
                    first = Some(t);
                } else {
                    count += 1;
                }
                last = t;
            }
        }
        f64::from(count) * rate / (last - first.unwrap())
    }

    #[test]
    fn a4_sounds_at_440_hz_with_pitch_correction() {
        // The piano sample is 262.5 Hz with a -6 cent correction on C4 (261.6 Hz).
        let a = one_part(
            PartRole::Piano,
            0,
            vec![note(0.1, 1.5, 69, 100)],
            vec![],
            2.0,
        );
        let x = render_one(&a);
        let f = frequency(&x[8820..44_100], 44_100.0);
        let cents = 1200.0 * (f / 440.0).log2();
        assert!(cents.abs() < 1.5, "{f} Hz ({cents} cents)");
        // The bass sample is at 22.05 kHz: C2 must still be C2.
        let a = one_part(
            PartRole::Bass,
            33,
            vec![note(0.0, 1.5, 36, 100)],
            vec![],
            2.0,
        );
        let x = render_one(&a);
        let f = frequency(&x[4410..44_100], 44_100.0);
        assert!((1200.0 * (f / 65.406).log2()).abs() < 2.0, "{f}");
    }

    #[test]
    fn notes_start_on_their_exact_sample() {
        for start in [0.5, 0.500_01, 1.234_567] {
            let a = one_part(
                PartRole::Drums,
                0,
                vec![note(start, 0.2, 36, 120)],
                vec![],
                2.0,
            );
            let x = render_one(&a);
            let first = x.iter().position(|v| v.abs() > 0.0).unwrap();
            let expect = (start * 44_100.0).round() as usize;
            // The first frame is the attack ramp's first step (non-zero) or the next one.
            assert!(
                first == expect || first == expect + 1,
                "{first} vs {expect}"
            );
        }
    }

    #[test]
    fn release_and_sustain_pedal() {
        let rms = |x: &[f32]| (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt();
        // Note off at 0.5 s; release 0.3 s (-80 dB over it): quiet by 1.0 s.
        let a = one_part(
            PartRole::Piano,
            0,
            vec![note(0.0, 0.5, 60, 100)],
            vec![],
            1.5,
        );
        let x = render_one(&a);
        assert!(rms(&x[40_000..44_100]) < 1e-3 * rms(&x[4410..8820]));
        // With the pedal held past 1.0 s the note still sounds there.
        let pedal = vec![
            ControlEvent {
                time: 0.0,
                controller: 64,
                value: 127,
            },
            ControlEvent {
                time: 1.2,
                controller: 64,
                value: 0,
            },
        ];
        let a = one_part(
            PartRole::Piano,
            0,
            vec![note(0.0, 0.5, 60, 100)],
            pedal,
            2.0,
        );
        let y = render_one(&a);
        assert!(rms(&y[40_000..44_100]) > 0.05 * rms(&y[4410..8820]));
        assert!(rms(&y[80_000..88_200]) < 1e-3 * rms(&y[4410..8820]));
    }

    #[test]
    fn closed_hat_chokes_open_hat() {
        let energy = |x: &[f32]| x.iter().map(|v| v * v).sum::<f32>();
        let open = one_part(
            PartRole::Drums,
            0,
            vec![note(0.1, 0.05, 46, 110)],
            vec![],
            1.0,
        );
        let choked = one_part(
            PartRole::Drums,
            0,
            vec![note(0.1, 0.05, 46, 110), note(0.2, 0.05, 42, 1)],
            vec![],
            1.0,
        );
        let a = render_one(&open);
        let b = render_one(&choked);
        // From 0.25 s on, the choked open hat (and a near-silent closed hat) is far quieter.
        assert!(energy(&b[11_025..]) < 0.05 * energy(&a[11_025..]));
    }

    #[test]
    fn velocity_is_squared_amplitude() {
        let peak = |v: u8| {
            let a = one_part(PartRole::Piano, 0, vec![note(0.0, 0.5, 60, v)], vec![], 0.6);
            render_one(&a)[2000..6000]
                .iter()
                .fold(0.0f32, |m, x| m.max(x.abs()))
        };
        let ratio_db = 20.0 * (peak(64) / peak(127)).log10();
        let expect = 40.0 * (64.0f32 / 127.0).log10();
        assert!((ratio_db - expect).abs() < 0.3, "{ratio_db} vs {expect}");
    }

    #[test]
    fn polyphony_is_bounded_and_output_finite() {
        let notes: Vec<NoteEvent> = (0..400)
            .map(|i| note(0.001 * i as f64, 3.0, 30 + (i % 70) as u8, 100))
            .collect();
        let a = one_part(PartRole::Piano, 0, notes, vec![], 4.0);
        let r = test_renderer();
        let s = RenderSettings::default();
        let mut p = r.player(&a.parts[0], &s);
        let (mut l, mut rr) = (vec![0.0; 512], vec![0.0; 512]);
        let mut most = 0;
        for _ in 0..200 {
            p.render(&mut l, &mut rr);
            most = most.max(p.active_voices());
            assert!(l.iter().chain(&rr).all(|v| v.is_finite()));
        }
        assert!(most <= s.max_voices_per_part * 3 / 2, "{most}");
    }

    #[test]
    fn limits_are_enforced() {
        let mut a = testband::band(8.0, ModelProfile::V45Plus, 1, 1);
        a.length_s = 5000.0;
        let err = test_renderer()
            .render_stems(&a, &RenderSettings::default())
            .unwrap_err();
        assert!(err.to_string().contains("longer than the limit"), "{err}");
        a.length_s = f64::NAN;
        assert!(
            test_renderer()
                .render_stems(&a, &RenderSettings::default())
                .is_err()
        );
        let bad = RenderSettings {
            threads: 0,
            ..RenderSettings::default()
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn a_renderer_loaded_with_the_parts_presets_renders_the_same_bits() {
        // The V5 band has no strings: the pad preset and its sample are left out.
        let a = testband::band(12.0, ModelProfile::V5, 2, 5);
        let presets: Vec<(u16, u8)> = a.parts.iter().map(preset_of).collect();
        let full = test_renderer();
        let sub = Renderer::with_presets(&mut testfont::font().as_slice(), &presets).unwrap();
        assert!(sub.soundfont().sample_bytes() < full.soundfont().sample_bytes());
        assert!(!sub.soundfont().serves(0, 48));
        let s = RenderSettings::default();
        assert_eq!(
            full.render_stems(&a, &s).unwrap(),
            sub.render_stems(&a, &s).unwrap()
        );
    }

    #[test]
    fn a_part_outside_the_loaded_presets_is_an_error_not_a_fallback() {
        let r =
            Renderer::with_presets(&mut testfont::font().as_slice(), &[(0, 0), (128, 0)]).unwrap();
        let a = one_part(
            PartRole::Bass,
            33,
            vec![note(0.0, 0.5, 36, 100)],
            vec![],
            1.0,
        );
        let err = r.render_stems(&a, &RenderSettings::default()).unwrap_err();
        assert_eq!(
            err,
            RenderError::PresetNotLoaded {
                part: "Test".into(),
                bank: 0,
                program: 33
            }
        );
        assert!(!err.is_user_error());
        let vocal = crate::VocalTrack::new(
            &AudioBuffer::mono(
                SampleRate::CD,
                bandmate_testkit::sine(220.0, 1.0, 44_100, 0.3),
            ),
            None,
        )
        .unwrap();
        let mix = r.mix(&a, &vocal, &crate::MixSettings::default());
        assert!(matches!(mix, Err(RenderError::PresetNotLoaded { .. })));
        // Drums are a kit request whatever bank the part names.
        let drums = one_part(
            PartRole::Drums,
            0,
            vec![note(0.0, 0.2, 36, 100)],
            vec![],
            1.0,
        );
        assert!(r.render_stems(&drums, &RenderSettings::default()).is_ok());
    }

    #[test]
    fn stems_follow_part_order_and_song_length() {
        let a = testband::band(10.0, ModelProfile::V45Plus, 1, 3);
        let stems = test_renderer()
            .render_stems(&a, &RenderSettings::default())
            .unwrap();
        assert_eq!(stems.len(), a.parts.len());
        for (s, p) in stems.iter().zip(&a.parts) {
            assert_eq!(s.name, p.name);
            assert_eq!(s.audio.frames(), (a.length_s * 44_100.0).ceil() as usize);
            assert!(s.audio.peak() > 0.01, "{} is silent", s.name);
            assert!(s.audio.peak() < 1.0);
        }
        // Rendering is deterministic.
        let again = test_renderer()
            .render_stems(
                &a,
                &RenderSettings {
                    threads: 1,
                    ..RenderSettings::default()
                },
            )
            .unwrap();
        assert_eq!(stems, again);
    }
}

/// Our player against rustysynth 1.3, the known-good reference synthesizer, on the same font
/// and the same band: the parts must have the same level and the same loudness contour.
#[cfg(test)]
mod reference {
    use super::*;
    use crate::testband;
    use bandmate_core::ModelProfile;
    use bandmate_testkit::soundfont as testfont;

    /// rustysynth's rendering of one part (effects off), at 44.1 kHz.
    fn rustysynth_part(font: &[u8], a: &Arrangement, i: usize, frames: usize) -> Vec<f32> {
        let sf = Arc::new(rustysynth::SoundFont::new(&mut &font[..]).unwrap());
        let mut s = rustysynth::SynthesizerSettings::new(44_100);
        s.enable_reverb_and_chorus = false;
        let mut syn = rustysynth::Synthesizer::new(&sf, &s).unwrap();
        let p = &a.parts[i];
        let ch = if p.role.is_percussion() { 9 } else { 0 };
        syn.process_midi_message(ch, 0xC0, i32::from(p.program), 0);
        let mut ev: Vec<(usize, u8, i32, i32, i32)> = Vec::new();
        for n in &p.notes {
            let on = (n.start * 44_100.0).round() as usize;
            let off = ((n.start + n.duration) * 44_100.0).round() as usize;
            ev.push((on, 2, 0x90, i32::from(n.key), i32::from(n.velocity)));
            ev.push((off.max(on + 1), 0, 0x80, i32::from(n.key), 0));
        }
        for c in &p.controls {
            let at = (c.time * 44_100.0).round() as usize;
            ev.push((at, 1, 0xB0, i32::from(c.controller), i32::from(c.value)));
        }
        ev.sort();
        let (mut l, mut r) = (vec![0f32; frames], vec![0f32; frames]);
        let mut pos = 0;
        for e in ev {
            let at = e.0.min(frames);
            if at > pos {
                syn.render(&mut l[pos..at], &mut r[pos..at]);
                pos = at;
            }
            syn.process_midi_message(ch, e.2, e.3, e.4);
        }
        syn.render(&mut l[pos..], &mut r[pos..]);
        l.iter().zip(&r).map(|(a, b)| 0.5 * (a + b)).collect()
    }

    /// RMS in dB over 100 ms windows.
    fn contour(x: &[f32]) -> Vec<f64> {
        x.chunks(4410)
            .map(|w| {
                10.0 * (w.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / w.len() as f64
                    + 1e-12)
                    .log10()
            })
            .collect()
    }

    #[test]
    fn parts_match_rustysynth_in_level_and_contour() {
        let font = testfont::font();
        let r = Renderer::new(&mut font.as_slice()).unwrap();
        let a = testband::band(24.0, ModelProfile::V45Plus, 1, 11);
        let stems = r.render_stems(&a, &RenderSettings::default()).unwrap();
        for (i, stem) in stems.iter().enumerate() {
            let ours = stem.audio.to_mono();
            let theirs = rustysynth_part(&font, &a, i, ours.len());
            let (co, ct) = (contour(&ours), contour(&theirs));
            // Compare where the part is clearly playing.
            let pairs: Vec<(f64, f64)> = co
                .iter()
                .zip(&ct)
                .filter(|(_, t)| **t > -60.0)
                .map(|(o, t)| (*o, *t))
                .collect();
            assert!(pairs.len() > 50, "{} barely plays", stem.name);
            let n = pairs.len() as f64;
            let mean_diff = pairs.iter().map(|(o, t)| o - t).sum::<f64>() / n;
            let (mo, mt) = (
                pairs.iter().map(|p| p.0).sum::<f64>() / n,
                pairs.iter().map(|p| p.1).sum::<f64>() / n,
            );
            let cov: f64 = pairs.iter().map(|(o, t)| (o - mo) * (t - mt)).sum();
            let vo: f64 = pairs.iter().map(|(o, _)| (o - mo).powi(2)).sum();
            let vt: f64 = pairs.iter().map(|(_, t)| (t - mt).powi(2)).sum();
            let corr = cov / (vo * vt).sqrt();
            eprintln!(
                "{}: level difference {mean_diff:.2} dB, contour correlation {corr:.3}",
                stem.name
            );
            assert!(
                mean_diff.abs() < 1.5,
                "{}: level differs by {mean_diff:.2} dB",
                stem.name
            );
            assert!(corr > 0.85, "{}: contour correlation {corr:.3}", stem.name);
        }
    }
}
