//! Theme recall: how much of a theme's scale-degree and rhythm pattern a phrase carries.
//!
//! Both are read as melody lines: the theme in its own key, the phrase on the tonic its key
//! signature states where the phrase starts (estimated from its notes when it states
//! none), in whichever seven-note mode on that tonic recalls the theme best (a signature
//! names only major or minor, and a dorian or mixolydian statement is written with one);
//! every note becomes an onset and a *diatonic number* (octave × 7 + scale degree,
//! a chromatic note counted as the degree below it). The theme is first put in the
//! phrase's meter (its beats regrouped as [`Theme::fit`] does, pitches untouched), so
//! re-barring is no loss.
//!
//! An alignment places the theme's first note on one of the phrase's notes, at a time
//! factor of ½, 1 or 2 (diminution, as written, augmentation); that note fixes a diatonic
//! transposition. Each theme note then earns half a point when a phrase note starts within
//! a thirty-second note of where it should, and another half when such a note has the
//! theme's diatonic number moved by the transposition. Recall is the best alignment's
//! points over the theme's note count, `0..=1`: 1 for a statement in any key, mode,
//! register or meter; theme notes that would fall after the phrase's end count as missed.

use leitmotif_score::analysis::pitched_notes;
use leitmotif_score::theory::{Key, Mode, PitchClass, Scale};
use leitmotif_score::time::BarMap;
use leitmotif_score::{DEFAULT_PPQ, Note, Score};
use leitmotif_tokens::{Layer, assign_layers};

use super::Theme;
use super::fit::{degree_of, warp};

/// Time factors an alignment may use.
const FACTORS: [f64; 3] = [1.0, 0.5, 2.0];

/// How far (in ticks at [`DEFAULT_PPQ`]) an onset may be from where the theme puts it.
const TOLERANCE: f64 = DEFAULT_PPQ as f64 / 8.0;

/// The best alignment of a theme in a phrase.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recall {
    /// Rhythm and degree points over the theme's notes, 0 to 1.
    pub score: f64,
    /// The share of theme notes with a phrase onset where they belong.
    pub rhythm: f64,
    /// The share with the right scale degree there as well.
    pub degrees: f64,
    /// Where the theme's first note was found, in ticks of the phrase.
    pub tick: u64,
    /// The diatonic transposition, in scale steps.
    pub steps: i32,
    /// The time factor (½ diminution, 2 augmentation).
    pub factor: f64,
}

impl Recall {
    const NONE: Recall = Recall {
        score: 0.0,
        rhythm: 0.0,
        degrees: 0.0,
        tick: 0,
        steps: 0,
        factor: 1.0,
    };
}

/// The melody line of a score: its melody track (the track whose role is melody, else the
/// first pitched track with notes), the highest note where notes start together, each
/// note cut where the next begins.
pub fn melody_line(score: &Score) -> Vec<Note> {
    let layers = assign_layers(score);
    let track = layers
        .iter()
        .position(|l| *l == Layer::Melody)
        .filter(|&i| !score.tracks[i].notes.is_empty())
        .or_else(|| {
            score
                .tracks
                .iter()
                .position(|t| t.role != leitmotif_score::Role::Drums && !t.notes.is_empty())
        });
    let Some(track) = track else {
        return Vec::new();
    };
    let mut line = score.tracks[track].notes.clone();
    line.sort_by_key(|n| (n.start, std::cmp::Reverse(n.pitch)));
    line.dedup_by_key(|n| n.start);
    for i in 1..line.len() {
        let next = line[i].start;
        let prev = &mut line[i - 1];
        prev.duration = prev.duration.min(next - prev.start);
    }
    line.retain(|n| n.duration > 0);
    line
}

/// The key a phrase is in at `tick`: its key signature there, else its notes' estimate.
pub(crate) fn key_at(score: &Score, tick: u64) -> Scale {
    score
        .key_signatures
        .iter()
        .rev()
        .find(|k| k.tick <= tick)
        .and_then(|k| Key::from_key_signature(k.sharps, k.minor).ok())
        .or_else(|| {
            let notes = pitched_notes(score);
            leitmotif_score::theory::estimate_key(
                &leitmotif_score::analysis::pitch_class_histogram(&notes),
            )
            .map(|e| e.key)
        })
        .map_or(Scale::new(PitchClass::C, Mode::Major), Scale::from)
}

/// A pitch's diatonic number in `scale`: octave × scale size + degree (a chromatic note
/// counted as the degree below).
pub(crate) fn diatonic(pitch: u8, scale: Scale) -> i32 {
    let (octave, degree, _) = degree_of(pitch, scale);
    octave * scale.mode.intervals().len() as i32 + degree as i32
}

/// How much of `theme` the melody of `phrase` carries over `span` (ticks `[start, end)`;
/// `None`: the whole score). See the module docs.
pub fn recall(theme: &Theme, phrase: &Score, span: Option<(u64, u64)>) -> Recall {
    let phrase = phrase.at_resolution(DEFAULT_PPQ);
    let (lo, hi) = span.unwrap_or((0, phrase.end_tick.max(phrase.last_note_end())));
    let meter = BarMap::new(&phrase).bar_at(lo).meter;
    let tonic = key_at(&phrase, lo).tonic;
    let line: Vec<Note> = melody_line(&phrase)
        .into_iter()
        .filter(|n| n.start >= lo && n.start < hi)
        .collect();
    let Some(first) = theme.notes.first() else {
        return Recall::NONE;
    };
    let origin = warp(first.start, theme.meter, meter);
    let motif: Vec<(f64, i32)> = theme
        .notes
        .iter()
        .map(|n| {
            (
                warp(n.start, theme.meter, meter) - origin,
                diatonic(n.pitch, theme.key),
            )
        })
        .collect();
    let mut best = Recall::NONE;
    for mode in Mode::ALL.into_iter().filter(|m| m.is_heptatonic()) {
        let scale = Scale::new(tonic, mode);
        let notes: Vec<(f64, i32)> = line
            .iter()
            .map(|n| (n.start as f64, diatonic(n.pitch, scale)))
            .collect();
        let found = align(&motif, &notes, hi as f64);
        if found.score > best.score {
            best = found;
        }
    }
    best
}

/// The best alignment of `motif` (onsets from its first note, diatonic numbers) in `notes`
/// (onsets in ticks, diatonic numbers) before `hi`.
fn align(motif: &[(f64, i32)], notes: &[(f64, i32)], hi: f64) -> Recall {
    let count = motif.len() as f64;
    let mut best = Recall::NONE;
    for factor in FACTORS {
        for &(at, number) in notes {
            let steps = number - motif[0].1;
            let (mut rhythm, mut degrees) = (0usize, 0usize);
            for &(t, d) in motif {
                let want = at + t * factor;
                if want >= hi {
                    break;
                }
                let from = notes.partition_point(|n| n.0 < want - TOLERANCE);
                let near = notes[from..].iter().take_while(|n| n.0 <= want + TOLERANCE);
                let mut found = false;
                let mut right = false;
                for n in near {
                    found = true;
                    right |= n.1 == d + steps;
                }
                rhythm += usize::from(found);
                degrees += usize::from(right);
            }
            let score = (rhythm + degrees) as f64 / (2.0 * count);
            if score > best.score {
                best = Recall {
                    score,
                    rhythm: rhythm as f64 / count,
                    degrees: degrees as f64 / count,
                    tick: at as u64,
                    steps,
                    factor,
                };
            }
        }
    }
    best
}
