//! The session record: a scripted session's golden hash, and its export read back.

pub mod common;

use common::{Host, default_table, director};
use leitmotif_director::{DirectorEvent, DirectorSettings};
use leitmotif_request::{Composition, Request};
use leitmotif_score::{Role, midi, read_score};
use leitmotif_tokens::fnv::Fnv1a;

/// FNV-1a of the scripted session's MIDI file and event log (fake composer).
///
/// Update it only when a change to the director's scheduling (when jobs are asked for,
/// where phrases land, how a session is rendered) or to the fake composer in
/// `tests/common` is intended; the failure message prints the new value. Last changed
/// when a change of key came to be prepared: the bass and chords of the beats before a
/// seam into another key, where any are left, move onto a pivot chord.
const GOLDEN_SESSION: u64 = 0x4c7d_78b2_9e12_fbf1;

/// A minute of play: explore, rising intensity, combat, a stinger, a boss, a slow
/// composer (late phrases), back to explore.
fn scripted(compose: fn(&Request) -> Composition) -> Host {
    let settings = DirectorSettings {
        seed: 42,
        ..DirectorSettings::default()
    };
    let mut host = Host::with_composer(director(settings, default_table()), compose);
    let ok = |r: Result<(), leitmotif_director::DirectorError>| r.unwrap_or_else(|e| panic!("{e}"));
    for frame in 0..1800 {
        match frame {
            150 => host.director.set_intensity(0.9),
            180 => ok(host.director.set_state("combat")),
            270 => ok(host.director.stinger("victory").map(|_| ())),
            420 => ok(host.director.set_state("boss")),
            600 => host.hold = true,
            660 => ok(host.director.set_state("explore")),
            800 => {
                host.hold = false;
                host.release();
            }
            1000 => host.director.set_intensity(0.2),
            _ => {}
        }
        host.run(1.0 / 30.0, 1.0 / 30.0);
    }
    host
}

fn session_hash(host: &Host) -> u64 {
    let bytes = midi::write_midi(&host.director.session_score()).unwrap_or_else(|e| panic!("{e}"));
    let mut h = Fnv1a::default();
    h.write(&bytes);
    h.write(format!("{:?}", host.events).as_bytes());
    h.finish()
}

#[test]
fn scripted_session_matches_its_golden_hash() {
    let host = scripted(common::fake_compose);
    let hash = session_hash(&host);
    assert_eq!(
        hash,
        session_hash(&scripted(common::fake_compose)),
        "not deterministic"
    );
    // The script did what it says: every state began, a phrase was late, a stinger played.
    let session = host.director.session_score();
    let states: Vec<&str> = session.markers.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(states, ["explore", "combat", "boss", "explore"]);
    assert!(
        host.events
            .iter()
            .any(|e| matches!(e, DirectorEvent::PhraseLate { .. }))
    );
    assert!(
        host.events
            .iter()
            .any(|e| matches!(e, DirectorEvent::StingerStarted { .. }))
    );
    assert_eq!(
        hash, GOLDEN_SESSION,
        "the scripted session's hash is {hash:#x}. Set GOLDEN_SESSION in tests/session.rs to \
         it only if you meant to change how the director schedules, places or renders phrases \
         (or changed the fake composer in tests/common); otherwise this is a regression"
    );
}

#[test]
fn exported_files_read_back_equal_with_state_markers() {
    let host = scripted(common::fake_compose);
    let session = host.director.session_score();
    session.validate().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("exports");
    let files = host
        .director
        .export(&out, "../evil/run 1")
        .unwrap_or_else(|e| panic!("{e}"));
    let phrases = host
        .events
        .iter()
        .filter(|e| matches!(e, DirectorEvent::PhraseStarted { repeat: 0, .. }))
        .count();
    assert!(files.len() >= 3 * (phrases + 1), "{} files", files.len());
    for file in &files {
        assert_eq!(file.parent(), Some(out.as_path()), "{}", file.display());
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        assert!(name.starts_with("___evil_run_1_"), "{name}");
        assert!(file.is_file(), "{name}");
    }
    let stem = out.join("___evil_run_1_session");
    for ext in [".mid", ".melody.json"] {
        let path = stem.with_extension(&ext[1..]);
        let back = read_score(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, session, "{ext}");
    }
    let tone = read_score(&stem.with_extension("tone.json")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(tone.note_count(), session.note_count());
    // Markers: the first state at 0, then each state where its music began.
    let mut expected = vec![(0, "explore".to_owned())];
    expected.extend(host.events.iter().filter_map(|e| match e {
        DirectorEvent::TransitionDone { to, tick, .. } => Some((*tick, to.clone())),
        _ => None,
    }));
    let markers: Vec<_> = session
        .markers
        .iter()
        .map(|m| (m.tick, m.text.clone()))
        .collect();
    assert_eq!(markers, expected);
    // Tracks merged by role, in order, then the stinger track.
    let roles: Vec<Role> = session.tracks.iter().map(|t| t.role).collect();
    assert_eq!(
        roles,
        [
            Role::Melody,
            Role::Bass,
            Role::Chords,
            Role::Drums,
            Role::Other
        ]
    );
    // Each phrase file holds that phrase alone, marked with its state.
    let first = read_score(&out.join("___evil_run_1_phrase_001_explore.mid"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        first.markers.first().map(|m| m.text.as_str()),
        Some("explore")
    );
    assert_eq!(first.end_tick, 4 * 1920);
}

#[test]
fn empty_and_hostile_names_stay_in_the_folder() {
    let host = Host::new(director(DirectorSettings::default(), default_table()));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for name in ["", "/abs", "a/b", "..", "../../etc/passwd"] {
        let files = host
            .director
            .export(dir.path(), name)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(files.len(), 6, "{name:?}: one phrase and the session");
        for file in files {
            assert_eq!(file.parent(), Some(dir.path()), "{name:?}");
        }
    }
    assert!(dir.path().join("untitled_session.mid").is_file());
    assert!(dir.path().join("_abs_session.mid").is_file());
    assert!(dir.path().join("a_b_session.mid").is_file());
}
