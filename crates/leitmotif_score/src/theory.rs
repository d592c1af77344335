//! Music theory: pitch classes, modes, scales, keys, chords and key estimation.
//!
//! Everything here works on the twelve pitch classes of equal temperament and on MIDI
//! pitch numbers (`0..=127`). Names are parsed leniently (`"F# dorian"`, `"Ebm"`,
//! `"a harmonic minor"`) and written in the conventional spelling of their key.
//!
//! ```
//! use leitmotif_score::theory::{Key, Mode, PitchClass, Scale, estimate_key, pitch_class_histogram};
//!
//! let scale: Scale = "D dorian".parse()?;
//! assert_eq!(scale.mode, Mode::Dorian);
//! assert!(scale.contains(PitchClass::B));
//! assert_eq!(scale.snap(66), 65); // F# snaps to F
//!
//! let key = Key::from_key_signature(-1, true)?;
//! assert_eq!(key.name(), "D minor");
//!
//! // C D E F G, mostly on C and G: C major.
//! let histogram = pitch_class_histogram([(60, 2.0), (62, 1.0), (64, 1.0), (65, 1.0), (67, 2.0)]);
//! let estimate = estimate_key(&histogram).expect("histogram has variance");
//! assert_eq!(estimate.key, Key::major(PitchClass::C));
//! # Ok::<(), leitmotif_score::theory::TheoryError>(())
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An error from parsing or constructing a music-theory value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TheoryError {
    /// The text is not a pitch-class name such as `C`, `F#` or `Bb`.
    #[error("unknown pitch class {0:?} (expected a letter A-G with optional # or b)")]
    UnknownPitchClass(String),
    /// The text is not a mode name such as `major`, `dorian` or `blues`.
    #[error("unknown mode {0:?}")]
    UnknownMode(String),
    /// The text is not a chord name such as `Dm`, `G7` or `Bm7b5`.
    #[error("unknown chord {0:?}")]
    UnknownChord(String),
    /// A pitch-class number outside `0..=11`.
    #[error("pitch class {0} is out of range 0..=11")]
    PitchClassOutOfRange(u8),
    /// A key signature with more than seven sharps or flats.
    #[error("key signature of {0} sharps is out of range -7..=7")]
    KeySignatureOutOfRange(i8),
    /// A scale whose mode is neither major nor natural minor, so it is not a key.
    #[error("{0} is not a major or minor key mode")]
    NotAKey(Mode),
}

/// How to spell the five black-key pitch classes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Spelling {
    /// `C#`, `D#`, `F#`, `G#`, `A#`.
    #[default]
    Sharps,
    /// `Db`, `Eb`, `Gb`, `Ab`, `Bb`.
    Flats,
}

const SHARP_NAMES: [&str; 12] = [
    "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
];
const FLAT_NAMES: [&str; 12] = [
    "C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B",
];

/// One of the twelve pitch classes, `0` = C up to `11` = B.
///
/// Serialized as its number; deserializing rejects numbers above 11.
#[derive(
    Debug, Default, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(try_from = "u8", into = "u8")]
pub struct PitchClass(u8);

impl PitchClass {
    /// The pitch class C.
    pub const C: Self = Self(0);
    /// The pitch class D.
    pub const D: Self = Self(2);
    /// The pitch class E.
    pub const E: Self = Self(4);
    /// The pitch class F.
    pub const F: Self = Self(5);
    /// The pitch class G.
    pub const G: Self = Self(7);
    /// The pitch class A.
    pub const A: Self = Self(9);
    /// The pitch class B.
    pub const B: Self = Self(11);

    /// Returns the pitch class numbered `value`, or `None` if it is not in `0..=11`.
    pub const fn new(value: u8) -> Option<Self> {
        if value < 12 { Some(Self(value)) } else { None }
    }

    /// Returns the pitch class of a MIDI pitch (`60` = middle C gives C).
    pub const fn from_midi(pitch: u8) -> Self {
        Self(pitch % 12)
    }

    /// Returns the number of this pitch class, in `0..=11`.
    pub const fn index(self) -> u8 {
        self.0
    }

    /// Returns the pitch class `semitones` above (or, if negative, below) this one.
    pub const fn transpose(self, semitones: i32) -> Self {
        // `rem_euclid` first keeps the sum far from overflow for any `i32`.
        Self(((self.0 as i32 + semitones.rem_euclid(12)) % 12) as u8)
    }

    /// Returns the upward interval in semitones (`0..=11`) from this pitch class to `other`.
    pub const fn interval_to(self, other: Self) -> u8 {
        (other.0 + 12 - self.0) % 12
    }

    /// Returns the name of this pitch class, spelling black keys with sharps or flats.
    pub const fn name(self, spelling: Spelling) -> &'static str {
        match spelling {
            Spelling::Sharps => SHARP_NAMES[self.0 as usize],
            Spelling::Flats => FLAT_NAMES[self.0 as usize],
        }
    }
}

impl TryFrom<u8> for PitchClass {
    type Error = TheoryError;

    fn try_from(value: u8) -> Result<Self, Self::Error> {
        Self::new(value).ok_or(TheoryError::PitchClassOutOfRange(value))
    }
}

impl From<PitchClass> for u8 {
    fn from(pitch_class: PitchClass) -> Self {
        pitch_class.0
    }
}

impl fmt::Display for PitchClass {
    /// Writes the sharp spelling, e.g. `F#`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name(Spelling::Sharps))
    }
}

impl FromStr for PitchClass {
    type Err = TheoryError;

    /// Parses a letter `A`-`G` (any case) followed by any number of `#`, `♯`, `b` or `♭`,
    /// so enharmonic names such as `B#`, `Cb` or `E#` are accepted.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        match split_pitch_class(text) {
            Some((pitch_class, "")) => Ok(pitch_class),
            _ => Err(TheoryError::UnknownPitchClass(text.to_owned())),
        }
    }
}

/// Splits a leading pitch-class name off `text`, returning it and the unparsed rest.
fn split_pitch_class(text: &str) -> Option<(PitchClass, &str)> {
    let mut chars = text.char_indices();
    let (_, letter) = chars.next()?;
    let natural = match letter.to_ascii_uppercase() {
        'C' => 0,
        'D' => 2,
        'E' => 4,
        'F' => 5,
        'G' => 7,
        'A' => 9,
        'B' => 11,
        _ => return None,
    };
    let mut pitch_class = PitchClass(natural);
    for (index, c) in chars {
        match c {
            '#' | '♯' => pitch_class = pitch_class.transpose(1),
            'b' | '♭' => pitch_class = pitch_class.transpose(-1),
            _ => return Some((pitch_class, &text[index..])),
        }
    }
    Some((pitch_class, ""))
}

/// A scale pattern: the intervals above a tonic that belong to the scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Major (Ionian): 0 2 4 5 7 9 11.
    #[serde(alias = "ionian")]
    Major,
    /// Natural minor (Aeolian): 0 2 3 5 7 8 10.
    #[serde(alias = "minor", alias = "aeolian")]
    NaturalMinor,
    /// Harmonic minor: 0 2 3 5 7 8 11.
    HarmonicMinor,
    /// Melodic minor, ascending form: 0 2 3 5 7 9 11.
    MelodicMinor,
    /// Dorian: 0 2 3 5 7 9 10.
    Dorian,
    /// Phrygian: 0 1 3 5 7 8 10.
    Phrygian,
    /// Lydian: 0 2 4 6 7 9 11.
    Lydian,
    /// Mixolydian: 0 2 4 5 7 9 10.
    Mixolydian,
    /// Locrian: 0 1 3 5 6 8 10.
    Locrian,
    /// Major pentatonic: 0 2 4 7 9.
    #[serde(alias = "pentatonic")]
    MajorPentatonic,
    /// Minor pentatonic: 0 3 5 7 10.
    MinorPentatonic,
    /// Minor blues hexatonic: 0 3 5 6 7 10.
    Blues,
}

impl Mode {
    /// Every mode, in declaration order.
    pub const ALL: [Self; 12] = [
        Self::Major,
        Self::NaturalMinor,
        Self::HarmonicMinor,
        Self::MelodicMinor,
        Self::Dorian,
        Self::Phrygian,
        Self::Lydian,
        Self::Mixolydian,
        Self::Locrian,
        Self::MajorPentatonic,
        Self::MinorPentatonic,
        Self::Blues,
    ];

    /// Returns the ascending semitone offsets above the tonic, starting with `0`.
    pub const fn intervals(self) -> &'static [u8] {
        match self {
            Self::Major => &[0, 2, 4, 5, 7, 9, 11],
            Self::NaturalMinor => &[0, 2, 3, 5, 7, 8, 10],
            Self::HarmonicMinor => &[0, 2, 3, 5, 7, 8, 11],
            Self::MelodicMinor => &[0, 2, 3, 5, 7, 9, 11],
            Self::Dorian => &[0, 2, 3, 5, 7, 9, 10],
            Self::Phrygian => &[0, 1, 3, 5, 7, 8, 10],
            Self::Lydian => &[0, 2, 4, 6, 7, 9, 11],
            Self::Mixolydian => &[0, 2, 4, 5, 7, 9, 10],
            Self::Locrian => &[0, 1, 3, 5, 6, 8, 10],
            Self::MajorPentatonic => &[0, 2, 4, 7, 9],
            Self::MinorPentatonic => &[0, 3, 5, 7, 10],
            Self::Blues => &[0, 3, 5, 6, 7, 10],
        }
    }

    /// Returns whether the mode has a minor third (3 semitones) above its tonic.
    pub const fn is_minor(self) -> bool {
        let intervals = self.intervals();
        // Intervals are ascending and every mode has 0 first, so the third sits at 1 or 2.
        intervals[1] == 3 || intervals[2] == 3
    }

    /// Returns whether the mode has seven notes, and so diatonic triads and sevenths.
    pub const fn is_heptatonic(self) -> bool {
        self.intervals().len() == 7
    }

    /// Returns the lowercase name that [`Display`](fmt::Display) writes, e.g. `"harmonic minor"`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Major => "major",
            Self::NaturalMinor => "minor",
            Self::HarmonicMinor => "harmonic minor",
            Self::MelodicMinor => "melodic minor",
            Self::Dorian => "dorian",
            Self::Phrygian => "phrygian",
            Self::Lydian => "lydian",
            Self::Mixolydian => "mixolydian",
            Self::Locrian => "locrian",
            Self::MajorPentatonic => "major pentatonic",
            Self::MinorPentatonic => "minor pentatonic",
            Self::Blues => "blues",
        }
    }

    /// Returns how far above the tonic of its parent major scale this mode's tonic lies;
    /// the parent decides how the scale is spelled.
    const fn offset_from_parent_major(self) -> i32 {
        match self {
            Self::Major | Self::MajorPentatonic => 0,
            Self::Dorian => 2,
            Self::Phrygian => 4,
            Self::Lydian => 5,
            Self::Mixolydian => 7,
            Self::NaturalMinor
            | Self::HarmonicMinor
            | Self::MelodicMinor
            | Self::MinorPentatonic
            | Self::Blues => 9,
            Self::Locrian => 11,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Mode {
    type Err = TheoryError;

    /// Parses a mode name, ignoring case and treating `-` and `_` as spaces.
    ///
    /// Accepted: `major`, `ionian`, `maj`; `minor`, `natural minor`, `aeolian`, `min`;
    /// `harmonic minor`; `melodic minor`, `jazz minor`; `dorian`, `phrygian`, `lydian`,
    /// `mixolydian`, `locrian`; `major pentatonic`, `pentatonic`; `minor pentatonic`;
    /// `blues`, `minor blues`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let normalized = s
            .to_lowercase()
            .replace(['-', '_'], " ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        Ok(match normalized.as_str() {
            "major" | "ionian" | "maj" => Self::Major,
            "minor" | "natural minor" | "aeolian" | "min" => Self::NaturalMinor,
            "harmonic minor" => Self::HarmonicMinor,
            "melodic minor" | "jazz minor" => Self::MelodicMinor,
            "dorian" => Self::Dorian,
            "phrygian" => Self::Phrygian,
            "lydian" => Self::Lydian,
            "mixolydian" => Self::Mixolydian,
            "locrian" => Self::Locrian,
            "major pentatonic" | "pentatonic" => Self::MajorPentatonic,
            "minor pentatonic" => Self::MinorPentatonic,
            "blues" | "minor blues" => Self::Blues,
            _ => return Err(TheoryError::UnknownMode(s.trim().to_owned())),
        })
    }
}

/// A scale: a tonic and a mode, e.g. D dorian.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Scale {
    /// The first degree of the scale.
    pub tonic: PitchClass,
    /// The interval pattern above the tonic.
    pub mode: Mode,
}

impl Scale {
    /// Creates the scale of `mode` on `tonic`.
    pub const fn new(tonic: PitchClass, mode: Mode) -> Self {
        Self { tonic, mode }
    }

    /// Returns the scale's pitch classes in degree order, starting at the tonic.
    pub fn pitch_classes(&self) -> Vec<PitchClass> {
        self.mode
            .intervals()
            .iter()
            .map(|&interval| self.tonic.transpose(i32::from(interval)))
            .collect()
    }

    /// Returns whether `pitch_class` belongs to the scale.
    pub fn contains(&self, pitch_class: PitchClass) -> bool {
        self.degree_of(pitch_class).is_some()
    }

    /// Returns whether the MIDI `pitch` belongs to the scale.
    pub fn contains_pitch(&self, pitch: u8) -> bool {
        self.contains(PitchClass::from_midi(pitch))
    }

    /// Returns the zero-based degree of `pitch_class` (`0` = tonic), or `None` if it is
    /// not in the scale.
    pub fn degree_of(&self, pitch_class: PitchClass) -> Option<usize> {
        let interval = self.tonic.interval_to(pitch_class);
        self.mode.intervals().iter().position(|&i| i == interval)
    }

    /// Returns a membership table indexed by pitch-class number.
    pub fn mask(&self) -> [bool; 12] {
        let mut mask = [false; 12];
        for &interval in self.mode.intervals() {
            mask[usize::from(self.tonic.transpose(i32::from(interval)).index())] = true;
        }
        mask
    }

    /// Returns the MIDI pitch of zero-based scale `degree` counted from the tonic nearest
    /// to `reference` (ties go to the lower tonic).
    ///
    /// Degrees wrap into neighbouring octaves: with seven notes, `7` is the tonic an octave
    /// up and `-1` the seventh degree below. Returns `None` if the pitch falls outside
    /// `0..=127`.
    pub fn pitch_for_degree(&self, degree: i32, reference: u8) -> Option<u8> {
        let intervals = self.mode.intervals();
        let len = intervals.len() as i32;
        let above_tonic = i64::from(self.tonic.interval_to(PitchClass::from_midi(reference)));
        let tonic_pitch = if above_tonic <= 6 {
            i64::from(reference) - above_tonic
        } else {
            i64::from(reference) - above_tonic + 12
        };
        let octave = i64::from(degree.div_euclid(len));
        let interval = i64::from(intervals[degree.rem_euclid(len) as usize]);
        let pitch = tonic_pitch + 12 * octave + interval;
        u8::try_from(pitch).ok().filter(|&p| p <= 127)
    }

    /// Returns the in-scale MIDI pitch nearest to `pitch`, preferring the lower one on a tie.
    ///
    /// The result is always in `0..=127`; pitches above 127 are treated as 127.
    pub fn snap(&self, pitch: u8) -> u8 {
        let pitch = pitch.min(127);
        let mask = self.mask();
        let in_scale = |p: u8| mask[usize::from(p % 12)];
        for distance in 0..12 {
            if let Some(below) = pitch.checked_sub(distance).filter(|&p| in_scale(p)) {
                return below;
            }
            if let Some(above) = Some(pitch + distance).filter(|&p| p <= 127 && in_scale(p)) {
                return above;
            }
        }
        // Unreachable: every scale contains its tonic, which occurs within 11 semitones.
        pitch
    }

    /// Returns the spelling that suits this scale: that of the key signature it is written
    /// with.
    ///
    /// Minor-family modes (natural, harmonic and melodic minor, minor pentatonic, blues)
    /// use the minor key on their tonic; the others use their relative major (C major for
    /// D dorian). So `Eb minor` and `D dorian` spell as their [`Key`]s do.
    pub fn spelling(&self) -> Spelling {
        match self.mode.offset_from_parent_major() {
            9 => Key::minor(self.tonic).spelling(),
            offset => Key::major(self.tonic.transpose(-offset)).spelling(),
        }
    }

    /// Returns the diatonic triad on zero-based `degree` (wrapping every seven degrees),
    /// built by stacking scale thirds; `None` if the mode does not have seven notes.
    pub fn triad(&self, degree: usize) -> Option<Chord> {
        self.stacked_chord(degree, 3)
    }

    /// Returns the diatonic seventh chord on zero-based `degree` (wrapping every seven
    /// degrees), built by stacking scale thirds; `None` if the mode does not have seven notes.
    pub fn seventh(&self, degree: usize) -> Option<Chord> {
        self.stacked_chord(degree, 4)
    }

    fn stacked_chord(&self, degree: usize, notes: usize) -> Option<Chord> {
        if !self.mode.is_heptatonic() {
            return None;
        }
        let intervals = self.mode.intervals();
        let root = intervals[degree % 7];
        let mut chord_intervals = [0; 4];
        for (k, slot) in chord_intervals.iter_mut().enumerate().take(notes) {
            *slot = (intervals[(degree + 2 * k) % 7] + 12 - root) % 12;
        }
        Some(Chord {
            root: self.tonic.transpose(i32::from(root)),
            quality: ChordQuality::from_intervals(&chord_intervals[..notes])?,
        })
    }
}

impl fmt::Display for Scale {
    /// Writes e.g. `Eb dorian`, spelled per [`Scale::spelling`] (so `F# lydian`, whose
    /// relative major needs seven sharps, is written `Gb lydian`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.tonic.name(self.spelling()), self.mode)
    }
}

impl FromStr for Scale {
    type Err = TheoryError;

    /// Parses a tonic optionally followed by a mode: `"D minor"`, `"d"`, `"F# dorian"`,
    /// `"Bb-major"`, `"a harmonic minor"`, `"Dminor"`.
    ///
    /// A lone tonic means major. The mode may follow the tonic after whitespace, `-` or
    /// `_`, or directly; directly after it, `m` means natural minor and `M` major, as in
    /// `"C#m"` or `"Ebm"`. See [`Mode`]'s `FromStr` for the mode names.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let (tonic, rest) = split_pitch_class(text).ok_or_else(|| {
            let first = text.split(char::is_whitespace).next().unwrap_or_default();
            TheoryError::UnknownPitchClass(first.to_owned())
        })?;
        let mode_text = rest
            .strip_prefix(['-', '_'])
            .filter(|mode| !mode.is_empty())
            .unwrap_or(rest)
            .trim();
        let mode = match mode_text {
            "" | "M" => Mode::Major,
            "m" => Mode::NaturalMinor,
            name => name.parse()?,
        };
        Ok(Self { tonic, mode })
    }
}

/// A major or minor key: what a MIDI key signature can express.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Key {
    /// The key's tonic.
    pub tonic: PitchClass,
    /// Whether the key is minor (otherwise major).
    pub minor: bool,
}

impl Key {
    /// Creates the major key on `tonic`.
    pub const fn major(tonic: PitchClass) -> Self {
        Self {
            tonic,
            minor: false,
        }
    }

    /// Creates the minor key on `tonic`.
    pub const fn minor(tonic: PitchClass) -> Self {
        Self { tonic, minor: true }
    }

    /// Returns the key of a MIDI key signature: `sharps` counts sharps (negative for
    /// flats) and must be in `-7..=7`.
    ///
    /// For example `(-1, true)` is D minor and `(2, false)` is D major.
    ///
    /// # Errors
    ///
    /// [`TheoryError::KeySignatureOutOfRange`] if `sharps` is outside `-7..=7`.
    pub fn from_key_signature(sharps: i8, minor: bool) -> Result<Self, TheoryError> {
        if !(-7..=7).contains(&sharps) {
            return Err(TheoryError::KeySignatureOutOfRange(sharps));
        }
        let major_tonic = PitchClass::C.transpose(7 * i32::from(sharps));
        let tonic = if minor {
            major_tonic.transpose(9)
        } else {
            major_tonic
        };
        Ok(Self { tonic, minor })
    }

    /// Returns the conventional key signature as `(sharps, minor)`, sharps negative for flats.
    ///
    /// The spelling with fewer accidentals wins, so signatures of seven sharps or flats
    /// are never returned (C# major comes back as Db major). The one tie, six sharps or six
    /// flats, goes to sharps for major keys (F# major, not Gb) and to flats for minor
    /// keys (Eb minor, not D# minor).
    pub fn key_signature(&self) -> (i8, bool) {
        let major_tonic = if self.minor {
            self.tonic.transpose(3)
        } else {
            self.tonic
        };
        // 7 is its own inverse modulo 12: each fifth up adds one sharp.
        let sharps = (major_tonic.index() * 7 % 12) as i8;
        let sharps = match sharps {
            0..=5 => sharps,
            6 if !self.minor => 6,
            _ => sharps - 12,
        };
        (sharps, self.minor)
    }

    /// Returns [`Spelling::Flats`] for keys with flats in their signature, else sharps.
    pub fn spelling(&self) -> Spelling {
        if self.key_signature().0 < 0 {
            Spelling::Flats
        } else {
            Spelling::Sharps
        }
    }

    /// Returns the key's scale: major, or natural minor for minor keys.
    pub const fn scale(&self) -> Scale {
        let mode = if self.minor {
            Mode::NaturalMinor
        } else {
            Mode::Major
        };
        Scale::new(self.tonic, mode)
    }

    /// Returns the tonic's name spelled per the key signature, e.g. `"Eb"` or `"F#"`.
    pub fn tonic_name(&self) -> &'static str {
        self.tonic.name(self.spelling())
    }

    /// Returns the key's name, e.g. `"D minor"` or `"F# major"`.
    pub fn name(&self) -> String {
        let mode = if self.minor { "minor" } else { "major" };
        format!("{} {mode}", self.tonic_name())
    }

    /// Returns the key with the same signature and the other mode (C major ↔ A minor).
    pub const fn relative(&self) -> Self {
        if self.minor {
            Self::major(self.tonic.transpose(3))
        } else {
            Self::minor(self.tonic.transpose(9))
        }
    }

    /// Returns the key with the same tonic and the other mode (C major ↔ C minor).
    pub const fn parallel(&self) -> Self {
        Self {
            tonic: self.tonic,
            minor: !self.minor,
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl From<Key> for Scale {
    fn from(key: Key) -> Self {
        key.scale()
    }
}

impl TryFrom<Scale> for Key {
    type Error = TheoryError;

    /// Converts a major or natural minor scale; other modes give [`TheoryError::NotAKey`].
    fn try_from(scale: Scale) -> Result<Self, Self::Error> {
        match scale.mode {
            Mode::Major => Ok(Self::major(scale.tonic)),
            Mode::NaturalMinor => Ok(Self::minor(scale.tonic)),
            mode => Err(TheoryError::NotAKey(mode)),
        }
    }
}

impl FromStr for Key {
    type Err = TheoryError;

    /// Parses like [`Scale`] (`"D minor"`, `"Ebm"`, `"F#"`), accepting only major and minor.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<Scale>()?.try_into()
    }
}

/// The quality of a triad or seventh chord: its intervals above the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChordQuality {
    /// Major triad: 0 4 7.
    Major,
    /// Minor triad: 0 3 7.
    Minor,
    /// Diminished triad: 0 3 6.
    Diminished,
    /// Augmented triad: 0 4 8.
    Augmented,
    /// Major seventh: 0 4 7 11.
    Major7,
    /// Dominant seventh: 0 4 7 10.
    Dominant7,
    /// Minor seventh: 0 3 7 10.
    Minor7,
    /// Half-diminished seventh: 0 3 6 10.
    HalfDiminished7,
    /// Diminished seventh: 0 3 6 9.
    Diminished7,
    /// Minor-major seventh: 0 3 7 11 (the tonic seventh of harmonic and melodic minor).
    MinorMajor7,
    /// Augmented-major seventh: 0 4 8 11 (the mediant seventh of harmonic and melodic minor).
    AugmentedMajor7,
}

impl ChordQuality {
    /// Every quality: the four triads first, then the sevenths.
    pub const ALL: [Self; 11] = [
        Self::Major,
        Self::Minor,
        Self::Diminished,
        Self::Augmented,
        Self::Major7,
        Self::Dominant7,
        Self::Minor7,
        Self::HalfDiminished7,
        Self::Diminished7,
        Self::MinorMajor7,
        Self::AugmentedMajor7,
    ];

    /// Returns the semitone offsets of the chord tones above the root, starting with `0`.
    pub const fn intervals(self) -> &'static [u8] {
        match self {
            Self::Major => &[0, 4, 7],
            Self::Minor => &[0, 3, 7],
            Self::Diminished => &[0, 3, 6],
            Self::Augmented => &[0, 4, 8],
            Self::Major7 => &[0, 4, 7, 11],
            Self::Dominant7 => &[0, 4, 7, 10],
            Self::Minor7 => &[0, 3, 7, 10],
            Self::HalfDiminished7 => &[0, 3, 6, 10],
            Self::Diminished7 => &[0, 3, 6, 9],
            Self::MinorMajor7 => &[0, 3, 7, 11],
            Self::AugmentedMajor7 => &[0, 4, 8, 11],
        }
    }

    /// Returns the chord-symbol suffix: `""`, `"m"`, `"dim"`, `"aug"`, `"maj7"`, `"7"`,
    /// `"m7"`, `"m7b5"`, `"dim7"`, `"mMaj7"` or `"maj7#5"`.
    pub const fn symbol(self) -> &'static str {
        match self {
            Self::Major => "",
            Self::Minor => "m",
            Self::Diminished => "dim",
            Self::Augmented => "aug",
            Self::Major7 => "maj7",
            Self::Dominant7 => "7",
            Self::Minor7 => "m7",
            Self::HalfDiminished7 => "m7b5",
            Self::Diminished7 => "dim7",
            Self::MinorMajor7 => "mMaj7",
            Self::AugmentedMajor7 => "maj7#5",
        }
    }

    /// Returns whether this is a four-note seventh chord rather than a triad.
    pub const fn is_seventh(self) -> bool {
        self.intervals().len() == 4
    }

    /// Returns the quality whose [`intervals`](Self::intervals) are exactly `intervals`.
    pub fn from_intervals(intervals: &[u8]) -> Option<Self> {
        Self::ALL.into_iter().find(|q| q.intervals() == intervals)
    }

    /// Parses a chord-symbol suffix, accepting [`symbol`](Self::symbol) and common aliases.
    fn from_symbol(symbol: &str) -> Option<Self> {
        Some(match symbol {
            "" | "M" | "maj" => Self::Major,
            "m" | "min" | "-" => Self::Minor,
            "dim" | "°" | "o" => Self::Diminished,
            "aug" | "+" => Self::Augmented,
            "maj7" | "M7" | "Δ7" | "Δ" => Self::Major7,
            "7" | "dom7" => Self::Dominant7,
            "m7" | "min7" | "-7" => Self::Minor7,
            "m7b5" | "m7♭5" | "ø" | "ø7" => Self::HalfDiminished7,
            "dim7" | "°7" | "o7" => Self::Diminished7,
            "mMaj7" | "mM7" | "m(maj7)" => Self::MinorMajor7,
            "maj7#5" | "maj7♯5" | "+M7" | "augmaj7" => Self::AugmentedMajor7,
            _ => return None,
        })
    }
}

/// Penalty subtracted from a seventh chord's score in [`Chord::estimate`], so a triad wins
/// unless the seventh carries more than half this fraction of the total weight.
pub const CHORD_SEVENTH_PENALTY: f64 = 0.1;

/// Bonus per unit of root weight share added to a chord's score in [`Chord::estimate`].
pub const CHORD_ROOT_BONUS: f64 = 0.1;

/// A chord: a root and a quality, e.g. G7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Chord {
    /// The chord's root.
    pub root: PitchClass,
    /// The chord's quality.
    pub quality: ChordQuality,
}

impl Chord {
    /// Creates the chord of `quality` on `root`.
    pub const fn new(root: PitchClass, quality: ChordQuality) -> Self {
        Self { root, quality }
    }

    /// Returns the chord tones, root first.
    pub fn pitch_classes(&self) -> Vec<PitchClass> {
        self.quality
            .intervals()
            .iter()
            .map(|&interval| self.root.transpose(i32::from(interval)))
            .collect()
    }

    /// Returns whether `pitch_class` is a chord tone.
    pub fn contains(&self, pitch_class: PitchClass) -> bool {
        self.quality
            .intervals()
            .contains(&self.root.interval_to(pitch_class))
    }

    /// Returns the chord symbol with the root spelled as asked, e.g. `"Dm"`, `"G7"`, `"Bbmaj7"`.
    pub fn name(&self, spelling: Spelling) -> String {
        format!("{}{}", self.root.name(spelling), self.quality.symbol())
    }

    /// Returns the triad or seventh chord that best explains a pitch-class weight histogram
    /// (e.g. note durations in one bar), with its score; `None` if all weights are zero or
    /// any weight is negative or not finite.
    ///
    /// The score of a chord is (weight on chord tones − weight elsewhere) / total weight,
    /// minus [`CHORD_SEVENTH_PENALTY`] for seventh chords (triads are preferred), plus
    /// [`CHORD_ROOT_BONUS`] × (root weight / total weight) (a sounding root is preferred).
    /// On equal scores the first candidate wins, ordering by root (C first) and then by
    /// [`ChordQuality::ALL`].
    pub fn estimate(weights: &[f64; 12]) -> Option<(Self, f64)> {
        if weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
            return None;
        }
        let weights = normalized(weights)?;
        let total: f64 = weights.iter().sum();
        let mut best: Option<(Self, f64)> = None;
        for root in (0..12).map(PitchClass) {
            for quality in ChordQuality::ALL {
                let chord = Self::new(root, quality);
                let inside: f64 = quality
                    .intervals()
                    .iter()
                    .map(|&i| weights[usize::from(root.transpose(i32::from(i)).index())])
                    .sum();
                let mut score = (2.0 * inside - total) / total
                    + CHORD_ROOT_BONUS * weights[usize::from(root.index())] / total;
                if quality.is_seventh() {
                    score -= CHORD_SEVENTH_PENALTY;
                }
                if best.is_none_or(|(_, best_score)| score > best_score) {
                    best = Some((chord, score));
                }
            }
        }
        best
    }
}

impl fmt::Display for Chord {
    /// Writes the chord symbol with a sharp-spelled root, e.g. `C#m7`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name(Spelling::Sharps))
    }
}

impl FromStr for Chord {
    type Err = TheoryError;

    /// Parses a root and a [`ChordQuality::symbol`] or a common alias (`"M7"`, `"ø"`, `"+"`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        split_pitch_class(text)
            .and_then(|(root, rest)| Some(Self::new(root, ChordQuality::from_symbol(rest)?)))
            .ok_or_else(|| TheoryError::UnknownChord(text.to_owned()))
    }
}

/// The Krumhansl-Kessler (1982) major-key probe-tone profile, tonic first.
pub const KRUMHANSL_KESSLER_MAJOR: [f64; 12] = [
    6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88,
];

/// The Krumhansl-Kessler (1982) minor-key probe-tone profile, tonic first.
pub const KRUMHANSL_KESSLER_MINOR: [f64; 12] = [
    6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17,
];

/// The result of [`estimate_key`]: the best key and the next best, with their correlations.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KeyEstimate {
    /// The key whose profile correlates best with the histogram.
    pub key: Key,
    /// Pearson correlation of the histogram with `key`'s profile, in `-1.0..=1.0`.
    pub correlation: f64,
    /// The second-best key.
    pub runner_up: Key,
    /// Pearson correlation of the histogram with `runner_up`'s profile.
    pub runner_up_correlation: f64,
}

impl KeyEstimate {
    /// Returns how far the winner leads the runner-up; near zero means an ambiguous key.
    pub fn margin(&self) -> f64 {
        self.correlation - self.runner_up_correlation
    }
}

/// Estimates the key of a duration-weighted pitch-class histogram with the
/// Krumhansl-Schmuckler algorithm.
///
/// The histogram is correlated (Pearson) with [`KRUMHANSL_KESSLER_MAJOR`] and
/// [`KRUMHANSL_KESSLER_MINOR`] rotated to each of the 12 tonics. Returns `None` if any
/// value is not finite or all values are equal (including all zero), where correlation is
/// undefined. Ties are broken deterministically in favour of the earlier candidate in the
/// order C major, C# major, …, B major, C minor, …, B minor.
pub fn estimate_key(histogram: &[f64; 12]) -> Option<KeyEstimate> {
    if histogram.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let histogram = normalized(histogram)?;
    let majors = (0..12).map(|t| (Key::major(PitchClass(t)), &KRUMHANSL_KESSLER_MAJOR));
    let minors = (0..12).map(|t| (Key::minor(PitchClass(t)), &KRUMHANSL_KESSLER_MINOR));
    let mut scored = Vec::with_capacity(24);
    for (key, profile) in majors.chain(minors) {
        let rotated: [f64; 12] = std::array::from_fn(|pc| {
            profile[usize::from(key.tonic.interval_to(PitchClass(pc as u8)))]
        });
        let correlation = pearson(&histogram, &rotated)?;
        scored.push((key, correlation));
    }
    // A stable sort keeps candidate order among equal correlations.
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    let (key, correlation) = *scored.first()?;
    let (runner_up, runner_up_correlation) = *scored.get(1)?;
    Some(KeyEstimate {
        key,
        correlation,
        runner_up,
        runner_up_correlation,
    })
}

/// Returns finite `values` divided by their largest magnitude, so sums of them cannot
/// overflow; `None` if they are all zero.
fn normalized(values: &[f64; 12]) -> Option<[f64; 12]> {
    let largest = values.iter().fold(0.0_f64, |max, v| max.max(v.abs()));
    (largest > 0.0).then(|| values.map(|v| v / largest))
}

/// Returns the Pearson correlation of `x` and `y`, or `None` if it is undefined (`x` or `y`
/// is constant) or not finite.
fn pearson(x: &[f64; 12], y: &[f64; 12]) -> Option<f64> {
    if x.iter().all(|&v| v == x[0]) || y.iter().all(|&v| v == y[0]) {
        return None;
    }
    let mean_x = x.iter().sum::<f64>() / 12.0;
    let mean_y = y.iter().sum::<f64>() / 12.0;
    let (mut covariance, mut var_x, mut var_y) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mean_x, b - mean_y);
        covariance += dx * dy;
        var_x += dx * dx;
        var_y += dy * dy;
    }
    let correlation = covariance / (var_x * var_y).sqrt();
    correlation.is_finite().then_some(correlation)
}

/// Sums `(midi_pitch, weight)` pairs, e.g. pitches and durations, into a pitch-class histogram.
pub fn pitch_class_histogram(notes: impl IntoIterator<Item = (u8, f64)>) -> [f64; 12] {
    let mut histogram = [0.0; 12];
    for (pitch, weight) in notes {
        histogram[usize::from(pitch % 12)] += weight;
    }
    histogram
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pc(name: &str) -> PitchClass {
        name.parse().unwrap()
    }

    fn scale(name: &str) -> Scale {
        name.parse().unwrap()
    }

    /// Splits a test table line `left | right` into its trimmed halves.
    fn columns(line: &str) -> (&str, &str) {
        let (left, right) = line.split_once('|').unwrap();
        (left.trim(), right.trim())
    }

    /// Parses a tune written as `pitch:duration` pairs separated by spaces.
    fn tune(text: &str) -> [f64; 12] {
        pitch_class_histogram(text.split_whitespace().map(|note| {
            let (pitch, duration) = note.split_once(':').unwrap();
            (pitch.parse().unwrap(), duration.parse().unwrap())
        }))
    }

    #[test]
    fn pitch_class_arithmetic() {
        assert_eq!(PitchClass::from_midi(61), pc("C#"));
        assert_eq!(PitchClass::new(11), Some(PitchClass::B));
        assert_eq!(PitchClass::new(12), None);
        assert_eq!(
            PitchClass::try_from(12),
            Err(TheoryError::PitchClassOutOfRange(12))
        );
        assert_eq!(PitchClass::C.transpose(-1), PitchClass::B);
        assert_eq!(PitchClass::C.transpose(-13), PitchClass::B);
        assert_eq!(PitchClass::C.transpose(i32::MIN).index(), 4);
        assert_eq!(PitchClass::A.transpose(i32::MAX).index(), 4);
        assert_eq!(PitchClass::B.interval_to(PitchClass::C), 1);
        assert_eq!(PitchClass::C.interval_to(PitchClass::B), 11);
        assert_eq!(pc("A#").name(Spelling::Flats), "Bb");
        assert_eq!(pc("Bb").name(Spelling::Sharps), "A#");
    }

    #[test]
    fn pitch_class_parsing() {
        let names = "C c# Db Bb bb E♭ F♯ B# Cb E# Fb g C## Dbb";
        let values = [0, 1, 1, 10, 10, 3, 6, 0, 11, 5, 4, 7, 2, 0];
        for (text, value) in names.split(' ').zip(values) {
            assert_eq!(text.parse().map(PitchClass::index), Ok(value), "{text}");
        }
        for bad in ["", "H", "C sharp", "Cm", "#", "b#x", "C #"] {
            let expected = TheoryError::UnknownPitchClass(bad.into());
            assert_eq!(bad.parse::<PitchClass>(), Err(expected));
        }
    }

    #[test]
    fn serde_forms() {
        use serde::de::IntoDeserializer;
        use serde::de::value::{Error, StrDeserializer, U8Deserializer};
        let number: U8Deserializer<Error> = 7u8.into_deserializer();
        assert_eq!(PitchClass::deserialize(number), Ok(PitchClass::G));
        let too_big: U8Deserializer<Error> = 12u8.into_deserializer();
        assert!(PitchClass::deserialize(too_big).is_err());
        let name: StrDeserializer<Error> = "harmonic_minor".into_deserializer();
        assert_eq!(Mode::deserialize(name), Ok(Mode::HarmonicMinor));
        let alias: StrDeserializer<Error> = "minor".into_deserializer();
        assert_eq!(Mode::deserialize(alias), Ok(Mode::NaturalMinor));
        let quality: StrDeserializer<Error> = "half_diminished7".into_deserializer();
        assert_eq!(
            ChordQuality::deserialize(quality),
            Ok(ChordQuality::HalfDiminished7)
        );
    }

    #[test]
    fn every_mode_matches_textbook_spelling() {
        let table = "
            C major            | C D E F G A B
            A minor            | A B C D E F G
            A harmonic minor   | A B C D E F G#
            A melodic minor    | A B C D E F# G#
            D dorian           | D E F G A B C
            E phrygian         | E F G A B C D
            F lydian           | F G A B C D E
            G mixolydian       | G A B C D E F
            B locrian          | B C D E F G A
            C major pentatonic | C D E G A
            A minor pentatonic | A C D E G
            A blues            | A C D D# E G
            Eb major           | Eb F G Ab Bb C D
            F# minor           | F# G# A B C# D E
            C dorian           | C D Eb F G A Bb
            Bb mixolydian      | Bb C D Eb F G Ab";
        for (name, notes) in table.trim().lines().map(columns) {
            let scale = scale(name);
            // Spelled per the key signature: A minor has none, so A blues writes D# for Eb.
            let spelled: Vec<_> = scale
                .pitch_classes()
                .iter()
                .map(|p| p.name(scale.spelling()))
                .collect();
            assert_eq!(spelled.join(" "), notes, "{name}");
            for (degree, note) in notes.split(' ').enumerate() {
                assert_eq!(scale.degree_of(pc(note)), Some(degree), "{name} {note}");
            }
            let mask = scale.mask();
            for value in 0..12 {
                let member = notes.split(' ').any(|note| pc(note).index() == value);
                assert_eq!(mask[usize::from(value)], member, "{name} {value}");
                assert_eq!(scale.contains(PitchClass(value)), member);
                assert_eq!(scale.contains_pitch(value + 60), member);
            }
        }
        let minor: Vec<_> = Mode::ALL
            .into_iter()
            .filter(|m| m.is_minor())
            .map(Mode::name)
            .collect();
        let expected =
            "minor harmonic minor melodic minor dorian phrygian locrian minor pentatonic blues";
        assert_eq!(minor.join(" "), expected);
    }

    #[test]
    fn mode_names_round_trip_and_aliases_parse() {
        for mode in Mode::ALL {
            assert_eq!(mode.to_string().parse(), Ok(mode));
        }
        let table = "
            Ionian            | major
            aeolian           | minor
            Natural_Minor     | minor
            melodic-minor     | melodic minor
            pentatonic        | major pentatonic
            minor  pentatonic | minor pentatonic
            BLUES             | blues";
        for (alias, name) in table.trim().lines().map(columns) {
            assert_eq!(alias.parse::<Mode>().map(Mode::name), Ok(name), "{alias}");
        }
        assert_eq!(
            "bebop".parse::<Mode>(),
            Err(TheoryError::UnknownMode("bebop".into()))
        );
    }

    #[test]
    fn scale_parsing() {
        // Display respells with the fewest accidentals: Gb lydian (5 flats), not F# (7 sharps).
        let table = "
            D minor             | D minor
            d                   | D major
            F# dorian           | F# dorian
            Bb major            | Bb major
            C#m                 | C# minor
            Ebm                 | Eb minor
            a harmonic minor    | A harmonic minor
            G mixolydian        | G mixolydian
            bbm                 | Bb minor
            CM                  | C major
            Abmaj               | Ab major
            f#_lydian           | Gb lydian
            Bb-minor-pentatonic | Bb minor pentatonic
            Cb major            | B major
            E♭ Aeolian          | Eb minor
            Dminor              | D minor
            Bblydian            | Bb lydian
            C minor_pentatonic  | C minor pentatonic";
        for (text, name) in table.trim().lines().map(columns) {
            assert_eq!(
                text.parse::<Scale>().map(|s| s.to_string()).as_deref(),
                Ok(name),
                "{text}"
            );
        }
        assert_eq!(
            "  E   blues ".parse(),
            Ok(Scale::new(PitchClass::E, Mode::Blues))
        );
        let table = "
            pitch class |
            pitch class | H minor      | H
            pitch class | 7 major      | 7
            mode        | Cx           | x
            mode        | Eblues       | lues
            mode        | D mixolidian | mixolidian
            mode        | Cm major     | m major
            mode        | C-           | -";
        for line in table.trim().lines() {
            let mut fields = line.split('|').map(str::trim);
            let (kind, text) = (fields.next().unwrap(), fields.next().unwrap());
            let bad = fields.next().unwrap_or_default().to_owned();
            let expected = match kind {
                "mode" => TheoryError::UnknownMode(bad),
                _ => TheoryError::UnknownPitchClass(bad),
            };
            assert_eq!(text.parse::<Scale>(), Err(expected), "{text}");
        }
        for tonic in (0..12).map(PitchClass) {
            for mode in Mode::ALL {
                let scale = Scale::new(tonic, mode);
                assert_eq!(scale.to_string().parse(), Ok(scale));
            }
        }
    }

    #[test]
    fn pitch_for_degree_walks_the_scale() {
        let d_minor = scale("D minor");
        let walk: Vec<_> = (-1..=8).map(|d| d_minor.pitch_for_degree(d, 60)).collect();
        assert_eq!(walk, [60, 62, 64, 65, 67, 69, 70, 72, 74, 76].map(Some));
        assert_eq!(scale("C").pitch_for_degree(0, 60), Some(60));
        assert_eq!(scale("F#").pitch_for_degree(0, 60), Some(54)); // tie goes down
        assert_eq!(scale("C pentatonic").pitch_for_degree(5, 60), Some(72));
        assert_eq!(scale("C").pitch_for_degree(1, 127), None);
        assert_eq!(scale("C").pitch_for_degree(-1, 0), None);
        assert_eq!(scale("C").pitch_for_degree(i32::MAX, 60), None);
        assert_eq!(scale("C blues").pitch_for_degree(i32::MIN, 60), None);
    }

    #[test]
    fn snap_returns_nearest_in_scale_pitch() {
        for tonic in (0..12).map(PitchClass) {
            for mode in Mode::ALL {
                let scale = Scale::new(tonic, mode);
                for pitch in 0..=127u8 {
                    let snapped = scale.snap(pitch);
                    assert!(
                        snapped <= 127 && scale.contains_pitch(snapped),
                        "{scale} {pitch}"
                    );
                    // Nothing in the scale is nearer, or as near and lower.
                    let beats = |p: u8| (p.abs_diff(pitch), p) < (snapped.abs_diff(pitch), snapped);
                    let better = (0..=127).find(|&p| scale.contains_pitch(p) && beats(p));
                    assert_eq!(better, None, "{scale} {pitch} -> {snapped}");
                }
            }
        }
        assert_eq!(scale("C").snap(66), 65); // F# is a semitone from F and from G
        assert_eq!(scale("C").snap(200), 127);
    }

    #[test]
    fn key_signatures_round_trip_all_thirty() {
        for sharps in -7..=7i8 {
            for minor in [false, true] {
                let key = Key::from_key_signature(sharps, minor).unwrap();
                let (canonical, canonical_minor) = key.key_signature();
                assert_eq!(canonical_minor, minor);
                // Only 7-accidental signatures and the non-preferred 6 are respelled.
                let kept = sharps.abs() <= 5 || sharps == if minor { -6 } else { 6 };
                let expected = if kept {
                    sharps
                } else {
                    sharps - 12 * sharps.signum()
                };
                assert_eq!(canonical, expected, "{sharps} {minor}");
                assert_eq!(Key::from_key_signature(canonical, minor), Ok(key));
                assert_eq!(key.name().parse(), Ok(key));
            }
        }
        for tonic in (0..12).map(PitchClass) {
            for key in [Key::major(tonic), Key::minor(tonic)] {
                let (sharps, minor) = key.key_signature();
                assert_eq!(Key::from_key_signature(sharps, minor), Ok(key));
            }
        }
        for bad in [8, -8, i8::MIN, i8::MAX] {
            let expected = Err(TheoryError::KeySignatureOutOfRange(bad));
            assert_eq!(Key::from_key_signature(bad, false), expected);
        }
    }

    #[test]
    fn key_names_and_relations() {
        let name = |sharps, minor| Key::from_key_signature(sharps, minor).unwrap().name();
        let signatures = [
            (-1, true),
            (2, false),
            (6, false),
            (-6, false),
            (-6, true),
            (7, false),
            (-3, false),
            (4, true),
        ];
        let names: Vec<_> = signatures.into_iter().map(|(s, m)| name(s, m)).collect();
        let expected = "D minor,D major,F# major,F# major,Eb minor,Db major,Eb major,C# minor";
        assert_eq!(names.join(","), expected);
        let c_major = Key::major(PitchClass::C);
        assert_eq!(c_major.relative(), Key::minor(PitchClass::A));
        assert_eq!(c_major.relative().relative(), c_major);
        assert_eq!(c_major.parallel(), Key::minor(PitchClass::C));
        assert_eq!(Key::minor(pc("Bb")).tonic_name(), "Bb");
        assert_eq!(Key::minor(PitchClass::D).scale(), scale("D minor"));
        assert_eq!(
            "G dorian".parse::<Key>(),
            Err(TheoryError::NotAKey(Mode::Dorian))
        );
        assert_eq!("Ebm".parse::<Key>(), Ok(Key::minor(pc("Eb"))));
    }

    #[test]
    fn diatonic_chords() {
        let symbols = |name: &str, build: fn(&Scale, usize) -> Option<Chord>| {
            let scale = scale(name);
            let chords: Vec<_> = (0..7)
                .map(|d| build(&scale, d).unwrap().name(scale.spelling()))
                .collect();
            chords.join(" ")
        };
        assert_eq!(symbols("C", Scale::triad), "C Dm Em F G Am Bdim");
        assert_eq!(
            symbols("C", Scale::seventh),
            "Cmaj7 Dm7 Em7 Fmaj7 G7 Am7 Bm7b5"
        );
        assert_eq!(symbols("Bb", Scale::triad), "Bb Cm Dm Eb F Gm Adim");
        assert_eq!(
            symbols("A harmonic minor", Scale::triad),
            "Am Bdim Caug Dm E F G#dim"
        );
        assert_eq!(
            symbols("A harmonic minor", Scale::seventh),
            "AmMaj7 Bm7b5 Cmaj7#5 Dm7 E7 Fmaj7 G#dim7"
        );
        assert_eq!(
            symbols("D dorian", Scale::seventh),
            "Dm7 Em7 Fmaj7 G7 Am7 Bm7b5 Cmaj7"
        );
        assert_eq!(scale("C").triad(7), scale("C").triad(0));
        for mode in Mode::ALL {
            let s = Scale::new(PitchClass::D, mode);
            for degree in 0..7 {
                let (triad, seventh) = (s.triad(degree), s.seventh(degree));
                assert_eq!(
                    (triad.is_some(), seventh.is_some()),
                    (mode.is_heptatonic(), mode.is_heptatonic())
                );
                if let (Some(triad), Some(seventh)) = (triad, seventh) {
                    assert!(
                        triad.pitch_classes().iter().all(|&p| seventh.contains(p)),
                        "{s}"
                    );
                    assert!(
                        seventh.pitch_classes().iter().all(|&p| s.contains(p)),
                        "{s}"
                    );
                }
            }
        }
    }

    #[test]
    fn chord_names_round_trip() {
        assert_eq!(
            Chord::new(PitchClass::D, ChordQuality::Minor).to_string(),
            "Dm"
        );
        assert_eq!(
            Chord::new(PitchClass::G, ChordQuality::Dominant7).to_string(),
            "G7"
        );
        for root in (0..12).map(PitchClass) {
            for quality in ChordQuality::ALL {
                let chord = Chord::new(root, quality);
                for spelling in [Spelling::Sharps, Spelling::Flats] {
                    assert_eq!(chord.name(spelling).parse(), Ok(chord));
                }
            }
        }
        assert_eq!(
            "BbM7".parse(),
            Ok(Chord::new(pc("Bb"), ChordQuality::Major7))
        );
        assert_eq!(
            "Fø".parse(),
            Ok(Chord::new(PitchClass::F, ChordQuality::HalfDiminished7))
        );
        for bad in ["", "H7", "C9", "Cmajor"] {
            assert_eq!(
                bad.parse::<Chord>(),
                Err(TheoryError::UnknownChord(bad.into()))
            );
        }
    }

    #[test]
    fn chord_estimation_on_clear_cases() {
        let table = "
            60:1 64:1 67:1                     | C
            67:1 71:1 74:1 77:1                | G7
            57:1 60:1 64:1                     | Am
            59:1 62:1 65:1                     | Bdim
            60:1 63:1 66:1 69:1                | Cdim7
            60:1 64:1 67:1 71:0.1              | C
            60:1 64:1 67:1 71:1                | Cmaj7
            60:1 62:0.25 64:1 65:0.25 67:1.5   | C
            62:2 65:1 69:1 60:0.2 64:0.5       | Dm
            62:2 65:1 69:1 60:0.5 64:0.5       | Dm7";
        for (notes, expected) in table.trim().lines().map(columns) {
            let chord = Chord::estimate(&tune(notes)).map(|(chord, _)| chord.to_string());
            assert_eq!(chord.as_deref(), Some(expected), "{notes}");
        }
        let (_, score) = Chord::estimate(&tune("60:1 64:1 67:1")).unwrap();
        assert!((score - (1.0 + CHORD_ROOT_BONUS / 3.0)).abs() < 1e-12);
        let mut negative = [1.0; 12];
        negative[3] = -1.0;
        for bad in [[0.0; 12], negative, [f64::NAN; 12], [f64::INFINITY; 12]] {
            assert_eq!(Chord::estimate(&bad), None);
        }
        // Only proportions matter, even near the limits of `f64`.
        for scale in [1e-300, 1e300] {
            let scaled = tune("67:1 71:1 74:1 77:1").map(|w| w * scale);
            assert_eq!(
                Chord::estimate(&scaled)
                    .map(|(c, _)| c.to_string())
                    .as_deref(),
                Some("G7")
            );
        }
    }

    #[test]
    fn key_estimation_on_scale_histograms() {
        let weighted = |scale: Scale, tonic_weight: f64| {
            std::array::from_fn(|p| match scale.degree_of(PitchClass(p as u8)) {
                Some(0) => tonic_weight,
                Some(_) => 1.0,
                None => 0.0,
            })
        };
        let c_major = estimate_key(&weighted(scale("C major"), 1.0)).unwrap();
        assert_eq!(
            (c_major.key, c_major.runner_up),
            (Key::major(PitchClass::C), Key::minor(PitchClass::A))
        );
        assert!(c_major.margin() > 0.0);
        let a_minor = estimate_key(&weighted(scale("A harmonic minor"), 1.0)).unwrap();
        assert_eq!(a_minor.key, Key::minor(PitchClass::A));
        for tonic in (0..12).map(PitchClass) {
            for key in [Key::major(tonic), Key::minor(tonic)] {
                let estimate = estimate_key(&weighted(key.scale(), 2.0)).unwrap();
                assert_eq!(estimate.key, key);
                assert!(estimate.margin() > 0.0);
            }
        }
    }

    #[test]
    fn key_estimation_on_real_tunes() {
        // "Twinkle, Twinkle, Little Star", first phrase in D major (quarter note = 1).
        let twinkle = "62:1 62:1 69:1 69:1 71:1 71:1 69:2 67:1 67:1 66:1 66:1 64:1 64:1 62:2";
        let estimate = estimate_key(&tune(twinkle)).unwrap();
        assert_eq!(estimate.key.name(), "D major");
        assert!(estimate.margin() > 0.1);
        // "Greensleeves", first phrase in A minor (3/4, quarter note = 1).
        let greensleeves = "69:1 72:2 74:1 76:1.5 77:0.5 76:1 74:2 71:1 67:1.5 69:0.5 71:1 \
                            72:2 69:1 69:1.5 68:0.5 69:1 71:2 68:1 64:2";
        let estimate = estimate_key(&tune(greensleeves)).unwrap();
        assert_eq!(estimate.key.name(), "A minor");
        assert!(estimate.margin() > 0.1);
    }

    #[test]
    fn key_estimation_rejects_degenerate_input_and_ignores_scale() {
        let mut infinite = [1.0; 12];
        infinite[0] = f64::INFINITY;
        let mut nan = [1.0; 12];
        nan[5] = f64::NAN;
        for bad in [
            [0.0; 12],
            [3.5; 12],
            [0.1; 12],
            [1.0 / 3.0; 12],
            [f64::MAX; 12],
            infinite,
            nan,
        ] {
            assert_eq!(estimate_key(&bad), None);
        }
        // Only proportions matter, even near the limits of `f64`.
        let histogram = tune("62:2 66:1 69:1 64:1");
        let expected = estimate_key(&histogram).unwrap();
        for scale in [1e-300, 1e300] {
            let estimate = estimate_key(&histogram.map(|w| w * scale)).unwrap();
            assert_eq!(
                (estimate.key, estimate.runner_up),
                (expected.key, expected.runner_up)
            );
            assert!((estimate.correlation - expected.correlation).abs() < 1e-12);
        }
        // Transposing the histogram transposes the estimate.
        let d_major = estimate_key(&tune("62:2 66:1 69:1 64:1")).unwrap();
        let e_major = estimate_key(&tune("64:2 68:1 71:1 66:1")).unwrap();
        assert_eq!(e_major.key.tonic, d_major.key.tonic.transpose(2));
        assert!((e_major.correlation - d_major.correlation).abs() < 1e-12);
    }
}
