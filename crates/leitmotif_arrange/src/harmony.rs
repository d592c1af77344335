//! The harmony under a melody: one triad per bar (two in long bars that clearly change).

use leitmotif_score::Note;
use leitmotif_score::theory::{Chord, ChordQuality, PitchClass};
use serde::{Deserialize, Serialize};

use crate::grid::BarGrid;
use crate::notes::nearest;
use crate::settings::{self, ArrangeError, ArrangeSettings, BarSlot};

/// The harmony of one span: usually one bar, or half of a long bar whose melody clearly
/// changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HarmonySpan {
    /// The span's first tick.
    pub start: u64,
    /// The tick after the span.
    pub end: u64,
    /// The chord sounding over it.
    pub chord: Chord,
}

/// The triad qualities the arranger harmonises with.
const QUALITIES: [ChordQuality; 3] = [
    ChordQuality::Major,
    ChordQuality::Minor,
    ChordQuality::Diminished,
];

/// How much more than its share a note on the downbeat, another pulse or another beat counts.
const STRENGTH: [f64; 3] = [2.0, 1.6, 1.3];
/// Bonus for the tonic triad in the first bar.
const FIRST_BAR_TONIC: f64 = 0.3;
/// Extra fit two chords must win over one before a long bar splits.
const SPLIT_GAIN: f64 = 0.5;

/// Writes the harmony of `melody` over `bars`: spans that tile the bars exactly, in order.
///
/// See the [crate docs](crate) for the rules: candidates are the triads whose tones are all
/// allowed, scored by fit to the bar's duration- and metre-weighted pitch classes, with mild
/// preferences for tonic, subdominant and dominant and for smooth progressions; the first
/// bar prefers the tonic, the last is the tonic or, when looped, a chord leading back to
/// the first. Notes outside the bars are ignored. No bars give no spans.
///
/// # Errors
///
/// [`ArrangeError`] if the settings are invalid ([`ArrangeSettings::validate`]) or the bars
/// are empty or overlap.
pub fn harmony(
    melody: &[Note],
    bars: &[BarSlot],
    settings: &ArrangeSettings,
) -> Result<Vec<HarmonySpan>, ArrangeError> {
    settings::validate(settings, bars)?;
    let cx = Context::new(settings);
    let mut spans: Vec<HarmonySpan> = Vec::with_capacity(bars.len());
    let last = bars.len().saturating_sub(1);
    for (i, bar) in bars.iter().enumerate() {
        let weights = histogram(melody, bar, bar.start, bar.end(), settings.ppq);
        let prev = spans.last().map(|s| s.chord);
        let span = |chord| HarmonySpan {
            start: bar.start,
            end: bar.end(),
            chord,
        };
        if i == last && !settings.looped {
            spans.push(span(cx.tonic_chord));
        } else if i == last && i > 0 {
            let first = spans.first().map_or(cx.tonic_chord, |s| s.chord);
            spans.push(span(cx.cadence_to(first, &weights)));
        } else if i == 0 {
            let chord = if total(&weights) > 0.0 {
                cx.best(&weights, None, |c| {
                    if c == cx.tonic_chord {
                        FIRST_BAR_TONIC
                    } else {
                        0.0
                    }
                })
            } else {
                cx.tonic_chord
            };
            spans.push(span(chord));
        } else if total(&weights) <= 0.0 {
            spans.push(span(prev.unwrap_or(cx.tonic_chord)));
        } else {
            let penultimate = i + 1 == last && !settings.looped;
            let extra = |c: Chord| {
                if penultimate && cx.tonic.interval_to(c.root) == 7 {
                    0.1
                } else {
                    0.0
                }
            };
            let whole = cx.best(&weights, prev, extra);
            match cx.split(melody, bar, settings.ppq, prev, whole) {
                Some((mid, a, b)) => {
                    spans.push(HarmonySpan {
                        start: bar.start,
                        end: bar.start + mid,
                        chord: a,
                    });
                    spans.push(HarmonySpan {
                        start: bar.start + mid,
                        end: bar.end(),
                        chord: b,
                    });
                }
                None => spans.push(span(whole)),
            }
        }
    }
    Ok(spans)
}

/// What every bar's choice needs: the candidates and the tonic.
struct Context {
    candidates: Vec<Chord>,
    tonic: PitchClass,
    tonic_chord: Chord,
}

impl Context {
    fn new(settings: &ArrangeSettings) -> Self {
        let candidates = candidates(&settings.allowed);
        let tonic = settings.tonic;
        let tonic_chord = candidates
            .iter()
            .copied()
            .find(|c| c.root == tonic)
            .or_else(|| candidates.iter().copied().find(|c| c.contains(tonic)))
            .or_else(|| candidates.first().copied())
            .unwrap_or(Chord::new(tonic, ChordQuality::Major));
        Self {
            candidates,
            tonic,
            tonic_chord,
        }
    }

    /// The candidate with the best fit to `weights` plus function and smoothness bonuses
    /// and `extra`; ties go to the earlier candidate.
    fn best(
        &self,
        weights: &[f64; 12],
        prev: Option<Chord>,
        extra: impl Fn(Chord) -> f64,
    ) -> Chord {
        self.argmax(|c| fit(c, weights) + self.function_bonus(c) + smoothness(prev, c) + extra(c))
    }

    /// The candidate maximising `score`, the earliest on ties.
    fn argmax(&self, score: impl Fn(Chord) -> f64) -> Chord {
        argmax(&self.candidates, self.tonic_chord, score)
    }

    /// A mild preference for the tonic, dominant and subdominant, against diminished triads.
    fn function_bonus(&self, chord: Chord) -> f64 {
        let function = match self.tonic.interval_to(chord.root) {
            0 => 0.08,
            5 | 7 => 0.06,
            _ => 0.0,
        };
        let quality = if chord.quality == ChordQuality::Diminished {
            -0.12
        } else {
            0.0
        };
        function + quality
    }

    /// The last bar of a loop: the chord leading best back to `first`, given the melody.
    fn cadence_to(&self, first: Chord, weights: &[f64; 12]) -> Chord {
        self.argmax(|c| {
            // The first chord itself only when it is the only candidate.
            let lead = if c == first { -1e6 } else { lead(c, first) };
            fit(c, weights) + lead
        })
    }

    /// Two chords for the halves of a long bar, when they fit clearly better than `whole`.
    fn split(
        &self,
        melody: &[Note],
        bar: &BarSlot,
        ppq: u16,
        prev: Option<Chord>,
        whole: Chord,
    ) -> Option<(u64, Chord, Chord)> {
        let grid = BarGrid::new(bar, ppq);
        if !grid.is_long() {
            return None;
        }
        let mid = grid.middle()?;
        let first = histogram(melody, bar, bar.start, bar.start + mid, ppq);
        let second = histogram(melody, bar, bar.start + mid, bar.end(), ppq);
        if total(&first) <= 0.0 || total(&second) <= 0.0 {
            return None;
        }
        let a = self.best(&first, prev, |_| 0.0);
        let b = self.best(&second, Some(a), |_| 0.0);
        let gain = fit(a, &first) + fit(b, &second) - fit(whole, &first) - fit(whole, &second);
        (a != b && gain >= SPLIT_GAIN).then_some((mid, a, b))
    }
}

/// The chord of `candidates` maximising `score`, the earliest on ties; `fallback` when
/// there are none.
fn argmax(candidates: &[Chord], fallback: Chord, score: impl Fn(Chord) -> f64) -> Chord {
    let mut best = (fallback, f64::NEG_INFINITY);
    for &c in candidates {
        let s = score(c);
        if s > best.1 + 1e-12 {
            best = (c, s);
        }
    }
    best.0
}

/// How strongly `chord` leads to `target`: its dominant (major, then minor), its
/// leading-tone triad, its subdominant, else not at all.
fn lead(chord: Chord, target: Chord) -> f64 {
    match (target.root.interval_to(chord.root), chord.quality) {
        (7, ChordQuality::Major) => 0.6,
        (7, ChordQuality::Minor) => 0.4,
        (11, ChordQuality::Diminished) => 0.35,
        (5, _) => 0.2,
        _ => 0.0,
    }
}

/// Bonus for a pivot chord whose tones all belong to the new key as well as the old.
const PIVOT_COMMON: f64 = 0.2;

/// The chord that prepares a move from the key of `from` into the key of `to`, sounding
/// over `start..end` of `bar` at the end of the music in the old key: the chord that best
/// leads to the new key's tonic triad given the melody sounding there.
///
/// The candidates are the old key's triads (see [`ArrangeSettings::allowed`]) and the new
/// key's major dominant, but neither key's tonic triad (the pivot moves the harmony). A
/// candidate scores its fit to the melody (as in [`harmony`]), how it leads to the new
/// tonic (dominant 0.6, minor dominant 0.4, leading-tone triad 0.35, subdominant 0.2) and
/// [`PIVOT_COMMON`] when all its tones belong to the new key too, so it is a pivot chord
/// of both keys. With no melody there the new key's dominant wins. Ties go to the earlier
/// candidate: the old key's triads by root from C, then the dominant.
pub fn pivot(
    melody: &[Note],
    bar: &BarSlot,
    start: u64,
    end: u64,
    from: &ArrangeSettings,
    to: &ArrangeSettings,
) -> Chord {
    let weights = histogram(melody, bar, start, end, from.ppq);
    let old = Context::new(from);
    let new = Context::new(to);
    let dominant = Chord::new(new.tonic.transpose(7), ChordQuality::Major);
    let mut candidates = old.candidates.clone();
    if !candidates.contains(&dominant) {
        candidates.push(dominant);
    }
    candidates.retain(|&c| c != old.tonic_chord && c != new.tonic_chord);
    let in_new = |c: Chord| {
        c.pitch_classes()
            .iter()
            .all(|pc| to.allowed[usize::from(pc.index())])
    };
    argmax(&candidates, dominant, |c| {
        let common = if in_new(c) { PIVOT_COMMON } else { 0.0 };
        fit(c, &weights) + lead(c, new.tonic_chord) + common
    })
}

/// The pitch nearest to `pitch` whose pitch class is a tone of `chord` (the lower one on a
/// tie), within `0..=127`: how a part's note moves onto a new chord.
pub fn nearest_chord_tone(pitch: u8, chord: Chord) -> u8 {
    nearest(&(0..=127), f64::from(pitch.min(127)), |p| {
        chord.contains(PitchClass::from_midi(p))
    })
    .unwrap_or(pitch)
}

/// The pitch nearest to `pitch` whose pitch class is `chord`'s root (the lower one on a
/// tie), within `0..=127`: where a bass moves onto a new chord.
pub fn nearest_root(pitch: u8, chord: Chord) -> u8 {
    nearest(&(0..=127), f64::from(pitch.min(127)), |p| {
        PitchClass::from_midi(p) == chord.root
    })
    .unwrap_or(pitch)
}

/// The tonic triad the arranger uses for `settings` (see [`harmony`]).
pub(crate) fn tonic_chord(settings: &ArrangeSettings) -> Chord {
    Context::new(settings).tonic_chord
}

/// The chord sounding at `tick`: that of the span holding it, else of the last span
/// starting before it, else of the first span; `fallback` with no spans.
pub(crate) fn chord_at(harmony: &[HarmonySpan], tick: u64, fallback: Chord) -> Chord {
    harmony
        .iter()
        .rev()
        .find(|s| s.start <= tick && tick < s.end)
        .or_else(|| harmony.iter().rev().find(|s| s.start <= tick))
        .or_else(|| harmony.first())
        .map_or(fallback, |s| s.chord)
}

/// The pieces of `bar` between chord changes: `(offset, end offset)` pairs from the bar's
/// start, in order, covering the bar.
pub(crate) fn segments(harmony: &[HarmonySpan], bar: &BarSlot) -> Vec<(u64, u64)> {
    let mut cuts: Vec<u64> = harmony
        .iter()
        .flat_map(|s| [s.start, s.end])
        .filter(|&t| t > bar.start && t < bar.end())
        .map(|t| t - bar.start)
        .collect();
    cuts.push(0);
    cuts.push(bar.ticks);
    cuts.sort_unstable();
    cuts.dedup();
    cuts.windows(2).map(|w| (w[0], w[1])).collect()
}

/// The major, minor and diminished triads whose tones are all allowed, by root from C; if
/// there are none, the major and minor triads with the most allowed tones.
pub(crate) fn candidates(allowed: &[bool; 12]) -> Vec<Chord> {
    let all: Vec<Chord> = (0..12u8)
        .flat_map(|r| QUALITIES.map(|q| Chord::new(PitchClass::from_midi(r), q)))
        .collect();
    let allowed_tones = |c: &Chord| {
        c.pitch_classes()
            .iter()
            .filter(|pc| allowed[usize::from(pc.index())])
            .count()
    };
    let full: Vec<Chord> = all
        .iter()
        .copied()
        .filter(|c| allowed_tones(c) == 3)
        .collect();
    if !full.is_empty() {
        return full;
    }
    let most = all.iter().map(allowed_tones).max().unwrap_or(0);
    all.into_iter()
        .filter(|c| c.quality != ChordQuality::Diminished && allowed_tones(c) == most)
        .collect()
}

/// The melody's pitch classes over `start..end` (inside `bar`), weighted by sounding ticks
/// and by the metrical strength of notes that start there.
fn histogram(melody: &[Note], bar: &BarSlot, start: u64, end: u64, ppq: u16) -> [f64; 12] {
    let mut weights = [0.0; 12];
    for note in melody {
        let from = note.start.max(start);
        let to = note.start.saturating_add(note.duration).min(end);
        if to <= from {
            continue;
        }
        let strength = if note.start >= start {
            let w = crate::grid::weight(bar.meter, ppq, note.start - bar.start);
            STRENGTH.get(usize::from(w)).copied().unwrap_or(1.0)
        } else {
            1.0
        };
        weights[usize::from(note.pitch % 12)] += (to - from) as f64 * strength;
    }
    weights
}

fn total(weights: &[f64; 12]) -> f64 {
    weights.iter().sum()
}

/// How well `chord` explains `weights`: (weight on chord tones − half the weight off them)
/// / total, plus a tenth of the root's share; 0 for an empty histogram.
fn fit(chord: Chord, weights: &[f64; 12]) -> f64 {
    let total = total(weights);
    if total <= 0.0 {
        return 0.0;
    }
    let on: f64 = chord
        .pitch_classes()
        .iter()
        .map(|pc| weights[usize::from(pc.index())])
        .sum();
    let root = weights[usize::from(chord.root.index())];
    (on - 0.5 * (total - on)) / total + 0.1 * root / total
}

/// A small bonus for common tones with the previous chord and root motion by a fourth or
/// fifth.
fn smoothness(prev: Option<Chord>, chord: Chord) -> f64 {
    let Some(prev) = prev else {
        return 0.0;
    };
    let common = chord
        .pitch_classes()
        .iter()
        .filter(|pc| prev.contains(**pc))
        .count();
    let motion = match prev.root.interval_to(chord.root) {
        5 | 7 => 0.03,
        _ => 0.0,
    };
    0.02 * common as f64 + motion
}

#[cfg(test)]
mod tests {
    use super::*;
    use leitmotif_score::theory::{Mode, Scale};

    #[test]
    fn candidates_are_the_fully_allowed_triads() {
        let c_major = candidates(&Scale::new(PitchClass::C, Mode::Major).mask());
        let names: Vec<String> = c_major.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["C", "Dm", "Em", "F", "G", "Am", "Bdim"]);
        let pentatonic = candidates(&Scale::new(PitchClass::A, Mode::MinorPentatonic).mask());
        let names: Vec<String> = pentatonic.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["C", "Am"]);
        let mut lone = [false; 12];
        lone[2] = true;
        let names: Vec<String> = candidates(&lone).iter().map(ToString::to_string).collect();
        assert_eq!(
            names.len(),
            6,
            "every major and minor triad holding D: {names:?}"
        );
    }

    /// A key's settings as the composer passes them: a minor key allows its raised sixth
    /// and seventh.
    fn key(tonic: PitchClass, mode: Mode) -> ArrangeSettings {
        let mut allowed = Scale::new(tonic, mode).mask();
        if mode == Mode::NaturalMinor {
            for raised in [9, 11] {
                allowed[usize::from(tonic.transpose(raised).index())] = true;
            }
        }
        ArrangeSettings::new(480, allowed, tonic)
    }

    fn name(c: Chord) -> String {
        c.to_string()
    }

    #[test]
    fn a_pivot_leads_into_the_new_key_and_fits_the_melody() {
        let bar = BarSlot {
            start: 0,
            ticks: 1920,
            meter: leitmotif_score::time::Meter::COMMON,
            intensity: 0.5,
        };
        let held = |pitch: u8| {
            vec![Note {
                start: 960,
                duration: 960,
                pitch,
                velocity: 80,
            }]
        };
        let e_major = key(PitchClass::E, Mode::Major);
        let e_minor = key(PitchClass::E, Mode::NaturalMinor);
        let c_major = key(PitchClass::C, Mode::Major);
        let a_minor = key(PitchClass::A, Mode::NaturalMinor);
        // No melody: the new key's dominant, even where the old key lacks its third.
        assert_eq!(name(pivot(&[], &bar, 960, 1920, &e_major, &e_minor)), "B");
        assert_eq!(name(pivot(&[], &bar, 960, 1920, &c_major, &a_minor)), "E");
        // A melody on the dominant's tones keeps it; one holding a note it lacks gets a
        // chord of the old key that holds that note and leads on (never either tonic).
        assert_eq!(
            name(pivot(&held(71), &bar, 960, 1920, &e_major, &e_minor)),
            "B"
        );
        let on_e = pivot(&held(64), &bar, 960, 1920, &e_major, &e_minor);
        assert_eq!(name(on_e), "A", "IV of E major, subdominant of E minor");
        let on_c = pivot(&held(72), &bar, 960, 1920, &c_major, &a_minor);
        assert_eq!(name(on_c), "F", "IV of C major, VI of A minor, holding C");
        // Only the window's melody counts.
        assert_eq!(
            name(pivot(&held(64), &bar, 0, 960, &e_major, &e_minor)),
            "B"
        );
    }

    #[test]
    fn parts_move_to_the_nearest_tone_of_a_new_chord() {
        let b_major = Chord::new(PitchClass::B, ChordQuality::Major);
        // E4 (64) lies between D#4 (63) and F#4 (66); G4 (67) between F#4 and B4.
        assert_eq!(nearest_chord_tone(64, b_major), 63);
        assert_eq!(nearest_chord_tone(67, b_major), 66);
        assert_eq!(nearest_chord_tone(71, b_major), 71);
        assert_eq!(nearest_chord_tone(127, b_major), 126);
        assert_eq!(nearest_chord_tone(0, b_major), 3);
        // Roots: E2 (40) to B1 (35), G2 (43) to B2 (47), the lower on a tritone.
        assert_eq!(nearest_root(40, b_major), 35);
        assert_eq!(nearest_root(43, b_major), 47);
        assert_eq!(nearest_root(41, b_major), 35);
        assert_eq!(nearest_root(2, b_major), 11);
        let g = Chord::new(PitchClass::G, ChordQuality::Major);
        assert_eq!(nearest_root(125, g), 127);
        assert_eq!(nearest_root(126, g), 127);
    }

    #[test]
    fn fit_prefers_the_chord_of_the_notes() {
        let mut weights = [0.0; 12];
        weights[7] = 2.0;
        weights[11] = 1.0;
        weights[2] = 1.0;
        let g = Chord::new(PitchClass::G, ChordQuality::Major);
        let e_minor = Chord::new(PitchClass::E, ChordQuality::Minor);
        assert!(fit(g, &weights) > fit(e_minor, &weights));
        assert_eq!(fit(g, &[0.0; 12]), 0.0);
    }
}
