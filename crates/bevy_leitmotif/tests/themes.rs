//! Leitmotifs through the plugin's messages in a headless App: `RegisterTheme` hands a
//! melody asset to the director as a named theme, `PlayTheme` states it in the music.

use std::time::Duration;

use bevy::asset::{AssetPlugin, Assets};
use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use bevy_leitmotif::{LeitmotifPlugin, Melody, MusicDirector, PlayTheme, RegisterTheme};
use leitmotif_compose::Transition;
use leitmotif_compose::theme::{Theme, recall};
use leitmotif_director::DirectorSettings;
use leitmotif_model::ModelSource;
use leitmotif_score::{Note, Role, Score, Track};

const FPS: f64 = 50.0;

fn app() -> App {
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        AssetPlugin::default(),
        LeitmotifPlugin {
            model: ModelSource::DefaultRnn,
            backend: leitmotif_model::BackendChoice::Cpu,
            director: DirectorSettings {
                seed: 7,
                ..DirectorSettings::default()
            },
            moods: None,
            wait_for_phrases: true,
            audio: bevy_leitmotif::AudioSettings::off(),
        },
    ))
    .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_secs_f64(
        1.0 / FPS,
    )));
    app.finish();
    app.cleanup();
    app
}

fn run_seconds(app: &mut App, seconds: f64) {
    for _ in 0..(seconds * FPS).round() as usize {
        app.update();
    }
}

/// Two bars in G major: G B D B | C A F# G.
fn hero() -> Score {
    let mut score = Score::default();
    let mut melody = Track::new("Melody", Role::Melody, 73, 0);
    for (i, pitch) in [67u8, 71, 74, 71, 72, 69, 66, 67].into_iter().enumerate() {
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

#[test]
fn theme_messages_register_a_theme_and_state_it_in_the_music() {
    let mut app = app();
    run_seconds(&mut app, 1.0);
    let theme = Theme::from_score(&hero()).unwrap_or_else(|e| panic!("{e}"));
    let session = app
        .world()
        .resource::<MusicDirector>()
        .director()
        .session_score();
    let before = recall(&theme, &session, None).score;
    let melody = app
        .world_mut()
        .resource_mut::<Assets<Melody>>()
        .add(Melody(hero()));
    let world = app.world_mut();
    world.write_message(RegisterTheme {
        name: "hero".to_owned(),
        melody,
    });
    world.write_message(PlayTheme {
        name: "hero".to_owned(),
        transition: Transition::NextBar,
    });
    // An unknown name is a warning, and the music goes on.
    world.write_message(PlayTheme {
        name: "nobody".to_owned(),
        transition: Transition::NextBar,
    });
    run_seconds(&mut app, 8.0);
    let director = app.world().resource::<MusicDirector>().director();
    assert_eq!(director.themes().collect::<Vec<_>>(), ["hero"]);
    let r = recall(&theme, &director.session_score(), None);
    assert!(r.score > 0.99, "the statement is in the session: {r:?}");
    assert!(before < 0.9, "and was not before: {before}");
}
