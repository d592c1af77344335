//! The director with the real composer (the embedded RNN on the CPU): continuations keep
//! the music one piece, state changes land on their boundaries, and a session is the same
//! every time.

pub mod common;

use common::{Host, default_table, director};
use leitmotif_compose::{Composer, Composition, Request};
use leitmotif_director::{DirectorEvent, DirectorSettings, JobKind};
use leitmotif_model::BackendChoice;
use leitmotif_model::ModelSource;
use leitmotif_score::midi;

thread_local! {
    static COMPOSER: Composer = Composer::load(&ModelSource::DefaultRnn, BackendChoice::Cpu)
        .unwrap_or_else(|e| panic!("{e}"));
}

fn compose(request: &Request) -> Composition {
    COMPOSER.with(|c| c.compose(request).unwrap_or_else(|e| panic!("{e}")))
}

fn session() -> Host {
    let settings = DirectorSettings {
        seed: 7,
        ..DirectorSettings::default()
    };
    let mut host = Host::with_composer(director(settings, default_table()), compose);
    host.run(4.0, 0.05);
    host.director
        .set_state("combat")
        .unwrap_or_else(|e| panic!("{e}"));
    host.serve();
    host.run(6.0, 0.05);
    host
}

#[test]
fn real_phrases_continue_the_music_and_land_on_boundaries() {
    let host = session();
    let change = host.jobs.iter().find(|j| j.kind == JobKind::Change);
    let change = change.unwrap_or_else(|| panic!("no state change job"));
    assert!(matches!(
        change.request.task,
        leitmotif_compose::Task::Continue { .. }
    ));
    let transitions: Vec<u64> = host
        .events
        .iter()
        .filter_map(|e| match e {
            DirectorEvent::TransitionDone { tick, .. } => Some(*tick),
            _ => None,
        })
        .collect();
    assert_eq!(transitions, [change.due_tick]);
    assert!(
        host.director.clock().is_beat(change.due_tick),
        "combat lands on a beat"
    );
    assert!(
        host.events
            .iter()
            .all(|e| !matches!(e, DirectorEvent::PhraseLate { .. }))
    );
    let score = host.director.session_score();
    score.validate().unwrap_or_else(|e| panic!("{e}"));
    // Music on both sides of the boundary.
    let starts: Vec<u64> = score
        .tracks
        .iter()
        .flat_map(|t| t.notes.iter().map(|n| n.start))
        .collect();
    assert!(starts.iter().any(|s| *s < change.due_tick));
    assert!(starts.iter().any(|s| *s >= change.due_tick));
    let bytes = midi::write_midi(&score).unwrap_or_else(|e| panic!("{e}"));
    let again = midi::write_midi(&session().director.session_score());
    assert_eq!(Some(bytes), again.ok(), "same seed, same session");
}
