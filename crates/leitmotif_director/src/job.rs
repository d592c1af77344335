//! What the host configures and is asked to compose: the director's settings and its jobs.

use leitmotif_request::Request;
use leitmotif_score::time::Meter;

/// How the director schedules music. Every field has a default.
#[derive(Debug, Clone, PartialEq)]
pub struct DirectorSettings {
    /// Bars in each phrase asked for. Default 4.
    pub phrase_bars: u32,
    /// How far ahead the next phrase is asked for: when the scheduled music has this many
    /// bars plus [`generation_seconds`](Self::generation_seconds) left (and never later
    /// than one bar before it is due). Default 2.
    pub look_ahead_bars: u32,
    /// How long the host expects a phrase to take to compose, in seconds. Default 1.
    pub generation_seconds: f64,
    /// Time constant of the exponential smoothing of intensity, in seconds (0: none).
    /// Default 1.5.
    pub intensity_smoothing_seconds: f64,
    /// The intensity, 0 to 1, before the game sets one. Default 0.5.
    pub initial_intensity: f64,
    /// The session seed: each job's seed is derived from it and the job's id. Default 0.
    pub seed: u64,
    /// The game state the session starts in (a mood's name or word). Default `"explore"`.
    pub initial_state: String,
    /// How many bars of the music scheduled before a phrase are its primer (0: every phrase
    /// is a new piece). Default 4.
    pub primer_bars: u32,
    /// The meter of every phrase unless [`Director::lock_meter`](crate::Director::lock_meter) says otherwise (moods do
    /// not name one). Default 4/4.
    pub meter: Meter,
    /// Failed jobs in a row after which the director stops asking (until the next state,
    /// table or [`Director::retry`](crate::Director::retry)). Default 3.
    pub max_retries: u32,
    /// Whole drafts composed for each phrase, the likeliest by model score kept
    /// ([`Request::drafts`]; the host composes them as one batch where the backend allows).
    /// 1 to 16; more costs composing time off the frame, not frame time. Default 1.
    pub drafts: usize,
}

impl Default for DirectorSettings {
    fn default() -> Self {
        Self {
            phrase_bars: 4,
            look_ahead_bars: 2,
            generation_seconds: 1.0,
            intensity_smoothing_seconds: 1.5,
            initial_intensity: 0.5,
            seed: 0,
            initial_state: "explore".to_owned(),
            primer_bars: 4,
            meter: Meter::COMMON,
            max_retries: 3,
            drafts: 1,
        }
    }
}

/// What a job is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// The session's first phrase; the clock starts when it is delivered.
    First,
    /// The next phrase in the same state, due where the scheduled music ends.
    Continue,
    /// The first phrase of a new game state, due on its mood's transition boundary.
    Change,
    /// A one-bar stinger laid over the music from the next beat.
    Stinger,
}

/// A phrase for the host to compose (off the game's frame) and hand back with
/// [`Director::deliver`](crate::Director::deliver) or [`Director::fail`](crate::Director::fail).
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// The job's id, unique in the session.
    pub id: u64,
    /// What it is for.
    pub kind: JobKind,
    /// What to compose.
    pub request: Request,
    /// The session tick where the phrase should start.
    pub due_tick: u64,
    /// The game state (or stinger) it is for, as the game named it.
    pub state: String,
}
