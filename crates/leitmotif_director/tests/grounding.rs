//! Grounding: each state of the default mood table, played through the director with the
//! real composer (the embedded RNN on the CPU), moves as fast as the game music its mood
//! stands for.
//!
//! The reference is VGMIDI (Ferreira and Whitehead, ISMIR 2019): 200 piano arrangements of
//! video-game music labelled by valence and arousal. Per quadrant they average
//!
//! | quadrant               | notes/s | tempo    |
//! |------------------------|---------|----------|
//! | calm-sad (−valence, −arousal)   | 3.9 | ~99 bpm  |
//! | tense (−valence, +arousal)      | 8.2 | ~125 bpm |
//! | calm-happy (+valence, −arousal) | 4.9 | ~99 bpm  |
//! | exciting (+valence, +arousal)   | 9.0 | ~139 bpm |
//!
//! Each mood is put in the quadrant its words name (a negative mood's mode is minor or
//! modal minor; a high-arousal one is fast and busy). The ranges:
//!
//! - notes per second within ±35 % of the quadrant's mean. The pieces of one quadrant are
//!   far apart (a calm piece of sustained chords and one of running arpeggios share a
//!   label), so a mean is a centre, not a target; ±35 % still keeps every quadrant's
//!   range apart from its arousal opposite's (calm-sad tops out at 5.3 notes/s, tense
//!   starts at 5.3), which is the distinction the moods must make.
//! - tempo within ±15 bpm of the quadrant's mean: about the spread of tempi between
//!   quadrants of one arousal level, so a mood may lean within its quadrant (a slow
//!   lament, a brisk march) without sounding like the other arousal level.
//!
//! What is counted: every pitched note (melody, bass, chords) of the layers heard at the
//! mood's own intensity, over three phrases in the state from the session's start. Drums
//! are left out: VGMIDI's arrangements are for piano and have none. Tempo is the clock's
//! at the end, after any ramp.

pub mod common;

use common::{Host, default_table, director};
use leitmotif_compose::{Composer, Composition, Request};
use leitmotif_director::DirectorSettings;
use leitmotif_model::{BackendChoice, ModelSource};
use leitmotif_request::request::layer_of_role;
use leitmotif_score::Role;

thread_local! {
    static COMPOSER: Composer = Composer::load(&ModelSource::DefaultRnn, BackendChoice::Cpu)
        .unwrap_or_else(|e| panic!("{e}"));
}

fn compose(request: &Request) -> Composition {
    COMPOSER.with(|c| c.compose(request).unwrap_or_else(|e| panic!("{e}")))
}

/// A VGMIDI quadrant's mean notes per second and tempo.
#[derive(Debug, Clone, Copy)]
struct Quadrant {
    name: &'static str,
    notes_per_second: f64,
    bpm: f64,
}

const CALM_SAD: Quadrant = Quadrant {
    name: "calm-sad",
    notes_per_second: 3.9,
    bpm: 99.0,
};
const TENSE: Quadrant = Quadrant {
    name: "tense",
    notes_per_second: 8.2,
    bpm: 125.0,
};
const CALM_HAPPY: Quadrant = Quadrant {
    name: "calm-happy",
    notes_per_second: 4.9,
    bpm: 99.0,
};
const EXCITING: Quadrant = Quadrant {
    name: "exciting",
    notes_per_second: 9.0,
    bpm: 139.0,
};

/// The quadrant each mood of the default table stands for.
const QUADRANTS: [(&str, Quadrant); 10] = [
    ("calm", CALM_HAPPY),
    ("pastoral", CALM_HAPPY),
    ("sad", CALM_SAD),
    ("mysterious", CALM_SAD),
    ("eerie", CALM_SAD),
    ("tense", TENSE),
    ("epic", TENSE),
    ("exciting", EXCITING),
    ("heroic", EXCITING),
    ("playful", EXCITING),
];

/// Notes per second within ±35 % of the mean.
const NOTES_TOLERANCE: f64 = 0.35;
/// Tempo within ±15 bpm of the mean.
const BPM_TOLERANCE: f64 = 15.0;

/// Plays `mood` for three phrases; returns its pitched notes per second, its tempo, and
/// the notes per second of each layer heard (for the report).
fn measure(mood_name: &str) -> (f64, f64, String) {
    let table = default_table();
    let mood = table.moods[mood_name].clone();
    let settings = DirectorSettings {
        seed: 3,
        initial_state: mood_name.to_owned(),
        initial_intensity: mood.intensity,
        ..DirectorSettings::default()
    };
    let mut host = Host::with_composer(director(settings, table), compose);
    let bar_seconds = 60.0 / mood.tempo_bpm * 4.0;
    let phrases = 3.0 * f64::from(DirectorSettings::default().phrase_bars);
    host.run(phrases * bar_seconds, 0.05);
    let d = &host.director;
    let heard: Vec<Role> = mood
        .layers_at(mood.intensity)
        .into_iter()
        .filter(|r| *r != Role::Drums && layer_of_role(*r).is_some())
        .collect();
    let score = d.session_score();
    let seconds = d.clock().seconds_at(d.tick());
    let tracks: Vec<(Role, usize)> = score
        .tracks
        .iter()
        .filter(|t| heard.contains(&t.role))
        .map(|t| (t.role, t.notes.len()))
        .collect();
    let notes: usize = tracks.iter().map(|(_, n)| n).sum();
    let layers = tracks
        .iter()
        .map(|(role, n)| format!("{} {:.1}", role.as_str(), *n as f64 / seconds))
        .collect::<Vec<_>>()
        .join(", ");
    (
        notes as f64 / seconds,
        d.clock().segment_at(d.tick()).bpm,
        layers,
    )
}

#[test]
fn every_default_mood_moves_like_its_vgmidi_quadrant() {
    let table = default_table();
    assert_eq!(
        table.moods.len(),
        QUADRANTS.len(),
        "every mood of the default table needs its quadrant here"
    );
    let mut report = Vec::new();
    let mut off = 0;
    for (name, q) in QUADRANTS {
        assert!(table.moods.contains_key(name), "no mood {name:?}");
        let (rate, bpm, layers) = measure(name);
        let rate_ok = (rate / q.notes_per_second - 1.0).abs() <= NOTES_TOLERANCE;
        let bpm_ok = (bpm - q.bpm).abs() <= BPM_TOLERANCE;
        if !(rate_ok && bpm_ok) {
            off += 1;
        }
        report.push(format!(
            "{name:>10} ({:>10}): {rate:5.2} notes/s (want {:.1} ±35 %){} {bpm:5.1} bpm (want {:.0} ±15){} [{layers}]",
            q.name,
            q.notes_per_second,
            if rate_ok { "" } else { " OFF" },
            q.bpm,
            if bpm_ok { "" } else { " OFF" },
        ));
    }
    assert_eq!(
        off,
        0,
        "moods off their quadrant (fix assets/moods/default.moods.ron):\n{}",
        report.join("\n")
    );
}
