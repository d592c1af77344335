//! Leitmotifs in the director, with the fast stand-in composer: a registered theme called
//! by the game or by a mood is stated in the mood playing and then developed through the
//! composer's own tasks; unknown names and empty scores are refused by type.

pub mod common;

use common::{Host, director, rules_table};
use leitmotif_director::{DirectorError, DirectorEvent, DirectorSettings, JobKind};
use leitmotif_request::request::allowed_pitch_classes;
use leitmotif_request::theme::{Theme, ThemeError, melody_line, recall};
use leitmotif_request::{MoodTable, Task, Transition};
use leitmotif_score::theory::{Key, Mode, Scale};
use leitmotif_score::time::Meter;
use leitmotif_score::{Note, Role, Score, TempoChange, TimeSignatureChange, Track};

/// A two-bar C major theme at 100 bpm: C E G E | F D B C.
fn hero() -> Score {
    let mut score = Score {
        tempos: vec![TempoChange::from_bpm(0, 100.0).unwrap_or_else(|e| panic!("{e}"))],
        time_signatures: vec![TimeSignatureChange {
            tick: 0,
            numerator: 4,
            denominator: 4,
        }],
        ..Score::default()
    };
    let mut melody = Track::new("Melody", Role::Melody, 73, 0);
    for (i, pitch) in [60u8, 64, 67, 64, 65, 62, 59, 60].into_iter().enumerate() {
        melody.notes.push(Note {
            start: i as u64 * 480,
            duration: 480,
            pitch,
            velocity: 90,
        });
    }
    score.tracks.push(melody);
    score.normalize();
    score
}

fn settings(state: &str) -> DirectorSettings {
    DirectorSettings {
        initial_state: state.to_owned(),
        meter: Meter::COMMON,
        ..DirectorSettings::default()
    }
}

/// The melody of the session between `lo` and `hi`.
fn melody_between(host: &Host, lo: u64, hi: u64) -> Vec<Note> {
    melody_line(&host.director.session_score())
        .into_iter()
        .filter(|n| n.start >= lo && n.start < hi)
        .collect()
}

fn started(events: &[DirectorEvent], id: u64) -> Option<u64> {
    events.iter().find_map(|e| match e {
        DirectorEvent::PhraseStarted { id: i, tick, .. } if *i == id => Some(*tick),
        _ => None,
    })
}

#[test]
fn a_called_theme_is_stated_in_the_mood_playing_then_developed() {
    let mut host = Host::new(director(settings("explore"), rules_table()));
    host.run(1.0, 0.05);
    host.director
        .register_theme("hero", &hero())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(host.director.themes().collect::<Vec<_>>(), ["hero"]);
    // Into the minor mood, then the theme on the next bar.
    host.director
        .set_state("next_beat")
        .unwrap_or_else(|e| panic!("{e}"));
    host.run(0.5, 0.05);
    let id = host
        .director
        .play_theme("hero", Transition::NextBar)
        .unwrap_or_else(|e| panic!("{e}"));
    host.run(45.0, 0.05);
    let start = started(&host.events, id).unwrap_or_else(|| panic!("the statement never played"));
    // On a bar line (the grid restarted where the minor mood came in on a beat).
    assert!(
        host.events
            .iter()
            .any(|e| matches!(e, DirectorEvent::Bar { tick, .. } if *tick == start)),
        "no bar line at {start}"
    );
    // Two bars of the theme, in the minor key the mood's rule gave from the key before.
    let line = melody_between(&host, start, start + 2 * 1920);
    let theme = Theme::from_score(&hero()).unwrap_or_else(|e| panic!("{e}"));
    let session = host.director.session_score();
    let signature = session
        .key_signatures
        .iter()
        .rev()
        .find(|k| k.tick <= start)
        .unwrap_or_else(|| panic!("no key at the statement"));
    assert!(signature.minor);
    let key = Key::from_key_signature(signature.sharps, true).unwrap_or_else(|e| panic!("{e}"));
    let allowed = allowed_pitch_classes(Scale::new(key.tonic, Mode::NaturalMinor));
    assert_eq!(line.len(), 8, "{line:?}");
    assert!(line.iter().all(|n| allowed[usize::from(n.pitch % 12)]));
    // The major third (the second note) is now a minor third above the tonic.
    assert_eq!((line[1].pitch + 12 - line[0].pitch) % 12, 3);
    assert!(recall(&theme, &session, Some((start, start + 2 * 1920))).score > 0.99);
    // The next phrases develop it through the composer's tasks: a new ending (an infill
    // keeping the theme's first half), a sequence, an inversion, then a continuation.
    let after: Vec<&Task> = host
        .jobs
        .iter()
        .filter(|j| j.id > id && j.kind == JobKind::Continue)
        .map(|j| &j.request.task)
        .collect();
    assert!(after.len() >= 5, "{} jobs after the statement", after.len());
    assert!(after[..3].iter().all(|t| matches!(t, Task::Infill { .. })));
    let kept: Vec<u32> = after[..3]
        .iter()
        .filter_map(|t| match t {
            Task::Infill { bars, .. } => Some(*bars.start()),
            _ => None,
        })
        .collect();
    // Each keeps two of the four bars: half the theme, or its head and the head moved.
    assert_eq!(kept, [3, 3, 3]);
    assert!(matches!(after[3], Task::Continue { .. }));
    // Then free again: the last bars continued, no theme material fixed.
    assert!(matches!(after[4], Task::Continue { .. }));
}

#[test]
fn a_mood_that_names_its_theme_states_it_when_the_game_enters_it() {
    let ron = common::RULES_RON.replace(
        r#""fast": (words: ["chase"],"#,
        r#""fast": (theme: Some("boss"), words: ["chase"],"#,
    );
    let table = MoodTable::from_ron(&ron).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(table.moods["fast"].theme.as_deref(), Some("boss"));
    assert_eq!(table.moods["base"].theme, None);
    let mut host = Host::new(director(settings("explore"), table));
    host.director
        .register_theme("boss", &hero())
        .unwrap_or_else(|e| panic!("{e}"));
    host.run(1.0, 0.05);
    let jobs_before = host.jobs.len();
    host.director
        .set_state("chase")
        .unwrap_or_else(|e| panic!("{e}"));
    host.run(6.0, 0.05);
    // No change job: the boss's theme is the change, stated at 150 bpm in the mood's key.
    assert!(
        host.jobs[jobs_before..]
            .iter()
            .all(|j| j.kind != JobKind::Change)
    );
    let theme = Theme::from_score(&hero()).unwrap_or_else(|e| panic!("{e}"));
    let landed = host.events.iter().find_map(|e| match e {
        DirectorEvent::TransitionDone { to, tick, .. } if to == "chase" => Some(*tick),
        _ => None,
    });
    let landed = landed.unwrap_or_else(|| panic!("the change never landed"));
    let session = host.director.session_score();
    let r = recall(&theme, &session, Some((landed, landed + 2 * 1920)));
    assert!(r.score > 0.99, "{r:?}");
    // A theme the table names but nobody registered: an ordinary change.
    let mut host = Host::new(director(
        settings("explore"),
        MoodTable::from_ron(&ron).unwrap_or_else(|e| panic!("{e}")),
    ));
    host.run(1.0, 0.05);
    host.director
        .set_state("chase")
        .unwrap_or_else(|e| panic!("{e}"));
    host.run(0.1, 0.05);
    assert!(host.jobs.iter().any(|j| j.kind == JobKind::Change));
}

#[test]
fn unknown_themes_and_empty_scores_are_refused_by_type() {
    let mut d = director(settings("explore"), rules_table());
    let unknown = d.play_theme("villain", Transition::NextBar);
    assert!(
        matches!(unknown, Err(DirectorError::Theme(ThemeError::Unknown { ref name, .. })) if name == "villain"),
        "{unknown:?}"
    );
    let empty = d.register_theme("empty", &Score::default());
    assert!(matches!(
        empty,
        Err(DirectorError::Theme(ThemeError::Empty))
    ));
    assert_eq!(d.themes().count(), 0);
    // Before any music, a called theme is the first phrase.
    d.register_theme("hero", &hero())
        .unwrap_or_else(|e| panic!("{e}"));
    let id = d
        .play_theme("hero", Transition::NextBar)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut host = Host::new(d);
    host.run(0.1, 0.05);
    assert_eq!(started(&host.events, id), Some(0));
    assert!(host.jobs.iter().all(|j| j.kind != JobKind::First));
    let message = host
        .director
        .play_theme("villain", Transition::Immediate)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        message.contains("\"villain\"") && message.contains("hero"),
        "{message}"
    );
    host.run(0.1, 0.05);
}
