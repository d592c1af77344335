//! The drum part: General MIDI grooves by meter family and intensity, with crashes and fills.

use leitmotif_score::Note;
use rand::RngExt;

use crate::dynamics::{self, Part};
use crate::grid::{BarGrid, MeterFamily};
use crate::notes;
use crate::settings::{self, ArrangeError, ArrangeSettings, BarSlot};

/// General MIDI acoustic bass drum.
pub const KICK: u8 = 36;
/// General MIDI side stick.
pub const SIDE_STICK: u8 = 37;
/// General MIDI acoustic snare.
pub const SNARE: u8 = 38;
/// General MIDI low floor tom.
pub const LOW_FLOOR_TOM: u8 = 41;
/// General MIDI closed hi-hat.
pub const CLOSED_HAT: u8 = 42;
/// General MIDI low tom.
pub const LOW_TOM: u8 = 45;
/// General MIDI open hi-hat.
pub const OPEN_HAT: u8 = 46;
/// General MIDI low-mid tom.
pub const LOW_MID_TOM: u8 = 47;
/// General MIDI high-mid tom.
pub const HIGH_MID_TOM: u8 = 48;
/// General MIDI crash cymbal 1.
pub const CRASH: u8 = 49;
/// General MIDI high tom.
pub const HIGH_TOM: u8 = 50;
/// General MIDI ride cymbal 1.
pub const RIDE: u8 = 51;

/// The lowest and highest General MIDI percussion pitches the arranger may write.
pub const GM_PERCUSSION: std::ops::RangeInclusive<u8> = 35..=81;

/// A fill's voices, snare down the toms to the floor tom.
const FILL: [u8; 8] = [
    SNARE,
    SNARE,
    HIGH_TOM,
    HIGH_MID_TOM,
    LOW_MID_TOM,
    LOW_TOM,
    LOW_FLOOR_TOM,
    LOW_FLOOR_TOM,
];

/// One planned hit, in ticks from its bar's start; `balance` moves its velocity.
#[derive(Debug, Clone, Copy)]
struct Hit {
    offset: u64,
    pitch: u8,
    len: u64,
    balance: f64,
}

/// Writes a drum part over `bars` in General MIDI percussion pitches ([`GM_PERCUSSION`]).
///
/// The groove follows the bar's [`MeterFamily`] and intensity: low is a kick on the
/// downbeat and a soft ride on the pulses; mid alternates kick and snare over the pulses
/// with eighth hats; high adds sixteenth hats, off-beat kicks and ghost snares. From
/// intensity 0.5 a crash opens each four-bar phrase and a fill (snare eighths at mid
/// intensity, a tom run at high) ends the bar before every fourth bar and the last bar.
/// Hits last a sixteenth or an eighth, stay inside their bar, and the same pitch never
/// overlaps itself.
///
/// # Errors
///
/// [`ArrangeError::ZeroPpq`], or an [`ArrangeError`] for bars that are empty or overlap.
pub fn drums(bars: &[BarSlot], settings: &ArrangeSettings) -> Result<Vec<Note>, ArrangeError> {
    if settings.ppq == 0 {
        return Err(ArrangeError::ZeroPpq);
    }
    settings::validate_bars(bars)?;
    let mut out = Vec::new();
    for (index, bar) in bars.iter().enumerate() {
        let grid = BarGrid::new(bar, settings.ppq);
        let level = bar.level();
        let mut rng = dynamics::rng(settings.seed, Part::Drums, index);
        let phrase_end = index % 4 == 3 || index + 1 == bars.len();
        for hit in bar_hits(&grid, level, index % 4 == 0, phrase_end, &mut rng) {
            let start = bar.start + hit.offset;
            let jitter = dynamics::jitter(settings.seed, Part::Drums, start, hit.pitch);
            let weight = grid.weight(hit.offset);
            out.push(Note {
                start,
                duration: hit.len.min(grid.ticks.saturating_sub(hit.offset)).max(1),
                pitch: hit.pitch,
                velocity: dynamics::part_velocity(level, weight, jitter, hit.balance),
            });
        }
    }
    Ok(notes::no_same_pitch_overlap(out))
}

/// The hits of one bar.
fn bar_hits(
    grid: &BarGrid,
    level: f64,
    phrase_start: bool,
    phrase_end: bool,
    rng: &mut impl RngExt,
) -> Vec<Hit> {
    let eighth = grid.eighth;
    let sixteenth = grid.sixteenth;
    let hit = |offset, pitch, len, balance| Hit {
        offset,
        pitch,
        len,
        balance,
    };
    if level < 0.35 {
        let mut hits = vec![hit(0, KICK, eighth, 0.0)];
        hits.extend(
            grid.pulses
                .iter()
                .map(|&(o, _)| hit(o, RIDE, eighth, -12.0)),
        );
        return hits;
    }
    let high = level > 0.65;
    // Where the fill starts: the last pulse, or the last two when very intense.
    let fill_start = if phrase_end && level >= 0.5 {
        let from_end = if level > 0.85 { 2 } else { 1 };
        grid.pulses
            .len()
            .checked_sub(from_end)
            .and_then(|i| grid.pulses.get(i))
            .map(|&(o, _)| o)
            .filter(|&o| o > 0)
    } else {
        None
    };
    let groove_until = fill_start.unwrap_or(grid.ticks);
    let crash = phrase_start && level >= 0.5;
    let mut hits = Vec::new();
    if crash {
        hits.push(hit(0, CRASH, eighth, 6.0));
    }
    // Kick and snare over the pulses.
    let cycle = grid.pulses_per_cycle.max(1);
    let groups_per_cycle = MeterFamily::groups(grid.meter).len().max(1);
    for (i, &(offset, _)) in grid.pulses.iter().enumerate() {
        if offset >= groove_until {
            break;
        }
        let j = i % cycle;
        let pitch = match grid.family {
            MeterFamily::Odd => {
                // Kicks on the group starts, the snare on the last group.
                let Some(g) = grid.group_starts.iter().position(|&s| s == offset) else {
                    continue;
                };
                if groups_per_cycle > 1 && g % groups_per_cycle == groups_per_cycle - 1 {
                    SNARE
                } else {
                    KICK
                }
            }
            // Waltz time (3/4, 9/8): kick, then snares.
            _ if cycle == 3 => {
                if j == 0 {
                    KICK
                } else {
                    SNARE
                }
            }
            // Backbeat over the pulses: kick, snare, kick, snare.
            _ => {
                if j.is_multiple_of(2) {
                    KICK
                } else {
                    SNARE
                }
            }
        };
        let balance = if pitch == SNARE { 2.0 } else { 0.0 };
        hits.push(hit(offset, pitch, eighth, balance));
    }
    // Hats: eighths at mid intensity, sixteenths at high; an open hat closing the bar.
    let step = if high { sixteenth } else { eighth };
    let last_offbeat = grid
        .steps(eighth)
        .filter(|&o| o < groove_until && grid.weight(o) >= 3)
        .last();
    for offset in grid.steps(step).filter(|&o| o < groove_until) {
        if crash && offset == 0 {
            continue;
        }
        let open = high && Some(offset) == last_offbeat;
        let pitch = if open { OPEN_HAT } else { CLOSED_HAT };
        hits.push(hit(
            offset,
            pitch,
            sixteenth,
            if open { -4.0 } else { -10.0 },
        ));
    }
    if high {
        let extra_kick = 0.15 + (level - 0.65);
        for offset in grid.steps(eighth).filter(|&o| o < groove_until) {
            let weak = grid.weight(offset) >= 3;
            if weak && rng.random::<f64>() < extra_kick {
                hits.push(hit(offset, KICK, eighth, -6.0));
            }
        }
        for offset in grid.steps(sixteenth).filter(|&o| o < groove_until) {
            if grid.weight(offset) >= 4 && rng.random::<f64>() < 0.12 {
                hits.push(hit(offset, SNARE, sixteenth, -22.0));
            }
        }
    }
    if let Some(from) = fill_start {
        let steps: Vec<u64> = grid
            .steps(if high { sixteenth } else { eighth })
            .filter(|&o| o >= from)
            .collect();
        let n = steps.len().max(1);
        for (k, &offset) in steps.iter().enumerate() {
            let pitch = if high {
                FILL[k * FILL.len() / n]
            } else {
                SNARE
            };
            hits.push(hit(offset, pitch, eighth, k as f64 * 1.5 - 2.0));
        }
        hits.push(hit(from, KICK, eighth, 0.0));
    }
    hits
}
