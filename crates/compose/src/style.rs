//! The style catalogue: what each style a user can ask for plays — instruments (General MIDI
//! programs), drum grooves with fills, bass lines, comping and pad patterns, swing or straight
//! feel, tempo range, harmonic habits and density by section — in the tradition of
//! Band-in-a-Box style files (PG Music): a style is data, the arranger is one engine.
//!
//! Patterns are written as step strings, one character per step, sixteen steps per 4/4 bar
//! (sixteenth notes); the arranger stretches them to other meters.
//!
//! - Drums: `X` accent, `x` normal, `o` ghost, `.` rest, one line per General MIDI
//!   percussion key.
//! - Bass: `R` root, `5` fifth, `8` octave above the root, `3` third, `7` the chord's seventh
//!   (or the octave), `A` a chromatic approach to the next chord's root, `-` hold, `.` rest;
//!   `K` plays the root wherever the kick plays (the bass locks to the kick).
//! - Comping: `X`/`x` the whole voicing (accent/normal), `d`/`u` a guitar down/up strum, `1`–`4`
//!   one voice of the voicing from the bottom (arpeggios), `-` hold, `.` rest.

use bandmate_core::PartRole;

use crate::harmony::{Habits, intervals};

/// An instrument family: what a negative tag can exclude.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// Acoustic piano.
    Piano,
    /// Electric piano, clavinet.
    ElectricPiano,
    /// Organs.
    Organ,
    /// Acoustic guitars.
    AcousticGuitar,
    /// Electric guitars.
    ElectricGuitar,
    /// Bass (acoustic, electric, synth).
    Bass,
    /// Orchestral strings.
    Strings,
    /// Brass.
    Brass,
    /// Saxophones.
    Sax,
    /// Flutes and other woodwinds.
    Woodwind,
    /// Synth leads, plucks and arps.
    Synth,
    /// Synth pads.
    Pad,
    /// Choir and voice pads.
    Choir,
    /// Mallets and bells (vibraphone, glockenspiel, celesta …).
    Mallets,
    /// The drum kit.
    Drums,
    /// Hand percussion (shaker, congas, tambourine …).
    Percussion,
    /// Plucked strings of other traditions (harp, banjo, ukulele-like).
    Plucked,
}

impl Family {
    /// Every family, for catalogue-wide listings ([`presets`]).
    pub const ALL: [Family; 17] = {
        use Family::*;
        [
            Piano,
            ElectricPiano,
            Organ,
            AcousticGuitar,
            ElectricGuitar,
            Bass,
            Strings,
            Brass,
            Sax,
            Woodwind,
            Synth,
            Pad,
            Choir,
            Mallets,
            Drums,
            Percussion,
            Plucked,
        ]
    };

    /// Display name.
    pub fn name(self) -> &'static str {
        use Family::*;
        match self {
            Piano => "piano",
            ElectricPiano => "electric piano",
            Organ => "organ",
            AcousticGuitar => "acoustic guitar",
            ElectricGuitar => "electric guitar",
            Bass => "bass",
            Strings => "strings",
            Brass => "brass",
            Sax => "saxophone",
            Woodwind => "woodwind",
            Synth => "synth",
            Pad => "synth pad",
            Choir => "choir",
            Mallets => "mallets",
            Drums => "drums",
            Percussion => "percussion",
            Plucked => "plucked strings",
        }
    }
}

/// One instrument of a style.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Instrument {
    /// Display and track name.
    pub name: &'static str,
    /// General MIDI program (0-based); for drums, the kit program in bank 128.
    pub program: u8,
    /// Family (for exclusions and tag matching).
    pub family: Family,
}

/// A drum groove: one bar of steps per percussion key, plus its fill.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Groove {
    /// Name (shown in the plan).
    pub name: &'static str,
    /// Lines of (General MIDI percussion key, 16-step pattern).
    pub lines: &'static [(u8, &'static str)],
    /// The fill played on the last beats of a phrase.
    pub fill: Fill,
}

/// Drum fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// Sixteenth notes down the toms over the last two beats.
    Toms,
    /// A snare build (eighths then sixteenths) over the last two beats.
    SnareRoll,
    /// A light fill: a few snare/tom hits on the last beat.
    Light,
    /// Jazz: snare and bass-drum "kicks" on the last beat, ride keeps going.
    Kicks,
    /// Electronic riser: snare/clap sixteenths over the last bar, crescendo.
    Build,
}

/// A comping or pad layer: an instrument playing a pattern.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Layer {
    /// The instrument.
    pub instrument: Instrument,
    /// What it does in the band.
    pub role: PartRole,
    /// Its rhythm (see the module docs); empty for sustained pads.
    pub pattern: &'static str,
    /// Lowest section level it plays at (0 intro/quiet … 3 loudest).
    pub from_level: u8,
}

/// A style of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Style {
    /// Catalogue id.
    pub id: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Words and phrases that name it (normalised: lower case, no spaces or hyphens).
    pub names: &'static [&'static str],
    /// Comfortable tempo range (BPM).
    pub tempo: (f32, f32),
    /// Swing, 0 straight … 1 triplet.
    pub swing: f32,
    /// Energy, 0 calm … 1 driving.
    pub energy: f32,
    /// Moods it suits (tag words).
    pub moods: &'static [&'static str],
    /// Harmonic habits.
    pub habits: Habits,
    /// Drum kit program (bank 128) and grooves: variation 1 takes the first, 2 the second.
    pub kit: u8,
    /// Grooves (at least one); empty = no drums in this style.
    pub grooves: &'static [Groove],
    /// Bass instrument options (variation 1, 2) and patterns (variation 1, 2).
    pub bass: (&'static [Instrument], &'static [&'static str]),
    /// Comping layers, variation 1 then 2 (each variation takes one).
    pub comp: &'static [Layer],
    /// Pad/strings layers, variation 1 then 2.
    pub pads: &'static [Layer],
    /// Extra layers (percussion, arps, brass, lead fills) both variations may use.
    pub extras: &'static [Layer],
    /// Intro and ending length in bars.
    pub intro_bars: u8,
    /// Ending length in bars.
    pub ending_bars: u8,
}

macro_rules! inst {
    ($name:expr, $prog:expr, $fam:ident) => {
        Instrument {
            name: $name,
            program: $prog,
            family: Family::$fam,
        }
    };
}

macro_rules! layer {
    ($inst:expr, $role:ident, $pat:expr, $lvl:expr) => {
        Layer {
            instrument: $inst,
            role: PartRole::$role,
            pattern: $pat,
            from_level: $lvl,
        }
    };
}

// ---------------------------------------------------------------- instruments (GM programs)
const PIANO: Instrument = inst!("Piano", 0, Piano);
const BRIGHT_PIANO: Instrument = inst!("Bright piano", 1, Piano);
const RHODES: Instrument = inst!("Electric piano", 4, ElectricPiano);
const EP2: Instrument = inst!("FM electric piano", 5, ElectricPiano);
const CLAV: Instrument = inst!("Clavinet", 7, ElectricPiano);
const VIBES: Instrument = inst!("Vibraphone", 11, Mallets);
const GLOCK: Instrument = inst!("Glockenspiel", 9, Mallets);
const CELESTA: Instrument = inst!("Celesta", 8, Mallets);
const ORGAN: Instrument = inst!("Organ", 16, Organ);
const ROCK_ORGAN: Instrument = inst!("Rock organ", 18, Organ);
const CHURCH_ORGAN: Instrument = inst!("Church organ", 19, Organ);
const NYLON: Instrument = inst!("Nylon guitar", 24, AcousticGuitar);
const STEEL: Instrument = inst!("Acoustic guitar", 25, AcousticGuitar);
const JAZZ_GTR: Instrument = inst!("Jazz guitar", 26, ElectricGuitar);
const CLEAN_GTR: Instrument = inst!("Clean guitar", 27, ElectricGuitar);
const MUTED_GTR: Instrument = inst!("Muted guitar", 28, ElectricGuitar);
const OD_GTR: Instrument = inst!("Overdrive guitar", 29, ElectricGuitar);
const DIST_GTR: Instrument = inst!("Distortion guitar", 30, ElectricGuitar);
const UPRIGHT: Instrument = inst!("Upright bass", 32, Bass);
const FINGER_BASS: Instrument = inst!("Bass", 33, Bass);
const PICK_BASS: Instrument = inst!("Picked bass", 34, Bass);
const FRETLESS: Instrument = inst!("Fretless bass", 35, Bass);
const SLAP_BASS: Instrument = inst!("Slap bass", 36, Bass);
const SYNTH_BASS: Instrument = inst!("Synth bass", 38, Bass);
const SYNTH_BASS2: Instrument = inst!("Synth bass 2", 39, Bass);
const STRINGS: Instrument = inst!("Strings", 48, Strings);
const SLOW_STRINGS: Instrument = inst!("Slow strings", 49, Strings);
const SYNTH_STRINGS: Instrument = inst!("Synth strings", 50, Strings);
const PIZZ: Instrument = inst!("Pizzicato strings", 45, Strings);
const HARP: Instrument = inst!("Harp", 46, Plucked);
const CELLO: Instrument = inst!("Cello", 42, Strings);
const CHOIR: Instrument = inst!("Choir", 52, Choir);
const OOHS: Instrument = inst!("Voice oohs", 53, Choir);
const BRASS: Instrument = inst!("Brass section", 61, Brass);
const HORN: Instrument = inst!("French horn", 60, Brass);
const TRUMPET: Instrument = inst!("Trumpet", 56, Brass);
const SYNTH_BRASS: Instrument = inst!("Synth brass", 62, Brass);
const TENOR_SAX: Instrument = inst!("Tenor sax", 66, Sax);
const ALTO_SAX: Instrument = inst!("Alto sax", 65, Sax);
const FLUTE: Instrument = inst!("Flute", 73, Woodwind);
const HARMONICA: Instrument = inst!("Harmonica", 22, Woodwind);
const SQUARE_LEAD: Instrument = inst!("Square lead", 80, Synth);
const SAW_LEAD: Instrument = inst!("Saw lead", 81, Synth);
const PLUCK: Instrument = inst!("Synth pluck", 84, Synth);
const WARM_PAD: Instrument = inst!("Warm pad", 89, Pad);
const POLY_PAD: Instrument = inst!("Polysynth pad", 90, Pad);
const CHOIR_PAD: Instrument = inst!("Choir pad", 91, Pad);
const HALO_PAD: Instrument = inst!("Halo pad", 94, Pad);
const SWEEP_PAD: Instrument = inst!("Sweep pad", 95, Pad);
const NEW_AGE_PAD: Instrument = inst!("New age pad", 88, Pad);
const BANJO: Instrument = inst!("Banjo", 105, Plucked);
const SHAKER_I: Instrument = inst!("Shaker", 0, Percussion);
const CONGAS: Instrument = inst!("Congas", 0, Percussion);
const TAMBOURINE_I: Instrument = inst!("Tambourine", 0, Percussion);

/// General MIDI drum kits (bank 128 programs).
pub mod kits {
    /// Standard kit.
    pub const STANDARD: u8 = 0;
    /// Room kit.
    pub const ROOM: u8 = 8;
    /// Power kit.
    pub const POWER: u8 = 16;
    /// Electronic kit.
    pub const ELECTRONIC: u8 = 24;
    /// TR-808 kit.
    pub const TR808: u8 = 25;
    /// Jazz kit.
    pub const JAZZ: u8 = 32;
    /// Brush kit.
    pub const BRUSH: u8 = 40;
    /// Orchestra kit.
    pub const ORCHESTRA: u8 = 48;
}

/// General MIDI percussion keys used by the grooves.
pub mod gm {
    /// Bass drum 1.
    pub const KICK: u8 = 36;
    /// Side stick.
    pub const RIM: u8 = 37;
    /// Acoustic snare.
    pub const SNARE: u8 = 38;
    /// Hand clap.
    pub const CLAP: u8 = 39;
    /// Low floor tom.
    pub const FLOOR_TOM: u8 = 41;
    /// Closed hi-hat.
    pub const HAT: u8 = 42;
    /// Pedal hi-hat.
    pub const PEDAL_HAT: u8 = 44;
    /// Low tom.
    pub const LOW_TOM: u8 = 45;
    /// Open hi-hat.
    pub const OPEN_HAT: u8 = 46;
    /// Low-mid tom.
    pub const MID_TOM: u8 = 47;
    /// Crash cymbal 1.
    pub const CRASH: u8 = 49;
    /// High tom.
    pub const HIGH_TOM: u8 = 50;
    /// Ride cymbal 1.
    pub const RIDE: u8 = 51;
    /// Ride bell.
    pub const RIDE_BELL: u8 = 53;
    /// Tambourine.
    pub const TAMBOURINE: u8 = 54;
    /// Cowbell.
    pub const COWBELL: u8 = 56;
    /// Low conga.
    pub const LOW_CONGA: u8 = 64;
    /// Open high conga.
    pub const HIGH_CONGA: u8 = 63;
    /// Mute high conga.
    pub const MUTE_CONGA: u8 = 62;
    /// Cabasa.
    pub const CABASA: u8 = 69;
    /// Maracas.
    pub const MARACAS: u8 = 70;
    /// Claves.
    pub const CLAVES: u8 = 75;
    /// Shaker (GM2; maracas in GM1 fonts).
    pub const SHAKER: u8 = 70;
}

use gm::*;

// ---------------------------------------------------------------- grooves
macro_rules! groove {
    ($name:expr, $fill:ident, [$(($k:expr, $p:expr)),* $(,)?]) => {
        Groove { name: $name, lines: &[$(($k, $p)),*], fill: Fill::$fill }
    };
}

const POP_8: Groove = groove!(
    "pop eighths",
    Toms,
    [
        (KICK, "X.....x.X......."),
        (SNARE, "....X.......X..."),
        (HAT, "x.x.x.x.x.x.x.x."),
    ]
);
const POP_16: Groove = groove!(
    "pop sixteenths",
    SnareRoll,
    [
        (KICK, "X......xX.x....."),
        (SNARE, "....X.......X..."),
        (HAT, "xoxoxoxoxoxoxoxo"),
        (TAMBOURINE, "....x.......x..."),
    ]
);
const ROCK_8: Groove = groove!(
    "rock beat",
    Toms,
    [
        (KICK, "X.....X.X.x....."),
        (SNARE, "....X.......X..."),
        (HAT, "X.x.X.x.X.x.X.x."),
    ]
);
const ROCK_RIDE: Groove = groove!(
    "rock ride",
    Toms,
    [
        (KICK, "X.x.....X.x....x"),
        (SNARE, "....X.......X..."),
        (RIDE, "x.x.x.x.x.x.x.x."),
    ]
);
const BALLAD: Groove = groove!(
    "ballad rim",
    Light,
    [
        (KICK, "X.........x....."),
        (RIM, "....x.......x..."),
        (HAT, "x...x...x...x..."),
    ]
);
const BALLAD_HALF: Groove = groove!(
    "ballad half-time",
    Light,
    [
        (KICK, "X.......x......."),
        (SNARE, "........X......."),
        (HAT, "x.x.x.x.x.x.x.x."),
    ]
);
const FOLK: Groove = groove!(
    "folk train",
    Light,
    [
        (KICK, "X.......X......."),
        (SNARE, "....x.......x..."),
        (SHAKER, "xoxoxoxoxoxoxoxo"),
    ]
);
const FOLK_STOMP: Groove = groove!(
    "stomp and clap",
    Light,
    [
        (KICK, "X...X...X...X..."),
        (CLAP, "....X.......X..."),
        (TAMBOURINE, "..x...x...x...x."),
    ]
);
const SWING: Groove = groove!(
    "swing ride",
    Kicks,
    [
        (RIDE, "x...x.x.x...x.x."),
        (PEDAL_HAT, "....x.......x..."),
        (KICK, "o...o...o...o..."),
    ]
);
const SWING_BRUSH: Groove = groove!(
    "brushes",
    Kicks,
    [
        (SNARE, "o.o.o.o.o.o.o.o."),
        (PEDAL_HAT, "....x.......x..."),
        (KICK, "o.......o......."),
    ]
);
const BOSSA: Groove = groove!(
    "bossa nova",
    Light,
    [
        (KICK, "X..xX..xX..xX..x"),
        (RIM, "x..x..x...x..x.."),
        (HAT, "x.x.x.x.x.x.x.x."),
    ]
);
const SAMBA_LIGHT: Groove = groove!(
    "samba light",
    Light,
    [
        (KICK, "X..xX..xX..xX..x"),
        (RIM, "..x..x...x..x..x"),
        (SHAKER, "xoxoxoxoxoxoxoxo"),
    ]
);
const LATIN: Groove = groove!(
    "latin tumbao",
    Light,
    [
        (KICK, "...x..x....x..x."),
        (CLAVES, "x..x..x...x.x..."),
        (COWBELL, "x.x.x.x.x.x.x.x."),
        (HIGH_CONGA, "......xx......xx"),
        (MUTE_CONGA, "..x.......x....."),
    ]
);
const REGGAETON: Groove = groove!(
    "dembow",
    Build,
    [
        (KICK, "x...x...x...x..."),
        (SNARE, "...x..x....x..x."),
        (HAT, "x.x.x.x.x.x.x.x."),
    ]
);
const FUNK: Groove = groove!(
    "funk sixteenths",
    SnareRoll,
    [
        (KICK, "X.x.......x..x.."),
        (SNARE, "....X..o.o..X..o"),
        (HAT, "xxxXxxxXxxxXxxxX"),
    ]
);
const FUNK_OPEN: Groove = groove!(
    "funk open hat",
    SnareRoll,
    [
        (KICK, "X..x..x...x....."),
        (SNARE, "....X.o.....X.o."),
        (HAT, "x.x.x.x.x.x.x..."),
        (OPEN_HAT, "..............x."),
    ]
);
const RNB: Groove = groove!(
    "r&b groove",
    Light,
    [
        (KICK, "X......x..x....."),
        (SNARE, "....X.......X..."),
        (HAT, "x.x.x.xxx.x.x.xx"),
    ]
);
const NEO_SOUL: Groove = groove!(
    "neo-soul",
    Light,
    [
        (KICK, "X.....x...x..x.."),
        (RIM, "....x.......x..."),
        (HAT, "x.xox.xox.xox.xo"),
    ]
);
const BOOM_BAP: Groove = groove!(
    "boom bap",
    Light,
    [
        (KICK, "X......xX.x....."),
        (SNARE, "....X.......X..."),
        (HAT, "x.x.x.x.x.x.x.x."),
    ]
);
const TRAP: Groove = groove!(
    "trap",
    Build,
    [
        (KICK, "X......x..X....."),
        (CLAP, "........X......."),
        (HAT, "x.x.xxx.x.x.xxxx"),
    ]
);
const LOFI: Groove = groove!(
    "lo-fi",
    Light,
    [
        (KICK, "X......x..x....."),
        (SNARE, "....x.......x..."),
        (HAT, "x.x.x.x.x.x.x.x."),
    ]
);
const LOFI_RIM: Groove = groove!(
    "lo-fi rim",
    Light,
    [
        (KICK, "X.........x..x.."),
        (RIM, "....x.......x..."),
        (SHAKER, "x.x.x.x.x.x.x.x."),
    ]
);
const HOUSE: Groove = groove!(
    "four on the floor",
    Build,
    [
        (KICK, "X...X...X...X..."),
        (CLAP, "....X.......X..."),
        (HAT, "..x...x...x...x."),
        (OPEN_HAT, "..x...x...x...x."),
    ]
);
const HOUSE_16: Groove = groove!(
    "house sixteenths",
    Build,
    [
        (KICK, "X...X...X...X..."),
        (CLAP, "....X.......X..."),
        (HAT, "xxXxxxXxxxXxxxXx"),
    ]
);
const REGGAE: Groove = groove!(
    "one drop",
    Light,
    [
        (KICK, "........X......."),
        (RIM, "........X......."),
        (HAT, "x.x.x.x.x.x.x.x."),
    ]
);
const STEPPERS: Groove = groove!(
    "steppers",
    Light,
    [
        (KICK, "X...X...X...X..."),
        (RIM, "........X......."),
        (HAT, "x.x.x.x.x.x.x.x."),
    ]
);
const COUNTRY: Groove = groove!(
    "country train",
    Light,
    [
        (KICK, "X.......X......."),
        (SNARE, "....X.......X..."),
        (HAT, "x.x.x.x.x.x.x.x."),
    ]
);
const SHUFFLE: Groove = groove!(
    "shuffle",
    Toms,
    [
        (KICK, "X.......X......."),
        (SNARE, "....X.......X..."),
        (RIDE, "x.x.x.x.x.x.x.x."),
    ]
);
const CINEMATIC: Groove = groove!(
    "epic toms",
    Toms,
    [
        (KICK, "X.......X.x....."),
        (FLOOR_TOM, "X..x..x.X..x..x."),
        (SNARE, "........X......."),
    ]
);
const CINE_PULSE: Groove = groove!(
    "orchestral pulse",
    Light,
    [
        (KICK, "X.......X......."),
        (LOW_TOM, "....x.......x..."),
        (CRASH, "................"),
    ]
);
const AMBIENT_RIM: Groove = groove!(
    "ambient rim",
    Light,
    [
        (KICK, "X.......x......."),
        (RIM, "............x..."),
        (SHAKER, "x...x...x...x..."),
    ]
);
const AMBIENT: Groove = groove!(
    "ambient pulse",
    Light,
    [(KICK, "X..............."), (SHAKER, "..x...x...x...x."),]
);
const GOSPEL: Groove = groove!(
    "gospel shuffle",
    SnareRoll,
    [
        (KICK, "X.....x.X......."),
        (SNARE, "....X.......X..."),
        (HAT, "x.xxx.xxx.xxx.xx"),
        (CLAP, "....X.......X..."),
    ]
);
const DISCO: Groove = groove!(
    "disco",
    SnareRoll,
    [
        (KICK, "X...X...X...X..."),
        (SNARE, "....X.......X..."),
        (HAT, "x.X.x.X.x.X.x.X."),
        (OPEN_HAT, "..x...x...x...x."),
    ]
);
const SYNTHWAVE: Groove = groove!(
    "synthwave",
    Toms,
    [
        (KICK, "X.......X......."),
        (SNARE, "....X.......X..."),
        (HAT, "x.x.x.x.x.x.x.x."),
    ]
);
const METAL: Groove = groove!(
    "metal",
    Toms,
    [
        (KICK, "X.X.X.X.X.X.X.X."),
        (SNARE, "....X.......X..."),
        (CRASH, "x...x...x...x..."),
    ]
);

// ---------------------------------------------------------------- habits
const POP_HABITS: Habits = Habits::POP;
#[allow(clippy::too_many_arguments)] // a table row: positional is the readable form here
const fn habits(
    changes_per_bar: f32,
    seventh_affinity: f32,
    sus_affinity: f32,
    borrowed_affinity: f32,
    minor_lean: f32,
    cadence: f32,
    tensions_major: u16,
    tensions_minor: u16,
) -> Habits {
    Habits {
        changes_per_bar,
        seventh_affinity,
        sus_affinity,
        // added-note colours follow the style's liking for sus chords unless set apart
        add_affinity: sus_affinity,
        borrowed_affinity,
        minor_lean,
        cadence,
        east_asian: 0.0,
        tensions_major,
        tensions_minor,
    }
}
/// Jazz tensions: 9, 11 (on minor), #11, 13 (Levine, "The Jazz Theory Book", 1995).
const JAZZ_MAJ: u16 = intervals(&[2, 6, 9]);
const JAZZ_MIN: u16 = intervals(&[2, 5, 9]);

// ---------------------------------------------------------------- comping patterns
/// Block chords on every beat, accented on 1 and 3.
const BLOCK_4: &str = "X...x...X...x...";
/// Pop piano eighths.
const PIANO_8: &str = "X.x.x.x.X.x.x.x.";
/// Ballad arpeggio: root-fifth-octave-third.
const ARP_BALLAD: &str = "1.2.3.4.3.2.3.2.";
/// Half notes.
const HALVES: &str = "X-------X-------";
/// Whole notes.
const WHOLE: &str = "X---------------";
/// Folk strum: D D U U D U.
const STRUM_FOLK: &str = "d...d.u...u.d.u.";
/// Pop strum in eighths.
const STRUM_8: &str = "d.d.d.udd.d.d.ud";
/// Rock power eighths.
const POWER_8: &str = "x.x.x.x.x.x.x.x.";
/// Charleston comp (jazz).
const CHARLESTON: &str = "X.....x.........";
/// Freddie Green quarter-note chunks.
const FOUR_CHUNK: &str = "x...x...x...x...";
/// Bossa guitar.
const BOSSA_COMP: &str = "x..x..x...x..x..";
/// Montuno-like piano.
const MONTUNO: &str = "x..x..x.x..x.x..";
/// Funk guitar sixteenth chicks.
const FUNK_CHICK: &str = "..x.x..x..x.x..x";
/// Clav funk.
const CLAV_FUNK: &str = "x..x.x..x.x..x.x";
/// Off-beat skank (reggae, ska).
const SKANK: &str = "....x.......x...";
/// Reggae double skank.
const SKANK_2: &str = "..x.x.....x.x...";
/// House piano stabs.
const STABS: &str = "..x..x....x..x..";
/// Lo-fi lazy chords.
const LAZY: &str = "X-----x---------";
/// Gospel piano.
const GOSPEL_COMP: &str = "X..x..x.X..x.xx.";
/// R&B electric piano.
const RNB_EP: &str = "X-----x.--x-----";
/// Synth arpeggio in sixteenths.
const ARP_16: &str = "1234321412343214";
/// Eighth arpeggio.
const ARP_8: &str = "1.2.3.4.1.2.3.4.";
/// Country picking (boom-chick feel: bass note, chord).
const BOOM_CHICK: &str = "1...x...2...x...";

// ---------------------------------------------------------------- bass patterns
/// Root on the kick.
const B_KICK: &str = "K";
/// Root eighths.
const B_ROOT_8: &str = "R.R.R.R.R.R.R.R.";
/// Root-fifth halves.
const B_HALVES: &str = "R-------5-------";
/// Whole notes.
const B_WHOLE: &str = "R---------------";
/// Pop bass with an approach at the end of the bar.
const B_POP: &str = "R-----R.R---5-A.";
/// Walking bass (quarters: root, chord tone, chord tone, approach).
const B_WALK: &str = "R...3...5...A...";
/// Bossa root-fifth.
const B_BOSSA: &str = "R..5R..5R..5R..5";
/// Latin tumbao (anticipated).
const B_TUMBAO: &str = "......R...5...R-";
/// Funk octave bass.
const B_FUNK: &str = "R..8..R.R.5..8.A";
/// Reggae one-drop bass.
const B_REGGAE: &str = "R-..5.R.....3.5.";
/// Country root-fifth on 1 and 3.
const B_COUNTRY: &str = "R...5...R...5...";
/// Disco octaves.
const B_OCTAVE: &str = "R.8.R.8.R.8.R.8.";
/// Synth sixteenths (synthwave).
const B_SIXTEENTH: &str = "RRRRRRRRRRRRRRRR";
/// House off-beat bass.
const B_OFFBEAT: &str = "..R...R...R...R.";
/// Hip-hop / trap long 808 notes.
const B_808: &str = "R-----R---R-----";

// ---------------------------------------------------------------- the catalogue
/// Every style Bandmate knows.
pub static CATALOGUE: &[Style] = &[
    Style {
        id: "pop",
        name: "Pop",
        names: &[
            "pop",
            "poprock",
            "mainstream",
            "radio",
            "kpop",
            "jpop",
            "cpop",
            "mandopop",
            "dancepop",
        ],
        tempo: (80.0, 130.0),
        swing: 0.0,
        energy: 0.6,
        moods: &[
            "happy",
            "upbeat",
            "uplifting",
            "bright",
            "romantic",
            "catchy",
        ],
        habits: POP_HABITS,
        kit: kits::STANDARD,
        grooves: &[POP_8, POP_16],
        bass: (&[FINGER_BASS, SYNTH_BASS2], &[B_POP, B_KICK]),
        comp: &[
            layer!(PIANO, Piano, PIANO_8, 0),
            layer!(CLEAN_GTR, Guitar, STRUM_8, 1),
        ],
        pads: &[
            layer!(STRINGS, Strings, "", 2),
            layer!(WARM_PAD, Pad, "", 2),
        ],
        extras: &[layer!(PLUCK, Arp, ARP_8, 3)],
        intro_bars: 4,
        ending_bars: 2,
    },
    Style {
        id: "rock",
        name: "Rock",
        names: &[
            "rock",
            "indierock",
            "alternative",
            "alt",
            "altrock",
            "classicrock",
            "grunge",
            "punk",
            "poppunk",
            "hardrock",
        ],
        tempo: (95.0, 160.0),
        swing: 0.0,
        energy: 0.85,
        moods: &[
            "energetic",
            "driving",
            "powerful",
            "angry",
            "aggressive",
            "rebellious",
        ],
        habits: habits(
            1.0,
            -0.5,
            0.2,
            0.6,
            0.0,
            0.5,
            intervals(&[2]),
            intervals(&[2, 5]),
        ),
        kit: kits::ROOM,
        grooves: &[ROCK_8, ROCK_RIDE],
        bass: (&[PICK_BASS, FINGER_BASS], &[B_ROOT_8, B_KICK]),
        comp: &[
            layer!(OD_GTR, Guitar, POWER_8, 1),
            layer!(DIST_GTR, Guitar, STRUM_8, 1),
        ],
        pads: &[
            layer!(ROCK_ORGAN, Keys, "", 2),
            layer!(CLEAN_GTR, Guitar, ARP_8, 0),
        ],
        extras: &[layer!(PIANO, Piano, BLOCK_4, 3)],
        intro_bars: 4,
        ending_bars: 2,
    },
    Style {
        id: "piano_ballad",
        name: "Piano ballad",
        names: &[
            "ballad",
            "pianoballad",
            "pianosolo",
            "solopiano",
            "powerballad",
            "torchsong",
        ],
        tempo: (55.0, 90.0),
        swing: 0.0,
        energy: 0.3,
        moods: &[
            "sad",
            "emotional",
            "romantic",
            "melancholic",
            "tender",
            "heartfelt",
            "intimate",
            "calm",
        ],
        // ballads of Mandopop, J-pop and K-pop lean on the same loops as their pop
        habits: Habits {
            east_asian: 0.3,
            ..habits(
                1.6,
                0.1,
                0.2,
                0.2,
                0.1,
                0.8,
                intervals(&[2]),
                intervals(&[2]),
            )
        },
        kit: kits::BRUSH,
        grooves: &[BALLAD, BALLAD_HALF],
        bass: (&[FRETLESS, FINGER_BASS], &[B_WHOLE, B_HALVES]),
        comp: &[
            layer!(PIANO, Piano, ARP_BALLAD, 0),
            layer!(PIANO, Piano, HALVES, 0),
        ],
        pads: &[
            layer!(SLOW_STRINGS, Strings, "", 1),
            layer!(CELLO, Strings, "", 2),
        ],
        extras: &[],
        intro_bars: 2,
        ending_bars: 2,
    },
    Style {
        id: "acoustic",
        name: "Acoustic folk",
        names: &[
            "acoustic",
            "folk",
            "indiefolk",
            "singersongwriter",
            "unplugged",
            "campfire",
            "americana",
        ],
        tempo: (70.0, 130.0),
        swing: 0.0,
        energy: 0.45,
        moods: &[
            "warm",
            "nostalgic",
            "relaxing",
            "chill",
            "organic",
            "hopeful",
            "peaceful",
        ],
        habits: habits(
            1.0,
            -0.3,
            0.5,
            0.2,
            0.0,
            0.6,
            intervals(&[2]),
            intervals(&[2, 5]),
        ),
        kit: kits::BRUSH,
        grooves: &[FOLK, FOLK_STOMP],
        bass: (&[UPRIGHT, FINGER_BASS], &[B_COUNTRY, B_HALVES]),
        comp: &[
            layer!(STEEL, Guitar, STRUM_FOLK, 0),
            layer!(NYLON, Guitar, ARP_8, 0),
        ],
        pads: &[
            layer!(CELLO, Strings, "", 2),
            layer!(HARMONICA, Lead, "", 3),
        ],
        extras: &[layer!(PIANO, Piano, HALVES, 2)],
        intro_bars: 2,
        ending_bars: 2,
    },
    Style {
        id: "jazz",
        name: "Jazz swing",
        names: &[
            "jazz", "swing", "bigband", "bebop", "jazzy", "cooljazz", "lounge", "jazzclub",
            "crooner",
        ],
        tempo: (90.0, 220.0),
        swing: 0.62,
        energy: 0.5,
        moods: &[
            "classy",
            "smooth",
            "sophisticated",
            "late night",
            "smoky",
            "playful",
        ],
        habits: habits(2.0, 1.0, -0.3, 0.6, 0.0, 0.7, JAZZ_MAJ, JAZZ_MIN),
        kit: kits::JAZZ,
        grooves: &[SWING, SWING_BRUSH],
        bass: (&[UPRIGHT, UPRIGHT], &[B_WALK, B_WALK]),
        comp: &[
            layer!(PIANO, Piano, CHARLESTON, 0),
            layer!(JAZZ_GTR, Guitar, FOUR_CHUNK, 0),
        ],
        pads: &[
            layer!(VIBES, Keys, "x.....x...x.....", 2),
            layer!(BRASS, Brass, "", 3),
        ],
        extras: &[layer!(TENOR_SAX, Lead, "", 2)],
        intro_bars: 4,
        ending_bars: 2,
    },
    Style {
        id: "bossa",
        name: "Bossa nova",
        names: &["bossa", "bossanova", "samba", "brazilian", "mpb", "jobim"],
        tempo: (100.0, 150.0),
        swing: 0.0,
        energy: 0.4,
        moods: &[
            "relaxing", "smooth", "sunny", "romantic", "summer", "breezy", "chill",
        ],
        habits: habits(1.0, 0.9, 0.0, 0.4, 0.0, 0.6, JAZZ_MAJ, JAZZ_MIN),
        kit: kits::BRUSH,
        grooves: &[BOSSA, SAMBA_LIGHT],
        bass: (&[UPRIGHT, FINGER_BASS], &[B_BOSSA, B_BOSSA]),
        comp: &[
            layer!(NYLON, Guitar, BOSSA_COMP, 0),
            layer!(RHODES, Keys, BOSSA_COMP, 0),
        ],
        pads: &[layer!(FLUTE, Lead, "", 2), layer!(STRINGS, Strings, "", 2)],
        extras: &[layer!(SHAKER_I, Percussion, "", 1)],
        intro_bars: 2,
        ending_bars: 2,
    },
    Style {
        id: "latin",
        name: "Latin",
        names: &[
            "latin",
            "salsa",
            "latinpop",
            "reggaeton",
            "cumbia",
            "afrocuban",
            "mambo",
            "cha",
            "chacha",
            "tropical",
        ],
        tempo: (90.0, 200.0),
        swing: 0.0,
        energy: 0.75,
        moods: &["festive", "dance", "sexy", "hot", "party", "summer"],
        habits: habits(
            1.0,
            0.2,
            -0.3,
            0.2,
            0.3,
            0.6,
            intervals(&[2]),
            intervals(&[2]),
        ),
        kit: kits::STANDARD,
        grooves: &[LATIN, REGGAETON],
        bass: (&[FINGER_BASS, SYNTH_BASS], &[B_TUMBAO, B_KICK]),
        comp: &[
            layer!(BRIGHT_PIANO, Piano, MONTUNO, 0),
            layer!(NYLON, Guitar, STRUM_8, 0),
        ],
        pads: &[
            layer!(TRUMPET, Brass, "", 3),
            layer!(STRINGS, Strings, "", 2),
        ],
        extras: &[layer!(CONGAS, Percussion, "", 1)],
        intro_bars: 4,
        ending_bars: 2,
    },
    Style {
        id: "funk",
        name: "Funk",
        names: &["funk", "funky", "pfunk", "groove", "boogie"],
        tempo: (90.0, 125.0),
        swing: 0.15,
        energy: 0.8,
        moods: &["groovy", "dance", "party", "playful", "confident"],
        habits: habits(
            0.5,
            0.8,
            0.2,
            0.3,
            0.2,
            0.3,
            intervals(&[2, 9]),
            intervals(&[2, 5]),
        ),
        kit: kits::STANDARD,
        grooves: &[FUNK, FUNK_OPEN],
        bass: (&[SLAP_BASS, FINGER_BASS], &[B_FUNK, B_FUNK]),
        comp: &[
            layer!(MUTED_GTR, Guitar, FUNK_CHICK, 0),
            layer!(CLAV, Keys, CLAV_FUNK, 0),
        ],
        pads: &[layer!(BRASS, Brass, "", 2), layer!(ORGAN, Keys, "", 2)],
        extras: &[layer!(RHODES, Keys, STABS, 3)],
        intro_bars: 2,
        ending_bars: 2,
    },
    Style {
        id: "rnb",
        name: "R&B soul",
        names: &[
            "rnb",
            "randb",
            "soul",
            "neosoul",
            "motown",
            "contemporaryrnb",
            "rhythmandblues",
            "slowjam",
        ],
        tempo: (60.0, 105.0),
        swing: 0.3,
        energy: 0.5,
        moods: &[
            "smooth",
            "sexy",
            "sensual",
            "romantic",
            "soulful",
            "late night",
            "warm",
        ],
        habits: habits(1.3, 0.9, 0.3, 0.4, 0.2, 0.5, JAZZ_MAJ, JAZZ_MIN),
        kit: kits::STANDARD,
        grooves: &[RNB, NEO_SOUL],
        bass: (&[FINGER_BASS, SYNTH_BASS2], &[B_POP, B_KICK]),
        comp: &[
            layer!(RHODES, Keys, RNB_EP, 0),
            layer!(CLEAN_GTR, Guitar, ARP_8, 0),
        ],
        pads: &[
            layer!(STRINGS, Strings, "", 2),
            layer!(WARM_PAD, Pad, "", 1),
        ],
        extras: &[],
        intro_bars: 2,
        ending_bars: 2,
    },
    Style {
        id: "hiphop",
        name: "Hip-hop",
        names: &[
            "hiphop",
            "rap",
            "boombap",
            "oldschool",
            "oldschoolhiphop",
            "beat",
            "beats",
            "urban",
            "drill",
        ],
        tempo: (70.0, 100.0),
        swing: 0.25,
        energy: 0.65,
        moods: &["confident", "dark", "gritty", "street", "cool", "chill"],
        habits: habits(
            0.5,
            0.6,
            -0.3,
            0.4,
            0.5,
            0.2,
            intervals(&[2]),
            intervals(&[2, 5]),
        ),
        kit: kits::TR808,
        grooves: &[BOOM_BAP, TRAP],
        bass: (&[SYNTH_BASS, SYNTH_BASS2], &[B_KICK, B_808]),
        comp: &[layer!(RHODES, Keys, LAZY, 0), layer!(PIANO, Piano, LAZY, 0)],
        pads: &[
            layer!(STRINGS, Strings, "", 2),
            layer!(HALO_PAD, Pad, "", 1),
        ],
        extras: &[],
        intro_bars: 2,
        ending_bars: 2,
    },
    Style {
        id: "trap",
        name: "Trap",
        names: &["trap", "trapbeat", "808", "phonk"],
        tempo: (65.0, 85.0),
        swing: 0.0,
        energy: 0.7,
        moods: &["dark", "aggressive", "hard", "moody"],
        habits: habits(
            0.5,
            0.3,
            -0.5,
            0.5,
            0.7,
            0.2,
            intervals(&[2]),
            intervals(&[2, 5]),
        ),
        kit: kits::TR808,
        grooves: &[TRAP, BOOM_BAP],
        bass: (&[SYNTH_BASS, SYNTH_BASS2], &[B_808, B_KICK]),
        comp: &[layer!(PLUCK, Arp, ARP_8, 0), layer!(PIANO, Piano, LAZY, 0)],
        pads: &[
            layer!(CHOIR_PAD, Pad, "", 1),
            layer!(STRINGS, Strings, "", 2),
        ],
        extras: &[],
        intro_bars: 2,
        ending_bars: 2,
    },
    Style {
        id: "lofi",
        name: "Lo-fi",
        names: &[
            "lofi",
            "lofihiphop",
            "chillhop",
            "studybeats",
            "jazzhop",
            "lofibeats",
        ],
        tempo: (65.0, 95.0),
        swing: 0.35,
        energy: 0.3,
        moods: &[
            "relaxing",
            "chill",
            "calm",
            "study",
            "mellow",
            "cozy",
            "nostalgic",
            "dreamy",
            "sleepy",
        ],
        habits: habits(1.0, 1.0, 0.2, 0.3, 0.3, 0.3, JAZZ_MAJ, JAZZ_MIN),
        kit: kits::STANDARD,
        grooves: &[LOFI, LOFI_RIM],
        bass: (&[FINGER_BASS, UPRIGHT], &[B_KICK, B_HALVES]),
        comp: &[
            layer!(RHODES, Keys, LAZY, 0),
            layer!(PIANO, Piano, RNB_EP, 0),
        ],
        pads: &[
            layer!(WARM_PAD, Pad, "", 1),
            layer!(VIBES, Keys, "x.......x.....x.", 2),
        ],
        extras: &[layer!(CLEAN_GTR, Guitar, ARP_8, 3)],
        intro_bars: 2,
        ending_bars: 2,
    },
    Style {
        id: "edm",
        name: "EDM house",
        names: &[
            "edm",
            "house",
            "deephouse",
            "dance",
            "electronic",
            "electro",
            "techno",
            "club",
            "electronica",
            "progressivehouse",
            "futurebass",
            "tropicalhouse",
        ],
        tempo: (115.0, 130.0),
        swing: 0.0,
        energy: 0.9,
        moods: &[
            "energetic",
            "euphoric",
            "party",
            "uplifting",
            "dance",
            "hypnotic",
        ],
        habits: habits(
            0.7,
            0.2,
            0.3,
            0.2,
            0.4,
            0.3,
            intervals(&[2]),
            intervals(&[2]),
        ),
        kit: kits::ELECTRONIC,
        grooves: &[HOUSE, HOUSE_16],
        bass: (&[SYNTH_BASS, SYNTH_BASS2], &[B_OFFBEAT, B_OCTAVE]),
        comp: &[
            layer!(PIANO, Piano, STABS, 1),
            layer!(PLUCK, Arp, ARP_16, 1),
        ],
        pads: &[layer!(POLY_PAD, Pad, "", 0), layer!(SWEEP_PAD, Pad, "", 0)],
        extras: &[layer!(SAW_LEAD, Lead, "", 3)],
        intro_bars: 4,
        ending_bars: 4,
    },
    Style {
        id: "reggae",
        name: "Reggae",
        names: &[
            "reggae",
            "ska",
            "dub",
            "roots",
            "rootsreggae",
            "dancehall",
            "rocksteady",
        ],
        tempo: (65.0, 100.0),
        swing: 0.2,
        energy: 0.5,
        moods: &[
            "laid back",
            "sunny",
            "positive",
            "chill",
            "relaxing",
            "summer",
        ],
        habits: habits(
            0.7,
            -0.2,
            -0.3,
            0.3,
            0.2,
            0.4,
            intervals(&[2]),
            intervals(&[2]),
        ),
        kit: kits::STANDARD,
        grooves: &[REGGAE, STEPPERS],
        bass: (&[FINGER_BASS, FINGER_BASS], &[B_REGGAE, B_REGGAE]),
        comp: &[
            layer!(CLEAN_GTR, Guitar, SKANK, 0),
            layer!(ORGAN, Keys, SKANK_2, 0),
        ],
        pads: &[layer!(ORGAN, Keys, "", 2), layer!(BRASS, Brass, "", 3)],
        extras: &[],
        intro_bars: 2,
        ending_bars: 2,
    },
    Style {
        id: "country",
        name: "Country",
        names: &[
            "country",
            "bluegrass",
            "western",
            "countrypop",
            "honkytonk",
            "nashville",
        ],
        tempo: (80.0, 140.0),
        swing: 0.0,
        energy: 0.6,
        moods: &["warm", "nostalgic", "heartfelt", "hopeful", "rural"],
        habits: habits(
            1.0,
            -0.4,
            0.3,
            0.2,
            0.0,
            0.7,
            intervals(&[2]),
            intervals(&[2]),
        ),
        kit: kits::STANDARD,
        grooves: &[COUNTRY, SHUFFLE],
        bass: (&[FINGER_BASS, UPRIGHT], &[B_COUNTRY, B_COUNTRY]),
        comp: &[
            layer!(STEEL, Guitar, STRUM_FOLK, 0),
            layer!(BANJO, Guitar, ARP_8, 0),
        ],
        pads: &[
            layer!(HARMONICA, Lead, "", 3),
            layer!(PIANO, Piano, BOOM_CHICK, 1),
        ],
        extras: &[layer!(CLEAN_GTR, Lead, "", 2)],
        intro_bars: 2,
        ending_bars: 2,
    },
    Style {
        id: "cinematic",
        name: "Cinematic orchestral",
        names: &[
            "cinematic",
            "orchestral",
            "orchestra",
            "epic",
            "filmscore",
            "soundtrack",
            "score",
            "classical",
            "trailer",
            "symphonic",
        ],
        tempo: (60.0, 130.0),
        swing: 0.0,
        energy: 0.6,
        moods: &[
            "epic",
            "dramatic",
            "heroic",
            "dark",
            "majestic",
            "emotional",
            "mysterious",
            "inspiring",
        ],
        habits: habits(
            1.0,
            -0.2,
            0.3,
            0.8,
            0.4,
            0.8,
            intervals(&[2]),
            intervals(&[2]),
        ),
        kit: kits::ORCHESTRA,
        grooves: &[CINE_PULSE, CINEMATIC],
        bass: (
            &[CELLO, inst!("Contrabass", 43, Strings)],
            &[B_HALVES, B_ROOT_8],
        ),
        comp: &[
            layer!(PIZZ, Strings, ARP_8, 0),
            layer!(HARP, Piano, ARP_BALLAD, 0),
        ],
        pads: &[
            layer!(STRINGS, Strings, "", 0),
            layer!(SLOW_STRINGS, Strings, "", 0),
        ],
        extras: &[layer!(HORN, Brass, "", 2), layer!(CHOIR, Pad, "", 3)],
        intro_bars: 4,
        ending_bars: 2,
    },
    Style {
        id: "ambient",
        name: "Ambient",
        names: &[
            "ambient",
            "atmospheric",
            "newage",
            "drone",
            "chillout",
            "downtempo",
            "meditation",
            "spa",
            "soundscape",
            "dreampop",
            "shoegaze",
        ],
        tempo: (50.0, 110.0),
        swing: 0.0,
        energy: 0.15,
        moods: &[
            "relaxing",
            "calm",
            "dreamy",
            "ethereal",
            "peaceful",
            "spacey",
            "meditative",
            "floating",
            "sleepy",
        ],
        habits: habits(
            0.5,
            0.6,
            0.8,
            0.4,
            0.2,
            0.3,
            intervals(&[2, 9]),
            intervals(&[2, 5]),
        ),
        kit: kits::ELECTRONIC,
        grooves: &[AMBIENT, AMBIENT_RIM],
        bass: (&[FRETLESS, SYNTH_BASS2], &[B_WHOLE, B_WHOLE]),
        comp: &[
            layer!(CELESTA, Keys, ARP_8, 1),
            layer!(PIANO, Piano, WHOLE, 0),
        ],
        pads: &[
            layer!(HALO_PAD, Pad, "", 0),
            layer!(NEW_AGE_PAD, Pad, "", 0),
        ],
        extras: &[layer!(OOHS, Pad, "", 2)],
        intro_bars: 4,
        ending_bars: 4,
    },
    Style {
        id: "gospel",
        name: "Gospel",
        names: &[
            "gospel",
            "church",
            "worship",
            "praise",
            "spiritual",
            "christian",
            "choir",
        ],
        tempo: (65.0, 130.0),
        swing: 0.4,
        energy: 0.65,
        moods: &[
            "uplifting",
            "joyful",
            "spiritual",
            "soulful",
            "powerful",
            "inspiring",
        ],
        habits: habits(1.5, 0.8, 0.4, 0.5, 0.0, 0.9, JAZZ_MAJ, JAZZ_MIN),
        kit: kits::STANDARD,
        grooves: &[GOSPEL, BALLAD_HALF],
        bass: (&[FINGER_BASS, FINGER_BASS], &[B_POP, B_WALK]),
        comp: &[
            layer!(PIANO, Piano, GOSPEL_COMP, 0),
            layer!(ORGAN, Keys, HALVES, 0),
        ],
        pads: &[layer!(CHURCH_ORGAN, Keys, "", 2), layer!(CHOIR, Pad, "", 2)],
        extras: &[layer!(TAMBOURINE_I, Percussion, "", 2)],
        intro_bars: 2,
        ending_bars: 2,
    },
    Style {
        id: "blues",
        name: "Blues",
        names: &[
            "blues",
            "bluesrock",
            "deltablues",
            "chicagoblues",
            "rhythmandblues12bar",
            "shuffle",
        ],
        tempo: (60.0, 140.0),
        swing: 0.65,
        energy: 0.55,
        moods: &["gritty", "soulful", "sad", "raw", "smoky"],
        habits: habits(
            1.0,
            0.9,
            -0.5,
            0.5,
            0.3,
            0.6,
            intervals(&[2, 3, 9]),
            intervals(&[2, 5]),
        ),
        kit: kits::STANDARD,
        grooves: &[SHUFFLE, SWING],
        bass: (&[FINGER_BASS, UPRIGHT], &[B_WALK, B_COUNTRY]),
        comp: &[
            layer!(CLEAN_GTR, Guitar, FOUR_CHUNK, 0),
            layer!(PIANO, Piano, BLOCK_4, 0),
        ],
        pads: &[layer!(ORGAN, Keys, "", 2), layer!(HARMONICA, Lead, "", 3)],
        extras: &[],
        intro_bars: 4,
        ending_bars: 2,
    },
    Style {
        id: "disco",
        name: "Disco",
        names: &[
            "disco",
            "nudisco",
            "funkydisco",
            "seventies",
            "70s",
            "70sdisco",
        ],
        tempo: (110.0, 130.0),
        swing: 0.0,
        energy: 0.85,
        moods: &["dance", "party", "happy", "groovy", "glamorous"],
        habits: habits(
            1.0,
            0.7,
            0.0,
            0.2,
            0.3,
            0.4,
            intervals(&[2, 9]),
            intervals(&[2, 5]),
        ),
        kit: kits::STANDARD,
        grooves: &[DISCO, HOUSE],
        bass: (&[FINGER_BASS, SLAP_BASS], &[B_OCTAVE, B_FUNK]),
        comp: &[
            layer!(MUTED_GTR, Guitar, FUNK_CHICK, 0),
            layer!(RHODES, Keys, STABS, 0),
        ],
        pads: &[
            layer!(STRINGS, Strings, "", 1),
            layer!(SYNTH_STRINGS, Strings, "", 1),
        ],
        extras: &[layer!(BRASS, Brass, "", 3)],
        intro_bars: 4,
        ending_bars: 2,
    },
    Style {
        id: "synthwave",
        name: "Synthwave",
        names: &[
            "synthwave",
            "synthpop",
            "retrowave",
            "80s",
            "eighties",
            "outrun",
            "newwave",
            "vaporwave",
            "chillwave",
            "synth",
        ],
        tempo: (80.0, 120.0),
        swing: 0.0,
        energy: 0.7,
        moods: &["nostalgic", "retro", "dreamy", "night", "neon", "cool"],
        habits: habits(
            0.8,
            0.3,
            0.3,
            0.4,
            0.5,
            0.4,
            intervals(&[2]),
            intervals(&[2]),
        ),
        kit: kits::ELECTRONIC,
        grooves: &[SYNTHWAVE, POP_8],
        bass: (&[SYNTH_BASS, SYNTH_BASS2], &[B_SIXTEENTH, B_ROOT_8]),
        comp: &[layer!(PLUCK, Arp, ARP_16, 1), layer!(EP2, Keys, STABS, 0)],
        pads: &[
            layer!(POLY_PAD, Pad, "", 0),
            layer!(SYNTH_STRINGS, Strings, "", 0),
        ],
        extras: &[
            layer!(SYNTH_BRASS, Brass, "", 3),
            layer!(SQUARE_LEAD, Lead, "", 2),
        ],
        intro_bars: 4,
        ending_bars: 2,
    },
    Style {
        id: "metal",
        name: "Metal",
        names: &[
            "metal",
            "heavymetal",
            "metalcore",
            "numetal",
            "heavy",
            "thrash",
        ],
        tempo: (100.0, 200.0),
        swing: 0.0,
        energy: 1.0,
        moods: &[
            "aggressive",
            "angry",
            "dark",
            "heavy",
            "intense",
            "powerful",
        ],
        habits: habits(
            1.0,
            -0.8,
            -0.5,
            0.9,
            0.8,
            0.4,
            intervals(&[2]),
            intervals(&[2]),
        ),
        kit: kits::POWER,
        grooves: &[METAL, ROCK_8],
        bass: (&[PICK_BASS, PICK_BASS], &[B_ROOT_8, B_KICK]),
        comp: &[
            layer!(DIST_GTR, Guitar, POWER_8, 0),
            layer!(DIST_GTR, Guitar, "X.x.X.x.xxX.x.X.", 0),
        ],
        pads: &[
            layer!(STRINGS, Strings, "", 3),
            layer!(CHOIR_PAD, Pad, "", 3),
        ],
        extras: &[],
        intro_bars: 4,
        ending_bars: 2,
    },
];

/// The style a request falls back to when its tags name no genre (the "default band").
pub fn default_style() -> &'static Style {
    &CATALOGUE[0]
}

/// A catalogue style by id.
pub fn by_id(id: &str) -> Option<&'static Style> {
    CATALOGUE.iter().find(|s| s.id == id)
}

/// Every instrument a style can use (bass, comping, pads, extras, kit), for exclusions.
pub fn instruments(style: &Style) -> Vec<Instrument> {
    let mut v: Vec<Instrument> = style.bass.0.to_vec();
    for l in style.comp.iter().chain(style.pads).chain(style.extras) {
        v.push(l.instrument);
    }
    v
}

/// The family of a General MIDI program (bank 0) or of a percussion part (bank 128), by the
/// GM 1 program groups; `None` for sound effects.
pub fn family_of_program(program: u8, bank: u16, role: bandmate_core::PartRole) -> Option<Family> {
    if bank == 128 || role.is_percussion() {
        return Some(if role == bandmate_core::PartRole::Percussion {
            Family::Percussion
        } else {
            Family::Drums
        });
    }
    Some(match program {
        0..=3 => Family::Piano,
        4..=7 => Family::ElectricPiano,
        8..=15 => Family::Mallets,
        16..=20 => Family::Organ,
        21..=23 => Family::Woodwind,
        24..=25 => Family::AcousticGuitar,
        26..=31 => Family::ElectricGuitar,
        32..=39 => Family::Bass,
        46 => Family::Plucked,
        40..=51 => Family::Strings,
        52..=54 => Family::Choir,
        55..=63 => Family::Brass,
        64..=67 => Family::Sax,
        68..=79 => Family::Woodwind,
        80..=87 => Family::Synth,
        88..=95 => Family::Pad,
        104..=107 => Family::Plucked,
        108..=111 => Family::Plucked,
        112..=119 => Family::Percussion,
        _ => return None,
    })
}

/// Pad colours for weird requests (weirdness >= 0.7, variation 2): sounds no style uses as
/// its default pad.
pub fn unusual_pads() -> [Layer; 5] {
    [
        layer!(SWEEP_PAD, Pad, "", 1),
        layer!(CHOIR_PAD, Pad, "", 1),
        layer!(OOHS, Pad, "", 1),
        layer!(inst!("Metallic pad", 93, Pad), Pad, "", 1),
        layer!(inst!("Bowed glass", 92, Pad), Pad, "", 1),
    ]
}

/// The SoundFont preset, as `(bank, program)`, that an instrument in `role` is played with:
/// percussion roles play a kit (bank 128), everything else a General MIDI program of bank 0.
/// The arranger writes exactly this into each [`bandmate_core::Part`].
pub fn preset_of(program: u8, role: PartRole) -> (u16, u8) {
    if role.is_percussion() {
        (128, program)
    } else {
        (0, program)
    }
}

/// Every SoundFont preset, as `(bank, program)` sorted and without repeats, that any
/// arrangement can ask for: each style's drum kit, bass options, comping, pad and extra
/// layers (leads and hand percussion among them), the instruments a tag can add or a
/// fallback can choose ([`instrument_for`], every family) and the pads weirdness swaps in
/// ([`unusual_pads`]). The renderer loads only these (a SoundFont's other presets are never
/// played); a property test arranges random inputs with random tags, negative tags, weights,
/// models and seeds and checks every part plays one of them.
pub fn presets() -> Vec<(u16, u8)> {
    let mut v = Vec::new();
    for s in CATALOGUE {
        v.push((128, s.kit));
        v.extend(
            s.bass
                .0
                .iter()
                .map(|i| preset_of(i.program, PartRole::Bass)),
        );
        for l in s.comp.iter().chain(s.pads).chain(s.extras) {
            v.push(preset_of(l.instrument.program, l.role));
        }
    }
    for l in Family::ALL
        .into_iter()
        .map(instrument_for)
        .chain(unusual_pads())
    {
        v.push(preset_of(l.instrument.program, l.role));
    }
    v.sort_unstable();
    v.dedup();
    v
}

/// Instruments a tag can add to any band (piano, strings …), by family.
pub fn instrument_for(family: Family) -> Layer {
    match family {
        Family::Piano => layer!(PIANO, Piano, BLOCK_4, 0),
        Family::ElectricPiano => layer!(RHODES, Keys, RNB_EP, 0),
        Family::Organ => layer!(ORGAN, Keys, "", 1),
        Family::AcousticGuitar => layer!(STEEL, Guitar, STRUM_FOLK, 0),
        Family::ElectricGuitar => layer!(CLEAN_GTR, Guitar, STRUM_8, 1),
        Family::Bass => layer!(FINGER_BASS, Bass, B_POP, 0),
        Family::Strings => layer!(STRINGS, Strings, "", 1),
        Family::Brass => layer!(BRASS, Brass, "", 2),
        Family::Sax => layer!(ALTO_SAX, Lead, "", 1),
        Family::Woodwind => layer!(FLUTE, Lead, "", 1),
        Family::Synth => layer!(PLUCK, Arp, ARP_8, 1),
        Family::Pad => layer!(WARM_PAD, Pad, "", 0),
        Family::Choir => layer!(CHOIR, Pad, "", 1),
        Family::Mallets => layer!(GLOCK, Arp, ARP_8, 2),
        Family::Drums => layer!(PIANO, Drums, "", 0),
        Family::Percussion => layer!(SHAKER_I, Percussion, "", 1),
        Family::Plucked => layer!(HARP, Arp, ARP_BALLAD, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(p: &str, alphabet: &str) -> bool {
        p.chars().all(|c| alphabet.contains(c))
    }

    #[test]
    fn family_all_lists_every_family_once() {
        // No wildcard arm: a new family does not compile here until it is given a place
        // here, and the next place in `Family::ALL` with it.
        fn place(f: Family) -> usize {
            use Family::*;
            match f {
                Piano => 0,
                ElectricPiano => 1,
                Organ => 2,
                AcousticGuitar => 3,
                ElectricGuitar => 4,
                Bass => 5,
                Strings => 6,
                Brass => 7,
                Sax => 8,
                Woodwind => 9,
                Synth => 10,
                Pad => 11,
                Choir => 12,
                Mallets => 13,
                Drums => 14,
                Percussion => 15,
                Plucked => 16,
            }
        }
        let places: Vec<usize> = Family::ALL.iter().map(|&f| place(f)).collect();
        assert_eq!(places, (0..Family::ALL.len()).collect::<Vec<_>>());
    }

    #[test]
    fn catalogue_is_complete_and_well_formed() {
        assert!(CATALOGUE.len() >= 16);
        for s in CATALOGUE {
            assert!(!s.grooves.is_empty(), "{}", s.id);
            assert!(!s.bass.0.is_empty() && !s.bass.1.is_empty(), "{}", s.id);
            assert!(!s.comp.is_empty() && !s.pads.is_empty(), "{}", s.id);
            assert!(s.tempo.0 < s.tempo.1, "{}", s.id);
            for g in s.grooves {
                for (key, p) in g.lines {
                    assert!((35..=81).contains(key), "{} {}", s.id, g.name);
                    assert_eq!(p.len(), 16, "{} {}", s.id, g.name);
                    assert!(valid(p, "Xxo."), "{} {}", s.id, g.name);
                }
            }
            for p in s.bass.1 {
                assert!(
                    *p == "K" || (p.len() == 16 && valid(p, "R5837A-.")),
                    "{} {p}",
                    s.id
                );
            }
            for l in s.comp.iter().chain(s.pads).chain(s.extras) {
                assert!(
                    l.pattern.is_empty() || l.pattern.len() == 16,
                    "{} {}",
                    s.id,
                    l.pattern
                );
                assert!(valid(l.pattern, "Xxdu1234-."), "{} {}", s.id, l.pattern);
            }
        }
        let mut ids: Vec<&str> = CATALOGUE.iter().map(|s| s.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), CATALOGUE.len());
    }
}
