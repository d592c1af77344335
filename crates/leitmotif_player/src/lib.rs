//! Leitmotif's adaptive music player: the director's timeline played sample-accurately
//! through kira, with crossfades and cuts between game states, layer gain lanes that follow
//! the intensity, and stingers. It knows no game engine.
//!
//! ```
//! use leitmotif_request::{MoodTable, Transition};
//! use leitmotif_director::{Director, DirectorSettings};
//! use leitmotif_player::{MusicOutput, PlayerSettings};
//! use leitmotif_score::{Note, Role, Score, Track};
//!
//! let mut director = Director::new(DirectorSettings::default(), MoodTable::default_table()?)?;
//! // A cue opens the session here; phrases the composer writes play the same way.
//! let mut cue = Score::new(480);
//! let mut lead = Track::new("Lead", Role::Melody, 73, 0);
//! lead.notes.push(Note { start: 0, duration: 960, pitch: 69, velocity: 100 });
//! cue.tracks.push(lead);
//! cue.end_tick = 1920;
//! director.play_cue("fanfare", &cue, Transition::NextBar)?;
//!
//! // Offline: kira renders when asked. `MusicOutput::device` plays on the sound card.
//! let (mut output, mut player) = MusicOutput::offline(PlayerSettings::default())?;
//! let mut audio = Vec::new();
//! for _frame in 0..30 {
//!     player.update(&mut director); // sends what comes next, at its exact frames
//!     output.render(800, &mut audio); // a device pulls these on its own
//!     let dt = player.clock_step(&director, 1.0 / 60.0); // the clock follows the sound
//!     for _event in director.advance(dt) {}
//! }
//! let peak = audio.iter().flatten().fold(0.0f32, |m, s| m.max(s.abs()));
//! assert!(peak > 0.01 && peak < 1.0, "the A4 sounds: peak {peak}");
//! assert!((director.seconds() - 0.5).abs() < 1e-9, "half a second heard");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! - [`Player`]: the main thread's side. Each frame [`Player::update`] reads the music a
//!   short look-ahead past the transport from the director ([`Director::audible`]) and sends
//!   every note, crossfade and gain ramp through a lock-free queue; the director is told
//!   ([`Director::commit`]) so it never changes music already sent, and changes land
//!   after it, on their own boundaries. [`Player::clock_step`] advances the director by
//!   what has been heard.
//! - The music sound: a kira [`Sound`](kira::sound::Sound) owning a
//!   [`leitmotif_synth::Engine`], whose transport counts the samples it plays; it takes
//!   events from the queue, never allocates or locks, and publishes its position.
//! - [`MusicOutput`]: kira's `AudioManager` on the audio device (feature `cpal`) or on the
//!   [`OfflineBackend`], which renders exactly the frames asked for (tests, rendering a
//!   session to a WAV file).
//!
//! [`Director::audible`]: leitmotif_director::Director::audible
//! [`Director::commit`]: leitmotif_director::Director::commit

mod error;
#[cfg(test)]
#[path = "../tests/common/fake.rs"]
mod fake;
mod offline;
mod output;
mod player;
mod settings;
mod sound;

pub use error::PlayerError;
pub use offline::{OfflineBackend, OfflineSettings};
pub use output::{INTERNAL_BUFFER_FRAMES, MusicOutput};
pub use player::{BUSES, Player, STINGER_BUS, bus_of};
pub use settings::{InstrumentChoice, Part, PerPart, PlayerSettings};
pub use sound::MusicSoundData;

pub use leitmotif_synth::{BuiltIn, Instrument, SoundFont};
