//! Moods are heard: a state change brings its mood's mode (the key moving by the mood's key
//! rule, arriving on the new tonic), and its tempo (jumping or ramping by its tempo rule).
//! Mode and key are checked on music the real composer wrote (the embedded RNN on the CPU);
//! tempi with the fast stand-in.

pub mod common;

use common::{Host, default_table, director};
use leitmotif_compose::{Composer, Composition, Request};
use leitmotif_director::{DirectorEvent, DirectorSettings, Job, JobKind, PhraseInfo};
use leitmotif_model::{BackendChoice, ModelSource};
use leitmotif_request::request::allowed_pitch_classes;
use leitmotif_request::{MoodTable, TempoRule};
use leitmotif_score::theory::{Mode, PitchClass, Scale};
use leitmotif_score::{Role, Score};
use leitmotif_tokens::controls::estimated_key;

thread_local! {
    static COMPOSER: Composer = Composer::load(&ModelSource::DefaultRnn, BackendChoice::Cpu)
        .unwrap_or_else(|e| panic!("{e}"));
}

fn compose(request: &Request) -> Composition {
    COMPOSER.with(|c| c.compose(request).unwrap_or_else(|e| panic!("{e}")))
}

/// A session with the real composer: `from` for 8 s, then `to` for 16 s. Returns the host,
/// the state change's job and the phrase that played when the change came.
fn change(seed: u64, from: &str, to: &str) -> (Host, Job, PhraseInfo) {
    let settings = DirectorSettings {
        seed,
        initial_state: from.to_owned(),
        ..DirectorSettings::default()
    };
    let mut host = Host::with_composer(director(settings, default_table()), compose);
    host.run(8.0, 0.05);
    host.director
        .set_state(to)
        .unwrap_or_else(|e| panic!("{e}"));
    host.serve();
    let playing = host
        .director
        .current_phrase()
        .unwrap_or_else(|| panic!("nothing plays"));
    host.run(16.0, 0.05);
    let job = host
        .jobs
        .iter()
        .find(|j| j.kind == JobKind::Change)
        .cloned();
    let job = job.unwrap_or_else(|| panic!("no state change job"));
    (host, job, playing)
}

/// The pitch classes (0 = C) of the pitched notes of `score`, by how often each sounds.
fn pitch_classes(score: &Score) -> [usize; 12] {
    let mut counts = [0; 12];
    for track in score.tracks.iter().filter(|t| t.role != Role::Drums) {
        for note in &track.notes {
            counts[usize::from(note.pitch % 12)] += 1;
        }
    }
    counts
}

fn interval(scale: Scale, pitch_class: usize) -> usize {
    (pitch_class + 12 - usize::from(scale.tonic.index())) % 12
}

#[test]
fn explore_to_tense_is_minor_from_the_first_bar_after_the_change() {
    let (host, job, playing) = change(11, "explore", "danger");
    let d = &host.director;
    let due = job.due_tick;
    let key = job
        .request
        .key
        .unwrap_or_else(|| panic!("the change names no key"));
    // Explore is the pastoral mood (mixolydian: a major third), tense natural minor; the
    // default key rule keeps the tonic. Explore's notes, up to the beat the key change is
    // prepared on (see below), are all in its scale.
    assert_eq!(playing.key.mode, Mode::Mixolydian);
    assert_eq!(key, Scale::new(playing.key.tonic, Mode::NaturalMinor));
    let (from, pivot) = playing
        .pivot
        .unwrap_or_else(|| panic!("the key change is not prepared"));
    let before = pitch_classes(&d.scheduled_score(0, from));
    let scale = playing.key.mask();
    assert!((0..12).all(|pc| before[pc] == 0 || scale[pc]), "{before:?}");
    assert!(
        before[(usize::from(key.tonic.index()) + 4) % 12] > 0,
        "no major third"
    );

    // The tense music, from its first bar: in the minor key by estimate and by its notes.
    let after = d.scheduled_score(due, d.tick());
    let heard = estimated_key(&after).unwrap_or_else(|| panic!("no tense notes"));
    assert!(
        heard.minor,
        "tense estimated as {heard:?}, asked for {key}: {:?}",
        pitch_classes(&after)
    );
    assert_eq!(heard.tonic, key.tonic);
    let allowed = allowed_pitch_classes(key);
    let counts = pitch_classes(&after);
    for (pc, n) in counts.iter().enumerate() {
        assert!(*n == 0 || allowed[pc], "pitch class {pc} is not in {key}");
    }
    let minor_third = counts[(usize::from(key.tonic.index()) + 3) % 12];
    let major_third = counts[(usize::from(key.tonic.index()) + 4) % 12];
    assert!(minor_third > 0 && major_third == 0, "{counts:?}");

    // The seam is a cadence into the new key: in its first bar the melody sounds the
    // tonic triad only, the harmony is the tonic chord, and the bass starts on it.
    let bar = d.clock().segment_at(due).bar_ticks();
    let first = d.scheduled_score(due, due + bar);
    let in_triad = |pitch: u8| [0, 3, 7].contains(&interval(key, usize::from(pitch % 12)));
    let track = |role: Role| first.tracks.iter().find(|t| t.role == role);
    let melody = track(Role::Melody).unwrap_or_else(|| panic!("no melody at the seam"));
    assert!(!melody.notes.is_empty());
    for note in melody
        .notes
        .iter()
        .chain(track(Role::Chords).map_or(&[][..], |t| &t.notes))
    {
        assert!(
            in_triad(note.pitch),
            "{} is no tonic-triad tone of {key}",
            note.pitch
        );
    }
    if let Some(bass) = track(Role::Bass).and_then(|t| t.notes.first()) {
        assert!(in_triad(bass.pitch), "the bass starts on {}", bass.pitch);
    }
    // It is prepared: the explore music's last beats before the seam (from the first beat
    // line after the change, at most a bar) move their bass and chords onto a chord
    // leading into the new key.
    assert_eq!(playing.end_tick, due);
    assert!(d.clock().is_beat(from) && from < due);
    assert!(due - from <= d.clock().segment_at(from).bar_ticks());
    let lead = key.tonic.interval_to(pivot.root);
    assert!([5, 7, 11].contains(&lead), "{pivot} into {key}");
    let last_beats = d.scheduled_score(from, due);
    let moved: Vec<u8> = [Role::Bass, Role::Chords]
        .iter()
        .filter_map(|role| last_beats.tracks.iter().find(|t| t.role == *role))
        .flat_map(|t| t.notes.iter().map(|n| n.pitch))
        .collect();
    assert!(!moved.is_empty(), "nothing sounds the pivot {pivot}");
    assert!(
        moved
            .iter()
            .all(|p| pivot.contains(PitchClass::from_midi(*p))),
        "{moved:?} under {pivot}"
    );

    // The state's later phrases stay in its key.
    let later: Vec<&Job> = host
        .jobs
        .iter()
        .filter(|j| j.kind == JobKind::Continue && j.due_tick > due)
        .collect();
    assert!(!later.is_empty(), "no continuation after the change");
    assert!(later.iter().all(|j| j.request.key == Some(key)));
}

#[test]
fn a_dorian_mood_uses_the_raised_sixth() {
    // A phrase need not sound every degree, so three sessions: the raised sixth is heard,
    // the minor sixth and the major third never.
    let mut raised_sixths = 0;
    for seed in [5, 6, 7] {
        let (host, job, _) = change(seed, "explore", "mysterious");
        let d = &host.director;
        let key = job
            .request
            .key
            .unwrap_or_else(|| panic!("the change names no key"));
        assert_eq!(key.mode, Mode::Dorian);
        let after = d.scheduled_score(job.due_tick, d.tick());
        let counts = pitch_classes(&after);
        let at = |i: usize| counts[(usize::from(key.tonic.index()) + i) % 12];
        raised_sixths += at(9);
        assert_eq!(at(8), 0, "a minor sixth in {key}: {counts:?}");
        assert_eq!(at(4), 0, "a major third in {key}: {counts:?}");
        assert!(at(3) > 0, "no minor third in {key}: {counts:?}");
    }
    assert!(
        raised_sixths > 0,
        "no raised (major) sixth in three dorian sessions"
    );
}

/// The fast stand-in composer's host over `table`, from `initial`.
fn fake_session(table: MoodTable, initial: &str) -> Host {
    let settings = DirectorSettings {
        initial_state: initial.to_owned(),
        ..DirectorSettings::default()
    };
    Host::new(director(settings, table))
}

#[test]
fn the_default_tables_tempi_are_what_the_session_plays() {
    let table = default_table();
    let mut host = fake_session(table.clone(), "calm");
    host.run(6.0, 0.05);
    for (name, mood) in &table.moods {
        host.director
            .set_state(name)
            .unwrap_or_else(|e| panic!("{e}"));
        host.serve();
        host.run(12.0, 0.05);
        let d = &host.director;
        let bpm = d.clock().segment_at(d.tick()).bpm;
        assert!(
            (bpm - mood.tempo_bpm).abs() < 1e-9,
            "{name} plays at {bpm} bpm, its table says {}",
            mood.tempo_bpm
        );
        let last_beat = host.events.iter().rev().find_map(|e| match e {
            DirectorEvent::Beat { bpm, .. } => Some(*bpm),
            _ => None,
        });
        assert_eq!(last_beat, Some(mood.tempo_bpm), "{name}'s beats");
    }
}

#[test]
fn a_ramp_moves_the_tempo_beat_by_beat_and_is_written_as_tempo_events() {
    let text = r#"(moods: {
        "walk": (words: ["explore"], mode: major, tempo_bpm: 100, density: 0.5,
                 register: 0.5, intensity: 0.5, layers: [melody], transition: next_bar),
        "run": (words: ["chase"], mode: natural_minor, tempo_bpm: 140, density: 0.5,
                register: 0.5, intensity: 0.5, layers: [melody], transition: next_bar,
                tempo_change: ramp(3), key: relative),
        "stop": (words: ["halt"], mode: major, tempo_bpm: 80, density: 0.5,
                 register: 0.5, intensity: 0.5, layers: [melody], transition: next_bar),
    })"#;
    let table = MoodTable::from_ron(text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(table.moods["run"].tempo_change, TempoRule::Ramp(3));
    let mut host = fake_session(table, "explore");
    host.run(3.0, 0.05);
    host.director
        .set_state("chase")
        .unwrap_or_else(|e| panic!("{e}"));
    host.serve();
    let job = host.last_job().clone();
    host.run(12.0, 0.05);
    let due = job.due_tick;
    // Relative: from the walk's major key (the stand-in's pick from the first job's seed)
    // to the minor key with the same notes.
    let seed = host.jobs[0].request.seed;
    let walk = Scale::new(
        PitchClass::new((seed % 12) as u8).unwrap_or(PitchClass::C),
        Mode::Major,
    );
    let minor = job
        .request
        .key
        .unwrap_or_else(|| panic!("no key for the chase"));
    assert_eq!(minor.mode, Mode::NaturalMinor);
    assert_eq!(minor.mask(), walk.mask(), "{walk} to {minor}");
    let beats: Vec<(u64, f64)> = host
        .events
        .iter()
        .filter_map(|e| match e {
            DirectorEvent::Beat { tick, bpm, .. } if *tick >= due => Some((*tick, *bpm)),
            _ => None,
        })
        .take(5)
        .collect();
    let expected = [110.0, 120.0, 130.0, 140.0, 140.0];
    for (i, ((tick, bpm), want)) in beats.iter().zip(expected).enumerate() {
        assert_eq!(*tick, due + i as u64 * 480);
        assert!((bpm - want).abs() < 1e-9, "beat {i}: {bpm} bpm, not {want}");
    }
    // Bars run through the steps: the bar after the boundary is 4 beats on.
    let position = host.director.clock().position(due + 4 * 480);
    assert_eq!((position.beat, position.tick), (1, 0));
    let session = host.director.session_score();
    let tempos: Vec<(u64, f64)> = session
        .tempos
        .iter()
        .filter(|t| t.tick >= due)
        .map(|t| (t.tick, t.bpm()))
        .take(4)
        .collect();
    assert_eq!(tempos.len(), 4, "{tempos:?}");
    for (i, (tick, bpm)) in tempos.iter().enumerate() {
        assert_eq!(*tick, due + i as u64 * 480);
        assert!((bpm - expected[i]).abs() < 0.01, "{tempos:?}");
    }
    // Going back down with no rule jumps.
    host.director
        .set_state("halt")
        .unwrap_or_else(|e| panic!("{e}"));
    host.serve();
    let halt = host.last_job().due_tick;
    host.run(6.0, 0.05);
    assert!((host.director.clock().segment_at(halt).bpm - 80.0).abs() < 1e-9);
}
