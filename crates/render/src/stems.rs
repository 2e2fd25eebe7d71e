//! Per-part stems as MP3s, rendered and encoded a chunk at a time on several threads.
//!
//! A stem is a part as the synthesizer plays it (dry, before any of the mix's processing) or
//! the vocal as mixed, on the song MP3's timeline. Rendering a whole stem before encoding it
//! held 8 bytes a frame per stem (220 MB for a 10-minute song) and ran one part after another
//! on one core; here each stem goes straight from the synthesizer into its encoder, 8192
//! frames at a time, and the workers take stems from a shared list, so memory stays at the
//! encoders' output and the stems take the time of their share of the cores.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use bandmate_audio::{Mp3Encoder, Mp3Settings};
use bandmate_core::{Arrangement, Part};

use crate::mix::{CHUNK, MixedVocal};
use crate::renderer::{RenderSettings, Renderer};
use crate::{RATE, RenderError};

/// Each stem's MP3 or why it failed, by stem; `None` until a worker has made it.
type Slots = Mutex<Vec<Option<Result<Vec<u8>, RenderError>>>>;

/// Encode every part of `arrangement` and then the vocal as its mix placed it to MP3, each
/// from the outputs' first frame to the end of the arrangement (parts) or of the outputs
/// (vocal). `tags` gives each stem's MP3 settings: `Some(part)` for a part, `None`
/// for the vocal. The result holds one MP3 per part in the arrangement's order, then the
/// vocal's. Uses up to `settings.threads` threads; the bytes do not depend on how many.
pub fn encode_stems(
    renderer: &Renderer,
    arrangement: &Arrangement,
    vocal: &MixedVocal,
    settings: &RenderSettings,
    tags: &(dyn Fn(Option<&Part>) -> Mp3Settings + Sync),
) -> Result<Vec<Vec<u8>>, RenderError> {
    let frames = settings.frames_of(arrangement)?;
    renderer.check_presets(arrangement)?;
    let parts = &arrangement.parts;
    let skip = vocal.start_frame();
    let jobs = parts.len() + 1;
    let done: Slots = Mutex::new((0..jobs).map(|_| None).collect());
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let stem = |job: usize| match parts.get(job) {
        Some(part) => encode_part(renderer, part, settings, frames, skip, &tags(Some(part))),
        None => encode_vocal(vocal, &tags(None)),
    };
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..settings.threads.clamp(1, jobs))
            .map(|_| {
                s.spawn(|| {
                    while !failed.load(Ordering::Relaxed) {
                        let job = next.fetch_add(1, Ordering::Relaxed);
                        if job >= jobs {
                            break;
                        }
                        let result = stem(job);
                        if result.is_err() {
                            failed.store(true, Ordering::Relaxed);
                        }
                        if let Ok(mut d) = done.lock() {
                            d[job] = Some(result);
                        }
                    }
                })
            })
            .collect();
        // Joined here, not by the scope: a worker that panicked leaves its stem missing (an
        // error below) instead of taking the caller down.
        for w in workers {
            if w.join().is_err() {
                failed.store(true, Ordering::Relaxed);
            }
        }
    });
    let done = done
        .into_inner()
        .map_err(|_| RenderError::Arrangement("a stem's thread stopped while storing it".into()))?;
    let mut out = Vec::with_capacity(jobs);
    for result in done {
        match result {
            Some(r) => out.push(r?),
            None => {
                return Err(RenderError::Arrangement(
                    "a rendering thread stopped before finishing its stems".into(),
                ));
            }
        }
    }
    Ok(out)
}

/// One part, synthesised and encoded chunk by chunk; frames before `skip` are played (the
/// voices' state) but not encoded.
fn encode_part(
    renderer: &Renderer,
    part: &Part,
    settings: &RenderSettings,
    frames: usize,
    skip: usize,
    mp3: &Mp3Settings,
) -> Result<Vec<u8>, RenderError> {
    let mut player = renderer.player(part, settings);
    let mut enc = Mp3Encoder::new(RATE, 2, mp3)?;
    enc.reserve_frames(frames.saturating_sub(skip));
    let (mut l, mut r) = (vec![0.0f32; CHUNK], vec![0.0f32; CHUNK]);
    let mut pos = 0;
    while pos < frames {
        let n = CHUNK.min(frames - pos);
        player.render(&mut l[..n], &mut r[..n]);
        let from = skip.saturating_sub(pos).min(n);
        if from < n {
            enc.encode(&[&l[from..n], &r[from..n]])?;
        }
        pos += n;
    }
    Ok(enc.finish()?)
}

/// The vocal as mixed, encoded chunk by chunk.
fn encode_vocal(vocal: &MixedVocal, mp3: &Mp3Settings) -> Result<Vec<u8>, RenderError> {
    let mut enc = Mp3Encoder::new(RATE, 2, mp3)?;
    enc.reserve_frames(vocal.frames());
    vocal.chunks(|l, r| enc.encode(&[l, r]))?;
    Ok(enc.finish()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testband;
    use crate::{MixSettings, VocalTrack};
    use bandmate_audio::encode_mp3;
    use bandmate_core::{AudioBuffer, Key, Mode, ModelProfile, PitchClass, SampleRate};
    use bandmate_testkit::soundfont as testfont;
    use bandmate_testkit::{Melody, SingerSettings, sing};

    #[test]
    fn streamed_stems_are_the_whole_stems_encoded_on_any_number_of_threads() {
        let r = Renderer::new(&mut testfont::font().as_slice()).unwrap();
        let melody = Melody::generate(Key::new(PitchClass::new(0), Mode::Major), 96.0, 4, 6, 2);
        let take = sing(&melody, &SingerSettings::default(), 2);
        let audio = AudioBuffer::mono(SampleRate::new(take.rate).unwrap(), take.audio);
        let v = VocalTrack::new(&audio, None).unwrap();
        let mut a = testband::band(16.0, ModelProfile::V45Plus, 1, 5);
        // Nothing plays in the first 1.3 s, so the outputs start later and every stem is
        // trimmed at its start (the streamed stems must leave out the same frames).
        for p in &mut a.parts {
            p.notes.retain(|n| n.start >= 1.3);
            p.controls.retain(|c| c.time >= 1.3);
        }
        let settings = MixSettings::default();
        let mix = r.mix(&a, &v, &settings).unwrap();
        let whole_vocal = mix.vocal();
        let vocal = mix.into_vocal();
        let skip = vocal.start_frame();
        assert!(skip > 44_100, "the outputs start at frame {skip}");
        let tags = |p: Option<&Part>| Mp3Settings {
            title: p.map_or("vocal".to_string(), |p| p.name.clone()),
            ..Mp3Settings::default()
        };

        // What the stems were before: each part rendered whole, trimmed, encoded at once.
        let stems = r.render_stems(&a, &settings.render).unwrap();
        let mut want: Vec<Vec<u8>> = stems
            .iter()
            .zip(&a.parts)
            .map(|(s, p)| {
                let trimmed = (0..2)
                    .map(|c| s.audio.channel(c)[skip..].to_vec())
                    .collect();
                let audio = AudioBuffer::new(SampleRate::CD, trimmed).unwrap();
                encode_mp3(&audio, &tags(Some(p))).unwrap()
            })
            .collect();
        want.push(encode_mp3(&whole_vocal, &tags(None)).unwrap());

        for threads in [1, 2, 3] {
            let s = RenderSettings {
                threads,
                ..settings.render.clone()
            };
            let got = encode_stems(&r, &a, &vocal, &s, &tags).unwrap();
            assert_eq!(got.len(), a.parts.len() + 1);
            for (k, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(g == w, "stem {k} differs with {threads} threads");
            }
        }
    }

    #[test]
    fn a_part_the_renderer_cannot_play_fails_cleanly() {
        let r = Renderer::with_presets(&mut testfont::font().as_slice(), &[(0, 0)]).unwrap();
        let full = Renderer::new(&mut testfont::font().as_slice()).unwrap();
        let melody = Melody::generate(Key::new(PitchClass::new(0), Mode::Major), 96.0, 4, 4, 1);
        let take = sing(&melody, &SingerSettings::default(), 1);
        let audio = AudioBuffer::mono(SampleRate::new(take.rate).unwrap(), take.audio);
        let v = VocalTrack::new(&audio, None).unwrap();
        let a = testband::band(8.0, ModelProfile::V5, 1, 1);
        let vocal = full
            .mix(&a, &v, &MixSettings::default())
            .unwrap()
            .into_vocal();
        let err = encode_stems(&r, &a, &vocal, &RenderSettings::default(), &|_| {
            Mp3Settings::default()
        })
        .unwrap_err();
        assert!(matches!(err, RenderError::PresetNotLoaded { .. }), "{err}");
    }
}
