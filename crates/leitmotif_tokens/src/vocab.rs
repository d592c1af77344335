//! The token vocabulary: every token kind, its value range, and its id.

use serde::{Deserialize, Serialize};

/// Onset and duration grid: a twelfth of a quarter note (sixteenths and both triplet grids).
pub const UNITS_PER_QUARTER: u64 = 12;

/// Positions per bar: the longest supported bar (9/4) holds this many grid units.
pub const MAX_POSITIONS: u8 = 108;

/// Velocity levels.
pub const VELOCITY_LEVELS: u8 = 32;

/// Durations in grid units: every value up to a whole note, then longer held notes.
pub const DURATIONS: [u16; 57] = [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,
    27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 54, 60,
    66, 72, 84, 96, 120, 144, 192,
];

/// Tempo buckets in quarter notes per minute; a piece's tempo is the nearest (in log scale).
pub const TEMPOS: [u16; 16] = [
    48, 56, 63, 69, 76, 84, 92, 100, 108, 116, 120, 132, 144, 160, 176, 200,
];

/// The meters the vocabulary names.
pub const METERS: [(u8, u8); 16] = [
    (2, 4),
    (3, 4),
    (4, 4),
    (5, 4),
    (6, 4),
    (9, 4),
    (2, 2),
    (3, 2),
    (4, 2),
    (3, 8),
    (6, 8),
    (9, 8),
    (12, 8),
    (5, 8),
    (7, 8),
    (2, 8),
];

/// Note-density buckets (lead-layer onsets per quarter note): upper bounds of buckets 1.. ;
/// bucket 0 is an empty bar, the last bucket is anything above the last bound.
pub const DENSITY_BOUNDS: [f64; 6] = [0.75, 1.25, 1.75, 2.25, 3.0, 4.0];
/// Number of density buckets.
pub const DENSITY_BUCKETS: u8 = DENSITY_BOUNDS.len() as u8 + 2;

/// Register buckets (lead-layer mean MIDI pitch): upper bounds of buckets 1.. ; bucket 0 is
/// an empty bar.
pub const REGISTER_BOUNDS: [f64; 7] = [52.0, 57.0, 62.0, 67.0, 72.0, 77.0, 82.0];
/// Number of register buckets.
pub const REGISTER_BUCKETS: u8 = REGISTER_BOUNDS.len() as u8 + 2;

/// Intensity buckets (all layers' onsets per second, scaled by mean velocity / 90): upper
/// bounds of buckets 1.. ; bucket 0 is a silent bar.
pub const INTENSITY_BOUNDS: [f64; 6] = [2.0, 3.0, 4.0, 5.5, 7.0, 9.0];
/// Number of intensity buckets.
pub const INTENSITY_BUCKETS: u8 = INTENSITY_BOUNDS.len() as u8 + 2;

/// A piece's style or source tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Style {
    /// A slow tune (Scottish and Irish airs).
    Air,
    /// A jig or double jig (6/8).
    Jig,
    /// A slip jig (9/8).
    SlipJig,
    /// A reel.
    Reel,
    /// A hornpipe.
    Hornpipe,
    /// A waltz.
    Waltz,
    /// A march.
    March,
    /// A four-part chorale.
    Chorale,
    /// A folk song or dance tune of no stated type.
    Folk,
    /// Anything else.
    Other,
}

impl Style {
    /// All styles in id order.
    pub const ALL: [Style; 10] = [
        Style::Air,
        Style::Jig,
        Style::SlipJig,
        Style::Reel,
        Style::Hornpipe,
        Style::Waltz,
        Style::March,
        Style::Chorale,
        Style::Folk,
        Style::Other,
    ];

    /// The style a tune-type word names ("double jig" → jig, "slipjig" → slip jig...).
    pub fn from_word(word: &str) -> Option<Style> {
        let word = word.trim().to_ascii_lowercase().replace(['-', '_'], " ");
        Some(match word.as_str() {
            "air" | "slow air" | "lament" => Style::Air,
            "jig" | "double jig" | "single jig" => Style::Jig,
            "slip jig" | "slipjig" => Style::SlipJig,
            "reel" => Style::Reel,
            "hornpipe" => Style::Hornpipe,
            "waltz" => Style::Waltz,
            "march" => Style::March,
            "chorale" => Style::Chorale,
            "folk" | "song" | "tune" => Style::Folk,
            "other" => Style::Other,
            _ => return None,
        })
    }

    /// The style's name.
    pub fn name(self) -> &'static str {
        match self {
            Style::Air => "air",
            Style::Jig => "jig",
            Style::SlipJig => "slip jig",
            Style::Reel => "reel",
            Style::Hornpipe => "hornpipe",
            Style::Waltz => "waltz",
            Style::March => "march",
            Style::Chorale => "chorale",
            Style::Folk => "folk",
            Style::Other => "other",
        }
    }
}

/// A layer: a part with a role; repeated inner voices get their own layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// The tune.
    Melody,
    /// The bass line.
    Bass,
    /// Chords or pad.
    Chords,
    /// Drums (pitches are General MIDI drum sounds, not transposed).
    Drums,
    /// A first inner voice (alto).
    Inner1,
    /// A second inner voice (tenor).
    Inner2,
    /// A third inner voice.
    Inner3,
}

impl Layer {
    /// All layers, in the order they are written within a bar (melody first).
    pub const ALL: [Layer; 7] = [
        Layer::Melody,
        Layer::Bass,
        Layer::Chords,
        Layer::Drums,
        Layer::Inner1,
        Layer::Inner2,
        Layer::Inner3,
    ];

    /// The layer's index in [`Layer::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The layer's track role.
    pub fn role(self) -> leitmotif_score::Role {
        use leitmotif_score::Role;
        match self {
            Layer::Melody => Role::Melody,
            Layer::Bass => Role::Bass,
            Layer::Chords => Role::Chords,
            Layer::Drums => Role::Drums,
            Layer::Inner1 | Layer::Inner2 | Layer::Inner3 => Role::Other,
        }
    }

    /// The canonical track for this layer: name, General MIDI program and channel.
    pub fn track_defaults(self) -> (&'static str, u8, u8) {
        match self {
            Layer::Melody => ("Melody", 73, 0),  // flute
            Layer::Bass => ("Bass", 32, 1),      // acoustic bass
            Layer::Chords => ("Chords", 48, 2),  // string ensemble
            Layer::Drums => ("Drums", 0, 9),     // standard kit
            Layer::Inner1 => ("Inner 1", 71, 3), // clarinet
            Layer::Inner2 => ("Inner 2", 70, 4), // bassoon
            Layer::Inner3 => ("Inner 3", 60, 5), // french horn
        }
    }

    /// Whether pitches in this layer are key-relative (everything but drums).
    pub fn is_pitched(self) -> bool {
        self != Layer::Drums
    }
}

/// One token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Token {
    /// Padding (never predicted).
    Pad,
    /// Start of a piece.
    Bos,
    /// End of a piece.
    Eos,
    /// The piece's style (piece level, after `Bos`).
    Style(Style),
    /// The piece's tempo bucket, an index into [`TEMPOS`] (piece level).
    Tempo(u8),
    /// A new bar.
    Bar,
    /// The bar's key: sharps (-7..=7) and mode, as a MIDI key signature states it.
    Key {
        /// Sharps (positive) or flats (negative).
        sharps: i8,
        /// Minor or major.
        minor: bool,
    },
    /// The bar's meter, an index into [`METERS`].
    Meter(u8),
    /// The bar's note-density bucket.
    Density(u8),
    /// The bar's register bucket.
    Register(u8),
    /// The bar's intensity bucket.
    Intensity(u8),
    /// The layer whose notes follow.
    Layer(Layer),
    /// Onset within the bar in grid units (omitted for a note starting with the previous one).
    Position(u8),
    /// Velocity level for this and following notes of the layer.
    Velocity(u8),
    /// Pitch: semitones above the key's tonic pitch class (drums: the MIDI drum note).
    Pitch(u8),
    /// Duration, an index into [`DURATIONS`].
    Duration(u8),
}

/// The kinds of token, for grammars and per-kind statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TokenKind {
    /// `Pad`.
    Pad,
    /// `Bos`.
    Bos,
    /// `Eos`.
    Eos,
    /// `Style`.
    Style,
    /// `Tempo`.
    Tempo,
    /// `Bar`.
    Bar,
    /// `Key`.
    Key,
    /// `Meter`.
    Meter,
    /// `Density`.
    Density,
    /// `Register`.
    Register,
    /// `Intensity`.
    Intensity,
    /// `Layer`.
    Layer,
    /// `Position`.
    Position,
    /// `Velocity`.
    Velocity,
    /// `Pitch`.
    Pitch,
    /// `Duration`.
    Duration,
}

/// (kind, first id, count) for every kind, in id order.
const RANGES: [(TokenKind, u32); 16] = [
    (TokenKind::Pad, 1),
    (TokenKind::Bos, 1),
    (TokenKind::Eos, 1),
    (TokenKind::Style, Style::ALL.len() as u32),
    (TokenKind::Tempo, TEMPOS.len() as u32),
    (TokenKind::Bar, 1),
    (TokenKind::Key, 30),
    (TokenKind::Meter, METERS.len() as u32),
    (TokenKind::Density, DENSITY_BUCKETS as u32),
    (TokenKind::Register, REGISTER_BUCKETS as u32),
    (TokenKind::Intensity, INTENSITY_BUCKETS as u32),
    (TokenKind::Layer, Layer::ALL.len() as u32),
    (TokenKind::Position, MAX_POSITIONS as u32),
    (TokenKind::Velocity, VELOCITY_LEVELS as u32),
    (TokenKind::Pitch, 128),
    (TokenKind::Duration, DURATIONS.len() as u32),
];

/// The number of distinct token ids.
pub const VOCAB_SIZE: usize = {
    let mut total = 0;
    let mut i = 0;
    while i < RANGES.len() {
        total += RANGES[i].1 as usize;
        i += 1;
    }
    total
};

const fn offset_of(kind: TokenKind) -> u32 {
    let mut total = 0;
    let mut i = 0;
    while i < RANGES.len() {
        if RANGES[i].0 as u8 == kind as u8 {
            return total;
        }
        total += RANGES[i].1;
        i += 1;
    }
    total
}

impl Token {
    /// The token's kind.
    pub fn kind(self) -> TokenKind {
        match self {
            Token::Pad => TokenKind::Pad,
            Token::Bos => TokenKind::Bos,
            Token::Eos => TokenKind::Eos,
            Token::Style(_) => TokenKind::Style,
            Token::Tempo(_) => TokenKind::Tempo,
            Token::Bar => TokenKind::Bar,
            Token::Key { .. } => TokenKind::Key,
            Token::Meter(_) => TokenKind::Meter,
            Token::Density(_) => TokenKind::Density,
            Token::Register(_) => TokenKind::Register,
            Token::Intensity(_) => TokenKind::Intensity,
            Token::Layer(_) => TokenKind::Layer,
            Token::Position(_) => TokenKind::Position,
            Token::Velocity(_) => TokenKind::Velocity,
            Token::Pitch(_) => TokenKind::Pitch,
            Token::Duration(_) => TokenKind::Duration,
        }
    }

    /// The token's id, or `None` if its value is out of range.
    pub fn id(self) -> Option<u32> {
        let (value, count): (u32, u32) = match self {
            Token::Pad | Token::Bos | Token::Eos | Token::Bar => (0, 1),
            Token::Style(s) => (s as u32, Style::ALL.len() as u32),
            Token::Tempo(v) => (v.into(), TEMPOS.len() as u32),
            Token::Key { sharps, minor } => {
                if !(-7..=7).contains(&sharps) {
                    return None;
                }
                let index = u32::try_from(sharps + 7).ok()?;
                (index * 2 + u32::from(minor), 30)
            }
            Token::Meter(v) => (v.into(), METERS.len() as u32),
            Token::Density(v) => (v.into(), DENSITY_BUCKETS.into()),
            Token::Register(v) => (v.into(), REGISTER_BUCKETS.into()),
            Token::Intensity(v) => (v.into(), INTENSITY_BUCKETS.into()),
            Token::Layer(l) => (l as u32, Layer::ALL.len() as u32),
            Token::Position(v) => (v.into(), MAX_POSITIONS.into()),
            Token::Velocity(v) => (v.into(), VELOCITY_LEVELS.into()),
            Token::Pitch(v) => (v.into(), 128),
            Token::Duration(v) => (v.into(), DURATIONS.len() as u32),
        };
        (value < count).then(|| offset_of(self.kind()) + value)
    }

    /// The token with id `id`, or `None` past the vocabulary.
    pub fn from_id(id: u32) -> Option<Token> {
        let mut start = 0;
        for (kind, count) in RANGES {
            if id < start + count {
                let v = id - start;
                let small = u8::try_from(v).ok()?;
                return Some(match kind {
                    TokenKind::Pad => Token::Pad,
                    TokenKind::Bos => Token::Bos,
                    TokenKind::Eos => Token::Eos,
                    TokenKind::Bar => Token::Bar,
                    TokenKind::Style => Token::Style(Style::ALL[usize::from(small)]),
                    TokenKind::Tempo => Token::Tempo(small),
                    TokenKind::Key => Token::Key {
                        sharps: i8::try_from(small / 2).ok()? - 7,
                        minor: small % 2 == 1,
                    },
                    TokenKind::Meter => Token::Meter(small),
                    TokenKind::Density => Token::Density(small),
                    TokenKind::Register => Token::Register(small),
                    TokenKind::Intensity => Token::Intensity(small),
                    TokenKind::Layer => Token::Layer(Layer::ALL[usize::from(small)]),
                    TokenKind::Position => Token::Position(small),
                    TokenKind::Velocity => Token::Velocity(small),
                    TokenKind::Pitch => Token::Pitch(small),
                    TokenKind::Duration => Token::Duration(small),
                });
            }
            start += count;
        }
        None
    }

    /// A short readable form, e.g. `Pitch(7)` or `Key(-1m)`.
    pub fn label(self) -> String {
        match self {
            Token::Key { sharps, minor } => {
                format!("Key({sharps}{})", if minor { "m" } else { "" })
            }
            Token::Style(s) => format!("Style({})", s.name()),
            Token::Tempo(t) => format!("Tempo({})", TEMPOS[usize::from(t).min(TEMPOS.len() - 1)]),
            other => format!("{other:?}"),
        }
    }
}

/// The velocity value of level `level` (1..=127, evenly spaced).
pub fn velocity_of_level(level: u8) -> u8 {
    let level = f64::from(level.min(VELOCITY_LEVELS - 1));
    let value = (1.0 + level * 126.0 / f64::from(VELOCITY_LEVELS - 1)).round();
    #[expect(clippy::cast_possible_truncation, reason = "value is in 1..=127")]
    #[expect(clippy::cast_sign_loss, reason = "value is in 1..=127")]
    let value = value as u8;
    value
}

/// The level nearest to velocity `velocity`.
pub fn level_of_velocity(velocity: u8) -> u8 {
    let scaled = (f64::from(velocity.clamp(1, 127)) - 1.0) * f64::from(VELOCITY_LEVELS - 1) / 126.0;
    #[expect(clippy::cast_possible_truncation, reason = "scaled is in 0..=31")]
    #[expect(clippy::cast_sign_loss, reason = "scaled is in 0..=31")]
    let level = scaled.round() as u8;
    level
}

/// The bucket of `value` given the upper bounds of buckets 1.. (bucket 0 means "nothing").
pub fn bucket(value: Option<f64>, bounds: &[f64]) -> u8 {
    let Some(value) = value else {
        return 0;
    };
    let index = bounds.iter().take_while(|&&b| value > b).count();
    u8::try_from(index + 1).unwrap_or(u8::MAX)
}

/// The values bucket `bucket` of `bounds` holds, `(low, high]` as [`bucket`] assigns them
/// (infinite at the open ends; `None` for bucket 0, which means "empty", and past the last).
pub fn bucket_bounds(bucket: u8, bounds: &[f64]) -> Option<(f64, f64)> {
    let b = usize::from(bucket);
    (1..=bounds.len() + 1).contains(&b).then(|| {
        let low = if b >= 2 {
            bounds[b - 2]
        } else {
            f64::NEG_INFINITY
        };
        (low, bounds.get(b - 1).copied().unwrap_or(f64::INFINITY))
    })
}

/// The index of the tempo bucket nearest to `bpm` in log scale.
pub fn tempo_bucket(bpm: f64) -> u8 {
    let target = bpm.max(1.0).ln();
    let best = TEMPOS
        .iter()
        .enumerate()
        .min_by(|a, b| {
            let da = (f64::from(*a.1).ln() - target).abs();
            let db = (f64::from(*b.1).ln() - target).abs();
            da.total_cmp(&db)
        })
        .map_or(0, |(i, _)| i);
    u8::try_from(best).unwrap_or(0)
}

/// The index of `duration` grid units in [`DURATIONS`], rounding to the nearest entry.
pub fn duration_index(units: u64) -> u8 {
    let best = DURATIONS
        .iter()
        .enumerate()
        .min_by_key(|(_, d)| u64::from(**d).abs_diff(units))
        .map_or(0, |(i, _)| i);
    u8::try_from(best).unwrap_or(0)
}

/// The index of a meter in [`METERS`].
pub fn meter_index(numerator: u8, denominator: u8) -> Option<u8> {
    METERS
        .iter()
        .position(|m| *m == (numerator, denominator))
        .and_then(|i| u8::try_from(i).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_dense_and_round_trip() {
        let mut seen = 0;
        for id in 0..u32::try_from(VOCAB_SIZE).unwrap_or(0) {
            let token = Token::from_id(id).unwrap_or(Token::Pad);
            assert_eq!(token.id(), Some(id), "{token:?}");
            seen += 1;
        }
        assert_eq!(seen, VOCAB_SIZE);
        assert_eq!(Token::from_id(u32::try_from(VOCAB_SIZE).unwrap_or(0)), None);
        assert_eq!(Token::Pitch(128).id(), None);
        assert_eq!(
            Token::Key {
                sharps: 8,
                minor: false
            }
            .id(),
            None
        );
    }

    #[test]
    fn velocity_levels_cover_the_range() {
        assert_eq!(velocity_of_level(0), 1);
        assert_eq!(velocity_of_level(VELOCITY_LEVELS - 1), 127);
        for level in 0..VELOCITY_LEVELS {
            assert_eq!(level_of_velocity(velocity_of_level(level)), level);
        }
        assert_eq!(velocity_of_level(level_of_velocity(90)), 90);
    }

    #[test]
    fn buckets_and_tables() {
        assert_eq!(bucket(None, &DENSITY_BOUNDS), 0);
        assert_eq!(bucket(Some(0.5), &DENSITY_BOUNDS), 1);
        assert_eq!(bucket(Some(2.0), &DENSITY_BOUNDS), 4);
        assert_eq!(bucket(Some(9.0), &DENSITY_BOUNDS), DENSITY_BUCKETS - 1);
        assert_eq!(TEMPOS[usize::from(tempo_bucket(121.0))], 120);
        assert_eq!(TEMPOS[usize::from(tempo_bucket(150.0))], 144);
        assert_eq!(DURATIONS[usize::from(duration_index(50))], 48);
        assert_eq!(meter_index(6, 8), Some(10));
        assert_eq!(meter_index(7, 4), None);
    }
}
