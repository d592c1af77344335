//! The bass line: roots, fifths, octaves and approach tones on the harmony, by intensity.

use leitmotif_score::Note;
use leitmotif_score::theory::{Chord, PitchClass};
use rand::RngExt;

use crate::dynamics::{self, Part};
use crate::grid::BarGrid;
use crate::harmony::{self, HarmonySpan};
use crate::notes;
use crate::settings::{self, ArrangeError, ArrangeSettings, BarSlot};

/// What a bass note plays over its chord.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Root,
    Fifth,
    Octave,
    /// A step into the next chord's root.
    Approach,
}

/// One planned bass note, in ticks from its bar's start.
#[derive(Debug, Clone, Copy)]
struct Event {
    offset: u64,
    role: Role,
}

/// Writes a monophonic bass line on `harmony` over `bars`.
///
/// Every note is allowed, inside [`ArrangeSettings::bass_range`] and inside the bars (a
/// loop never spills past the last bar). Low intensity holds roots, mid intensity plays
/// roots and fifths on the pulses with a passing tone into chord changes, high intensity
/// drives eighths with octaves, fifths and approach tones (see the [crate docs](crate)).
/// Ticks not covered by `harmony` take the chord of the span before them.
///
/// # Errors
///
/// [`ArrangeError`] if the settings are invalid ([`ArrangeSettings::validate`]) or the bars
/// are empty or overlap.
pub fn bass(
    harmony: &[HarmonySpan],
    bars: &[BarSlot],
    settings: &ArrangeSettings,
) -> Result<Vec<Note>, ArrangeError> {
    settings::validate(settings, bars)?;
    let fallback = harmony::tonic_chord(settings);
    let mut voice = Voice {
        settings,
        root: None,
        first_root: None,
    };
    let mut out = Vec::new();
    for (index, bar) in bars.iter().enumerate() {
        let grid = BarGrid::new(bar, settings.ppq);
        let level = bar.level();
        let mut rng = dynamics::rng(settings.seed, Part::Bass, index);
        let segments = harmony::segments(harmony, bar);
        for (k, &(from, to)) in segments.iter().enumerate() {
            let chord = harmony::chord_at(harmony, bar.start + from, fallback);
            // The next chord: of the next segment, or of the next bar (the first in a loop).
            let wraps = segments.get(k + 1).is_none() && index + 1 == bars.len();
            let next_tick = match segments.get(k + 1) {
                Some(&(next, _)) => Some(bar.start + next),
                None => bars
                    .get(index + 1)
                    .or(bars.first().filter(|_| settings.looped))
                    .map(|b| b.start),
            };
            let next = next_tick.map(|t| harmony::chord_at(harmony, t, fallback));
            let root = voice.root_pitch(chord);
            let first_root = *voice.first_root.get_or_insert(root);
            // Approach where the next root will really be: the loop's first root on wrapping.
            let next_root = match next {
                Some(_) if wraps => Some(first_root),
                Some(n) => Some(voice.next_root(n, root)),
                None => None,
            };
            let events = pattern(
                &grid,
                from,
                to,
                level,
                next.is_some_and(|n| n != chord),
                &mut rng,
            );
            for (e, event) in events.iter().enumerate() {
                let end = events.get(e + 1).map_or(to, |n| n.offset);
                let Some(pitch) = voice.pitch(event.role, chord, root, next_root) else {
                    continue;
                };
                let len = end.saturating_sub(event.offset);
                let duration = if level > 0.65 { len - len / 8 } else { len };
                let start = bar.start + event.offset;
                let jitter = dynamics::jitter(settings.seed, Part::Bass, start, pitch);
                let offset = if event.role == Role::Approach {
                    -4.0
                } else {
                    0.0
                };
                out.push(Note {
                    start,
                    duration: duration.max(1),
                    pitch,
                    velocity: dynamics::part_velocity(
                        level,
                        grid.weight(event.offset),
                        jitter,
                        offset,
                    ),
                });
            }
            voice.root = Some(root);
        }
    }
    Ok(notes::monophonic(out))
}

/// The rhythm of one segment `from..to` of a bar: where notes start and what they play.
fn pattern(
    grid: &BarGrid,
    from: u64,
    to: u64,
    level: f64,
    change_ahead: bool,
    rng: &mut impl RngExt,
) -> Vec<Event> {
    let pulse_starts: Vec<u64> = grid.pulses.iter().map(|&(o, _)| o).collect();
    let mut offsets: Vec<u64> = if level < 0.35 {
        // Held roots, re-struck at the middle of bars longer than four quarter notes.
        let mut held = vec![from];
        if grid.ticks > 8 * grid.eighth
            && let Some(mid) = grid.middle()
            && mid > from
            && mid < to
        {
            held.push(mid);
        }
        held
    } else if level <= 0.65 {
        pulse_starts
            .iter()
            .copied()
            .filter(|&o| o >= from && o < to)
            .collect()
    } else {
        // Eighths, thinning the weak ones a little at the lower end of high intensity.
        let keep = 0.6 + (level - 0.65) * 1.5;
        grid.steps(grid.eighth)
            .filter(|&o| o >= from && o < to)
            .filter(|o| pulse_starts.contains(o) || rng.random::<f64>() < keep)
            .collect()
    };
    if offsets.first() != Some(&from) {
        offsets.insert(0, from);
    }
    let count = offsets.len();
    offsets
        .into_iter()
        .enumerate()
        .map(|(i, offset)| {
            let role = if i == 0 {
                Role::Root
            } else if change_ahead && i + 1 == count {
                Role::Approach
            } else if level <= 0.65 {
                if i % 2 == 1 { Role::Fifth } else { Role::Root }
            } else if pulse_starts.contains(&offset) {
                if rng.random::<f64>() < 0.7 {
                    Role::Root
                } else {
                    Role::Octave
                }
            } else {
                match rng.random_range(0..10u8) {
                    0..=3 => Role::Root,
                    4..=6 => Role::Octave,
                    _ => Role::Fifth,
                }
            };
            Event { offset, role }
        })
        .collect()
}

/// The bass's register memory and the rules that turn roles into pitches.
struct Voice<'a> {
    settings: &'a ArrangeSettings,
    /// The last root played, which the next root stays near.
    root: Option<u8>,
    /// The first root played, where a loop returns to.
    first_root: Option<u8>,
}

impl Voice<'_> {
    /// The lower third of the range, where roots gravitate.
    fn home(&self) -> f64 {
        let range = &self.settings.bass_range;
        let (low, high) = (
            f64::from(*range.start()),
            f64::from((*range.end()).min(127)),
        );
        low + (high - low) / 3.0
    }

    /// The pitch for `chord`'s root near the previous root (or home).
    fn root_pitch(&self, chord: Chord) -> u8 {
        self.root_near(chord, self.root)
    }

    /// The root pitch `chord` will get after a root at `from`.
    fn next_root(&self, chord: Chord, from: u8) -> u8 {
        self.root_near(chord, Some(from))
    }

    /// The pitch for `chord`'s root near `from`, pulled a little towards home; another
    /// chord tone, or any allowed pitch, when the root cannot be played.
    fn root_near(&self, chord: Chord, from: Option<u8>) -> u8 {
        let home = self.home();
        let target = from.map_or(home, |f| 0.75 * f64::from(f) + 0.25 * home);
        self.nearest(target, |p| p % 12 == chord.root.index())
            .or_else(|| self.nearest(target, |p| chord.contains(PitchClass::from_midi(p))))
            .or_else(|| self.nearest(target, |_| true))
            .unwrap_or(*self.settings.bass_range.start())
    }

    /// The allowed pitch in range accepted by `ok` nearest `target`.
    fn nearest(&self, target: f64, ok: impl Fn(u8) -> bool) -> Option<u8> {
        notes::nearest(&self.settings.bass_range, target, |p| {
            self.settings.allows(p) && ok(p)
        })
    }

    /// The pitch playing `role` over `chord` whose root sits at `root`.
    fn pitch(&self, role: Role, chord: Chord, root: u8, next_root: Option<u8>) -> Option<u8> {
        let root_f = f64::from(root);
        let found = match role {
            Role::Root => Some(root),
            Role::Octave => self
                .exact(root.saturating_add(12))
                .or_else(|| self.exact(root.saturating_sub(12))),
            Role::Fifth => {
                let fifth = chord.pitch_classes().get(2).map(|pc| pc.index());
                fifth.and_then(|pc| {
                    let up = (0..12u8)
                        .map(|k| root.saturating_add(k))
                        .find(|p| p % 12 == pc)?;
                    self.exact(up).or_else(|| self.exact(up.saturating_sub(12)))
                })
            }
            Role::Approach => next_root.and_then(|next| {
                let side: [i16; 4] = if next >= root {
                    [-1, -2, 1, 2]
                } else {
                    [1, 2, -1, -2]
                };
                side.iter()
                    .filter_map(|&d| u8::try_from(i16::from(next) + d).ok())
                    .filter(|&p| p != root)
                    .find_map(|p| self.exact(p))
            }),
        };
        found
            .or_else(|| self.exact(root))
            .or_else(|| self.nearest(root_f, |_| true))
    }

    /// `pitch` itself if it is allowed and in range.
    fn exact(&self, pitch: u8) -> Option<u8> {
        (pitch <= 127 && self.settings.bass_range.contains(&pitch) && self.settings.allows(pitch))
            .then_some(pitch)
    }
}
