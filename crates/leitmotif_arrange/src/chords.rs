//! The chord part: voice-led closed triads, sustained, on the pulses or comped.

use leitmotif_score::Note;
use leitmotif_score::theory::{Chord, PitchClass};
use rand::RngExt;

use crate::dynamics::{self, Part};
use crate::grid::BarGrid;
use crate::harmony::{self, HarmonySpan};
use crate::notes;
use crate::settings::{self, ArrangeError, ArrangeSettings, BarSlot};

/// How much softer the chord part is than [`velocity`](crate::velocity), for balance.
const PAD_OFFSET: f64 = -8.0;

/// Writes a pad or comping part on `harmony` over `bars`.
///
/// Every note is allowed, inside [`ArrangeSettings::chord_range`] and inside the bars, and
/// no pitch sounds twice at once. Each chord is a closed triad in the inversion nearest the
/// previous voicing (tones that are not allowed are left out); low intensity sustains one
/// per span, mid intensity strikes one on each pulse, high intensity comps on the pulses
/// and seeded off-beat eighths (see the [crate docs](crate)).
///
/// # Errors
///
/// [`ArrangeError`] if the settings are invalid ([`ArrangeSettings::validate`]) or the bars
/// are empty or overlap.
pub fn chords(
    harmony: &[HarmonySpan],
    bars: &[BarSlot],
    settings: &ArrangeSettings,
) -> Result<Vec<Note>, ArrangeError> {
    settings::validate(settings, bars)?;
    let fallback = harmony::tonic_chord(settings);
    let mut previous: Option<Vec<u8>> = None;
    let mut out = Vec::new();
    for (index, bar) in bars.iter().enumerate() {
        let grid = BarGrid::new(bar, settings.ppq);
        let level = bar.level();
        let mut rng = dynamics::rng(settings.seed, Part::Chords, index);
        for (from, to) in harmony::segments(harmony, bar) {
            let chord = harmony::chord_at(harmony, bar.start + from, fallback);
            let voicing = voice(chord, previous.as_deref(), settings);
            let hits = rhythm(&grid, from, to, level, &mut rng);
            for (h, &offset) in hits.iter().enumerate() {
                let next = hits.get(h + 1).copied().unwrap_or(to);
                let len = next.saturating_sub(offset);
                let duration = if level < 0.35 {
                    len
                } else if level <= 0.65 {
                    len - len / 16
                } else {
                    len.min(grid.eighth * 3 / 2).max(1)
                };
                let start = bar.start + offset;
                for &pitch in &voicing {
                    let jitter = dynamics::jitter(settings.seed, Part::Chords, start, pitch);
                    out.push(Note {
                        start,
                        duration: duration.max(1),
                        pitch,
                        velocity: dynamics::part_velocity(
                            level,
                            grid.weight(offset),
                            jitter,
                            PAD_OFFSET,
                        ),
                    });
                }
            }
            previous = Some(voicing);
        }
    }
    Ok(notes::no_same_pitch_overlap(out))
}

/// Where the chords strike in the segment `from..to` of a bar.
fn rhythm(grid: &BarGrid, from: u64, to: u64, level: f64, rng: &mut impl RngExt) -> Vec<u64> {
    let inside = |o: &u64| *o >= from && *o < to;
    let mut hits: Vec<u64> = if level < 0.35 {
        Vec::new()
    } else if level <= 0.65 {
        grid.pulses.iter().map(|&(o, _)| o).filter(inside).collect()
    } else {
        // Comping: most pulses, plus off-beat eighths more often the higher the intensity.
        let offbeat = 0.25 + (level - 0.65);
        let pulse_starts: Vec<u64> = grid.pulses.iter().map(|&(o, _)| o).collect();
        grid.steps(grid.eighth)
            .filter(inside)
            .filter(|o| {
                let p = if pulse_starts.contains(o) {
                    0.8
                } else {
                    offbeat
                };
                rng.random::<f64>() < p
            })
            .collect()
    };
    if hits.first() != Some(&from) {
        hits.insert(0, from);
    }
    hits
}

/// The voicing of `chord`: a closed triad in range nearest `previous` (or the middle of the
/// range), with tones that are not allowed left out.
fn voice(chord: Chord, previous: Option<&[u8]>, settings: &ArrangeSettings) -> Vec<u8> {
    let range = &settings.chord_range;
    let (low, high) = (*range.start(), (*range.end()).min(127));
    let center = (f64::from(low) + f64::from(high)) / 2.0;
    let tones: Vec<u8> = chord
        .pitch_classes()
        .iter()
        .map(|pc| pc.index())
        .filter(|&pc| settings.allowed[usize::from(pc)])
        .collect();
    let mut best: Option<(Vec<u8>, f64)> = None;
    for rotation in 0..tones.len() {
        for bottom in low..=high {
            if bottom % 12 != tones[rotation] {
                continue;
            }
            let Some(voicing) = stack(bottom, &tones, rotation, high) else {
                continue;
            };
            let cost = cost(&voicing, previous, center);
            if best.as_ref().is_none_or(|(_, c)| cost < *c - 1e-9) {
                best = Some((voicing, cost));
            }
        }
    }
    if let Some((voicing, _)) = best {
        return voicing;
    }
    // The range is too narrow for a closed triad: each tone where it fits, else any allowed pitch.
    let mut spread: Vec<u8> = tones
        .iter()
        .filter_map(|&pc| notes::nearest(range, center, |p| p % 12 == pc))
        .collect();
    if spread.is_empty() {
        spread.extend(notes::nearest(range, center, |p| {
            settings.allows(p) && chord.contains(PitchClass::from_midi(p))
        }));
    }
    if spread.is_empty() {
        spread.extend(notes::nearest(range, center, |p| settings.allows(p)));
    }
    spread.sort_unstable();
    spread.dedup();
    spread
}

/// The closed voicing of `tones` from `bottom` upwards, starting at tone `rotation`; `None`
/// if it rises above `high`.
fn stack(bottom: u8, tones: &[u8], rotation: usize, high: u8) -> Option<Vec<u8>> {
    let mut voicing = vec![bottom];
    for k in 1..tones.len() {
        let pc = tones[(rotation + k) % tones.len()];
        let last = *voicing.last()?;
        let up = (1..=12u8).find(|d| (last + d) % 12 == pc)?;
        let pitch = last.checked_add(up).filter(|&p| p <= high)?;
        voicing.push(pitch);
    }
    Some(voicing)
}

/// How far `voicing` moves from `previous` (each voice to the nearest previous one), with a
/// gentle pull towards the middle of the range; the distance from the middle alone when
/// there is no previous voicing.
fn cost(voicing: &[u8], previous: Option<&[u8]>, center: f64) -> f64 {
    let mean = voicing.iter().map(|&p| f64::from(p)).sum::<f64>() / voicing.len().max(1) as f64;
    let pull = (mean - center).abs();
    match previous {
        Some(previous) if !previous.is_empty() => {
            let movement: f64 = voicing
                .iter()
                .map(|&p| {
                    previous
                        .iter()
                        .map(|&q| f64::from(p.abs_diff(q)))
                        .fold(f64::INFINITY, f64::min)
                })
                .sum();
            movement + 0.3 * pull
        }
        _ => pull,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leitmotif_score::theory::{ChordQuality, Mode, Scale};

    fn settings() -> ArrangeSettings {
        ArrangeSettings::new(
            480,
            Scale::new(PitchClass::C, Mode::Major).mask(),
            PitchClass::C,
        )
    }

    #[test]
    fn voicings_lead_smoothly() {
        let s = settings();
        let c = voice(Chord::new(PitchClass::C, ChordQuality::Major), None, &s);
        assert_eq!(c.len(), 3);
        let f = voice(Chord::new(PitchClass::F, ChordQuality::Major), Some(&c), &s);
        let moved: u32 = c
            .iter()
            .zip(&f)
            .map(|(a, b)| u32::from(a.abs_diff(*b)))
            .sum();
        assert!(moved <= 4, "C {c:?} to F {f:?} moves {moved} semitones");
    }

    #[test]
    fn narrow_ranges_still_give_allowed_pitches() {
        let mut s = settings();
        s.chord_range = 60..=62;
        let g = voice(Chord::new(PitchClass::G, ChordQuality::Major), None, &s);
        assert_eq!(g, vec![62], "only D fits");
        let f = voice(Chord::new(PitchClass::F, ChordQuality::Major), None, &s);
        assert_eq!(f, vec![60]);
        let e = voice(Chord::new(PitchClass::E, ChordQuality::Minor), None, &s);
        assert!(e.iter().all(|&p| s.allows(p) && s.chord_range.contains(&p)));
        assert!(!e.is_empty());
    }
}
