//! What to compose: a [`Request`] holds the task (a new piece, a continuation, an infill),
//! the controls, the layers, the sampling settings and the seed.

use std::ops::RangeInclusive;

use leitmotif_score::theory::{Chord, Mode, PitchClass, Scale};
use leitmotif_score::{Role, Score};
use leitmotif_tokens::vocab::{DENSITY_BUCKETS, INTENSITY_BOUNDS, METERS, meter_index};
use leitmotif_tokens::{Layer, Style};

use crate::error::RequestError;
use crate::moods::MoodTable;
use crate::prompt::{PromptControls, parse_prompt};

/// Most bars one request may write.
pub const MAX_BARS: u32 = 512;

/// Most candidates scored at a loop seam or an infill join, and most whole drafts.
pub const MAX_CANDIDATES: usize = 16;

/// The job.
#[derive(Debug, Clone, PartialEq)]
pub enum Task {
    /// A new piece of [`Request::bars`] bars.
    New,
    /// [`Request::bars`] more bars after `primer`, which is kept note for note.
    Continue {
        /// The music to continue.
        primer: Score,
    },
    /// Rewrites `bars` (1-based, inclusive) of `score`, or only `layer` in them; every
    /// other note is kept.
    Infill {
        /// The music to change.
        score: Score,
        /// The bars to rewrite, counted from 1.
        bars: RangeInclusive<u32>,
        /// Only this layer, or every melody, bass, chords and drums track when `None`.
        layer: Option<Layer>,
    },
}

/// A value over the bars of a phrase, 0 to 1: a game ramps intensity over bars.
#[derive(Debug, Clone, PartialEq)]
pub enum Curve {
    /// The same value in every bar.
    Constant(f64),
    /// A straight line from the first bar's value to the last bar's.
    Ramp {
        /// The first bar's value.
        from: f64,
        /// The last bar's value.
        to: f64,
    },
    /// One value per bar; the last repeats when there are more bars.
    PerBar(Vec<f64>),
    /// About this value. For density, each bar's bucket is the model's own choice within one
    /// bucket of the value's, so bars vary the way a human melody's do (and each bar then
    /// lands on the bucket chosen); for register the choice is made at the first bar of
    /// every four and held for the phrase; intensity takes it as a constant. The default for
    /// density and register; a prompt's moods give it too.
    Around(f64),
}

impl Curve {
    /// The value at `bar` (0-based) of `bars`.
    pub fn at(&self, bar: usize, bars: usize) -> f64 {
        match self {
            Curve::Constant(v) | Curve::Around(v) => *v,
            Curve::Ramp { from, to } => {
                if bars <= 1 {
                    *from
                } else {
                    from + (to - from) * bar as f64 / (bars - 1) as f64
                }
            }
            Curve::PerBar(values) => values.get(bar).or(values.last()).copied().unwrap_or(0.5),
        }
    }

    /// Whether the model chooses each bar's bucket near the value ([`Curve::Around`]).
    pub fn is_around(&self) -> bool {
        matches!(self, Curve::Around(_))
    }

    fn values(&self) -> Vec<f64> {
        match self {
            Curve::Constant(v) | Curve::Around(v) => vec![*v],
            Curve::Ramp { from, to } => vec![*from, *to],
            Curve::PerBar(values) => values.clone(),
        }
    }
}

/// How tokens are drawn. Same request and seed give byte-identical output on a backend.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplingSettings {
    /// Softmax temperature; 0 means always the likeliest token.
    pub temperature: f32,
    /// Keep only the `k` likeliest allowed tokens.
    pub top_k: Option<usize>,
    /// Keep the likeliest allowed tokens whose mass reaches `p`.
    pub top_p: Option<f32>,
}

impl Default for SamplingSettings {
    fn default() -> Self {
        Self {
            temperature: 1.0,
            top_k: None,
            top_p: Some(0.95),
        }
    }
}

/// Pitch ranges (MIDI numbers, inclusive) of the pitched layers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerRanges {
    /// The melody: G3 to E6 by default.
    pub melody: RangeInclusive<u8>,
    /// The bass: E1 to G3 by default.
    pub bass: RangeInclusive<u8>,
    /// Chords and pads: C3 to E5 by default.
    pub chords: RangeInclusive<u8>,
}

impl Default for LayerRanges {
    fn default() -> Self {
        Self {
            melody: 55..=88,
            bass: 28..=55,
            chords: 48..=76,
        }
    }
}

impl LayerRanges {
    /// The range of `layer` (drums: the General MIDI percussion keys 35..=81).
    pub fn of(&self, layer: Layer) -> RangeInclusive<u8> {
        match layer {
            Layer::Melody => self.melody.clone(),
            Layer::Bass => self.bass.clone(),
            Layer::Chords => self.chords.clone(),
            Layer::Drums => 35..=81,
            Layer::Inner1 | Layer::Inner2 | Layer::Inner3 => 36..=84,
        }
    }
}

/// Everything the composer needs to write one phrase.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// New piece, continuation or infill.
    pub task: Task,
    /// Tonic and mode; `None` keeps the primer's or input's key, or (for a new piece) picks
    /// a tonic from the seed in [`mode`](Self::mode).
    pub key: Option<Scale>,
    /// The mode used when no key is given (a mood's mode).
    pub mode: Mode,
    /// Whether out-of-scale pitches are masked out (drums are exempt; a minor key allows
    /// natural minor plus the raised 6th and 7th).
    pub key_lock: bool,
    /// Tempo in quarter notes per minute; `None` keeps the primer's, or 110.
    pub tempo_bpm: Option<f64>,
    /// Meter; `None` keeps the primer's, or 4/4.
    pub meter: Option<(u8, u8)>,
    /// Bars to write (new pieces and continuations).
    pub bars: u32,
    /// Style tag the model is conditioned on; `None`: folk.
    pub style: Option<Style>,
    /// Lead-layer note density per bar, 0 (sparse) to 1 (busy).
    pub density: Curve,
    /// Lead-layer register per bar, 0 (low) to 1 (high).
    pub register: Curve,
    /// Intensity per bar, 0 (calm) to 1 (full): loudness, accents, arranger patterns.
    pub intensity: Curve,
    /// The layers to write, each its own track (written melody, bass, chords, drums).
    pub layers: Vec<Layer>,
    /// General MIDI programs by layer (others take the layer's default).
    pub programs: Vec<(Layer, u8)>,
    /// Whether the phrase loops: its last bar leads back into its first.
    pub looped: bool,
    /// Token sampling.
    pub sampling: SamplingSettings,
    /// The seed: same request and seed, same music.
    pub seed: u64,
    /// Candidates drawn and scored at a loop seam or an infill join.
    pub candidates: usize,
    /// Whole drafts drawn where nothing is scored at a join (a new piece that does not
    /// loop, a continuation): the one the model finds likeliest (fewest bits per token it
    /// picked) is kept. 1 draws one, the draft the seed gives; with more, the first draft is
    /// still that one and the others take seeds mixed from it.
    pub drafts: usize,
    /// A chord progression for the written bars, one chord a bar, starting over when the
    /// piece is longer (empty: none). The melody favours its tones on strong beats (the
    /// decoder allows only chord tones for an onset on a downbeat, or mid-bar in bars of four
    /// or more pulses, where the key lets one through), and the arranger plays these chords
    /// instead of its own harmony. A new piece with no key takes the key in
    /// [`mode`](Self::mode) that holds the most of their tones ([`key_for_chords`]).
    pub chords: Vec<Chord>,
    /// How loosely every written layer is played, 0 (the exact grid) to 1: a seeded groove
    /// in timing and velocity (`leitmotif_arrange::Feel::humanize`).
    pub humanize: f64,
    /// Swing, 0 (straight) to 1 (triplet): off-beat eighths delayed
    /// (`leitmotif_arrange::Feel::swing`).
    pub swing: f64,
    /// Pitch ranges of the pitched layers.
    pub ranges: LayerRanges,
    /// Which layers the model writes; `None` asks the model (the melody always, another
    /// layer when the model was trained for it in this style, see
    /// `leitmotif_compose::MODEL_LAYER_SHARE`); the arranger writes the rest.
    pub model_layers: Option<Vec<Layer>>,
}

impl Default for Request {
    fn default() -> Self {
        Self {
            task: Task::New,
            key: None,
            mode: Mode::Major,
            key_lock: true,
            tempo_bpm: None,
            meter: None,
            bars: 8,
            style: None,
            density: Curve::Around(0.5),
            register: Curve::Around(0.5),
            intensity: Curve::Constant(0.5),
            layers: vec![Layer::Melody],
            programs: Vec::new(),
            looped: false,
            sampling: SamplingSettings::default(),
            seed: 0,
            candidates: 4,
            drafts: 1,
            chords: Vec::new(),
            humanize: 0.0,
            swing: 0.0,
            ranges: LayerRanges::default(),
            model_layers: None,
        }
    }
}

/// The four layers the composer writes, in track order.
pub const COMPOSED_LAYERS: [Layer; 4] = [Layer::Melody, Layer::Bass, Layer::Chords, Layer::Drums];

/// The layer a role names (`Other` has none).
pub fn layer_of_role(role: Role) -> Option<Layer> {
    match role {
        Role::Melody => Some(Layer::Melody),
        Role::Bass => Some(Layer::Bass),
        Role::Chords => Some(Layer::Chords),
        Role::Drums => Some(Layer::Drums),
        Role::Other => None,
    }
}

impl Request {
    /// A request from a text prompt: the moods it names set mode, tempo, density, register,
    /// intensity and layers (averaged when several), and what it states outright (key,
    /// tempo, meter, bars, instruments, loop) overrides them. The parse is returned too, so
    /// callers can report the words it did not use.
    pub fn from_prompt(prompt: &str, moods: &MoodTable) -> (Self, PromptControls) {
        let parsed = parse_prompt(prompt, moods);
        let mut request = Request::default();
        let found: Vec<_> = parsed
            .moods
            .iter()
            .filter_map(|name| moods.moods.get(name))
            .collect();
        if let Some(first) = found.first() {
            let n = found.len() as f64;
            let mean =
                |f: fn(&crate::moods::Mood) -> f64| found.iter().map(|m| f(m)).sum::<f64>() / n;
            request.mode = first.mode;
            request.tempo_bpm = Some(mean(|m| m.tempo_bpm).round());
            request.density = Curve::Around(mean(|m| m.density));
            request.register = Curve::Around(mean(|m| m.register));
            request.intensity = Curve::Constant(mean(|m| m.intensity));
            request.humanize = mean(|m| m.humanize);
            request.layers = found
                .iter()
                .flat_map(|m| m.layers.iter().filter_map(|r| layer_of_role(*r)))
                .collect();
        }
        if let Some(mode) = parsed.mode {
            request.mode = mode;
        }
        request.key = parsed.scale;
        if let Some(bpm) = parsed.tempo_bpm {
            request.tempo_bpm = Some(bpm);
        }
        request.meter = parsed.meter;
        if let Some(bars) = parsed.bars {
            request.bars = bars;
        }
        request.style = parsed.style;
        request
            .layers
            .extend(parsed.layers.iter().filter_map(|r| layer_of_role(*r)));
        request.layers.push(Layer::Melody);
        request.layers.sort();
        request.layers.dedup();
        request.programs = parsed
            .programs
            .iter()
            .filter_map(|(role, program)| Some((layer_of_role(*role)?, *program)))
            .collect();
        request.looped = parsed.looped;
        (request, parsed)
    }

    /// Checks every parameter's range.
    ///
    /// # Errors
    /// [`RequestError::Invalid`] naming the first bad parameter.
    pub fn validate(&self) -> Result<(), RequestError> {
        let bad = |message: String| Err(RequestError::Invalid(message));
        if !matches!(self.task, Task::Infill { .. }) && !(1..=MAX_BARS).contains(&self.bars) {
            return bad(format!("bars must be 1..={MAX_BARS}, not {}", self.bars));
        }
        if let Some(bpm) = self.tempo_bpm
            && !(bpm.is_finite() && (20.0..=400.0).contains(&bpm))
        {
            return bad(format!("tempo must be 20..=400 bpm, not {bpm}"));
        }
        if let Some((n, d)) = self.meter
            && meter_index(n, d).is_none()
        {
            let known: Vec<String> = METERS.iter().map(|(n, d)| format!("{n}/{d}")).collect();
            return bad(format!(
                "meter {n}/{d} is not one the models know ({})",
                known.join(", ")
            ));
        }
        for (name, curve) in [
            ("density", &self.density),
            ("register", &self.register),
            ("intensity", &self.intensity),
        ] {
            let values = curve.values();
            if values.is_empty() {
                return bad(format!("{name} has no values"));
            }
            if let Some(v) = values
                .iter()
                .find(|v| !(v.is_finite() && (0.0..=1.0).contains(*v)))
            {
                return bad(format!("{name} {v} is outside 0..=1"));
            }
        }
        if self.layers.is_empty() {
            return bad("no layers to write".to_owned());
        }
        if let Some(l) = self.layers.iter().find(|l| !COMPOSED_LAYERS.contains(l)) {
            return bad(format!("layer {l:?} is not one the composer writes"));
        }
        if let Some((l, p)) = self.programs.iter().find(|(_, p)| *p > 127) {
            return bad(format!("program {p} for {l:?} is outside 0..=127"));
        }
        let s = self.sampling;
        if !(s.temperature.is_finite() && (0.0..=5.0).contains(&s.temperature)) {
            return bad(format!("temperature must be 0..=5, not {}", s.temperature));
        }
        if s.top_k == Some(0) {
            return bad("top-k must be at least 1".to_owned());
        }
        if let Some(p) = s.top_p
            && !(p > 0.0 && p <= 1.0)
        {
            return bad(format!("top-p must be in (0, 1], not {p}"));
        }
        if !(1..=MAX_CANDIDATES).contains(&self.candidates) {
            return bad(format!(
                "candidates must be 1..={MAX_CANDIDATES}, not {}",
                self.candidates
            ));
        }
        if !(1..=MAX_CANDIDATES).contains(&self.drafts) {
            return bad(format!(
                "drafts must be 1..={MAX_CANDIDATES}, not {}",
                self.drafts
            ));
        }
        for (name, value) in [("humanize", self.humanize), ("swing", self.swing)] {
            if !(value.is_finite() && (0.0..=1.0).contains(&value)) {
                return bad(format!("{name} must be 0..=1, not {value}"));
            }
        }
        if let Some(key) = self.key
            && self.key_lock
        {
            chords_in_key(&self.chords, key)?;
        }
        for layer in [Layer::Melody, Layer::Bass, Layer::Chords] {
            let range = self.ranges.of(layer);
            if *range.end() > 127 || range.end() < range.start() || range.end() - range.start() < 12
            {
                return bad(format!(
                    "the {layer:?} range {}..={} must span at least an octave inside 0..=127",
                    range.start(),
                    range.end()
                ));
            }
        }
        if let Some(layers) = &self.model_layers
            && !layers.contains(&Layer::Melody)
        {
            return bad(
                "the model always writes the melody: model layers must include it".to_owned(),
            );
        }
        if self.looped && !matches!(self.task, Task::New) {
            return bad("a loop is a new piece: continue and infill cannot loop".to_owned());
        }
        if let Task::Infill { bars, layer, .. } = &self.task {
            if *bars.start() == 0 || bars.end() < bars.start() {
                return bad(format!(
                    "infill bars {}..{} must be counted from 1, first <= last",
                    bars.start(),
                    bars.end()
                ));
            }
            if let Some(l) = layer
                && !COMPOSED_LAYERS.contains(l)
            {
                return bad(format!("cannot infill layer {l:?}"));
            }
        }
        Ok(())
    }
}

/// The density token for a 0..=1 density: buckets 1 (under 0.75 onsets a quarter) to 7
/// (over 4), evenly (bucket 0 means an empty bar).
pub fn density_bucket(density: f64) -> u8 {
    let top = f64::from(DENSITY_BUCKETS - 2);
    1 + (density.clamp(0.0, 1.0) * top).round() as u8
}

/// Lead-layer onsets per quarter note at the middle of each density bucket.
pub const DENSITY_MIDS: [f64; 8] = [0.0, 0.5, 1.0, 1.5, 2.0, 2.6, 3.5, 5.0];

/// The intensity token a bar asks for: what the models learned it to mean, every layer's
/// onsets per second scaled by loudness, from the bar's density bucket, the tempo, the
/// number of model-written layers and the request's 0..=1 intensity (as loudness, velocity
/// 50 at 0 to 110 at 1).
pub fn intensity_bucket(density: u8, intensity: f64, bpm: f64, voices: usize) -> u8 {
    let loudness = (50.0 + 60.0 * intensity.clamp(0.0, 1.0)) / 90.0;
    let mid = DENSITY_MIDS[usize::from(density).min(DENSITY_MIDS.len() - 1)];
    let onsets = mid * bpm / 60.0 * voices.max(1) as f64;
    leitmotif_tokens::vocab::bucket(Some(onsets * loudness), &INTENSITY_BOUNDS)
}

/// The register token for a 0..=1 register: buckets 3 (mean pitch 57-62) to 7 (72-77),
/// the means a melody in its default range (G3-E6) can have.
pub fn register_bucket(register: f64) -> u8 {
    3 + (register.clamp(0.0, 1.0) * 4.0).round() as u8
}

/// The pitch classes a locked key allows, relative to the tonic: the mode's scale, and for
/// the minor modes natural minor plus the raised 6th and 7th.
pub fn allowed_intervals(mode: Mode) -> [bool; 12] {
    let mut mask = [false; 12];
    let intervals: &[u8] = match mode {
        Mode::NaturalMinor | Mode::HarmonicMinor | Mode::MelodicMinor => {
            &[0, 2, 3, 5, 7, 8, 9, 10, 11]
        }
        other => other.intervals(),
    };
    for &i in intervals {
        mask[usize::from(i)] = true;
    }
    mask
}

/// The same set as absolute pitch classes (index 0 = C) for a scale.
pub fn allowed_pitch_classes(scale: Scale) -> [bool; 12] {
    let relative = allowed_intervals(scale.mode);
    let mut mask = [false; 12];
    for (i, allowed) in relative.iter().enumerate() {
        if *allowed {
            mask[usize::from(scale.tonic.transpose(i as i32).index())] = true;
        }
    }
    mask
}

/// The tonic a new piece in `mode` gets from `seed` when no key is named: one of the keys
/// game and folk music use most.
pub fn tonic_from_seed(seed: u64, mode: Mode) -> PitchClass {
    let major = [0u8, 7, 2, 5, 9, 10, 4, 3];
    let minor = [9u8, 2, 4, 0, 7, 5, 11, 6];
    let table = if mode.is_minor() { minor } else { major };
    let pick = leitmotif_tokens::fnv::Fnv1a::hash(&seed.to_le_bytes()) % table.len() as u64;
    PitchClass::from_midi(table[pick as usize])
}

/// Reads a chord progression: symbols separated by spaces, commas or bars (`"Am F C G"`,
/// `"Dm7 | G7 | Cmaj7"`).
///
/// # Errors
/// [`RequestError::UnknownChord`] naming the first symbol that is not a chord, and
/// [`RequestError::Invalid`] for a progression with no chords.
pub fn parse_chords(text: &str) -> Result<Vec<Chord>, RequestError> {
    let chords = text
        .split(|c: char| c.is_whitespace() || c == ',' || c == '|')
        .filter(|s| !s.is_empty())
        .enumerate()
        .map(|(i, symbol)| {
            symbol
                .parse::<Chord>()
                .map_err(|_| RequestError::UnknownChord {
                    symbol: symbol.to_owned(),
                    position: i + 1,
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if chords.is_empty() {
        return Err(RequestError::Invalid(format!(
            "the chord progression {text:?} has no chords"
        )));
    }
    Ok(chords)
}

/// The key in `mode` that holds the most tones of `chords` (counted with repeats); ties go
/// to the first chord's root as tonic, then to the lowest tonic from C. `None` for no
/// chords.
pub fn key_for_chords(chords: &[Chord], mode: Mode) -> Option<Scale> {
    let first = chords.first()?;
    let held = |scale: Scale| {
        let allowed = allowed_pitch_classes(scale);
        chords
            .iter()
            .flat_map(|c| c.pitch_classes())
            .filter(|pc| allowed[usize::from(pc.index())])
            .count()
    };
    let mut tonics: Vec<PitchClass> = vec![first.root];
    tonics.extend(
        (0..12)
            .map(PitchClass::from_midi)
            .filter(|t| *t != first.root),
    );
    let mut best: Option<(Scale, usize)> = None;
    for tonic in tonics {
        let scale = Scale::new(tonic, mode);
        let count = held(scale);
        if best.is_none_or(|(_, b)| count > b) {
            best = Some((scale, count));
        }
    }
    best.map(|(scale, _)| scale)
}

/// Checks that every tone of every chord is one a locked `key` allows.
///
/// # Errors
/// [`RequestError::ChordOutOfKey`] naming the first chord that is not.
pub fn chords_in_key(chords: &[Chord], key: Scale) -> Result<(), RequestError> {
    let allowed = allowed_pitch_classes(key);
    match chords.iter().find(|c| {
        c.pitch_classes()
            .iter()
            .any(|pc| !allowed[usize::from(pc.index())])
    }) {
        Some(chord) => Err(RequestError::ChordOutOfKey {
            chord: chord.name(key.spelling()),
            key: key.to_string(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progressions_parse_or_name_the_bad_symbol() {
        let chords = parse_chords("Am F, C | G7").unwrap_or_default();
        let names: Vec<String> = chords.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["Am", "F", "C", "G7"]);
        assert_eq!(
            parse_chords("Am Hm C"),
            Err(RequestError::UnknownChord {
                symbol: "Hm".to_owned(),
                position: 2
            })
        );
        let message = parse_chords("C Fzz").err().map(|e| e.to_string());
        assert!(message.is_some_and(|m| m.contains("\"Fzz\"")));
        assert!(parse_chords(" , ").is_err());
    }

    #[test]
    fn the_key_of_a_progression_holds_its_chords() {
        let chords = parse_chords("Am F C G").unwrap_or_default();
        assert_eq!(
            key_for_chords(&chords, Mode::Major).map(|k| k.to_string()),
            Some(Scale::new(PitchClass::C, Mode::Major).to_string())
        );
        assert_eq!(
            key_for_chords(&chords, Mode::NaturalMinor),
            Some(Scale::new(PitchClass::A, Mode::NaturalMinor))
        );
        let c_major = Scale::new(PitchClass::C, Mode::Major);
        assert!(chords_in_key(&chords, c_major).is_ok());
        let err = chords_in_key(&parse_chords("C D").unwrap_or_default(), c_major);
        assert!(matches!(err, Err(RequestError::ChordOutOfKey { ref chord, .. }) if chord == "D"));
        let request = Request {
            key: Some(c_major),
            chords: parse_chords("C E").unwrap_or_default(),
            ..Request::default()
        };
        assert!(
            request.validate().is_err(),
            "E major's G# is not in C major"
        );
        let request = Request {
            key_lock: false,
            ..request
        };
        assert!(request.validate().is_ok());
    }

    #[test]
    fn feel_and_drafts_are_checked() {
        for bad in [
            Request {
                humanize: 1.5,
                ..Request::default()
            },
            Request {
                swing: -0.1,
                ..Request::default()
            },
            Request {
                drafts: 0,
                ..Request::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
