//! Leitmotif's documented arranger: the bass, chord and drum parts that follow a melody's
//! harmony bar by bar, and the dynamics that metre and intensity give every part.
//!
//! ```
//! use leitmotif_arrange::{ArrangeSettings, BarSlot, arrange};
//! use leitmotif_score::Note;
//! use leitmotif_score::theory::{Mode, PitchClass, Scale};
//! use leitmotif_score::time::Meter;
//!
//! let ppq = 480;
//! let bars: Vec<BarSlot> = (0..4)
//!     .map(|i| BarSlot { start: i * 1920, ticks: 1920, meter: Meter::COMMON, intensity: 0.5 })
//!     .collect();
//! // One bar of C-E-G, one of G-B-D, then C again.
//! let melody: Vec<Note> = [60u8, 64, 67, 67, 71, 74, 72, 76, 79]
//!     .into_iter()
//!     .enumerate()
//!     .map(|(i, pitch)| Note { start: i as u64 * 640, duration: 640, pitch, velocity: 90 })
//!     .collect();
//! let c_major = Scale::new(PitchClass::C, Mode::Major);
//! let settings = ArrangeSettings::new(ppq, c_major.mask(), PitchClass::C);
//!
//! let arrangement = arrange(&melody, &bars, &settings)?;
//! assert_eq!(arrangement.harmony[0].chord.to_string(), "C");
//! assert_eq!(arrangement.harmony[1].chord.to_string(), "G");
//! assert_eq!(arrangement.harmony.last().map(|s| s.chord.to_string()).as_deref(), Some("C"));
//! assert!(arrangement.bass.iter().all(|n| (28..=55).contains(&n.pitch)));
//! assert!(arrangement.drums.iter().all(|n| (35..=81).contains(&n.pitch)));
//! # Ok::<(), leitmotif_arrange::ArrangeError>(())
//! ```
//!
//! Everything here is pure and deterministic: the same notes, bars and [`ArrangeSettings`]
//! (seed included) always give the same parts. Random choices come from a
//! [`rand::rngs::StdRng`] seeded from [`ArrangeSettings::seed`] mixed with the part and the bar
//! number, and velocity jitter from a hash of the seed, the part, the tick and the pitch.
//!
//! # The rules
//!
//! **Time grid.** The piece is a list of [`BarSlot`]s, each with its meter and an intensity in
//! `0..=1`. Bars are felt in *pulses*: the beats of simple meters (2/4, 3/4, 4/4, 2/2, 5/4),
//! dotted quarters in compound meters (6/8, 9/8, 12/8), and groups of two and three eighths
//! in odd eighth meters (5/8 as 3+2, 7/8 as 2+2+3, longer ones as twos ending in a three).
//! Odd quarter meters accent their beats in groups the same way (5/4 as 3+2). Metrical
//! weight is [`Meter::weight`](leitmotif_score::time::Meter::weight), except that in odd
//! meters only group starts count as pulses (weight 1) and the other pulses as beats (2).
//! Intensity is *low* below 0.35, *high* above 0.65 and *mid* in between.
//!
//! **Harmony** ([`harmony`]). Each bar's melody becomes a pitch-class histogram weighted by
//! sounding duration and metrical strength (a note on the downbeat counts double, one on
//! another pulse 1.6 times, on another beat 1.3 times). The candidates are the major, minor
//! and diminished triads all of whose tones are [allowed](ArrangeSettings::allowed) (if no
//! triad fits, those with the most allowed tones). A chord scores its fit (weight on its
//! tones minus half the weight off them, plus a little for a sounding root), a mild bonus
//! for tonic, subdominant and dominant roots, a penalty for diminished triads, and a small
//! bonus for common tones with the previous chord and for root motion by a fourth or
//! fifth. The first bar strongly prefers the tonic triad. A bar without melody keeps the
//! previous chord (the first bar then takes the tonic triad). Bars of four quarter notes or
//! more split into two spans at the middle pulse when each half clearly wants its own
//! chord. The last bar is the tonic triad when the phrase does not loop; when it loops it
//! leads back to the first chord: its dominant, major when allowed and the melody permits
//! (so a minor key uses its raised seventh), else the minor dominant, the leading-tone
//! triad or the subdominant, never the first chord itself unless nothing else is allowed.
//! A one-bar phrase keeps its first-bar chord. Spans tile the bars exactly, in order.
//!
//! **Bass** ([`bass`]). Monophonic, within [`ArrangeSettings::bass_range`], every pitch
//! allowed. Roots are placed near the previous root so the line moves smoothly. Low
//! intensity holds the root for each span (re-struck at mid-bar in bars longer than four
//! quarter notes); mid intensity plays the root on the first pulse and roots or fifths on
//! the others, with a passing tone into a chord change; high intensity drives eighth notes
//! of roots, octaves and fifths (dropping a few weak eighths just above 0.65) with a
//! stepwise approach tone into each new root, the first root included when looping.
//!
//! **Chords** ([`chords`]). Closed triads within [`ArrangeSettings::chord_range`], each in
//! the inversion nearest the previous voicing; chord tones that are not allowed are left
//! out. Low intensity sustains one block chord per span; mid strikes one on each pulse;
//! high comps rhythmically: short chords on most pulses and on seeded off-beat eighths,
//! more of them the higher the intensity. No pitch ever sounds twice at once.
//!
//! **Drums** ([`drums`](fn@drums)). General MIDI percussion (see [`drums::KICK`] and its
//! siblings) chosen by [`MeterFamily`] and intensity. Low: kick on the downbeat and a soft ride on
//! the pulses. Mid: kick and snare alternating over the pulses (a backbeat in 4/4, kick
//! then snares in triple time, kicks on group starts and the snare on the last group in
//! odd meters) with closed hats on eighths. High adds sixteenth hats, an open hat on the
//! bar's last off-beat, seeded off-beat kicks and ghost snares. From intensity 0.5 the
//! first bar of every four-bar phrase opens with a crash, and the bar before every fourth
//! bar and the last bar end in a fill: snare eighths over the last pulse at mid intensity,
//! a sixteenth run from the snare down the toms at high intensity (over the last two
//! pulses above 0.85). Hits are short (a sixteenth or an eighth).
//!
//! **Dynamics** ([`velocity`], [`shape_velocities`]). A velocity is
//! `40 + 70 × intensity`, plus an accent of 18 on the downbeat, 10 on other pulses, 4 on
//! other beats, 0 on eighths and −6 finer, plus up to ±4 of jitter, clamped to `1..=127`.
//! Each part offsets it a little for balance (hats and pads softer, crashes louder).
//! [`shape_velocities`] gives existing notes (the model's melody) the velocity of their bar
//! and position, blended 75 % with 25 % of their own velocity so their contour survives.
//!
//! **Pivots** ([`pivot`], [`nearest_chord_tone`], [`nearest_root`]). Music about to move
//! into another key ends on a chord that prepares it: over the last beats of the old key,
//! the candidates are the old key's triads and the new key's major dominant (neither
//! key's tonic triad); each scores its fit to the melody there, how it leads to the new
//! tonic (dominant 0.6, minor dominant 0.4, leading-tone triad 0.35, subdominant 0.2) and
//! 0.2 more when all its tones belong to the new key too. The parts then move their notes
//! to the nearest tones of the chord (the bass's first to its root).
//!
//! **Given chords** ([`progression`], [`arrange_on`]). A chord progression replaces the
//! harmony analysis: one chord per bar, cycling when the piece is longer; the parts are
//! written on it by the same rules. [`chord_tone_share`] measures how many melody notes on
//! [strong beats](strong_beat) (the downbeat, and the middle of bars of four or more pulses)
//! are tones of the chord sounding there.
//!
//! **Feel** ([`Feel`], [`Humanizer`]). Humanize moves onsets and ends by a seeded groove
//! (the same at each sixteenth of every bar, for every part), a small lag per part and a
//! little per note, at most a twelfth of a quarter note at full amount, and moves
//! velocities the same way by at most 12; swing delays off-beat eighths by up to a third of
//! an eighth. Both at 0 leave every note exactly as written.

mod bass;
mod chords;
pub mod drums;
mod dynamics;
mod grid;
mod harmony;
mod humanize;
mod notes;
mod progression;
mod settings;

pub use bass::bass;
pub use chords::chords;
pub use drums::drums;
pub use dynamics::{shape_velocities, velocity};
pub use grid::MeterFamily;
pub use harmony::{HarmonySpan, harmony, nearest_chord_tone, nearest_root, pivot};
pub use humanize::{Feel, Humanizer};
pub use progression::{ChordToneShare, chord_tone_share, progression, strong_beat};
pub use settings::{ArrangeError, ArrangeSettings, BarSlot};

use leitmotif_score::Note;

/// The parts the arranger writes for one melody: its harmony and the three accompaniment
/// layers.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrangement {
    /// The harmony, span by span, tiling the bars.
    pub harmony: Vec<HarmonySpan>,
    /// The bass line (monophonic).
    pub bass: Vec<Note>,
    /// The pad or comping part.
    pub chords: Vec<Note>,
    /// The drum part, in General MIDI percussion pitches.
    pub drums: Vec<Note>,
}

/// Writes the harmony of `melody` over `bars` and the bass, chord and drum parts on it.
///
/// This is [`harmony`] followed by [`bass`], [`chords`] and [`drums`](fn@drums); the melody
/// itself is not changed (see [`shape_velocities`] for its dynamics).
///
/// # Errors
///
/// Any [`ArrangeError`] from [`ArrangeSettings::validate`] or from the bars' layout.
pub fn arrange(
    melody: &[Note],
    bars: &[BarSlot],
    settings: &ArrangeSettings,
) -> Result<Arrangement, ArrangeError> {
    arrange_on(harmony(melody, bars, settings)?, bars, settings)
}

/// Writes the bass, chord and drum parts on a given `harmony` (for instance a
/// [`progression`]) over `bars`.
///
/// # Errors
///
/// Any [`ArrangeError`] from [`ArrangeSettings::validate`] or from the bars' layout.
pub fn arrange_on(
    harmony: Vec<HarmonySpan>,
    bars: &[BarSlot],
    settings: &ArrangeSettings,
) -> Result<Arrangement, ArrangeError> {
    Ok(Arrangement {
        bass: bass(&harmony, bars, settings)?,
        chords: chords(&harmony, bars, settings)?,
        drums: drums(bars, settings)?,
        harmony,
    })
}
