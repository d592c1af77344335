//! Form over minutes, with a stand-in composer that honours infills and writes a seeded
//! melody (its rhythm and pitches change with the seed): a state that lasts walks its
//! mood's form (A, a varied A, a contrasting B, a freer return of A), a mood's own form
//! is used (exact repeats placed without a job), malformed forms are refused by type, and
//! a new mood starts its form over.

pub mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Host, director};
use leitmotif_director::{DirectorEvent, DirectorSettings, JobKind};
use leitmotif_request::form::{Form, FormError, Section};
use leitmotif_request::theme::{Theme, melody_line, recall};
use leitmotif_request::{
    Composition, Curve, LayerReport, MoodError, MoodTable, Request, Source, Task,
};
use leitmotif_score::theory::{PitchClass, Scale};
use leitmotif_score::time::{BarMap, Meter};
use leitmotif_score::{KeySignatureChange, Note, Score, TempoChange, TimeSignatureChange, Track};
use leitmotif_tokens::Layer;

const BAR: u64 = 1920;

/// Two moods at 120 and 150 bpm; `explore` has no form of its own.
const TABLE: &str = r#"(moods: {
    "base": (words: ["explore"], mode: major, tempo_bpm: 120, density: 0.5, register: 0.5,
             intensity: 0.5, layers: [melody, bass], transition: next_bar),
    "fast": (words: ["chase"], mode: natural_minor, tempo_bpm: 150, density: 0.5,
             register: 0.5, intensity: 0.5, layers: [melody, bass], transition: next_bar),
})"#;

fn table(ron: &str) -> MoodTable {
    MoodTable::from_ron(ron).unwrap_or_else(|e| panic!("{e}"))
}

fn settings(state: &str) -> DirectorSettings {
    DirectorSettings {
        initial_state: state.to_owned(),
        meter: Meter::COMMON,
        seed: 11,
        ..DirectorSettings::default()
    }
}

/// A 64-bit mix of `a` and `b` (splitmix64's finaliser).
fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One seeded melody bar from `start`: one of four rhythms, pitches of `key` around the
/// register's centre.
fn melody_bar(seed: u64, bar: u64, start: u64, register: f64, key: Scale) -> Vec<Note> {
    let h = mix(seed, bar);
    let rhythms: [&[u64]; 4] = [
        &[0, 480, 960, 1440],
        &[0, 240, 480, 720, 960, 1440],
        &[0, 960, 1440, 1680],
        &[0, 720, 960, 1200],
    ];
    let onsets = rhythms[(h % 4) as usize];
    // Where the composer's register buckets put a melody's mean pitch.
    let centre = 59.5 + register * 20.0;
    onsets
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            let next = onsets.get(i + 1).copied().unwrap_or(BAR);
            let step = ((h >> (8 + 4 * i)) % 12) as f64 - 6.0;
            Note {
                start: start + t,
                duration: next - t,
                pitch: key.snap((centre + step) as u8),
                velocity: 80,
            }
        })
        .collect()
}

/// Composes like the real composer in shape: a continuation keeps its primer and adds
/// `request.bars` bars; an infill keeps every note outside its bars and rewrites them; a
/// new piece starts at 0. The melody follows the seed and the register; the bass plays
/// the key's tonic once a bar.
fn compose(request: &Request) -> Composition {
    let register = match request.register {
        Curve::Constant(r) => r,
        _ => 0.5,
    };
    // An infill plays at its score's tempo, as the composer does: a tempo event holds whole
    // microseconds a beat, so 90 bpm reads back as 89.99995.
    let bpm = match &request.task {
        Task::Infill { score, .. } => score.tempos.first().map_or(120.0, TempoChange::bpm),
        _ => request.tempo_bpm.unwrap_or(120.0),
    };
    let meter = Meter::COMMON;
    let key = request
        .key
        .unwrap_or(Scale::new(PitchClass::C, request.mode));
    let (mut score, lo, hi, first) = match &request.task {
        Task::Continue { primer } => {
            let start = match primer.end_tick {
                0 => 0,
                end => BarMap::new(primer).bar_at(end - 1).end(),
            };
            let bars = start / BAR;
            (
                primer.clone(),
                start,
                start + u64::from(request.bars) * BAR,
                bars as u32 + 1,
            )
        }
        Task::Infill { score, bars, .. } => (
            score.clone(),
            u64::from(bars.start() - 1) * BAR,
            u64::from(*bars.end()) * BAR,
            *bars.start(),
        ),
        Task::New => (Score::new(480), 0, u64::from(request.bars) * BAR, 1),
    };
    let infill = matches!(request.task, Task::Infill { .. });
    if !infill {
        score.tempos.retain(|t| t.tick < lo);
        score
            .tempos
            .push(TempoChange::from_bpm(lo, bpm).unwrap_or_else(|e| panic!("{e}")));
        score.time_signatures.retain(|t| t.tick < lo);
        score.time_signatures.push(TimeSignatureChange {
            tick: lo,
            numerator: 4,
            denominator: 4,
        });
        score.key_signatures.retain(|k| k.tick < lo);
        let signature = if key.mode.is_minor() {
            leitmotif_score::theory::Key::minor(key.tonic)
        } else {
            leitmotif_score::theory::Key::major(key.tonic)
        };
        let (sharps, minor) = signature.key_signature();
        score.key_signatures.push(KeySignatureChange {
            tick: lo,
            sharps,
            minor,
        });
    }
    let mut reports = Vec::new();
    for layer in [Layer::Melody, Layer::Bass] {
        let role = layer.role();
        let track = match score.tracks.iter().position(|t| t.role == role) {
            Some(i) => i,
            None => {
                let (name, program, channel) = layer.track_defaults();
                score.tracks.push(Track::new(name, role, program, channel));
                score.tracks.len() - 1
            }
        };
        let notes = &mut score.tracks[track].notes;
        notes.retain(|n| n.start < lo || n.start >= hi);
        for bar in (lo / BAR)..(hi / BAR) {
            if layer == Layer::Melody {
                notes.extend(melody_bar(request.seed, bar, bar * BAR, register, key));
            } else {
                notes.push(Note {
                    start: bar * BAR,
                    duration: BAR,
                    pitch: 36 + key.tonic.index(),
                    velocity: 70,
                });
            }
        }
        reports.push(LayerReport {
            layer,
            source: Source::Model,
            track,
            notes: 0,
            range: 0..=127,
            monophonic: true,
        });
    }
    score.end_tick = score.end_tick.max(hi);
    score.normalize();
    score
        .validate()
        .unwrap_or_else(|e| panic!("stand-in composition invalid: {e}"));
    let last = (hi / BAR) as u32;
    Composition {
        score,
        key,
        tempo_bpm: bpm,
        meter,
        bars: first..=last,
        total_bars: last,
        span: (lo, hi),
        layers: reports,
        key_lock: request.key_lock,
        allowed: Vec::new(),
        looped: false,
        seed: request.seed,
        model: "stand-in".to_owned(),
        backend: "none".to_owned(),
        join_bits: None,
        candidate_bits: Vec::new(),
        tokens: 0,
        elapsed: Duration::ZERO,
        controls: BTreeMap::new(),
    }
}

/// The phrases placed, in playing order: (id, start tick, repeat).
fn placed(events: &[DirectorEvent]) -> Vec<(u64, u64, u32)> {
    events
        .iter()
        .filter_map(|e| match e {
            DirectorEvent::PhraseStarted {
                id, tick, repeat, ..
            } => Some((*id, *tick, *repeat)),
            _ => None,
        })
        .collect()
}

/// The session's melody in `lo..hi`, from `lo`: (onset, pitch).
fn melody(host: &Host, lo: u64, hi: u64) -> Vec<(u64, u8)> {
    melody_line(&host.director.session_score())
        .into_iter()
        .filter(|n| n.start >= lo && n.start < hi)
        .map(|n| (n.start - lo, n.pitch))
        .collect()
}

fn sections(host: &Host, ids: &[(u64, u64, u32)]) -> Vec<String> {
    ids.iter()
        .map(|(id, _, _)| {
            host.director
                .section_of(*id)
                .map_or("-".to_owned(), |s| s.to_string())
        })
        .collect()
}

/// The theme the session's melody is in `lo..hi`.
fn theme_at(host: &Host, lo: u64, hi: u64) -> Theme {
    let session = host.director.session_score();
    let mut part = Score::new(480);
    part.time_signatures = session.time_signatures.clone();
    part.time_signatures.retain(|t| t.tick == 0);
    let mut track = Track::new("Melody", leitmotif_score::Role::Melody, 73, 0);
    track.notes = melody_line(&session)
        .into_iter()
        .filter(|n| n.start >= lo && n.start < hi)
        .map(|n| Note {
            start: n.start - lo,
            ..n
        })
        .collect();
    part.tracks.push(track);
    part.normalize();
    Theme::from_score(&part).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_lasting_state_walks_its_form() {
    let mut host = Host::with_composer(director(settings("explore"), table(TABLE)), compose);
    // Five 4-bar phrases at 120 bpm (8 s each), and the start of the next.
    host.run(42.0, 0.05);
    let order = placed(&host.events);
    assert!(order.len() >= 5, "{order:?}");
    assert_eq!(
        sections(&host, &order[..5]),
        ["A", "A'", "B", "A''", "A"],
        "the default form, then a new pass"
    );
    assert!(order.iter().all(|(_, _, repeat)| *repeat == 0), "{order:?}");
    let start = |i: usize| order[i].1;
    let a = melody(&host, start(0), start(0) + 4 * BAR);
    let a_prime = melody(&host, start(1), start(1) + 4 * BAR);
    let b = melody(&host, start(2), start(2) + 4 * BAR);
    let a_return = melody(&host, start(3), start(3) + 4 * BAR);
    let half = |m: &[(u64, u8)]| -> Vec<(u64, u8)> {
        m.iter().copied().filter(|(t, _)| *t < 2 * BAR).collect()
    };
    let bar_one = |m: &[(u64, u8)]| -> Vec<(u64, u8)> {
        m.iter().copied().filter(|(t, _)| *t < BAR).collect()
    };
    // A' is A's first three bars note for note, then a new ending (a second ending).
    let head = |m: &[(u64, u8)]| -> Vec<(u64, u8)> {
        m.iter().copied().filter(|(t, _)| *t < 3 * BAR).collect()
    };
    assert!(!head(&a).is_empty());
    assert_eq!(head(&a_prime), head(&a));
    assert_ne!(a_prime, a, "A' keeps A's first three bars only");
    // A'' keeps A's first bar and moves it a step (a sequence) before going on.
    assert_eq!(bar_one(&a_return), bar_one(&a));
    assert_ne!(half(&a_return), half(&a));
    // Measured as a theme (recall's degree share: theme notes found at their place with
    // their scale degree), A' carries at least A's first three bars, A'' at least its first bar,
    // and B, other music, less than half of what A'' carries.
    let theme = theme_at(&host, start(0), start(0) + 4 * BAR);
    let session = host.director.session_score();
    let heard = |i: usize| recall(&theme, &session, Some((start(i), start(i) + 4 * BAR))).degrees;
    let (r_prime, r_b, r_return) = (heard(1), heard(2), heard(3));
    let all = format!("A' {r_prime}, B {r_b}, A'' {r_return}");
    let share = |part: usize| part as f64 / a.len() as f64 - 1e-9;
    assert!(r_prime >= share(head(&a).len()), "A' recalls A: {all}");
    assert!(
        r_return >= share(bar_one(&a).len()),
        "A'' returns to A: {all}"
    );
    assert!(r_b < r_return / 2.0, "B is other music: {all}");
    // B is a contrast: lower (the mood sits in the middle, so it moves down) and sparser.
    let job = |id: u64| {
        host.jobs
            .iter()
            .rev()
            .find(|j| j.id == id)
            .unwrap_or_else(|| panic!("no job {id}"))
    };
    let b_job = job(order[2].0);
    assert!(matches!(b_job.request.task, Task::Continue { .. }));
    assert_eq!(b_job.request.register, Curve::Constant(0.2));
    assert_eq!(b_job.request.density, Curve::Constant(0.25));
    let mean = |m: &[(u64, u8)]| m.iter().map(|(_, p)| f64::from(*p)).sum::<f64>() / m.len() as f64;
    assert!(
        mean(&b) + 3.0 < mean(&a),
        "B sits lower: {} vs {}",
        mean(&b),
        mean(&a)
    );
    // Every phrase of the state is in its key and tempo.
    let first = job(order[0].0);
    for (id, _, _) in &order[1..4] {
        let j = job(*id);
        assert_eq!(j.request.tempo_bpm, first.request.tempo_bpm);
        assert!(j.request.key.is_some());
    }
    assert!(matches!(job(order[1].0).request.task, Task::Infill { .. }));
    assert!(matches!(job(order[3].0).request.task, Task::Infill { .. }));
    assert_eq!(
        host.director.form_position().map(|(f, _)| f.to_string()),
        Some("A A' B A''".to_owned())
    );
}

#[test]
fn a_moods_own_form_is_used_and_repeats_need_no_job() {
    let ron = TABLE.replace(
        r#""base": (words: ["explore"],"#,
        r#""base": (form: "A B A B'", words: ["explore"],"#,
    );
    let list = TABLE.replace(
        r#""base": (words: ["explore"],"#,
        r#""base": (form: ["A", "B", "A", "B'"], words: ["explore"],"#,
    );
    let moods = table(&ron);
    assert_eq!(moods, table(&list), "a form reads from a line or a list");
    let form: Form = "A B A B'".parse().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(moods.moods["base"].form, Some(form));
    assert_eq!(moods.moods["fast"].form, None);
    assert_eq!(moods.moods["fast"].form_or_default(), Form::default());
    let mut host = Host::with_composer(director(settings("explore"), moods), compose);
    host.run(34.0, 0.05);
    let order = placed(&host.events);
    assert!(order.len() >= 4, "{order:?}");
    assert_eq!(sections(&host, &order[..4]), ["A", "B", "A", "B'"]);
    // The third section is the first phrase placed again: no job was asked for it.
    assert_eq!(order[2].0, order[0].0);
    assert_eq!(order[2].2, 1);
    assert_eq!(
        melody(&host, order[2].1, order[2].1 + 4 * BAR),
        melody(&host, order[0].1, order[0].1 + 4 * BAR)
    );
    let continues = host
        .jobs
        .iter()
        .filter(|j| j.kind == JobKind::Continue && j.due_tick < order[3].1 + 1)
        .count();
    assert_eq!(continues, 2, "B and B' are asked for; A's repeat is not");
    // B' varies B, not A: B's first half comes back.
    let b = melody(&host, order[1].1, order[1].1 + 2 * BAR);
    assert_eq!(melody(&host, order[3].1, order[3].1 + 2 * BAR), b);
}

#[test]
fn malformed_forms_in_a_mood_table_are_refused_by_name() {
    let with = |form: &str| {
        TABLE.replace(
            r#""base": (words: ["explore"],"#,
            &format!(r#""base": (form: {form}, words: ["explore"],"#),
        )
    };
    for (form, needles) in [
        (r#""A C""#, &["C", "next new one is B"][..]),
        (r#""A' A""#, &["A'", "not been heard"][..]),
        (r#""A x""#, &["\"x\"", "not a section"][..]),
        (r#""""#, &["at least one section"][..]),
        (r#"["A", "A'''''"]"#, &["more than 4 primes"][..]),
    ] {
        let e = MoodTable::from_ron(&with(form)).err();
        let Some(MoodError::Rule { line, reason, .. }) = &e else {
            panic!("{form}: {e:?}");
        };
        assert_eq!(*line, 2, "{form}");
        for needle in needles {
            assert!(reason.contains(needle), "{form}: {reason}");
        }
    }
    assert_eq!(
        "A C".parse::<Form>(),
        Err(FormError::OutOfOrder {
            found: 'C',
            expected: 'B',
            position: 2
        })
    );
}

#[test]
fn a_mood_change_mid_form_starts_the_new_moods_form() {
    let mut host = Host::with_composer(director(settings("explore"), table(TABLE)), compose);
    // A, then into A'.
    host.run(10.0, 0.05);
    host.director
        .set_state("chase")
        .unwrap_or_else(|e| panic!("{e}"));
    host.run(30.0, 0.05);
    let order = placed(&host.events);
    let change = host
        .jobs
        .iter()
        .find(|j| j.kind == JobKind::Change)
        .unwrap_or_else(|| panic!("no change"));
    let at = order
        .iter()
        .position(|(id, _, _)| *id == change.id)
        .unwrap_or_else(|| panic!("the change never played: {order:?}"));
    assert_eq!(sections(&host, &order[at..at + 3]), ["A", "A'", "B"]);
    // The new A' varies the new mood's A (150 bpm, minor), not the old state's.
    let a = melody(&host, order[at].1, order[at].1 + 2 * BAR);
    assert_eq!(melody(&host, order[at + 1].1, order[at + 1].1 + 2 * BAR), a);
    let job = host
        .jobs
        .iter()
        .rev()
        .find(|j| j.id == order[at + 1].0)
        .unwrap_or_else(|| panic!("no A' job"));
    let Task::Infill { score, .. } = &job.request.task else {
        panic!("A' is an infill");
    };
    assert_eq!(score.tempos[0].bpm().round(), 150.0);
    assert!(score.key_signatures[0].minor);
    assert_eq!(
        host.director.section_of(order[at + 1].0),
        Some(Section {
            letter: 0,
            primes: 1
        })
    );
}

#[test]
fn a_mood_that_writes_a_form_and_names_a_theme_makes_the_theme_its_a() {
    let ron = TABLE.replace(
        r#""fast": (words: ["chase"],"#,
        r#""fast": (theme: Some("boss"), form: "A B A'", words: ["chase"],"#,
    );
    let mut host = Host::with_composer(director(settings("explore"), table(&ron)), compose);
    let mut boss = Score::new(480);
    let mut line = Track::new("Melody", leitmotif_score::Role::Melody, 73, 0);
    for (i, pitch) in [60u8, 64, 67, 64, 65, 62, 59, 60].into_iter().enumerate() {
        line.notes.push(Note {
            start: i as u64 * 480,
            duration: 480,
            pitch,
            velocity: 90,
        });
    }
    boss.tracks.push(line);
    boss.normalize();
    host.director
        .register_theme("boss", &boss)
        .unwrap_or_else(|e| panic!("{e}"));
    host.run(2.0, 0.05);
    host.director
        .set_state("chase")
        .unwrap_or_else(|e| panic!("{e}"));
    host.run(24.0, 0.05);
    let landed = host.events.iter().find_map(|e| match e {
        DirectorEvent::TransitionDone { to, tick, .. } if to == "chase" => Some(*tick),
        _ => None,
    });
    let landed = landed.unwrap_or_else(|| panic!("the change never landed"));
    let chase: Vec<_> = placed(&host.events)
        .into_iter()
        .filter(|(_, tick, _)| *tick >= landed)
        .collect();
    assert!(chase.len() >= 3, "{chase:?}");
    // The statement, then B (a contrast continuing it), then A' (the theme with a new ending).
    let statement = chase[0];
    assert_eq!(
        host.director.section_of(statement.0).map(|s| s.to_string()),
        Some("A".into())
    );
    let (b, a_prime) = (chase[1], chase[2]);
    assert_eq!(
        host.director.section_of(b.0).map(|s| s.to_string()),
        Some("B".into())
    );
    assert_eq!(
        host.director.section_of(a_prime.0).map(|s| s.to_string()),
        Some("A'".into())
    );
    let theme = Theme::from_score(&boss).unwrap_or_else(|e| panic!("{e}"));
    let session = host.director.session_score();
    let r = recall(&theme, &session, Some((a_prime.1, a_prime.1 + 2 * BAR)));
    assert!(r.score > 0.99, "A' states the theme's first half: {r:?}");
}

#[test]
fn variations_keep_the_moods_tempo_exactly() {
    // 90 bpm is no whole number of microseconds a beat.
    let ron = TABLE.replace(
        r#"mode: major, tempo_bpm: 120,"#,
        r#"mode: major, tempo_bpm: 90,"#,
    );
    let mut host = Host::with_composer(director(settings("explore"), table(&ron)), compose);
    host.run(50.0, 0.05);
    let order = placed(&host.events);
    assert_eq!(sections(&host, &order[..4]), ["A", "A'", "B", "A''"]);
    let tempos: Vec<f64> = host
        .director
        .clock()
        .segments()
        .iter()
        .map(|s| s.bpm)
        .collect();
    assert!(tempos.iter().all(|b| *b == 90.0), "{tempos:?}");
}
