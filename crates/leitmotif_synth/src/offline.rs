//! Offline rendering of whole scores, mixed or as stems, through the same [`Engine`].

use leitmotif_score::time::TempoMap;
use leitmotif_score::{Score, Track};

use crate::{
    BuiltIn, DEFAULT_SAMPLE_RATE, Engine, EngineSettings, Event, Instrument, Scheduled, SoundFont,
    SynthError,
};

/// The longest render accepted, in seconds (three hours).
pub const MAX_RENDER_SECONDS: f64 = 3.0 * 3600.0;
/// Notes shorter than this (including zero-length ones) are held this long, so they sound.
const MIN_NOTE_SECONDS: f64 = 0.03;
/// Voices per bus when rendering offline.
const OFFLINE_VOICES: usize = 64;

/// How [`render_score`] and [`render_stems`] render.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderOptions {
    /// Frames per second. Default [`DEFAULT_SAMPLE_RATE`].
    pub sample_rate: u32,
    /// The SoundFont every track plays from (by its program; drums on channel 10), or
    /// `None` for the built-in instruments. Default `None`.
    pub soundfont: Option<SoundFont>,
    /// Silence and releases rendered after the score's end, in seconds (0..=60).
    /// Default 2.0.
    pub tail_seconds: f64,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            sample_rate: DEFAULT_SAMPLE_RATE,
            soundfont: None,
            tail_seconds: 2.0,
        }
    }
}

/// Rendered stereo audio.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    /// Frames per second.
    pub sample_rate: u32,
    /// Left and right samples, in -1..1.
    pub frames: Vec<[f32; 2]>,
}

impl Audio {
    /// The length in seconds.
    pub fn duration_seconds(&self) -> f64 {
        if self.sample_rate == 0 {
            0.0
        } else {
            self.frames.len() as f64 / f64::from(self.sample_rate)
        }
    }

    /// The largest absolute sample value.
    pub fn peak(&self) -> f32 {
        self.frames
            .iter()
            .flat_map(|f| f.iter())
            .fold(0.0, |m, s| m.max(s.abs()))
    }
}

/// One track rendered alone.
#[derive(Debug, Clone, PartialEq)]
pub struct Stem {
    /// The track's role in lowercase (`"melody"`, `"bass"`, `"chords"`, `"drums"`,
    /// `"other"`), with `-2`, `-3`... for a second or third track of one role.
    pub name: String,
    /// Its audio, as long as the mix.
    pub audio: Audio,
}

/// A score turned into engine events.
struct Plan {
    /// Per track, its events (on bus 0) in frame order.
    tracks: Vec<Vec<Scheduled>>,
    frames: usize,
}

fn plan(score: &Score, options: &RenderOptions) -> Result<Plan, SynthError> {
    if !(0.0..=60.0).contains(&options.tail_seconds) {
        return Err(SynthError::Invalid {
            what: "tail_seconds",
            reason: format!("{} is outside 0..=60 seconds", options.tail_seconds),
        });
    }
    if score.ppq == 0 {
        return Err(SynthError::Invalid {
            what: "score",
            reason: "its resolution is 0 ticks per quarter note".to_owned(),
        });
    }
    let sr = f64::from(options.sample_rate);
    let tempo = TempoMap::new(score);
    let end_seconds = tempo.seconds(score.end_tick.max(score.last_note_end()));
    let total_seconds = end_seconds + MIN_NOTE_SECONDS + options.tail_seconds;
    if !total_seconds.is_finite() || total_seconds > MAX_RENDER_SECONDS {
        return Err(SynthError::Invalid {
            what: "score",
            reason: format!(
                "it lasts {total_seconds:.0} s; renders are limited to {MAX_RENDER_SECONDS} s"
            ),
        });
    }
    let frame = |tick: u64| (tempo.seconds(tick) * sr).round() as u64;
    let min_frames = (MIN_NOTE_SECONDS * sr).round() as u64;
    let tracks = score
        .tracks
        .iter()
        .map(|track| track_events(track, &frame, min_frames))
        .collect();
    Ok(Plan {
        tracks,
        frames: (total_seconds * sr).ceil() as usize,
    })
}

/// A track's note-ons and note-offs on bus 0, offs first at equal frames.
fn track_events(track: &Track, frame: &dyn Fn(u64) -> u64, min_frames: u64) -> Vec<Scheduled> {
    let mut notes: Vec<(u8, u64, u64, u8)> = track
        .notes
        .iter()
        .map(|n| {
            let on = frame(n.start);
            (
                n.pitch.min(127),
                on,
                frame(n.end()).max(on + min_frames),
                n.velocity.clamp(1, 127),
            )
        })
        .collect();
    // By pitch then start: a note's release may not cut into the next note of its pitch.
    notes.sort_by_key(|&(pitch, on, off, _)| (pitch, on, std::cmp::Reverse(off)));
    notes.dedup_by_key(|&mut (pitch, on, _, _)| (pitch, on));
    let mut events = Vec::with_capacity(notes.len() * 2);
    for (i, &(key, on, off, velocity)) in notes.iter().enumerate() {
        let next_same = notes
            .get(i + 1)
            .filter(|n| n.0 == key)
            .map_or(u64::MAX, |n| n.1);
        events.push(Scheduled {
            frame: on,
            event: Event::NoteOn {
                bus: 0,
                key,
                velocity,
            },
        });
        events.push(Scheduled {
            frame: off.min(next_same),
            event: Event::NoteOff { bus: 0, key },
        });
    }
    events.sort_by_key(|e| (e.frame, matches!(e.event, Event::NoteOn { .. })));
    events
}

/// Renders `events` through an engine of `instruments` into `frames` frames.
fn render_events(
    sample_rate: u32,
    instruments: Vec<Instrument>,
    events: impl Iterator<Item = Scheduled>,
    event_count: usize,
    frames: usize,
) -> Result<Audio, SynthError> {
    let settings = EngineSettings {
        sample_rate,
        max_voices: OFFLINE_VOICES,
        event_capacity: event_count.max(1),
    };
    let mut engine = Engine::new(settings, instruments)?;
    for event in events {
        // The queue holds every event: scheduling cannot fail.
        let _ = engine.schedule(event);
    }
    let mut audio = Audio {
        sample_rate,
        frames: vec![[0.0; 2]; frames],
    };
    engine.render(&mut audio.frames);
    Ok(audio)
}

fn instrument(track: &Track, options: &RenderOptions) -> Instrument {
    Instrument::for_track(track, options.soundfont.as_ref())
}

/// A score as engine events (see [`score_events`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreEvents {
    /// Every note's `NoteOn` and `NoteOff` at its exact frame on the tempo map, on one bus
    /// per track (the track's index), in frame order, note-offs first at equal frames.
    pub events: Vec<Scheduled>,
    /// The frames a render of the score takes: up to its end, then
    /// [`RenderOptions::tail_seconds`].
    pub frames: usize,
}

/// The events [`render_score`] plays, to drive an [`Engine`] by hand (a live feed, a
/// benchmark): notes shorter than 30 ms held that long, a note's release never cutting
/// into the next note of its key.
///
/// # Errors
/// As [`render_score`].
pub fn score_events(score: &Score, options: &RenderOptions) -> Result<ScoreEvents, SynthError> {
    let plan = plan(score, options)?;
    let mut events: Vec<Scheduled> = plan
        .tracks
        .iter()
        .enumerate()
        .flat_map(|(bus, events)| {
            events.iter().map(move |e| Scheduled {
                frame: e.frame,
                event: on_bus(e.event, bus as u16),
            })
        })
        .collect();
    events.sort_by_key(|e| (e.frame, matches!(e.event, Event::NoteOn { .. })));
    Ok(ScoreEvents {
        events,
        frames: plan.frames,
    })
}

/// The whole score mixed (tempo map honoured: every note at its exact sample), one bus
/// per track.
///
/// # Errors
/// [`SynthError::Invalid`] for an unusable sample rate or tail length, or a score longer
/// than [`MAX_RENDER_SECONDS`].
pub fn render_score(score: &Score, options: &RenderOptions) -> Result<Audio, SynthError> {
    let ScoreEvents { events, frames } = score_events(score, options)?;
    let mut instruments: Vec<Instrument> = score
        .tracks
        .iter()
        .map(|t| instrument(t, options))
        .collect();
    if instruments.is_empty() {
        // A score with no tracks renders as silence of its length.
        instruments.push(Instrument::BuiltIn(BuiltIn::Keys));
    }
    let count = events.len();
    render_events(
        options.sample_rate,
        instruments,
        events.into_iter(),
        count,
        frames,
    )
}

/// One stem per track, each alone (same length as the mix), named by the track's role.
///
/// The stems sum to (about) the mix before limiting.
///
/// # Errors
/// As [`render_score`].
pub fn render_stems(score: &Score, options: &RenderOptions) -> Result<Vec<Stem>, SynthError> {
    let plan = plan(score, options)?;
    let mut stems = Vec::with_capacity(score.tracks.len());
    let mut seen: Vec<(&'static str, usize)> = Vec::new();
    for (track, events) in score.tracks.iter().zip(&plan.tracks) {
        let role = track.role.as_str();
        let count = match seen.iter_mut().find(|(r, _)| *r == role) {
            Some((_, count)) => {
                *count += 1;
                *count
            }
            None => {
                seen.push((role, 1));
                1
            }
        };
        let name = if count == 1 {
            role.to_owned()
        } else {
            format!("{role}-{count}")
        };
        // Every bus is built, as for the mix, so each instrument gets the same random
        // phases it has there; only this track's bus plays.
        let bus = stems.len() as u16;
        let audio = render_events(
            options.sample_rate,
            score
                .tracks
                .iter()
                .map(|t| instrument(t, options))
                .collect(),
            events.iter().map(|e| Scheduled {
                frame: e.frame,
                event: on_bus(e.event, bus),
            }),
            events.len(),
            plan.frames,
        )?;
        stems.push(Stem { name, audio });
    }
    Ok(stems)
}

fn on_bus(event: Event, bus: u16) -> Event {
    match event {
        Event::NoteOn { key, velocity, .. } => Event::NoteOn { bus, key, velocity },
        Event::NoteOff { key, .. } => Event::NoteOff { bus, key },
        Event::AllNotesOff { .. } => Event::AllNotesOff { bus },
        Event::Gain {
            gain, ramp_frames, ..
        } => Event::Gain {
            bus,
            gain,
            ramp_frames,
        },
        master @ Event::Master { .. } => master,
    }
}
