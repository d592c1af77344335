//! Harmonize: the arranger's bass, chords and drums written under a given melody, which is
//! kept note for note (the `leitmotif harmonize` command, and a game's harmonized cues).
//!
//! ```
//! use leitmotif_request::harmonize::{Harmonize, harmonize};
//! use leitmotif_score::{Note, Role, Score, Track};
//!
//! let mut score = Score::new(480);
//! let mut lead = Track::new("Lead", Role::Melody, 73, 0);
//! for (k, pitch) in [60u8, 64, 67, 72, 71, 67, 62, 60].into_iter().enumerate() {
//!     lead.notes.push(Note { start: k as u64 * 480, duration: 480, pitch, velocity: 90 });
//! }
//! score.tracks.push(lead);
//! score.end_tick = 8 * 480;
//! let done = harmonize(&score, &Harmonize::default())?;
//! assert_eq!(done.score.tracks.len(), 4);
//! assert_eq!(done.score.tracks[0].notes, score.tracks[0].notes);
//! assert_eq!(done.key.to_string(), "C major");
//! # Ok::<(), leitmotif_request::harmonize::HarmonizeError>(())
//! ```

use leitmotif_arrange::{
    ArrangeError, ArrangeSettings, BarSlot, ChordToneShare, Feel, HarmonySpan, Humanizer, arrange,
    arrange_on, chord_tone_share, progression,
};
use leitmotif_score::theory::{Chord, PitchClass, Scale, estimate_key, pitch_class_histogram};
use leitmotif_score::time::BarMap;
use leitmotif_score::{Note, Score, Track};
use leitmotif_tokens::{Layer, assign_layers};
use thiserror::Error;

use crate::request::{Curve, allowed_pitch_classes};

/// What to write under a melody.
#[derive(Debug, Clone, PartialEq)]
pub struct Harmonize {
    /// The layers to add: bass, chords and drums (default all three).
    pub layers: Vec<Layer>,
    /// The key (`None`: estimated from the melody's pitch classes).
    pub key: Option<Scale>,
    /// A progression to play, one chord a bar from the first, cycling (empty: the harmony
    /// the arranger hears in the melody).
    pub chords: Vec<Chord>,
    /// Intensity over the bars (default 0.5).
    pub intensity: Curve,
    /// Whether the music loops: the last bar then leads back to the first.
    pub looped: bool,
    /// Seed of the arranger's choices and of the feel.
    pub seed: u64,
    /// Humanize and swing of the added layers (default the exact grid).
    pub feel: Feel,
}

impl Default for Harmonize {
    fn default() -> Self {
        Self {
            layers: vec![Layer::Bass, Layer::Chords, Layer::Drums],
            key: None,
            chords: Vec::new(),
            intensity: Curve::Constant(0.5),
            looped: false,
            seed: 0,
            feel: Feel::default(),
        }
    }
}

/// A melody with the layers written under it.
#[derive(Debug, Clone, PartialEq)]
pub struct Harmonized {
    /// The score: every input track as it was, then one track per added layer.
    pub score: Score,
    /// The key the harmony is in.
    pub key: Scale,
    /// The index of the melody track.
    pub melody_track: usize,
    /// The harmony, span by span.
    pub harmony: Vec<HarmonySpan>,
    /// The layers added and their note counts, in order.
    pub added: Vec<(Layer, usize)>,
    /// How many strong-beat melody notes are tones of the harmony.
    pub share: ChordToneShare,
}

/// Why a melody could not be harmonized.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum HarmonizeError {
    /// The melody was asked for as a layer to add.
    #[error("the melody is given; add bass, chords or drums")]
    MelodyAsked,
    /// No layer to add.
    #[error("no layer to add: ask for bass, chords or drums")]
    NoLayers,
    /// The score has no melody track.
    #[error("no melody track (a pitched track with notes)")]
    NoMelody,
    /// The score already has a track of a layer asked for.
    #[error("it already has a {0} track; leave {0} out of the layers")]
    Present(&'static str),
    /// The humanize or swing amount is out of range.
    #[error("{0}")]
    Feel(String),
    /// The arranger refused the bars or settings.
    #[error(transparent)]
    Arrange(#[from] ArrangeError),
    /// The result is no valid score.
    #[error("the harmonized score is invalid: {0}")]
    Invalid(String),
}

/// Writes `options.layers` under the melody of `score` (its first track the tokenizer
/// reads as melody), bar by bar over the score's bars: the harmony the arranger hears in
/// the melody, or `options.chords`, in `options.key` or the key estimated from the melody
/// (duration-weighted pitch classes; the first note's major key if none stands out), with
/// the chords' tones allowed too. Every input track is kept note for note; each added
/// layer gets a track of its own on a free MIDI channel.
///
/// # Errors
/// [`HarmonizeError`] naming the problem: the melody asked for, no layer asked for, no
/// melody track, a layer the score already has, a feel out of range, bars the arranger
/// refuses.
pub fn harmonize(score: &Score, options: &Harmonize) -> Result<Harmonized, HarmonizeError> {
    options
        .feel
        .validate()
        .map_err(|e| HarmonizeError::Feel(e.to_string()))?;
    let mut layers = options.layers.clone();
    layers.sort();
    layers.dedup();
    if layers.contains(&Layer::Melody) {
        return Err(HarmonizeError::MelodyAsked);
    }
    if layers.is_empty() {
        return Err(HarmonizeError::NoLayers);
    }
    let present = assign_layers(score);
    let melody_track = present
        .iter()
        .zip(&score.tracks)
        .position(|(l, t)| *l == Layer::Melody && !t.notes.is_empty())
        .ok_or(HarmonizeError::NoMelody)?;
    if let Some(layer) = layers.iter().find(|l| present.contains(l)) {
        return Err(HarmonizeError::Present(layer.role().as_str()));
    }
    let melody: &[Note] = &score.tracks[melody_track].notes;
    let key = options.key.unwrap_or_else(|| {
        let histogram = pitch_class_histogram(melody.iter().map(|n| (n.pitch, n.duration as f64)));
        estimate_key(&histogram).map_or_else(
            || {
                Scale::new(
                    PitchClass::from_midi(melody[0].pitch),
                    leitmotif_score::theory::Mode::Major,
                )
            },
            |e| Scale::from(e.key),
        )
    });
    let bars = bar_slots(score, 0, u64::MAX, |i, n| {
        options.intensity.at(i, n).clamp(0.0, 1.0)
    });
    let mut allowed = allowed_pitch_classes(key);
    for pc in options.chords.iter().flat_map(|c| c.pitch_classes()) {
        allowed[usize::from(pc.index())] = true;
    }
    let mut settings = ArrangeSettings::new(score.ppq, allowed, key.tonic);
    settings.looped = options.looped;
    settings.seed = options.seed;
    let parts = if options.chords.is_empty() {
        arrange(melody, &bars, &settings)?
    } else {
        arrange_on(progression(&options.chords, &bars)?, &bars, &settings)?
    };
    let humanizer = Humanizer {
        feel: options.feel,
        ppq: score.ppq,
        seed: options.seed,
        bars: &bars,
    };
    let mut out = score.clone();
    let mut added = Vec::with_capacity(layers.len());
    for &layer in &layers {
        let (notes, monophonic) = match layer {
            Layer::Bass => (&parts.bass, true),
            Layer::Chords => (&parts.chords, false),
            _ => (&parts.drums, false),
        };
        let (name, program, channel) = layer.track_defaults();
        let channel = free_channel(&out, channel, layer);
        let mut track = Track::new(name, layer.role(), program, channel);
        track.notes = humanizer.part(notes, layer.index() as u64, monophonic);
        track.sort_notes();
        added.push((layer, track.notes.len()));
        out.tracks.push(track);
    }
    out.end_tick = out.end_tick.max(out.last_note_end());
    out.validate()
        .map_err(|e| HarmonizeError::Invalid(e.to_string()))?;
    let share = chord_tone_share(melody, &parts.harmony, &bars, score.ppq);
    Ok(Harmonized {
        score: out,
        key,
        melody_track,
        harmony: parts.harmony,
        added,
        share,
    })
}

/// The bars of `score` starting in `lo..hi` as the arranger's slots, each bar `i` of the
/// `n` with intensity `level(i, n)`.
pub fn bar_slots(
    score: &Score,
    lo: u64,
    hi: u64,
    level: impl Fn(usize, usize) -> f64,
) -> Vec<BarSlot> {
    let map = BarMap::new(score);
    let bars: Vec<_> = map
        .bars()
        .iter()
        .filter(|b| b.start >= lo && b.start < hi)
        .collect();
    let n = bars.len();
    bars.iter()
        .enumerate()
        .map(|(i, b)| BarSlot {
            start: b.start,
            ticks: b.len,
            meter: b.meter,
            intensity: level(i, n),
        })
        .collect()
}

/// `wanted` if no track of `score` uses it, else the lowest channel no track uses (never
/// the drum channel for a pitched layer).
fn free_channel(score: &Score, wanted: u8, layer: Layer) -> u8 {
    let used = |c: u8| score.tracks.iter().any(|t| t.channel == c);
    if layer == Layer::Drums || !used(wanted) {
        return wanted;
    }
    (0..16u8).find(|&c| c != 9 && !used(c)).unwrap_or(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use leitmotif_score::Role;

    fn tune() -> Score {
        let mut score = Score::new(480);
        let mut lead = Track::new("Lead", Role::Melody, 73, 0);
        for (k, pitch) in [69u8, 72, 76, 74, 72, 71, 69, 68].into_iter().enumerate() {
            lead.notes.push(Note {
                start: k as u64 * 480,
                duration: 480,
                pitch,
                velocity: 90,
            });
        }
        score.tracks.push(lead);
        score.end_tick = 8 * 480;
        score
    }

    #[test]
    fn bad_asks_are_refused_by_name() {
        let ask = |layers: Vec<Layer>| Harmonize {
            layers,
            ..Harmonize::default()
        };
        let score = tune();
        assert_eq!(
            harmonize(&score, &ask(vec![Layer::Melody, Layer::Bass])),
            Err(HarmonizeError::MelodyAsked)
        );
        assert_eq!(
            harmonize(&score, &ask(vec![])),
            Err(HarmonizeError::NoLayers)
        );
        let with_bass = harmonize(&score, &ask(vec![Layer::Bass]))
            .unwrap_or_else(|e| panic!("{e}"))
            .score;
        assert_eq!(
            harmonize(&with_bass, &ask(vec![Layer::Bass])),
            Err(HarmonizeError::Present("bass"))
        );
        let mut silent = score.clone();
        silent.tracks[0].notes.clear();
        assert_eq!(
            harmonize(&silent, &Harmonize::default()),
            Err(HarmonizeError::NoMelody)
        );
        let feel = Harmonize {
            feel: Feel {
                humanize: 2.0,
                swing: 0.0,
            },
            ..Harmonize::default()
        };
        assert!(matches!(
            harmonize(&score, &feel),
            Err(HarmonizeError::Feel(_))
        ));
    }

    #[test]
    fn the_key_is_estimated_or_given_and_chords_are_followed() {
        let score = tune();
        let heard = harmonize(&score, &Harmonize::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(heard.key.to_string(), "A minor");
        assert_eq!(heard.added.len(), 3);
        assert!(heard.added.iter().all(|(_, n)| *n > 0));
        let given = Harmonize {
            chords: crate::request::parse_chords("Am E").unwrap_or_else(|e| panic!("{e}")),
            layers: vec![Layer::Chords],
            ..Harmonize::default()
        };
        let done = harmonize(&score, &given).unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<String> = done.harmony.iter().map(|s| s.chord.to_string()).collect();
        assert_eq!(names, ["Am", "E"]);
        // E major's G# is allowed with the chords, in A minor.
        assert!(done.score.tracks[1].notes.iter().any(|n| n.pitch % 12 == 8));
    }
}
