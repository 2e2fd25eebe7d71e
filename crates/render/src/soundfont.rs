//! SoundFont 2 loading (SoundFont Technical Specification 2.04, E-mu Systems 1996–2006).
//!
//! The file is read once, front to back, from any `Read`: the sample data straight into one
//! `Vec<i16>` (no second copy of the largest chunk), the preset data ("hydra") into memory.
//! Every preset is then flattened into [`Zone`]s: one per pair of a preset zone and an
//! instrument zone whose key and velocity ranges meet, with the generators combined the way
//! section 9.4 of the specification says (instrument values, global instrument zone as
//! default, preset values added as offsets, ranges intersected). Playing a note is then a
//! scan of one preset's zones; nothing is looked up in the hydra again.
//!
//! Malformed files are errors, never panics: every index and size is checked, and sample
//! bounds are clamped into the sample data.
//!
//! [`SoundFont::with_presets`] keeps only the presets a list of `(bank, program)` requests
//! resolves to (with the same General MIDI fallbacks [`SoundFont::preset`] applies) and only
//! the sample data their zones play: the referenced ranges are moved down in place, each
//! followed by 46 zero frames as the specification asks after every sample, the zones'
//! offsets remapped, and the rest of the pool released. Playing a listed preset reads exactly
//! the same sample values as with the whole font, so the output is the same, bit for bit.

use std::io::Read;

use crate::RenderError;

/// Generator numbers of SF2.04 section 8.1.2 that the player reads.
pub(crate) mod op {
    pub const START_ADDRS_OFFSET: usize = 0;
    pub const END_ADDRS_OFFSET: usize = 1;
    pub const STARTLOOP_ADDRS_OFFSET: usize = 2;
    pub const ENDLOOP_ADDRS_OFFSET: usize = 3;
    pub const START_ADDRS_COARSE_OFFSET: usize = 4;
    pub const MOD_LFO_TO_PITCH: usize = 5;
    pub const VIB_LFO_TO_PITCH: usize = 6;
    pub const MOD_ENV_TO_PITCH: usize = 7;
    pub const INITIAL_FILTER_FC: usize = 8;
    pub const INITIAL_FILTER_Q: usize = 9;
    pub const MOD_LFO_TO_FILTER_FC: usize = 10;
    pub const MOD_ENV_TO_FILTER_FC: usize = 11;
    pub const END_ADDRS_COARSE_OFFSET: usize = 12;
    pub const MOD_LFO_TO_VOLUME: usize = 13;
    pub const PAN: usize = 17;
    pub const DELAY_MOD_LFO: usize = 21;
    pub const FREQ_MOD_LFO: usize = 22;
    pub const DELAY_VIB_LFO: usize = 23;
    pub const FREQ_VIB_LFO: usize = 24;
    pub const DELAY_MOD_ENV: usize = 25;
    pub const ATTACK_MOD_ENV: usize = 26;
    pub const HOLD_MOD_ENV: usize = 27;
    pub const DECAY_MOD_ENV: usize = 28;
    pub const SUSTAIN_MOD_ENV: usize = 29;
    pub const RELEASE_MOD_ENV: usize = 30;
    pub const KEYNUM_TO_MOD_ENV_HOLD: usize = 31;
    pub const KEYNUM_TO_MOD_ENV_DECAY: usize = 32;
    pub const DELAY_VOL_ENV: usize = 33;
    pub const ATTACK_VOL_ENV: usize = 34;
    pub const HOLD_VOL_ENV: usize = 35;
    pub const DECAY_VOL_ENV: usize = 36;
    pub const SUSTAIN_VOL_ENV: usize = 37;
    pub const RELEASE_VOL_ENV: usize = 38;
    pub const KEYNUM_TO_VOL_ENV_HOLD: usize = 39;
    pub const KEYNUM_TO_VOL_ENV_DECAY: usize = 40;
    pub const INSTRUMENT: usize = 41;
    pub const KEY_RANGE: usize = 43;
    pub const VEL_RANGE: usize = 44;
    pub const STARTLOOP_ADDRS_COARSE_OFFSET: usize = 45;
    pub const KEYNUM: usize = 46;
    pub const VELOCITY: usize = 47;
    pub const INITIAL_ATTENUATION: usize = 48;
    pub const ENDLOOP_ADDRS_COARSE_OFFSET: usize = 50;
    pub const COARSE_TUNE: usize = 51;
    pub const FINE_TUNE: usize = 52;
    pub const SAMPLE_ID: usize = 53;
    pub const SAMPLE_MODES: usize = 54;
    pub const SCALE_TUNING: usize = 56;
    pub const EXCLUSIVE_CLASS: usize = 57;
    pub const OVERRIDING_ROOT_KEY: usize = 58;
    /// One past the last generator.
    pub const COUNT: usize = 61;
}

/// Generators a preset zone may not set (SF2.04 8.1.3: sample addresses, modes and the
/// instrument-only overrides); they are ignored there.
const INSTRUMENT_ONLY: [usize; 13] = [
    op::START_ADDRS_OFFSET,
    op::END_ADDRS_OFFSET,
    op::STARTLOOP_ADDRS_OFFSET,
    op::ENDLOOP_ADDRS_OFFSET,
    op::START_ADDRS_COARSE_OFFSET,
    op::END_ADDRS_COARSE_OFFSET,
    op::STARTLOOP_ADDRS_COARSE_OFFSET,
    op::KEYNUM,
    op::VELOCITY,
    op::ENDLOOP_ADDRS_COARSE_OFFSET,
    op::SAMPLE_MODES,
    op::EXCLUSIVE_CLASS,
    op::OVERRIDING_ROOT_KEY,
];

/// Default generator values (SF2.04 8.1.3).
fn defaults() -> [i16; op::COUNT] {
    let mut g = [0i16; op::COUNT];
    g[op::INITIAL_FILTER_FC] = 13_500;
    for i in [
        op::DELAY_MOD_LFO,
        op::DELAY_VIB_LFO,
        op::DELAY_MOD_ENV,
        op::ATTACK_MOD_ENV,
        op::HOLD_MOD_ENV,
        op::DECAY_MOD_ENV,
        op::RELEASE_MOD_ENV,
        op::DELAY_VOL_ENV,
        op::ATTACK_VOL_ENV,
        op::HOLD_VOL_ENV,
        op::DECAY_VOL_ENV,
        op::RELEASE_VOL_ENV,
    ] {
        g[i] = -12_000;
    }
    g[op::KEY_RANGE] = range(0, 127);
    g[op::VEL_RANGE] = range(0, 127);
    g[op::KEYNUM] = -1;
    g[op::VELOCITY] = -1;
    g[op::SCALE_TUNING] = 100;
    g[op::OVERRIDING_ROOT_KEY] = -1;
    g
}

/// A key or velocity range packed like the file does (low byte first).
fn range(lo: u8, hi: u8) -> i16 {
    i16::from_le_bytes([lo, hi])
}

fn unpack(v: i16) -> (u8, u8) {
    let [lo, hi] = v.to_le_bytes();
    (lo, hi)
}

/// One playable region: a sample with every generator resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    /// Lowest and highest key (inclusive).
    pub keys: (u8, u8),
    /// Lowest and highest velocity (inclusive).
    pub velocities: (u8, u8),
    /// Combined generator values (instrument values plus preset offsets).
    pub(crate) gens: [i16; op::COUNT],
    /// First and one-past-last sample frame in the font's sample data.
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// Loop start and end (exclusive); meaningful when `loop_mode` loops.
    pub(crate) loop_start: usize,
    pub(crate) loop_end: usize,
    /// 0 no loop, 1 loop, 3 loop until release.
    pub(crate) loop_mode: u8,
    /// The sample's own rate in Hz.
    pub(crate) sample_rate: u32,
    /// MIDI key at which the sample plays at its own pitch.
    pub(crate) root_key: u8,
    /// Sample pitch correction in cents.
    pub(crate) pitch_correction: i8,
}

impl Zone {
    /// Whether this zone sounds for `key` at `velocity`.
    pub fn contains(&self, key: u8, velocity: u8) -> bool {
        (self.keys.0..=self.keys.1).contains(&key)
            && (self.velocities.0..=self.velocities.1).contains(&velocity)
    }

    pub(crate) fn get(&self, g: usize) -> i32 {
        i32::from(self.gens[g])
    }
}

/// A preset: an instrument sound addressed by bank and program.
#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    /// Name from the file.
    pub name: String,
    /// Bank (128 for percussion kits).
    pub bank: u16,
    /// Program number.
    pub program: u8,
    /// Its playable zones.
    pub zones: Vec<Zone>,
}

/// A loaded SoundFont.
#[derive(Debug, Clone, PartialEq)]
pub struct SoundFont {
    name: String,
    presets: Vec<Preset>,
    /// All sample data, 16-bit, mono, concatenated.
    pub(crate) data: Vec<i16>,
    /// The `(bank, program)` requests the font was loaded for (normalised by [`request`],
    /// sorted); `None` when every preset was loaded.
    requests: Option<Vec<(u16, u8)>>,
}

/// Zero frames after each sample range kept (SF2.04 7.10: "at least forty-six zero valued
/// sample data points" follow every sample, so interpolation past the end reads silence).
const GUARD: usize = 46;

/// A request as the player looks it up: every bank from 128 up is percussion (bank 128),
/// programs above 127 play 127.
pub(crate) fn request(bank: u16, program: u8) -> (u16, u8) {
    (bank.min(128), program.min(127))
}

/// Limits on the file, so a corrupt header cannot ask for absurd memory.
const MAX_SAMPLE_BYTES: u64 = 2 << 30;
const MAX_HYDRA_BYTES: u64 = 64 << 20;

fn bad(msg: impl Into<String>) -> RenderError {
    RenderError::SoundFont(msg.into())
}

fn read_exact<R: Read>(r: &mut R, buf: &mut [u8]) -> Result<(), RenderError> {
    r.read_exact(buf)
        .map_err(|e| bad(format!("the file ends early or cannot be read ({e})")))
}

fn fourcc<R: Read>(r: &mut R) -> Result<[u8; 4], RenderError> {
    let mut b = [0u8; 4];
    read_exact(r, &mut b)?;
    Ok(b)
}

fn u32_le<R: Read>(r: &mut R) -> Result<u32, RenderError> {
    Ok(u32::from_le_bytes(fourcc(r)?))
}

fn skip<R: Read>(r: &mut R, n: u64) -> Result<(), RenderError> {
    let copied = std::io::copy(&mut r.take(n), &mut std::io::sink())
        .map_err(|e| bad(format!("cannot read the file ({e})")))?;
    if copied != n {
        return Err(bad("the file ends inside a chunk"));
    }
    Ok(())
}

fn name_of(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).trim().to_string()
}

/// The hydra's records, raw.
#[derive(Default)]
struct Hydra {
    phdr: Vec<u8>,
    pbag: Vec<u8>,
    pgen: Vec<u8>,
    inst: Vec<u8>,
    ibag: Vec<u8>,
    igen: Vec<u8>,
    shdr: Vec<u8>,
}

struct SampleHeader {
    start: u32,
    end: u32,
    loop_start: u32,
    loop_end: u32,
    rate: u32,
    pitch: u8,
    correction: i8,
    kind: u16,
}

impl SoundFont {
    /// Read a SoundFont 2 file, every preset.
    pub fn new<R: Read>(r: &mut R) -> Result<Self, RenderError> {
        Self::load(r, None)
    }

    /// Read a SoundFont 2 file, keeping only the presets that `presets` (as `(bank,
    /// program)`, as a part asks for them) resolve to and the sample data those play. The
    /// file is still read once, front to back: the sample chunk comes before the preset data,
    /// so it is read whole and then compacted in place. Asking [`SoundFont::preset`] for one
    /// of `presets` gives what the whole font gives; [`SoundFont::serves`] tells which
    /// requests were loaded. An empty list is an error.
    pub fn with_presets<R: Read>(r: &mut R, presets: &[(u16, u8)]) -> Result<Self, RenderError> {
        if presets.is_empty() {
            return Err(bad("no presets were asked for"));
        }
        Self::load(r, Some(presets))
    }

    fn load<R: Read>(r: &mut R, wanted: Option<&[(u16, u8)]>) -> Result<Self, RenderError> {
        if &fourcc(r)? != b"RIFF" {
            return Err(bad("not a RIFF file"));
        }
        let total = u64::from(u32_le(r)?);
        if &fourcc(r)? != b"sfbk" {
            return Err(bad("not a SoundFont 2 file (no sfbk form)"));
        }
        let mut left = total.saturating_sub(4);
        let mut name = String::new();
        let mut data: Option<Vec<i16>> = None;
        let mut hydra = Hydra::default();
        while left >= 8 {
            let id = fourcc(r)?;
            let size = u64::from(u32_le(r)?);
            left = left.saturating_sub(8);
            let padded = size + (size & 1);
            if &id != b"LIST" {
                skip(r, padded)?;
                left = left.saturating_sub(padded);
                continue;
            }
            let kind = fourcc(r)?;
            let mut inner = size.saturating_sub(4);
            while inner >= 8 {
                let sid = fourcc(r)?;
                let ssize = u64::from(u32_le(r)?);
                let spadded = ssize + (ssize & 1);
                if spadded + 8 > inner {
                    return Err(bad("a sub-chunk overruns its list"));
                }
                match (&kind, &sid) {
                    (b"INFO", b"INAM") if ssize <= 256 => {
                        let mut b = vec![0u8; spadded as usize];
                        read_exact(r, &mut b)?;
                        name = name_of(&b);
                    }
                    (b"sdta", b"smpl") => {
                        if ssize > MAX_SAMPLE_BYTES {
                            return Err(bad(format!("sample data of {ssize} bytes is too large")));
                        }
                        data = Some(read_samples(r, ssize)?);
                        skip(r, spadded - ssize)?;
                    }
                    (b"pdta", _) => {
                        if ssize > MAX_HYDRA_BYTES {
                            return Err(bad("preset data is too large"));
                        }
                        let mut b = vec![0u8; spadded as usize];
                        read_exact(r, &mut b)?;
                        b.truncate(ssize as usize);
                        match &sid {
                            b"phdr" => hydra.phdr = b,
                            b"pbag" => hydra.pbag = b,
                            b"pgen" => hydra.pgen = b,
                            b"inst" => hydra.inst = b,
                            b"ibag" => hydra.ibag = b,
                            b"igen" => hydra.igen = b,
                            b"shdr" => hydra.shdr = b,
                            _ => {}
                        }
                    }
                    _ => skip(r, spadded)?,
                }
                inner -= spadded + 8;
            }
            skip(r, inner)?;
            left = left.saturating_sub(padded);
        }
        let mut data = data.ok_or_else(|| bad("no sample data (smpl chunk)"))?;
        let mut presets = build_presets(&hydra, data.len())?;
        drop(hydra);
        if presets.is_empty() {
            return Err(bad("no presets"));
        }
        let requests = wanted.map(|w| {
            let mut r: Vec<(u16, u8)> = w.iter().map(|&(b, p)| request(b, p)).collect();
            r.sort_unstable();
            r.dedup();
            r
        });
        if let Some(requests) = &requests {
            let keep: Vec<usize> = requests
                .iter()
                .map(|&(b, p)| resolve(&presets, b, p))
                .collect();
            presets = presets
                .into_iter()
                .enumerate()
                .filter(|(i, _)| keep.contains(i))
                .map(|(_, p)| p)
                .collect();
            compact(&mut data, &mut presets);
        }
        Ok(Self {
            name,
            presets,
            data,
            requests,
        })
    }

    /// The font's name (INFO/INAM).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Every preset.
    pub fn presets(&self) -> &[Preset] {
        &self.presets
    }

    /// Bytes of sample data held.
    pub fn sample_bytes(&self) -> usize {
        self.data.len() * 2
    }

    /// Whether a part asking for `bank` and `program` plays what it would play with the whole
    /// font: always for a font loaded whole, and for one loaded with
    /// [`SoundFont::with_presets`] when the request was in its list.
    pub fn serves(&self, bank: u16, program: u8) -> bool {
        self.requests
            .as_ref()
            .is_none_or(|r| r.binary_search(&request(bank, program)).is_ok())
    }

    /// The preset for `bank` and `program`, falling back as General MIDI players do: a
    /// missing percussion kit becomes the standard kit (bank 128, program 0), a missing
    /// melodic variation bank becomes bank 0, and failing all that the lowest preset. On a
    /// font loaded with [`SoundFont::with_presets`] this holds for the listed requests; others
    /// fall back among the loaded presets ([`SoundFont::serves`] says which is which).
    pub fn preset(&self, bank: u16, program: u8) -> &Preset {
        &self.presets[resolve(&self.presets, bank, program)]
    }
}

/// The index of the preset [`SoundFont::preset`] plays for `bank` and `program`; `presets`
/// is not empty.
fn resolve(presets: &[Preset], bank: u16, program: u8) -> usize {
    let find = |b: u16, p: u8| presets.iter().position(|x| x.bank == b && x.program == p);
    find(bank, program)
        .or_else(|| {
            if bank >= 128 {
                find(128, 0)
            } else {
                find(0, program)
            }
        })
        .unwrap_or_else(|| {
            (0..presets.len())
                .min_by_key(|&i| (presets[i].bank, presets[i].program))
                .unwrap_or(0)
        })
}

/// Keep only the sample data `presets`' zones play, moved down in place, and remap their
/// offsets. Zones read only inside their `[start, end)` (loops lie inside it), so the ranges
/// are merged where they overlap or lie within [`GUARD`] frames of each other, copied down in
/// order, each followed by [`GUARD`] zero frames. Ranges separated by more than [`GUARD`]
/// frames never move up, so the copy can run in place without a second pool.
fn compact(data: &mut Vec<i16>, presets: &mut [Preset]) {
    let mut ranges: Vec<(usize, usize)> = presets
        .iter()
        .flat_map(|p| p.zones.iter().map(|z| (z.start, z.end)))
        .collect();
    ranges.sort_unstable();
    // (old start, old end, new start)
    let mut blocks: Vec<(usize, usize, usize)> = Vec::new();
    for (s, e) in ranges {
        match blocks.last_mut() {
            Some(b) if s <= b.1 + GUARD => b.1 = b.1.max(e),
            _ => blocks.push((s, e, 0)),
        }
    }
    let mut at = 0;
    for b in &mut blocks {
        let len = b.1 - b.0;
        data.copy_within(b.0..b.1, at);
        b.2 = at;
        at += len;
        // Only the last range can end within GUARD frames of the pool's end.
        if data.len() < at + GUARD {
            data.resize(at + GUARD, 0);
        }
        data[at..at + GUARD].fill(0);
        at += GUARD;
    }
    data.truncate(at);
    data.shrink_to_fit();
    for z in presets.iter_mut().flat_map(|p| p.zones.iter_mut()) {
        let i = blocks.partition_point(|b| b.0 <= z.start) - 1;
        let (old, _, new) = blocks[i];
        let moved = |x: usize| x.clamp(z.start, z.end) - old + new;
        z.loop_start = moved(z.loop_start);
        z.loop_end = moved(z.loop_end);
        z.start = z.start - old + new;
        z.end = z.end - old + new;
    }
}

fn read_samples<R: Read>(r: &mut R, bytes: u64) -> Result<Vec<i16>, RenderError> {
    let n = (bytes / 2) as usize;
    let mut out = Vec::with_capacity(n);
    let mut buf = vec![0u8; 1 << 16];
    let mut left = bytes;
    let mut carry: Option<u8> = None;
    while left > 0 {
        let want = (buf.len() as u64).min(left) as usize;
        let got = r
            .read(&mut buf[..want])
            .map_err(|e| bad(format!("cannot read sample data ({e})")))?;
        if got == 0 {
            return Err(bad("the file ends inside the sample data"));
        }
        let mut chunk = &buf[..got];
        if let Some(lo) = carry.take() {
            out.push(i16::from_le_bytes([lo, chunk[0]]));
            chunk = &chunk[1..];
        }
        let pairs = chunk.chunks_exact(2);
        if let [b] = pairs.remainder() {
            carry = Some(*b);
        }
        out.extend(pairs.map(|p| i16::from_le_bytes([p[0], p[1]])));
        left -= got as u64;
    }
    out.truncate(n);
    Ok(out)
}

fn u16_at(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Records of `size` bytes, the terminal record dropped.
fn records(b: &[u8], size: usize, what: &str) -> Result<Vec<usize>, RenderError> {
    if b.len() < 2 * size || !b.len().is_multiple_of(size) {
        return Err(bad(format!(
            "the {what} chunk has a bad size ({} bytes)",
            b.len()
        )));
    }
    Ok((0..b.len() / size).map(|i| i * size).collect())
}

/// Zones of one level: for each zone, its (generator, amount) list.
fn zones_of(
    bag: &[u8],
    gens: &[u8],
    first_bag: usize,
    end_bag: usize,
) -> Result<Vec<Vec<(usize, i16)>>, RenderError> {
    let n_bags = bag.len() / 4;
    let n_gens = gens.len() / 4;
    if first_bag > end_bag || end_bag >= n_bags {
        return Err(bad("a zone index points outside the bag list"));
    }
    let mut out = Vec::with_capacity(end_bag - first_bag);
    for z in first_bag..end_bag {
        let g0 = u16_at(bag, z * 4);
        let g1 = u16_at(bag, (z + 1) * 4);
        if g0 > g1 || g1 > n_gens {
            return Err(bad("a zone's generators lie outside the generator list"));
        }
        let list = (g0..g1)
            .map(|g| {
                let op = u16_at(gens, g * 4);
                let amount = i16::from_le_bytes([gens[g * 4 + 2], gens[g * 4 + 3]]);
                (op, amount)
            })
            .filter(|&(op, _)| op < op::COUNT)
            .collect();
        out.push(list);
    }
    Ok(out)
}

fn intersect(a: (u8, u8), b: (u8, u8)) -> Option<(u8, u8)> {
    let lo = a.0.max(b.0);
    let hi = a.1.min(b.1);
    (lo <= hi).then_some((lo, hi))
}

fn build_presets(h: &Hydra, data_len: usize) -> Result<Vec<Preset>, RenderError> {
    let phdr = records(&h.phdr, 38, "phdr")?;
    let inst = records(&h.inst, 22, "inst")?;
    let shdr = records(&h.shdr, 46, "shdr")?;
    records(&h.pbag, 4, "pbag")?;
    records(&h.ibag, 4, "ibag")?;
    records(&h.pgen, 4, "pgen")?;
    records(&h.igen, 4, "igen")?;
    let samples: Vec<SampleHeader> = shdr
        .iter()
        .map(|&o| {
            let b = &h.shdr[o..o + 46];
            SampleHeader {
                start: u32_at(b, 20),
                end: u32_at(b, 24),
                loop_start: u32_at(b, 28),
                loop_end: u32_at(b, 32),
                rate: u32_at(b, 36),
                pitch: b[40],
                correction: b[41] as i8,
                kind: u16::from_le_bytes([b[44], b[45]]),
            }
        })
        .collect();
    // Instruments, flattened to (ranges, generators, sample) lists.
    let mut instruments: Vec<Vec<[i16; op::COUNT]>> = Vec::with_capacity(inst.len());
    for w in inst.windows(2) {
        let b0 = u16_at(&h.inst, w[0] + 20);
        let b1 = u16_at(&h.inst, w[1] + 20);
        let zones = zones_of(&h.ibag, &h.igen, b0, b1)?;
        let mut global = defaults();
        let mut list = Vec::new();
        for (zi, z) in zones.iter().enumerate() {
            let has_sample = z.iter().any(|&(op, _)| op == op::SAMPLE_ID);
            if !has_sample {
                if zi == 0 {
                    for &(op, v) in z {
                        global[op] = v;
                    }
                }
                continue;
            }
            let mut g = global;
            for &(op, v) in z {
                g[op] = v;
            }
            list.push(g);
        }
        instruments.push(list);
    }
    let mut presets = Vec::new();
    for w in phdr.windows(2) {
        let b = &h.phdr[w[0]..w[0] + 38];
        let name = name_of(&b[..20]);
        let program = u16_at(b, 20);
        let bank = u16_at(b, 22);
        let b0 = u16_at(b, 24);
        let b1 = u16_at(&h.phdr, w[1] + 24);
        let zones = zones_of(&h.pbag, &h.pgen, b0, b1)?;
        let mut pglobal = [0i16; op::COUNT];
        pglobal[op::KEY_RANGE] = range(0, 127);
        pglobal[op::VEL_RANGE] = range(0, 127);
        let mut out = Vec::new();
        for (zi, z) in zones.iter().enumerate() {
            let inst_id = z
                .iter()
                .find(|&&(op, _)| op == op::INSTRUMENT)
                .map(|&(_, v)| v as u16 as usize);
            let Some(inst_id) = inst_id else {
                if zi == 0 {
                    for &(op, v) in z {
                        pglobal[op] = v;
                    }
                }
                continue;
            };
            let Some(izones) = instruments.get(inst_id) else {
                return Err(bad(format!(
                    "preset {name} names instrument {inst_id}, which does not exist"
                )));
            };
            let mut p = pglobal;
            for &(op, v) in z {
                p[op] = v;
            }
            for ig in izones {
                let Some(keys) = intersect(unpack(p[op::KEY_RANGE]), unpack(ig[op::KEY_RANGE]))
                else {
                    continue;
                };
                let Some(vels) = intersect(unpack(p[op::VEL_RANGE]), unpack(ig[op::VEL_RANGE]))
                else {
                    continue;
                };
                let mut g = *ig;
                for op in 0..op::COUNT {
                    if matches!(
                        op,
                        op::KEY_RANGE | op::VEL_RANGE | op::INSTRUMENT | op::SAMPLE_ID
                    ) || INSTRUMENT_ONLY.contains(&op)
                    {
                        continue;
                    }
                    g[op] = (i32::from(g[op]) + i32::from(p[op]))
                        .clamp(i32::from(i16::MIN), i32::from(i16::MAX))
                        as i16;
                }
                let sid = g[op::SAMPLE_ID] as u16 as usize;
                let Some(s) = samples.get(sid) else {
                    return Err(bad(format!(
                        "an instrument names sample {sid}, which does not exist"
                    )));
                };
                if s.kind & 0x8000 != 0 {
                    // ROM samples are not in the file.
                    continue;
                }
                if let Some(zone) = make_zone(&g, s, keys, vels, data_len) {
                    out.push(zone);
                }
            }
        }
        presets.push(Preset {
            name,
            bank: bank.min(u16::MAX as usize) as u16,
            program: program.min(127) as u8,
            zones: out,
        });
    }
    Ok(presets)
}

fn make_zone(
    g: &[i16; op::COUNT],
    s: &SampleHeader,
    keys: (u8, u8),
    velocities: (u8, u8),
    data_len: usize,
) -> Option<Zone> {
    let off = |fine: usize, coarse: usize| i64::from(g[fine]) + 32_768 * i64::from(g[coarse]);
    let clamp = |v: i64| v.clamp(0, data_len as i64) as usize;
    let start =
        clamp(i64::from(s.start) + off(op::START_ADDRS_OFFSET, op::START_ADDRS_COARSE_OFFSET));
    let end = clamp(i64::from(s.end) + off(op::END_ADDRS_OFFSET, op::END_ADDRS_COARSE_OFFSET));
    if end <= start + 1 {
        return None;
    }
    let loop_start = clamp(
        i64::from(s.loop_start)
            + off(
                op::STARTLOOP_ADDRS_OFFSET,
                op::STARTLOOP_ADDRS_COARSE_OFFSET,
            ),
    );
    let loop_end = clamp(
        i64::from(s.loop_end) + off(op::ENDLOOP_ADDRS_OFFSET, op::ENDLOOP_ADDRS_COARSE_OFFSET),
    );
    let mut loop_mode = match g[op::SAMPLE_MODES] & 3 {
        1 => 1,
        3 => 3,
        _ => 0,
    };
    // A loop must lie inside the sample and be at least a few samples long.
    if loop_mode != 0 && !(start <= loop_start && loop_start + 2 < loop_end && loop_end <= end) {
        loop_mode = 0;
    }
    let root = if g[op::OVERRIDING_ROOT_KEY] >= 0 {
        g[op::OVERRIDING_ROOT_KEY].clamp(0, 127) as u8
    } else if s.pitch <= 127 {
        s.pitch
    } else {
        // 255 marks an unpitched sample: play it at its own rate on middle C.
        60
    };
    Some(Zone {
        keys,
        velocities,
        gens: *g,
        start,
        end,
        loop_start,
        loop_end,
        loop_mode,
        sample_rate: s.rate.clamp(400, 384_000),
        root_key: root,
        pitch_correction: s.correction,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bandmate_testkit::soundfont as testfont;

    #[test]
    fn loads_the_generated_font() {
        let bytes = testfont::font();
        let f = SoundFont::new(&mut bytes.as_slice()).unwrap();
        assert_eq!(f.name(), "Bandmate Test Font");
        let piano = f.preset(0, 0);
        assert_eq!(piano.name, "Test Piano");
        assert!(!piano.zones.is_empty());
        let kit = f.preset(128, 0);
        assert_eq!(kit.bank, 128);
        // Fallbacks: an unknown kit is the standard kit, an unknown program the lowest preset.
        assert_eq!(f.preset(128, 25).name, kit.name);
        assert_eq!(f.preset(0, 99).bank, 0);
        // A zone for middle C exists and its loop is valid.
        let z = piano.zones.iter().find(|z| z.contains(60, 100)).unwrap();
        assert!(z.loop_mode == 1 && z.loop_start < z.loop_end && z.loop_end <= z.end);
    }

    #[test]
    fn preset_offsets_add_to_instrument_values() {
        let bytes = testfont::font();
        let f = SoundFont::new(&mut bytes.as_slice()).unwrap();
        // The test font's pad preset adds 100 cB attenuation at preset level on top of the
        // instrument's 20.
        let pad = f.preset(0, 48);
        assert!(
            pad.zones
                .iter()
                .all(|z| z.get(op::INITIAL_ATTENUATION) == 120)
        );
    }

    #[test]
    fn a_subset_keeps_the_listed_presets_and_the_samples_they_play() {
        let bytes = testfont::font();
        let full = SoundFont::new(&mut bytes.as_slice()).unwrap();
        // (0, 99) is not in the font: like the whole font, it plays the lowest preset.
        let asked = [(0, 33), (128, 0), (0, 99)];
        let sub = SoundFont::with_presets(&mut bytes.as_slice(), &asked).unwrap();
        let names: Vec<&str> = sub.presets().iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["Test Piano", "Test Bass", "Test Kit"]);
        // The pad's sample is gone.
        assert!(
            sub.sample_bytes() < full.sample_bytes(),
            "{} of {} bytes",
            sub.sample_bytes(),
            full.sample_bytes()
        );
        for (bank, program) in asked {
            assert!(sub.serves(bank, program));
            let (a, b) = (full.preset(bank, program), sub.preset(bank, program));
            assert_eq!(a.name, b.name);
            assert_eq!(a.zones.len(), b.zones.len());
            for (x, y) in a.zones.iter().zip(&b.zones) {
                assert_eq!(
                    (x.keys, x.velocities, x.gens),
                    (y.keys, y.velocities, y.gens)
                );
                assert_eq!(
                    (x.loop_mode, x.sample_rate, x.root_key, x.pitch_correction),
                    (y.loop_mode, y.sample_rate, y.root_key, y.pitch_correction)
                );
                assert_eq!(full.data[x.start..x.end], sub.data[y.start..y.end]);
                assert_eq!(
                    (x.loop_start - x.start, x.loop_end - x.start),
                    (y.loop_start - y.start, y.loop_end - y.start)
                );
                assert!(sub.data[y.end..y.end + GUARD].iter().all(|&v| v == 0));
            }
        }
        // Requests outside the list are not served; any bank from 128 up is the kit's.
        assert!(!sub.serves(0, 48) && !sub.serves(0, 25) && !sub.serves(128, 25));
        assert!(sub.serves(200, 0));
        assert!(full.serves(0, 48) && full.serves(7, 3));
        assert!(SoundFont::with_presets(&mut bytes.as_slice(), &[]).is_err());
    }

    fn zone(start: usize, end: usize, looped: Option<(usize, usize)>) -> Zone {
        Zone {
            keys: (0, 127),
            velocities: (0, 127),
            gens: defaults(),
            start,
            end,
            loop_start: looped.map_or(0, |l| l.0),
            loop_end: looped.map_or(0, |l| l.1),
            loop_mode: u8::from(looped.is_some()),
            sample_rate: 44_100,
            root_key: 60,
            pitch_correction: 0,
        }
    }

    #[test]
    fn compaction_moves_overlapping_and_offset_ranges_and_guards_each_block() {
        let original: Vec<i16> = (0..2000).map(|i| (i % 1000 + 1) as i16).collect();
        let zones = vec![
            zone(100, 200, Some((120, 180))),
            // Overlaps the first, loop points outside it (not looping: kept inside the range).
            zone(150, 260, None),
            // 40 frames after the previous range: one block with it.
            zone(300, 310, None),
            zone(500, 600, Some((510, 590))),
            // Ends at the end of the pool: the guard frames are appended.
            zone(1950, 2000, None),
        ];
        let mut presets = vec![Preset {
            name: "x".into(),
            bank: 0,
            program: 0,
            zones: zones.clone(),
        }];
        let mut data = original.clone();
        compact(&mut data, &mut presets);
        assert_eq!(
            data.len(),
            (310 - 100) + (600 - 500) + (2000 - 1950) + 3 * GUARD
        );
        for (old, new) in zones.iter().zip(&presets[0].zones) {
            assert_eq!(original[old.start..old.end], data[new.start..new.end]);
            if old.loop_mode != 0 {
                assert_eq!(old.loop_start - old.start, new.loop_start - new.start);
                assert_eq!(old.loop_end - old.start, new.loop_end - new.start);
            } else {
                assert!(new.start <= new.loop_start && new.loop_end <= new.end);
            }
        }
        for new in &presets[0].zones[2..] {
            assert!(data[new.end..new.end + GUARD].iter().all(|&v| v == 0));
        }
    }

    #[test]
    fn malformed_files_are_errors_not_panics() {
        let good = testfont::font();
        assert!(SoundFont::new(&mut &b"RIFX"[..]).is_err());
        assert!(SoundFont::new(&mut &good[..good.len() / 2]).is_err());
        // Every truncation and a sweep of single-byte corruptions either loads or errors.
        for cut in (0..good.len()).step_by(97) {
            let _ = SoundFont::new(&mut &good[..cut]);
        }
        for at in (0..good.len()).step_by(13) {
            let mut bad = good.clone();
            bad[at] ^= 0xA5;
            let _ = SoundFont::new(&mut bad.as_slice());
            if at % 91 == 0 {
                let _ = SoundFont::with_presets(&mut bad.as_slice(), &[(0, 0), (128, 0), (0, 33)]);
            }
        }
    }
}
