//! Tags → a resolved style: the request's `tags`, `negativeTags` and `styleWeight` turned into
//! the band to play.
//!
//! Parsing is forgiving: tags are split on commas (also `;`, `|`, `/` and new lines), lower
//! cased, `&` read as "and", hyphens, underscores and spaces ignored inside names ("Lo-Fi",
//! "lofi" and "lo fi" are one word; so are "hip hop" and "Hip-Hop", "R&B" and "rnb"), and a
//! plural `s` dropped when the plural is unknown ("strings" → "string"). Words are matched
//! greedily, longest phrase first (up to four words), against the vocabulary: genres (the
//! catalogue's names), moods, instruments, tempo words and a few modifiers. Words that match
//! nothing (minus stop words such as "with", "style", "music") are kept and reported as
//! unknown tags, never an error.
//!
//! What each kind of word does:
//! - a genre scores its style; moods and instruments score the styles that list them;
//! - `styleWeight` (s) sets how literally: the main style maximises `(0.25 + s) × tag score +
//!   (1 − s) × [default band]`, so at s = 0 the default band (pop) plays with the tags as hints
//!   (their instruments added, their harmonic habits blended in at 30 %), at s = 1 the named
//!   genre plays, and if instruments were named only those (with drums and bass) play;
//! - moods move energy (calm ↔ driving) and the pull towards minor habits (bright ↔ dark);
//! - "slow" / "fast" choose a half-time or double-time feel (the vocal's tempo never changes);
//! - negative tags win: an excluded genre is never chosen or blended, an excluded instrument
//!   family never sounds, "drums" removes the kit, "fast drums" / "busy drums" / "loud
//!   drums" keep it sparse, "fast" alone forbids the double-time feel.

use bandmate_core::Weight;

use crate::harmony::Habits;
use crate::style::{self, CATALOGUE, Family, Style};

/// How the drums may play, after the negative tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrumsMode {
    /// As the style says.
    Normal,
    /// Kick, snare/rim on the back beat and quarter hats only: no busy lines, no fills.
    Sparse,
    /// No drum kit at all.
    Off,
}

/// The rhythmic feel against the vocal's tempo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feel {
    /// Patterns at the beat grid's tempo.
    Normal,
    /// Half time: one pattern bar over two grid bars.
    Half,
    /// Double time: patterns twice as dense.
    Double,
}

/// What the tags asked for, resolved against the catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedStyle {
    /// The main style.
    pub main: &'static Style,
    /// Other styles blended in, with weights (main first, weights sum to 1).
    pub blend: Vec<(&'static Style, f32)>,
    /// Harmonic habits (blended).
    pub habits: Habits,
    /// Moods recognised.
    pub moods: Vec<String>,
    /// Instrument families the tags named.
    pub wanted: Vec<Family>,
    /// Instrument families excluded.
    pub excluded_families: Vec<Family>,
    /// Genres excluded (catalogue ids).
    pub excluded_styles: Vec<&'static str>,
    /// Drums after the negative tags.
    pub drums: DrumsMode,
    /// Feel against the vocal tempo.
    pub feel: Feel,
    /// Energy 0..1.
    pub energy: f32,
    /// Swing 0..1.
    pub swing: f32,
    /// Layer density, 0.5 sparse … 1.5 full (modifiers "minimal", "full band").
    pub density: f32,
    /// Only the named instruments (with drums and bass) may play: styleWeight high and
    /// instruments named.
    pub only_named: bool,
    /// The tag style's share in habits and instrumentation, 0..1 (grows with styleWeight).
    pub tag_share: f32,
    /// Unknown tags, as written.
    pub unknown: Vec<String>,
    /// What the negative tags excluded, for the plan.
    pub excluded: Vec<String>,
}

/// A recognised word.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Token {
    Genre(&'static Style),
    Mood(Mood),
    Instrument(&'static [Family]),
    Slow,
    Fast,
    Sparse,
    Full,
    Stop,
}

/// Moods: (energy delta, minor-lean delta, name), and the synonym group of [`MOODS`] the word
/// belongs to.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Mood {
    name: &'static str,
    energy: f32,
    minor: f32,
    group: usize,
}

/// The synonym group of a mood word, if it is one.
fn mood_group(word: &str) -> Option<usize> {
    MOODS.iter().position(|(words, _, _)| words.contains(&word))
}

const MOODS: &[(&[&str], f32, f32)] = &[
    (
        &[
            "relaxing", "relaxed", "relax", "chill", "chilled", "calm", "mellow", "soft", "gentle",
            "peaceful", "sleepy", "cozy", "laidback", "soothing", "quiet", "tender", "intimate",
            "serene", "smooth", "lazy",
        ],
        -0.3,
        0.0,
    ),
    (
        &[
            "upbeat",
            "energetic",
            "driving",
            "exciting",
            "party",
            "dance",
            "danceable",
            "powerful",
            "epic",
            "fun",
            "groovy",
            "bouncy",
            "lively",
            "intense",
            "hype",
            "anthemic",
            "triumphant",
        ],
        0.3,
        -0.1,
    ),
    (
        &[
            "happy",
            "bright",
            "sunny",
            "joyful",
            "cheerful",
            "hopeful",
            "uplifting",
            "optimistic",
            "positive",
            "playful",
            "summer",
            "festive",
        ],
        0.1,
        -0.4,
    ),
    (
        &[
            "dark",
            "sad",
            "melancholic",
            "melancholy",
            "moody",
            "somber",
            "sombre",
            "gloomy",
            "haunting",
            "mysterious",
            "bittersweet",
            "lonely",
            "heartbroken",
            "angry",
            "tense",
            "eerie",
            "ominous",
            "brooding",
            "gritty",
            "emotional",
            "dramatic",
        ],
        0.0,
        0.4,
    ),
    (
        &[
            "romantic",
            "dreamy",
            "nostalgic",
            "warm",
            "sexy",
            "sensual",
            "soulful",
            "ethereal",
            "spacey",
            "floating",
            "heartfelt",
            "inspiring",
            "majestic",
            "cinematic",
            "classy",
        ],
        -0.1,
        0.0,
    ),
];

const INSTRUMENTS: &[(&[&str], &[Family])] = {
    use Family::*;
    &[
        (
            &[
                "piano",
                "grandpiano",
                "acousticpiano",
                "keys",
                "keyboard",
                "keyboards",
            ],
            &[Piano],
        ),
        (
            &[
                "rhodes",
                "electricpiano",
                "epiano",
                "wurlitzer",
                "wurli",
                "clavinet",
                "clav",
            ],
            &[ElectricPiano],
        ),
        (&["organ", "hammond", "b3", "churchorgan"], &[Organ]),
        (&["guitar", "guitars"], &[AcousticGuitar, ElectricGuitar]),
        (
            &[
                "acousticguitar",
                "nylonguitar",
                "classicalguitar",
                "steelguitar",
                "fingerpicking",
                "strummed",
            ],
            &[AcousticGuitar],
        ),
        (
            &[
                "electricguitar",
                "distortedguitar",
                "distortion",
                "overdrive",
                "cleanguitar",
                "jazzguitar",
                "riff",
                "riffs",
            ],
            &[ElectricGuitar],
        ),
        (
            &[
                "bass",
                "bassguitar",
                "basses",
                "synthbass",
                "upright",
                "uprightbass",
                "doublebass",
                "slapbass",
            ],
            &[Bass],
        ),
        (
            &[
                "string",
                "violin",
                "violins",
                "viola",
                "cello",
                "cellos",
                "fiddle",
                "stringsection",
            ],
            &[Strings],
        ),
        (
            &[
                "brass",
                "horn",
                "horns",
                "trumpet",
                "trombone",
                "tuba",
                "frenchhorn",
                "hornsection",
            ],
            &[Brass],
        ),
        (&["sax", "saxophone", "tenorsax", "altosax"], &[Sax]),
        (
            &[
                "flute",
                "clarinet",
                "oboe",
                "woodwind",
                "woodwinds",
                "harmonica",
                "whistle",
            ],
            &[Woodwind],
        ),
        (
            &[
                "synth",
                "synths",
                "synthesizer",
                "synthesiser",
                "arp",
                "arpeggio",
                "arpeggiator",
                "pluck",
                "lead",
                "synthlead",
            ],
            &[Synth],
        ),
        (&["pad", "pads", "synthpad", "atmosphere"], &[Pad]),
        (
            &[
                "choir",
                "choral",
                "chorus",
                "voices",
                "backingvocals",
                "vocalpad",
                "ooh",
                "aah",
            ],
            &[Choir],
        ),
        (
            &[
                "bell",
                "bells",
                "glockenspiel",
                "vibraphone",
                "vibes",
                "marimba",
                "xylophone",
                "mallet",
                "mallets",
                "celesta",
                "musicbox",
            ],
            &[Mallets],
        ),
        (&["drum", "drums", "drumkit", "kit", "beat"], &[Drums]),
        (
            &[
                "percussion",
                "shaker",
                "conga",
                "congas",
                "bongo",
                "bongos",
                "tambourine",
                "handpercussion",
            ],
            &[Percussion],
        ),
        (
            &["harp", "banjo", "ukulele", "mandolin", "koto", "sitar"],
            &[Plucked],
        ),
    ]
};

const SLOW: &[&str] = &[
    "slow",
    "slower",
    "halftime",
    "ballad tempo",
    "lento",
    "downbeat",
];
const FAST: &[&str] = &[
    "fast",
    "faster",
    "uptempo",
    "doubletime",
    "quick",
    "rapid",
    "busy",
    "loud",
];
const SPARSE: &[&str] = &[
    "minimal",
    "minimalist",
    "sparse",
    "simple",
    "stripped",
    "strippeddown",
    "bare",
    "light",
];
const FULL: &[&str] = &[
    "full", "fullband", "big", "lush", "rich", "layered", "huge", "wall",
];
const STOP: &[&str] = &[
    "with",
    "and",
    "a",
    "an",
    "the",
    "of",
    "style",
    "music",
    "song",
    "songs",
    "vibe",
    "vibes",
    "feel",
    "feeling",
    "sound",
    "sounding",
    "type",
    "instrumental",
    "track",
    "like",
    "in",
    "for",
    "some",
    "very",
    "more",
    "less",
    "lots",
    "little",
    "no",
    "genre",
    "mood",
    "band",
    "inspired",
    "influenced",
    "ish",
    "y",
    "to",
    "on",
    "by",
    "backing",
    "accompaniment",
    "mix",
];

/// Every word the parser knows (genre names and ids, moods, instruments, tempo and density
/// modifiers), for tests that draw random tags.
#[cfg(test)]
pub(crate) fn vocabulary() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = CATALOGUE
        .iter()
        .flat_map(|s| s.names.iter().copied().chain([s.id]))
        .collect();
    v.extend(MOODS.iter().flat_map(|(w, _, _)| w.iter().copied()));
    v.extend(INSTRUMENTS.iter().flat_map(|(w, _)| w.iter().copied()));
    for list in [SLOW, FAST, SPARSE, FULL] {
        v.extend_from_slice(list);
    }
    v
}

fn lookup(word: &str) -> Option<Token> {
    for s in CATALOGUE {
        if s.names.contains(&word) || s.id == word {
            return Some(Token::Genre(s));
        }
    }
    for (group, &(words, energy, minor)) in MOODS.iter().enumerate() {
        if let Some(&w) = words.iter().find(|&&w| w == word) {
            return Some(Token::Mood(Mood {
                name: w,
                energy,
                minor,
                group,
            }));
        }
    }
    for &(words, fams) in INSTRUMENTS {
        if words.contains(&word) {
            return Some(Token::Instrument(fams));
        }
    }
    if SLOW.contains(&word) {
        return Some(Token::Slow);
    }
    if FAST.contains(&word) {
        return Some(Token::Fast);
    }
    if SPARSE.contains(&word) {
        return Some(Token::Sparse);
    }
    if FULL.contains(&word) {
        return Some(Token::Full);
    }
    if STOP.contains(&word) {
        return Some(Token::Stop);
    }
    None
}

/// Look a joined phrase up, trying its singular too.
fn lookup_forgiving(word: &str) -> Option<Token> {
    lookup(word).or_else(|| {
        word.strip_suffix("es")
            .and_then(lookup)
            .or_else(|| word.strip_suffix('s').and_then(lookup))
    })
}

/// The words of one tag: lower case, `&` as "and", split on spaces, hyphens, underscores and
/// punctuation (except that "r&b" / "r and b" / "R & B" become one word through joining).
fn words(tag: &str) -> Vec<String> {
    tag.to_lowercase()
        .replace('&', " and ")
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// One parsed tag: its tokens and the words nothing matched.
fn parse_tag(tag: &str) -> (Vec<Token>, Vec<String>) {
    let w = words(tag);
    let mut tokens = Vec::new();
    let mut unknown = Vec::new();
    let mut i = 0;
    while i < w.len() {
        let mut matched = None;
        for len in (1..=4.min(w.len() - i)).rev() {
            let joined: String = w[i..i + len].concat();
            if let Some(t) = lookup_forgiving(&joined) {
                // a lone stop word inside a longer phrase is only a stop word
                matched = Some((t, len));
                break;
            }
        }
        match matched {
            Some((t, len)) => {
                if t != Token::Stop {
                    tokens.push(t);
                }
                i += len;
            }
            None => {
                unknown.push(w[i].clone());
                i += 1;
            }
        }
    }
    (tokens, unknown)
}

/// Split a tags field into tags.
fn split_tags(s: &str) -> impl Iterator<Item = &str> {
    s.split([',', ';', '|', '/', '\n'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

fn lerp(a: f32, b: f32, t: f32) -> f32 {
    a + (b - a) * t
}

fn blend_habits(a: &Habits, b: &Habits, t: f32) -> Habits {
    Habits {
        changes_per_bar: lerp(a.changes_per_bar, b.changes_per_bar, t),
        seventh_affinity: lerp(a.seventh_affinity, b.seventh_affinity, t),
        sus_affinity: lerp(a.sus_affinity, b.sus_affinity, t),
        add_affinity: lerp(a.add_affinity, b.add_affinity, t),
        east_asian: lerp(a.east_asian, b.east_asian, t),
        borrowed_affinity: lerp(a.borrowed_affinity, b.borrowed_affinity, t),
        minor_lean: lerp(a.minor_lean, b.minor_lean, t),
        cadence: lerp(a.cadence, b.cadence, t),
        tensions_major: if t >= 0.5 {
            b.tensions_major
        } else {
            a.tensions_major
        },
        tensions_minor: if t >= 0.5 {
            b.tensions_minor
        } else {
            a.tensions_minor
        },
    }
}

/// Resolve the tags of a request for a vocal at `bpm`.
pub fn resolve(tags: &str, negative_tags: &str, style_weight: Weight, bpm: f64) -> ResolvedStyle {
    let sw = style_weight.get();
    let mut scores: Vec<f32> = vec![0.0; CATALOGUE.len()];
    let mut named_genre = vec![false; CATALOGUE.len()];
    let mut moods: Vec<Mood> = Vec::new();
    let mut wanted: Vec<Family> = Vec::new();
    let (mut slow, mut fast, mut sparse, mut full) = (false, false, false, false);
    let mut unknown = Vec::new();
    let mut order = 0.0f32;
    for tag in split_tags(tags) {
        let (tokens, rest) = parse_tag(tag);
        for t in tokens {
            match t {
                Token::Genre(s) => {
                    if let Some(i) = CATALOGUE.iter().position(|c| c.id == s.id) {
                        // earlier genres lead (a small bonus by order)
                        scores[i] += 1.0 + 0.1 / (1.0 + order);
                        named_genre[i] = true;
                        order += 1.0;
                    }
                }
                Token::Mood(m) => {
                    if !moods.iter().any(|x| x.name == m.name) {
                        moods.push(m);
                    }
                }
                Token::Instrument(fams) => {
                    for &f in fams {
                        if !wanted.contains(&f) {
                            wanted.push(f);
                        }
                    }
                }
                Token::Slow => slow = true,
                Token::Fast => fast = true,
                Token::Sparse => sparse = true,
                Token::Full => full = true,
                Token::Stop => {}
            }
        }
        if !rest.is_empty() {
            unknown.push(if rest.len() == words(tag).len() {
                tag.to_string()
            } else {
                rest.join(" ")
            });
        }
    }

    // negative tags
    let mut excluded_styles = Vec::new();
    let mut excluded_families: Vec<Family> = Vec::new();
    let mut drums = DrumsMode::Normal;
    let mut no_fast = false;
    let mut excluded = Vec::new();
    let mut neg_minor = 0.0f32;
    for tag in split_tags(negative_tags) {
        let (tokens, rest) = parse_tag(tag);
        let has_fast = tokens.contains(&Token::Fast);
        let mut drum_tag = false;
        for t in &tokens {
            match *t {
                Token::Genre(s) if !excluded_styles.contains(&s.id) => {
                    excluded_styles.push(s.id);
                    excluded.push(format!("genre: {}", s.name));
                }
                Token::Instrument(fams) => {
                    for &f in fams {
                        if f == Family::Drums {
                            drum_tag = true;
                            continue;
                        }
                        if !excluded_families.contains(&f) {
                            excluded_families.push(f);
                            excluded.push(format!("instrument: {}", f.name()));
                        }
                    }
                }
                Token::Mood(m) => {
                    neg_minor -= m.minor;
                    excluded.push(format!("mood: {}", m.name));
                }
                _ => {}
            }
        }
        if drum_tag {
            let mode = if has_fast || tokens.contains(&Token::Full) {
                DrumsMode::Sparse
            } else {
                DrumsMode::Off
            };
            if drums != DrumsMode::Off {
                drums = mode;
            }
            excluded.push(match mode {
                DrumsMode::Off => "drums".to_string(),
                _ => format!("{tag} (drums kept sparse)"),
            });
        } else if has_fast {
            no_fast = true;
            excluded.push("fast feel".to_string());
        }
        if !rest.is_empty() && tokens.is_empty() {
            excluded.push(format!("unrecognised: {tag}"));
        }
    }
    wanted.retain(|f| !excluded_families.contains(f));
    if excluded_families.contains(&Family::Drums) {
        drums = DrumsMode::Off;
    }

    // Moods and instruments score the styles that list them. A mood matches by synonym group
    // ("soothing" finds a style that lists "calm"). A named instrument scores a little where
    // it plays at all and much more where it is the style's comping instrument, the one that
    // carries the harmony: "piano" asks for a band built around a piano.
    for (i, s) in CATALOGUE.iter().enumerate() {
        for m in &moods {
            if s.moods.iter().any(|w| mood_group(w) == Some(m.group)) {
                scores[i] += 0.25;
            }
        }
        let fams: Vec<Family> = style::instruments(s).iter().map(|x| x.family).collect();
        for f in &wanted {
            if fams.contains(f) {
                scores[i] += 0.1;
            }
            if !s.comp.is_empty() && s.comp.iter().all(|l| l.instrument.family == *f) {
                scores[i] += 0.4;
            }
        }
    }
    let tag_max = scores.iter().copied().fold(0.0f32, f32::max);
    // When a genre is named, styles the tags only hint at (by mood or instrument) count half.
    let any_named = named_genre.iter().any(|&n| n);
    let default = style::default_style();
    // choose the main style: tags by (0.25 + s), the default band by (1 - s), a tempo fit
    let mut best: Option<(f32, usize)> = None;
    for (i, s) in CATALOGUE.iter().enumerate() {
        if excluded_styles.contains(&s.id) {
            continue;
        }
        let tag = if tag_max > 0.0 {
            scores[i] / tag_max
        } else {
            0.0
        };
        let def = if s.id == default.id { 1.0 } else { 0.0 };
        let tempo_fit = tempo_fit(s, bpm);
        let v = (0.25 + sw)
            * tag
            * if named_genre[i] || !any_named {
                1.0
            } else {
                0.5
            }
            + (1.0 - sw) * def
            + 0.05 * tempo_fit;
        if best.is_none_or(|(b, _)| v > b) {
            best = Some((v, i));
        }
    }
    // every genre excluded: the calmest allowed fallback is the first non-excluded style
    let main_idx = best.map_or(0, |b| b.1);
    let main = &CATALOGUE[main_idx];

    // the tag style (best tag score among allowed styles) blends in
    let tag_idx = (0..CATALOGUE.len())
        .filter(|&i| !excluded_styles.contains(&CATALOGUE[i].id) && scores[i] > 0.0)
        .max_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let tag_share = if tag_idx.is_some() {
        0.3 + 0.7 * sw
    } else {
        0.0
    };
    let mut blend: Vec<(&'static Style, f32)> = vec![(main, 1.0)];
    let mut habits = main.habits;
    if let Some(ti) = tag_idx {
        let ts = &CATALOGUE[ti];
        if ts.id != main.id {
            // main is the default band: the tag style is a hint of weight tag_share
            habits = blend_habits(&main.habits, &ts.habits, tag_share * 0.6);
            blend = vec![(main, 1.0 - tag_share * 0.6), (ts, tag_share * 0.6)];
        } else if main.id != default.id && !excluded_styles.contains(&default.id) {
            // main is the tag style: the default band's habits fade out as s grows
            habits = blend_habits(&default.habits, &main.habits, tag_share);
            if tag_share < 1.0 {
                blend = vec![(main, tag_share), (default, 1.0 - tag_share)];
            }
        }
    }
    // moods: minor lean and energy
    let minor: f32 = moods.iter().map(|m| m.minor).sum::<f32>() + neg_minor;
    habits.minor_lean = (habits.minor_lean + minor).clamp(0.0, 1.0);
    let mut energy = main.energy + moods.iter().map(|m| m.energy).sum::<f32>() * 0.7;
    if slow {
        energy -= 0.15;
    }
    if fast && !no_fast {
        energy += 0.15;
    }
    let energy = energy.clamp(0.05, 1.0);

    // feel against the vocal's tempo
    let b = bpm as f32;
    let mut feel = if b > main.tempo.1 * 1.25 {
        Feel::Half
    } else if b < main.tempo.0 / 1.25 {
        Feel::Double
    } else {
        Feel::Normal
    };
    if slow && b > 85.0 {
        feel = Feel::Half;
    }
    if fast && !no_fast && b < 110.0 {
        feel = Feel::Double;
    }
    if no_fast && feel == Feel::Double {
        feel = Feel::Normal;
    }

    let density = match (sparse, full) {
        (true, false) => 0.6,
        (false, true) => 1.4,
        _ => 1.0,
    };
    let only_named = sw >= 0.75 && !wanted.is_empty();
    ResolvedStyle {
        main,
        blend,
        habits,
        moods: moods.iter().map(|m| m.name.to_string()).collect(),
        wanted,
        excluded_families,
        excluded_styles,
        drums,
        feel,
        energy,
        swing: main.swing,
        density,
        only_named,
        tag_share,
        unknown,
        excluded,
    }
}

/// 1 inside the style's tempo range, falling off outside it.
fn tempo_fit(s: &Style, bpm: f64) -> f32 {
    let b = bpm as f32;
    if b < s.tempo.0 {
        (1.0 - (s.tempo.0 - b) / 30.0).max(0.0)
    } else if b > s.tempo.1 {
        (1.0 - (b - s.tempo.1) / 30.0).max(0.0)
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(tags: &str, neg: &str) -> ResolvedStyle {
        resolve(tags, neg, Weight::new(0.5).unwrap(), 100.0)
    }

    #[test]
    fn spellings_are_forgiven() {
        for t in ["Lo-Fi", "lofi", "lo fi", "LO_FI", "Lofi beats"] {
            assert_eq!(r(t, "").main.id, "lofi", "{t}");
        }
        for t in ["hip hop", "Hip-Hop", "hiphop"] {
            assert_eq!(r(t, "").main.id, "hiphop", "{t}");
        }
        for t in ["R&B", "rnb", "r and b", "R & B"] {
            assert_eq!(r(t, "").main.id, "rnb", "{t}");
        }
        assert_eq!(r("Bossa Nova", "").main.id, "bossa");
        assert!(r("pop, strings", "").wanted.contains(&Family::Strings));
    }

    #[test]
    fn unknown_tags_are_kept_not_errors() {
        let x = r("pop, zorblax, dreamy vaporbeat", "");
        assert_eq!(x.main.id, "pop");
        assert!(
            x.unknown.contains(&"zorblax".to_string()),
            "{:?}",
            x.unknown
        );
        assert!(
            x.unknown.contains(&"vaporbeat".to_string()),
            "{:?}",
            x.unknown
        );
        assert!(x.moods.contains(&"dreamy".to_string()));
    }

    #[test]
    fn negative_tags_win() {
        let x = r("jazz", "jazz");
        assert_ne!(x.main.id, "jazz");
        assert!(x.blend.iter().all(|(s, _)| s.id != "jazz"));
        let x = r("rock, guitar", "guitar");
        assert!(!x.wanted.contains(&Family::ElectricGuitar));
        assert!(x.excluded_families.contains(&Family::ElectricGuitar));
        assert_eq!(r("rock", "fast drums").drums, DrumsMode::Sparse);
        assert_eq!(r("rock", "drums").drums, DrumsMode::Off);
        assert_eq!(r("rock", "").drums, DrumsMode::Normal);
        // every genre excluded still gives a band
        let all: Vec<&str> = CATALOGUE.iter().map(|s| s.id).collect();
        let x = r("jazz", &all.join(","));
        assert!(!x.main.id.is_empty());
    }

    #[test]
    fn style_weight_moves_from_default_band_to_tags() {
        let lo = resolve("jazz", "", Weight::new(0.0).unwrap(), 120.0);
        let hi = resolve("jazz", "", Weight::new(1.0).unwrap(), 120.0);
        assert_eq!(lo.main.id, "pop");
        assert_eq!(hi.main.id, "jazz");
        assert!(hi.tag_share > lo.tag_share);
        assert!(hi.habits.seventh_affinity > lo.habits.seventh_affinity);
    }

    #[test]
    fn moods_and_tempo_words() {
        assert!(r("pop, dark", "").habits.minor_lean > r("pop, happy", "").habits.minor_lean);
        assert!(r("pop, relaxing", "").energy < r("pop, energetic", "").energy);
        assert_eq!(
            resolve("pop, slow", "", Weight::new(0.5).unwrap(), 120.0).feel,
            Feel::Half
        );
        assert_eq!(
            resolve("pop, fast", "fast", Weight::new(0.5).unwrap(), 90.0).feel,
            Feel::Normal
        );
    }
}
