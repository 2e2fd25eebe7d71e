//! Cover art drawn from the song: a record seen from above.
//!
//! - The groove is a spiral from the rim to the label, one turn per four bars, coloured by the
//!   chord playing at that moment: hue from the chord root's place on the circle of fifths
//!   (neighbouring keys get neighbouring colours), saturation and lightness from its quality
//!   (major bright, minor deeper, diminished greyer, sevenths and extensions in between).
//! - The label carries the key: its colour is the tonic's hue, warm and light for major, cool
//!   and dark for minor; it has one ray per beat of a bar, and more rays turn faster with
//!   tempo (their twist follows the BPM).
//! - The variation and seed turn the spiral's start, its direction and a small hue shift, so two
//!   variations of one song are siblings, not twins.
//!
//! Everything is computed per pixel with analytic edges (no supersampling), then written as a
//! 1024x1024 RGB PNG.

use bandmate_core::{Arrangement, ChordQuality, Mode, PitchClass, Rng};

/// Side of the square image in pixels.
pub const COVER_SIZE: u32 = 1024;

/// HSL (hue in degrees) to linear 0..1 RGB.
fn hsl(h: f32, s: f32, l: f32) -> [f32; 3] {
    let h = h.rem_euclid(360.0) / 60.0;
    let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
    let x = c * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = l - c / 2.0;
    [r + m, g + m, b + m]
}

/// Hue of a pitch class: its position on the circle of fifths, 30 degrees a step.
fn fifths_hue(pc: PitchClass) -> f32 {
    ((pc.index() * 7) % 12) as f32 * 30.0
}

/// Saturation and lightness of a chord quality.
fn quality_look(q: ChordQuality) -> (f32, f32) {
    use ChordQuality::*;
    match q {
        Major | Major6 | AddNine => (0.78, 0.58),
        Minor | Minor6 | MinorAddNine => (0.58, 0.42),
        Major7 | Major9 => (0.7, 0.64),
        Minor7 | Minor9 | MinorMajor7 => (0.5, 0.48),
        Dominant7 | Dominant9 | Dominant7Sus4 => (0.85, 0.52),
        Sus2 | Sus4 => (0.62, 0.6),
        Diminished | Diminished7 | HalfDiminished7 => (0.3, 0.4),
        Augmented => (0.9, 0.66),
    }
}

fn mix3(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

/// Smooth 0..1 step over `[e0, e1]`.
fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// The cover of one variation as PNG bytes (1024x1024 RGB). `title` seeds the pattern's
/// details too, so two songs in the same key and tempo still differ.
pub fn cover_png(arrangement: &Arrangement, title: &str) -> Vec<u8> {
    let size = COVER_SIZE as usize;
    let a = arrangement;
    let title_hash = title.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut rng = Rng::new(a.seed ^ title_hash ^ (u64::from(a.variation) << 40));
    let tonic_hue = fifths_hue(a.key.tonic) + rng.range(-8.0, 8.0) as f32;
    let minor = a.key.mode == Mode::Minor;
    let length = a.length_s.max(1.0) as f32;
    let bar_s =
        (60.0 / a.tempo_bpm.clamp(30.0, 300.0)) as f32 * f32::from(a.grid.beats_per_bar.max(2));
    let bars = (length / bar_s).max(1.0);
    let turns = (bars / 4.0).clamp(6.0, 40.0);
    let start_angle = rng.range(0.0, std::f64::consts::TAU) as f32;
    let clockwise = rng.chance(0.5);
    // The chart, with a colour per span.
    let spans: Vec<(f32, f32, [f32; 3])> = a
        .chart
        .iter()
        .map(|c| {
            let col = match c.chord {
                Some(ch) => {
                    let (s, l) = quality_look(ch.quality);
                    hsl(
                        fifths_hue(ch.root) + tonic_hue - fifths_hue(a.key.tonic),
                        s,
                        l,
                    )
                }
                None => [0.35, 0.35, 0.38],
            };
            (c.start as f32, c.end as f32, col)
        })
        .collect();
    let colour_at = |t: f32| {
        spans
            .iter()
            .find(|(s, e, _)| t >= *s && t < *e)
            .map_or(hsl(tonic_hue, 0.3, 0.45), |(_, _, c)| *c)
    };
    let (label_s, label_l) = if minor { (0.55, 0.32) } else { (0.8, 0.62) };
    let label = hsl(
        tonic_hue + if minor { -20.0 } else { 15.0 },
        label_s,
        label_l,
    );
    let label_edge = hsl(tonic_hue + 180.0, 0.5, if minor { 0.6 } else { 0.35 });
    let backdrop_a = hsl(tonic_hue + 200.0, 0.35, if minor { 0.12 } else { 0.22 });
    let backdrop_b = hsl(tonic_hue + 140.0, 0.45, if minor { 0.2 } else { 0.36 });
    let rays = u32::from(a.grid.beats_per_bar.max(2)) * 2;
    let twist = (a.tempo_bpm as f32 / 120.0) * 0.6;
    let vinyl = [0.045f32, 0.045, 0.05];
    let c = size as f32 / 2.0;
    let (r_out, r_in, r_label) = (0.46 * size as f32, 0.2 * size as f32, 0.17 * size as f32);
    let pitch = (r_out - r_in) / turns;
    let groove = pitch * 0.62;
    let mut img = vec![0u8; size * size * 3];
    for y in 0..size {
        for x in 0..size {
            let (dx, dy) = (x as f32 + 0.5 - c, y as f32 + 0.5 - c);
            let r = (dx * dx + dy * dy).sqrt();
            let mut theta = dy.atan2(dx) - start_angle;
            if !clockwise {
                theta = -theta;
            }
            let theta = theta.rem_euclid(std::f32::consts::TAU);
            // Backdrop: a diagonal gradient behind the record.
            let g = (x as f32 + y as f32) / (2.0 * size as f32);
            let mut px = mix3(backdrop_a, backdrop_b, g);
            // The record: vinyl with a sheen.
            let disc = 1.0 - smoothstep(r_out + pitch * 0.6, r_out + pitch * 0.6 + 1.5, r);
            if disc > 0.0 {
                let sheen = 0.06 * (2.0 * theta).cos().powi(8);
                let mut v = [vinyl[0] + sheen, vinyl[1] + sheen, vinyl[2] + sheen];
                // The groove: the spiral position nearest this radius, coloured by its chord.
                let along = (r_out - r) / pitch; // turns from the rim
                if (0.0..turns).contains(&along) {
                    let turn = (along - theta / std::f32::consts::TAU).round();
                    let pos = turn + theta / std::f32::consts::TAU;
                    let dist = (along - pos).abs() * pitch;
                    let w = 1.0 - smoothstep(groove / 2.0 - 0.8, groove / 2.0 + 0.8, dist);
                    if w > 0.0 && (0.0..turns).contains(&pos) {
                        let col = colour_at(pos / turns * length);
                        // Brighter toward the groove's centre, like light on a ridge.
                        let ridge = 0.75 + 0.25 * (1.0 - dist / (groove / 2.0)).max(0.0);
                        v = mix3(v, [col[0] * ridge, col[1] * ridge, col[2] * ridge], w);
                    }
                }
                px = mix3(px, v, disc);
            }
            // The label: the key's colour, one ray per half-beat, twisted by the tempo.
            let lab = 1.0 - smoothstep(r_label - 1.0, r_label + 1.0, r);
            if lab > 0.0 {
                let swirl = theta + twist * (r / r_label);
                let ray = (swirl * rays as f32 / 2.0).sin();
                let shade = 0.5 + 0.5 * smoothstep(-0.15, 0.15, ray);
                let mut l = mix3(label, label_edge, 0.35 * (1.0 - shade) * (r / r_label));
                // The spindle hole.
                let hole = smoothstep(0.018 * size as f32, 0.018 * size as f32 + 1.5, r);
                l = mix3(vinyl, l, hole);
                px = mix3(px, l, lab);
            }
            let o = (y * size + x) * 3;
            for k in 0..3 {
                img[o + k] = (px[k].clamp(0.0, 1.0) * 255.0).round() as u8;
            }
        }
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, COVER_SIZE, COVER_SIZE);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        // Fast deflate: a third of the default's time for a file about 10 % larger.
        enc.set_compression(png::Compression::Fast);
        // Writing to a Vec cannot fail for I/O reasons; an error here is a bug in the
        // encoder, and a cover is not worth failing a song for: return what was written.
        if let Ok(mut w) = enc.write_header() {
            let _ = w.write_image_data(&img);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testband;
    use bandmate_core::{Key, ModelProfile};

    fn decode(png_bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let d = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut r = d.read_info().unwrap();
        let mut buf = vec![0; r.output_buffer_size().unwrap()];
        let info = r.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    /// Mean RGB over the label (the middle of the image).
    fn label_colour(img: &[u8]) -> [f32; 3] {
        let mut s = [0.0f32; 3];
        let mut n = 0.0;
        for y in 440..584 {
            for x in 440..584 {
                let o = (y * 1024 + x) * 3;
                for k in 0..3 {
                    s[k] += f32::from(img[o + k]);
                }
                n += 1.0;
            }
        }
        s.map(|v| v / n)
    }

    #[test]
    fn is_a_1024_square_png_distinct_per_variation_and_song() {
        let a1 = testband::band(30.0, ModelProfile::V45Plus, 1, 5);
        let a2 = testband::band(30.0, ModelProfile::V45Plus, 2, 5);
        let p1 = cover_png(&a1, "Song");
        let p2 = cover_png(&a2, "Song");
        let p3 = cover_png(&a1, "Another song");
        let (w, h, i1) = decode(&p1);
        assert_eq!((w, h), (1024, 1024));
        let (_, _, i2) = decode(&p2);
        let (_, _, i3) = decode(&p3);
        let differ = |a: &[u8], b: &[u8]| {
            a.iter().zip(b).filter(|(x, y)| x != y).count() as f32 / a.len() as f32
        };
        assert!(differ(&i1, &i2) > 0.2, "variations look alike");
        assert!(differ(&i1, &i3) > 0.2, "songs look alike");
        // Same inputs, same picture.
        assert_eq!(p1, cover_png(&a1, "Song"));
        assert!(p1.len() < 2_000_000, "{} bytes", p1.len());
    }

    #[test]
    fn key_and_mode_set_the_label() {
        let mut a = testband::band(20.0, ModelProfile::V45Plus, 1, 5);
        let major = label_colour(&decode(&cover_png(&a, "x")).2);
        a.key = Key::new(a.key.tonic, Mode::Minor);
        let minor = label_colour(&decode(&cover_png(&a, "x")).2);
        let luma = |c: [f32; 3]| 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
        assert!(
            luma(major) > luma(minor) + 30.0,
            "major {major:?} vs minor {minor:?}"
        );
        // A key a tritone away sits across the circle of fifths: a different hue.
        a.key = Key::new(a.key.tonic.transpose(6), Mode::Minor);
        let far = label_colour(&decode(&cover_png(&a, "x")).2);
        let dist: f32 = far.iter().zip(minor).map(|(a, b)| (a - b).abs()).sum();
        assert!(dist > 40.0, "{far:?} vs {minor:?}");
    }
}
