//! Leitmotif's music director: adaptive game music the way FMOD and Wwise do it — a
//! musical clock, game states that change on beat and bar boundaries, intensity that brings
//! layers in and out, stingers, look-ahead phrase scheduling — over phrases the composer
//! writes. It knows no game engine and never composes itself: it hands out [`Job`]s (each
//! a [`Request`](leitmotif_request::Request)) for the host to compose off the frame, and
//! places the [`Composition`](leitmotif_request::Composition)s it gets back.
//!
//! ```
//! use leitmotif_request::{MoodTable, Task};
//! use leitmotif_director::{Director, DirectorSettings, JobKind};
//!
//! let moods = MoodTable::default_table()?;
//! let settings = DirectorSettings { initial_state: "explore".into(), ..Default::default() };
//! let mut director = Director::new(settings, moods)?;
//! director.set_intensity(0.8);
//!
//! // The first phrase is asked for at once: a new 4-bar piece in the "explore" mood.
//! let job = director.poll_job().ok_or("no first job")?;
//! assert_eq!((job.kind, job.due_tick), (JobKind::First, 0));
//! assert!(matches!(job.request.task, Task::New));
//! assert_eq!(job.request.bars, 4);
//!
//! // Unknown states are refused by name.
//! let error = director.set_state("disco").err().map(|e| e.to_string()).unwrap_or_default();
//! assert!(error.contains("\"disco\""));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A host's loop, with the real composer (the Bevy plugin runs `compose` on a task pool):
//!
//! ```no_run
//! use leitmotif_compose::{Composer, MoodTable};
//! use leitmotif_director::{Director, DirectorEvent, DirectorSettings};
//! use leitmotif_model::{BackendChoice, ModelSource};
//!
//! let composer = Composer::load(&ModelSource::DefaultRnn, BackendChoice::Cpu)?;
//! let mut director = Director::new(DirectorSettings::default(), MoodTable::default_table()?)?;
//! for frame in 0..3600 {
//!     if frame == 600 {
//!         director.set_state("combat")?; // lands on combat's boundary (the next beat)
//!     }
//!     while let Some(job) = director.poll_job() {
//!         match composer.compose(&job.request) {
//!             Ok(phrase) => {
//!                 director.deliver(job.id, phrase)?;
//!             }
//!             Err(e) => director.fail(job.id, &e.to_string()),
//!         }
//!     }
//!     for event in director.advance(1.0 / 60.0) {
//!         if let DirectorEvent::Bar { bar, .. } = event {
//!             tracing::info!(bar, "bar");
//!         }
//!     }
//! }
//! director.export(std::path::Path::new("out"), "session")?; // out/session_session.mid, ...
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The pieces: [`MusicClock`] (ticks at 480 PPQ, tempo and meter per phrase, seconds ↔
//! ticks, bar and beat positions, transition boundaries), [`Director`] (states, intensity,
//! stingers, jobs, events), the session's record ([`Director::session_score`],
//! [`Director::export`]), and what an audio player schedules ahead of the clock
//! ([`Director::audible`]: every note in session seconds with a stable [`NoteKey`], on one
//! of two decks so that a state's music can crossfade into the next's, and
//! [`Director::commit`], which keeps the director from changing music already sent).

mod audible;
mod clock;
mod director;
mod error;
mod events;
mod export;
mod form;
mod job;
mod playback;
mod seam;
mod session;
mod themes;

pub use audible::{Audible, Lane, NoteKey, Section, SoundingNote};
pub use clock::{MusicClock, PPQ, Position, Segment};
pub use director::Director;
pub use error::DirectorError;
pub use events::{DirectorEvent, PhraseInfo};
pub use export::{MAX_NAME_CHARS, SESSION_NAME, sanitize_name};
pub use job::{DirectorSettings, Job, JobKind};
