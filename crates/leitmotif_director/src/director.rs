//! The [`Director`]: game state, intensity and stingers in; phrase jobs out; delivered
//! phrases placed on the boundaries their moods name; beat, bar and phrase events out as
//! time advances.

use std::collections::VecDeque;

use leitmotif_arrange::Feel;
use leitmotif_request::harmonize::{Harmonize, harmonize};
use leitmotif_request::request::{MAX_BARS, MAX_CANDIDATES, layer_of_role};
use leitmotif_request::theme::ThemeBook;
use leitmotif_request::{
    Composition, Curve, Mood, MoodTable, Request, Task, TempoRule, Transition,
};
use leitmotif_score::Score;
use leitmotif_score::theory::{Chord, Key, Scale};
use leitmotif_score::time::Meter;
use leitmotif_tokens::Layer;
use leitmotif_tokens::fnv::Fnv1a;
use leitmotif_tokens::vocab::meter_index;

use crate::clock::{MusicClock, check_bpm};
use crate::error::DirectorError;
use crate::events::DirectorEvent;
use crate::form::FormState;
use crate::job::{DirectorSettings, Job, JobKind};
use crate::session::{Phrase, Render, Timeline};
use crate::themes::Developing;

/// A game state resolved through the mood table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct State {
    /// The name the game used.
    pub(crate) name: String,
    /// The mood's name in the table.
    pub(crate) mood_name: String,
    pub(crate) mood: Mood,
}

/// A job handed out and not yet delivered.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pending {
    pub(crate) id: u64,
    pub(crate) kind: JobKind,
    pub(crate) state: String,
    pub(crate) due: u64,
    pub(crate) rule: Transition,
    pub(crate) late: bool,
    /// Whether its request continues the game's theme (see [`Director::prime`]).
    pub(crate) primed: bool,
    /// Its mood's crossfade, in beats.
    pub(crate) crossfade_beats: f64,
    /// Whether the whole delivered score is the phrase (a theme's development keeps a
    /// head and infills the rest), not only the bars written.
    pub(crate) whole: bool,
    /// The tempo a whole infilled phrase was asked for: it keeps it, where its score's
    /// tempo event reads back rounded to whole microseconds a beat.
    pub(crate) bpm: Option<f64>,
}

/// The music director: an FMOD/Wwise-style adaptive music state machine over generated
/// phrases, deterministic and driven by [`advance`](Self::advance).
///
/// The host loop: call [`poll_job`](Self::poll_job) and compose each [`Job`]'s request
/// off the frame; hand the result to [`deliver`](Self::deliver); call
/// [`advance`](Self::advance) every frame and react to its events. The clock starts when
/// the first phrase is delivered (the session's tick 0 is its first beat).
///
/// Placement rules: a continuation starts where the scheduled music ends; a state change
/// lands on the boundary its mood's [`Transition`] names, computed when the state is set,
/// and cuts the music there (notes starting after the cut are dropped, notes ringing past
/// it are cut). If the scheduled music runs out before the next phrase arrives, its last
/// phrase repeats — never silence. A late continuation lands where the repeat playing
/// then ends; a late state change on the next boundary of its rule after delivery. A
/// stinger is laid over the music on its own track from the next beat, in the key playing
/// there. With an audio player, "now" in these rules is the end of the music already sent
/// to it ([`commit`](Self::commit)), so nothing it has scheduled ever changes.
#[derive(Debug, Clone)]
pub struct Director {
    pub(crate) settings: DirectorSettings,
    pub(crate) table: MoodTable,
    pub(crate) clock: MusicClock,
    pub(crate) timeline: Timeline,
    pub(crate) started: bool,
    pub(crate) seconds: f64,
    pub(crate) tick: u64,
    pub(crate) target: State,
    pub(crate) intensity: f64,
    pub(crate) intensity_target: f64,
    pub(crate) key_lock: Option<Scale>,
    pub(crate) tempo_lock: Option<f64>,
    pub(crate) meter_lock: Option<Meter>,
    pub(crate) chord_lock: Option<Vec<Chord>>,
    pub(crate) next_id: u64,
    pub(crate) main: Option<Pending>,
    pub(crate) stingers: Vec<Pending>,
    pub(crate) outbox: VecDeque<Job>,
    pub(crate) failures: u32,
    pub(crate) queued: Vec<DirectorEvent>,
    pub(crate) theme: Option<Score>,
    /// Music before this tick has been handed to an audio player and is no longer changed
    /// (see [`Director::commit`]).
    pub(crate) committed: u64,
    /// Phrases placed late because the committed music had passed their due tick before
    /// they came: their [`DirectorEvent::PhraseLate`] is reported when the clock reaches it.
    pub(crate) late_notices: Vec<DirectorEvent>,
    /// Registered themes (see [`Director::register_theme`]).
    pub(crate) themes: ThemeBook,
    /// The theme the next phrases develop after its statement.
    pub(crate) developing: Option<Developing>,
    /// The form the state's music walks (see [`Director::section_of`]).
    pub(crate) form: FormState,
}

fn resolve(table: &MoodTable, name: &str) -> Result<State, DirectorError> {
    let (mood_name, mood) = table
        .lookup(name)
        .ok_or_else(|| DirectorError::UnknownState {
            name: name.to_owned(),
            known: table.moods.keys().cloned().collect::<Vec<_>>().join(", "),
        })?;
    Ok(State {
        name: name.to_owned(),
        mood_name: mood_name.to_owned(),
        mood: mood.clone(),
    })
}

fn check_model_meter(meter: Meter) -> Result<(), DirectorError> {
    match meter_index(meter.numerator, meter.denominator) {
        Some(_) => Ok(()),
        None => Err(DirectorError::Invalid {
            what: "meter",
            reason: format!("{meter} is not a meter the models know"),
        }),
    }
}

/// A job's seed: the session seed and the job's id, hashed.
pub(crate) fn job_seed(seed: u64, id: u64) -> u64 {
    let mut h = Fnv1a::default();
    h.write(b"leitmotif_director job");
    h.write_u64(seed);
    h.write_u64(id);
    h.finish()
}

impl Director {
    /// A director over `table`, in [`DirectorSettings::initial_state`].
    ///
    /// # Errors
    /// [`DirectorError::UnknownState`] when the table has no mood for the initial state;
    /// [`DirectorError::Mood`] for a table that does not validate;
    /// [`DirectorError::Invalid`] for a setting out of range.
    pub fn new(settings: DirectorSettings, table: MoodTable) -> Result<Self, DirectorError> {
        table.validate()?;
        let invalid = |what, reason: String| Err(DirectorError::Invalid { what, reason });
        if !(1..=MAX_BARS).contains(&settings.phrase_bars) {
            return invalid(
                "phrase_bars",
                format!("{} is outside 1..={MAX_BARS}", settings.phrase_bars),
            );
        }
        for (what, value) in [
            ("generation_seconds", settings.generation_seconds),
            (
                "intensity_smoothing_seconds",
                settings.intensity_smoothing_seconds,
            ),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return invalid(what, format!("{value} is not a duration"));
            }
        }
        if !(1..=MAX_CANDIDATES).contains(&settings.drafts) {
            return invalid(
                "drafts",
                format!("{} is outside 1..={MAX_CANDIDATES}", settings.drafts),
            );
        }
        check_model_meter(settings.meter)?;
        let target = resolve(&table, &settings.initial_state)?;
        let clock = MusicClock::new(target.mood.tempo_bpm, settings.meter)?;
        let intensity = if settings.initial_intensity.is_finite() {
            settings.initial_intensity.clamp(0.0, 1.0)
        } else {
            0.5
        };
        Ok(Self {
            settings,
            table,
            clock,
            timeline: Timeline::default(),
            started: false,
            seconds: 0.0,
            tick: 0,
            target,
            intensity,
            intensity_target: intensity,
            key_lock: None,
            tempo_lock: None,
            meter_lock: None,
            chord_lock: None,
            next_id: 1,
            main: None,
            stingers: Vec::new(),
            outbox: VecDeque::new(),
            failures: 0,
            queued: Vec::new(),
            theme: None,
            committed: 0,
            late_notices: Vec::new(),
            themes: ThemeBook::default(),
            developing: None,
            form: FormState::default(),
        })
    }

    /// Switches to the game state `name` (a mood's name or word, e.g. `"combat"`).
    ///
    /// A state whose mood is the one already asked for changes nothing. Otherwise the
    /// change lands on the boundary the mood's transition rule names from the clock now;
    /// its phrase is asked for at once (the next [`poll_job`](Self::poll_job)), continuing
    /// the last [`primer_bars`](DirectorSettings::primer_bars) bars scheduled up to the
    /// boundary. Before the first phrase arrives, the first phrase is asked for again in
    /// the new state.
    ///
    /// # Errors
    /// [`DirectorError::UnknownState`] naming `name`; nothing changes.
    pub fn set_state(&mut self, name: &str) -> Result<(), DirectorError> {
        let state = resolve(&self.table, name)?;
        if state.mood_name == self.target.mood_name {
            return Ok(());
        }
        tracing::debug!(from = %self.target.name, to = %state.name, "state change");
        self.failures = 0;
        self.cancel_main();
        let rule = state.mood.transition;
        self.target = state;
        self.developing = None;
        // A mood that names its theme states it on its boundary.
        if self.state_theme(rule) {
            return Ok(());
        }
        if !self.started {
            return Ok(());
        }
        let due = self.cut_at_boundary(rule);
        let job = self.new_job(JobKind::Change, due, rule);
        self.outbox.push_back(job);
        Ok(())
    }

    /// Sets the target intensity (clamped to 0..=1; not a number is ignored); the intensity
    /// the director uses follows it smoothly as time advances.
    pub fn set_intensity(&mut self, intensity: f64) {
        if intensity.is_finite() {
            self.intensity_target = intensity.clamp(0.0, 1.0);
        }
    }

    /// Asks for a one-bar stinger in the mood `name` names, laid over the music from the
    /// next beat (from the next beat after delivery if it comes late), and returns its
    /// job's id. It plays in the current tempo and meter, on the session's `Stinger` track.
    ///
    /// # Errors
    /// [`DirectorError::UnknownState`] for a name no mood has;
    /// [`DirectorError::NotStarted`] before the first phrase arrived.
    pub fn stinger(&mut self, name: &str) -> Result<u64, DirectorError> {
        let state = resolve(&self.table, name)?;
        if !self.started {
            return Err(DirectorError::NotStarted("a stinger"));
        }
        let due = self
            .clock
            .next_boundary(self.horizon(), Transition::NextBeat);
        let id = self.take_id();
        let segment = *self.clock.segment_at(due);
        let mut request = self.request(&state, id, due, 1, segment.bpm, segment.meter);
        request.layers = vec![Layer::Melody];
        request.intensity = Curve::Constant(self.intensity_target);
        // In the key playing under it (a lock still wins).
        if self.key_lock.is_none()
            && let Some(playing) = self.timeline.index_at(due).and_then(|i| {
                self.timeline
                    .phrases
                    .get(self.timeline.placements[i].phrase)
            })
        {
            request.key = Some(playing.key);
        }
        self.stingers.push(Pending {
            id,
            kind: JobKind::Stinger,
            state: name.to_owned(),
            due,
            rule: Transition::NextBeat,
            late: false,
            primed: false,
            crossfade_beats: 0.0,
            whole: false,
            bpm: None,
        });
        self.outbox.push_back(Job {
            id,
            kind: JobKind::Stinger,
            request,
            due_tick: due,
            state: name.to_owned(),
        });
        Ok(id)
    }

    /// Locks every later phrase to `key` (`None`: each mood's key, or the music's own).
    pub fn lock_key(&mut self, key: Option<Scale>) {
        self.key_lock = key;
    }

    /// Locks every later phrase to `bpm` quarter notes per minute (`None`: each mood's).
    ///
    /// # Errors
    /// [`DirectorError::Invalid`] for a tempo outside 20..=400 bpm; nothing changes.
    pub fn lock_tempo(&mut self, bpm: Option<f64>) -> Result<(), DirectorError> {
        if let Some(bpm) = bpm {
            check_bpm(bpm)?;
        }
        self.tempo_lock = bpm;
        Ok(())
    }

    /// Locks every later phrase to a chord progression, one chord a bar and round again
    /// (`None`: each mood's [`chords`](leitmotif_request::Mood::chords), or the harmony the
    /// melody implies).
    ///
    /// # Errors
    /// [`DirectorError::Invalid`] for an empty progression; nothing changes.
    pub fn lock_chords(&mut self, chords: Option<Vec<Chord>>) -> Result<(), DirectorError> {
        if chords.as_ref().is_some_and(Vec::is_empty) {
            return Err(DirectorError::Invalid {
                what: "chords",
                reason: "a progression needs at least one chord".to_owned(),
            });
        }
        self.chord_lock = chords;
        Ok(())
    }

    /// The chord progression [`lock_chords`](Self::lock_chords) set, if any.
    pub fn chord_lock(&self) -> Option<&[Chord]> {
        self.chord_lock.as_deref()
    }

    /// Locks every later phrase to `meter` (`None`: [`DirectorSettings::meter`]).
    ///
    /// # Errors
    /// [`DirectorError::Invalid`] for a meter the models do not know; nothing changes.
    pub fn lock_meter(&mut self, meter: Option<Meter>) -> Result<(), DirectorError> {
        if let Some(meter) = meter {
            check_model_meter(meter)?;
        }
        self.meter_lock = meter;
        Ok(())
    }

    /// Replaces the mood table (hot reload): later phrases follow it, scheduled ones stay.
    ///
    /// # Errors
    /// [`DirectorError::Mood`] for a table that does not validate, or
    /// [`DirectorError::UnknownState`] when it has no mood for the current state; the old
    /// table stays.
    pub fn set_table(&mut self, table: MoodTable) -> Result<(), DirectorError> {
        table.validate()?;
        self.target = resolve(&table, &self.target.name)?;
        self.table = table;
        self.failures = 0;
        Ok(())
    }

    /// Asks again after [`max_retries`](DirectorSettings::max_retries) failures in a row
    /// made the director stop.
    pub fn retry(&mut self) {
        self.failures = 0;
    }

    /// The next job to compose, if one is needed now: the first phrase, a state change's
    /// or stinger's phrase, or the next phrase when the scheduled music is running out
    /// (see [`DirectorSettings::look_ahead_bars`]). Each job is handed out once.
    pub fn poll_job(&mut self) -> Option<Job> {
        if let Some(job) = self.outbox.pop_front() {
            return Some(job);
        }
        if self.main.is_some() || self.failures > self.settings.max_retries {
            return None;
        }
        if !self.started {
            return Some(self.new_job(JobKind::First, 0, Transition::Immediate));
        }
        let end = self.timeline.end();
        let segment = self.clock.segment_at(self.tick);
        let bar = segment.bar_ticks() as f64 * segment.seconds_per_tick();
        let lead =
            f64::from(self.settings.look_ahead_bars) * bar + self.settings.generation_seconds;
        let remaining = self.clock.seconds_at(end) - self.seconds;
        // A section of the state's form that repeats a phrase as it was needs no job.
        (remaining <= lead.max(bar) && !self.place_repeat(end))
            .then(|| self.new_job(JobKind::Continue, end, Transition::NextBar))
    }

    /// Hands back job `id`'s composition. Returns whether it was used: a stale id (a job a
    /// state change replaced) is ignored.
    ///
    /// # Errors
    /// [`DirectorError::InvalidPhrase`] for a composition that cannot be placed; the job
    /// counts as failed (see [`fail`](Self::fail)).
    pub fn deliver(&mut self, id: u64, composition: Composition) -> Result<bool, DirectorError> {
        if let Some(i) = self.stingers.iter().position(|p| p.id == id) {
            let pending = self.stingers.remove(i);
            let mut phrase = Phrase::new(id, pending.state, composition)?;
            phrase.mood = self.mood_of(&phrase.state);
            let start = if pending.due >= self.horizon() {
                pending.due
            } else {
                self.clock
                    .next_boundary(self.horizon(), Transition::NextBeat)
            };
            self.timeline.overlay(phrase, start);
            return Ok(true);
        }
        let Some(pending) = self.main.take_if(|p| p.id == id) else {
            tracing::debug!(id, "stale phrase ignored");
            return Ok(false);
        };
        let composition = if pending.whole {
            Composition {
                span: (0, composition.span.1),
                ..composition
            }
        } else {
            composition
        };
        let mut phrase = match Phrase::new(id, pending.state.clone(), composition) {
            Ok(phrase) => phrase,
            Err(e) => {
                self.main = Some(pending);
                self.fail(id, &e.to_string());
                return Err(e);
            }
        };
        if let Some(bpm) = pending.bpm.filter(|b| (b - phrase.bpm).abs() < 0.01) {
            phrase.bpm = bpm;
        }
        let horizon = self.horizon();
        if pending.kind != JobKind::First
            && !pending.late
            && pending.due >= self.tick
            && pending.due < horizon
        {
            // On time for the clock, too late for the music already handed to the player.
            self.late_notices.push(DirectorEvent::PhraseLate {
                state: pending.state.clone(),
                bar: self.clock.position(pending.due).bar,
                id,
                tick: pending.due,
            });
        }
        let start = match pending.kind {
            JobKind::First => 0,
            _ if !pending.late && pending.due >= horizon => pending.due,
            JobKind::Continue => self
                .timeline
                .index_at(horizon)
                .map_or(horizon, |i| self.timeline.placements[i].end),
            _ => self.clock.next_boundary(horizon, pending.rule),
        };
        if pending.primed {
            self.theme = None;
        }
        phrase.crossfade_beats = pending.crossfade_beats;
        phrase.mood = self.mood_of(&phrase.state);
        self.schedule(phrase, start)?;
        self.section_delivered(id);
        Ok(true)
    }

    /// Puts `phrase` on the timeline from `start` (cutting what plays there) and starts
    /// the clock. Where its tempo differs from the music before, its mood's
    /// [`TempoRule`] says how the clock gets there: at once, or beat by beat.
    pub(crate) fn schedule(&mut self, phrase: Phrase, start: u64) -> Result<(), DirectorError> {
        let index = self.timeline.phrases.len();
        let before = (self.started && start > 0).then(|| self.clock.segment_at(start - 1).bpm);
        let rule = phrase
            .mood
            .as_ref()
            .and_then(|name| self.table.moods.get(name))
            .map_or(TempoRule::Jump, |mood| mood.tempo_change);
        match (before, rule) {
            (Some(from), TempoRule::Ramp(beats)) if (from - phrase.bpm).abs() > 1e-9 => {
                // Beat 0 opens the phrase's segment; beats 1..=beats are steps in it.
                self.clock
                    .set_segment(start, rule.bpm_at(0, from, phrase.bpm), phrase.meter)?;
                let beat = self.clock.segment_at(start).beat_ticks();
                for i in 1..=beats {
                    let bpm = rule.bpm_at(i, from, phrase.bpm);
                    self.clock.set_tempo(start + u64::from(i) * beat, bpm)?;
                }
            }
            _ => self.clock.set_segment(start, phrase.bpm, phrase.meter)?,
        }
        self.timeline.phrases.push(phrase);
        self.timeline.place(index, start, 0);
        self.prepare_seam(start);
        self.started = true;
        self.failures = 0;
        Ok(())
    }

    /// Plays `cue`, music the game supplies (a composer's theme, a jingle, a `Melody`
    /// asset), as a fixed phrase named `name`: on the next boundary `rule` names (at the
    /// very start when no music plays yet), cutting what plays there, like a state change.
    /// It plays once, at its own tempo, meter and key; the music after it continues from
    /// it in the current game state. Returns the phrase's id.
    ///
    /// # Errors
    /// [`DirectorError::InvalidPhrase`] for a cue that is not a valid score, has no notes,
    /// or changes tempo or meter; [`DirectorError::Invalid`] for a meter the models cannot
    /// continue. Nothing changes.
    pub fn play_cue(
        &mut self,
        name: &str,
        cue: &Score,
        rule: Transition,
    ) -> Result<u64, DirectorError> {
        let id = self.take_id();
        let phrase = Phrase::cue(id, name.to_owned(), cue)?;
        check_model_meter(phrase.meter)?;
        self.cancel_main();
        let start = if self.started {
            self.cut_at_boundary(rule)
        } else {
            0
        };
        tracing::debug!(id, name, start, "cue scheduled");
        self.schedule(phrase, start)?;
        Ok(id)
    }

    /// `cue`, a melody the game supplies, with the layers the playing mood adds written
    /// under it by the arranger and the melody kept note for note
    /// ([`leitmotif_request::harmonize`]): the mood's bass, chords and drums that `cue` has
    /// no track of, at the current intensity, on the locked progression or the mood's own
    /// (else the harmony the arranger hears in the melody), humanized as the mood says, in
    /// the cue's key (its key signature, else estimated from its melody). A cue that has
    /// every layer of the mood already comes back as it is. Play it with
    /// [`play_cue`](Self::play_cue).
    ///
    /// # Errors
    /// [`DirectorError::Invalid`] naming the problem: no melody track, bars the arranger
    /// refuses.
    pub fn harmonized(&self, cue: &Score) -> Result<Score, DirectorError> {
        let mood = &self.target.mood;
        let present = leitmotif_tokens::assign_layers(cue);
        let layers: Vec<Layer> = mood
            .layers
            .iter()
            .filter_map(|role| layer_of_role(*role))
            .filter(|l| *l != Layer::Melody && !present.contains(l))
            .collect();
        if layers.is_empty() {
            return Ok(cue.clone());
        }
        let key = cue
            .key_signatures
            .first()
            .and_then(|k| Key::from_key_signature(k.sharps, k.minor).ok())
            .map(Scale::from);
        let options = Harmonize {
            layers,
            key,
            chords: self
                .chord_lock
                .clone()
                .unwrap_or_else(|| mood.chords.clone()),
            intensity: Curve::Constant(self.intensity),
            looped: false,
            seed: job_seed(self.settings.seed, self.next_id),
            feel: Feel {
                humanize: mood.humanize,
                swing: 0.0,
            },
        };
        harmonize(cue, &options)
            .map(|done| done.score)
            .map_err(|e| DirectorError::Invalid {
                what: "cue",
                reason: e.to_string(),
            })
    }

    /// Makes `theme` the primer of the next phrase (the first, a state change's or the
    /// next continuation) in place of the music scheduled before it, so the generated
    /// music develops the game's own theme. A phrase already being composed is asked for
    /// again with it. The theme is used until a phrase made from it arrives; `None`
    /// forgets it.
    ///
    /// # Errors
    /// [`DirectorError::Invalid`] for a theme that is not a valid score or has no notes;
    /// nothing changes.
    pub fn prime(&mut self, theme: Option<Score>) -> Result<(), DirectorError> {
        if let Some(theme) = &theme {
            let invalid = |reason: String| DirectorError::Invalid {
                what: "theme",
                reason,
            };
            theme
                .validate()
                .map_err(|e| invalid(format!("not a valid score: {e}")))?;
            if theme.note_count() == 0 {
                return Err(invalid("it has no notes".to_owned()));
            }
        }
        self.theme = theme;
        if let Some(pending) = self.main.clone() {
            self.cancel_main();
            self.ask_again(&pending);
        }
        Ok(())
    }

    /// Reports that job `id` could not be composed. The music goes on; a first phrase or a
    /// state change is asked for again at once, a continuation at the next poll, a stinger
    /// is dropped — up to [`max_retries`](DirectorSettings::max_retries) failures in a row.
    pub fn fail(&mut self, id: u64, message: &str) {
        let pending = if let Some(i) = self.stingers.iter().position(|p| p.id == id) {
            self.stingers.remove(i)
        } else if let Some(p) = self.main.take_if(|p| p.id == id) {
            p
        } else {
            return;
        };
        tracing::warn!(id, state = %pending.state, message, "phrase failed");
        self.queued.push(DirectorEvent::PhraseFailed {
            state: pending.state.clone(),
            id,
            message: message.to_owned(),
        });
        if pending.kind == JobKind::Stinger {
            return;
        }
        self.failures += 1;
        if self.failures > self.settings.max_retries {
            tracing::warn!(
                failures = self.failures,
                "too many failed phrases; not asking again"
            );
            return;
        }
        if matches!(pending.kind, JobKind::First | JobKind::Change) {
            self.ask_again(&pending);
        }
    }

    /// Asks for `pending`'s phrase again, as a new job (the old id becomes stale).
    fn ask_again(&mut self, pending: &Pending) {
        let job = self.new_job(pending.kind, pending.due, pending.rule);
        if let Some(main) = &mut self.main {
            main.late = pending.late;
        }
        self.outbox.push_back(job);
    }

    /// The next boundary `rule` names from now; the music scheduled past it is dropped
    /// (the phrase sounding now stays) and the music up to it repeats if it runs out first.
    pub(crate) fn cut_at_boundary(&mut self, rule: Transition) -> u64 {
        let horizon = self.horizon();
        let due = self.clock.next_boundary(horizon, rule);
        let stale = due.max(horizon + 1);
        self.timeline.drop_from(stale);
        self.release_seam();
        self.clock.truncate_from(stale);
        self.extend_to(due);
        due
    }

    /// The earliest tick a change may land on: now, or the end of the music already handed
    /// to an audio player, whichever is later.
    pub(crate) fn horizon(&self) -> u64 {
        self.tick.max(self.committed)
    }

    /// Marks the music before `tick` as handed to an audio player: it will not change
    /// any more. State changes, cues, stingers and late phrases then land at `tick` or
    /// later (on the first boundary their rule names from there), and when the scheduled
    /// music ends before `tick` its last phrase is repeated up to it at once, so that
    /// there is always music to play ahead of the clock.
    ///
    /// A player that schedules notes ahead of the clock (a look-ahead window) calls this
    /// with the first tick it has not sent yet, before reading the music up to it. Without
    /// a player the clock's own tick is the horizon and nothing changes. A `tick` behind an
    /// earlier commit is ignored.
    pub fn commit(&mut self, tick: u64) {
        if !self.started || tick <= self.committed {
            return;
        }
        self.committed = tick;
        self.extend_to(tick);
    }

    /// The tick up to which the music has been committed (see [`commit`](Self::commit)).
    pub fn committed_tick(&self) -> u64 {
        self.committed
    }

    /// The name of the mood `state` resolves to in the table.
    fn mood_of(&self, state: &str) -> Option<String> {
        self.table.lookup(state).map(|(name, _)| name.to_owned())
    }

    pub(crate) fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Forgets the pending main job (its id becomes stale).
    pub(crate) fn cancel_main(&mut self) {
        if let Some(p) = self.main.take() {
            self.outbox.retain(|job| job.id != p.id);
        }
    }

    /// Makes the main job of `kind` due at `due` for the target state.
    fn new_job(&mut self, kind: JobKind, due: u64, rule: Transition) -> Job {
        let id = self.take_id();
        let meter = self.meter_lock.unwrap_or(self.settings.meter);
        let bpm = self.tempo_lock.unwrap_or(self.target.mood.tempo_bpm);
        let state = self.target.clone();
        let mut request = self.request(&state, id, due, self.settings.phrase_bars, bpm, meter);
        if let Some(theme) = &self.theme {
            request.task = Task::Continue {
                primer: theme.clone(),
            };
        }
        // The phrases after a theme's statement develop it (as the A of the mood's form
        // when the mood writes one); the others walk the state's form.
        if kind == JobKind::Continue {
            self.adopt_theme(due);
        }
        let whole = if kind == JobKind::Continue
            && let Some((developed, keeps_head)) = self.development_request(&request)
        {
            request = developed;
            keeps_head
        } else {
            self.plan_section(kind, id, due, &mut request)
        };
        self.main = Some(Pending {
            id,
            kind,
            state: state.name.clone(),
            due,
            rule,
            late: false,
            primed: self.theme.is_some(),
            crossfade_beats: state.mood.crossfade_beats,
            whole,
            bpm: request.tempo_bpm.filter(|_| whole),
        });
        Job {
            id,
            kind,
            request,
            due_tick: due,
            state: state.name,
        }
    }

    /// The request for a phrase of `bars` bars in `state`, continuing the music before `due`.
    fn request(
        &self,
        state: &State,
        id: u64,
        due: u64,
        bars: u32,
        bpm: f64,
        meter: Meter,
    ) -> Request {
        let mood = &state.mood;
        // Every layer of the mood, whatever the intensity: which of them are heard is the
        // player's gain lanes' business (they follow the intensity sample by sample), and a
        // layer can then come in in the middle of a phrase.
        let mut layers: Vec<Layer> = mood
            .layers
            .iter()
            .copied()
            .filter_map(layer_of_role)
            .chain([Layer::Melody])
            .collect();
        layers.sort();
        layers.dedup();
        // The key the mood's rule gives from the key before `due`; a lock still wins.
        let key = self
            .key_lock
            .or_else(|| mood.key.key_after(self.key_before(due), mood.mode));
        Request {
            task: self
                .primer(due)
                .map_or(Task::New, |primer| Task::Continue { primer }),
            key,
            mode: mood.mode,
            tempo_bpm: Some(bpm),
            meter: Some((meter.numerator, meter.denominator)),
            bars,
            density: Curve::Constant(mood.density),
            register: Curve::Constant(mood.register),
            intensity: Curve::Ramp {
                from: self.intensity,
                to: self.intensity_target,
            },
            layers,
            seed: job_seed(self.settings.seed, id),
            chords: self
                .chord_lock
                .clone()
                .unwrap_or_else(|| mood.chords.clone()),
            humanize: mood.humanize,
            drafts: self.settings.drafts,
            ..Request::default()
        }
    }

    /// The key of the music a phrase due at `due` follows: the theme's (estimated from its
    /// notes) when one primes it, else the key of the phrase scheduled just before `due`;
    /// `None` before any music.
    pub(crate) fn key_before(&self, due: u64) -> Option<Scale> {
        if let Some(theme) = &self.theme {
            return leitmotif_tokens::controls::estimated_key(theme).map(Scale::from);
        }
        if !self.started || due == 0 {
            return None;
        }
        let i = self.timeline.index_at(due - 1)?;
        let placement = self.timeline.placements.get(i)?;
        self.timeline.phrases.get(placement.phrase).map(|p| p.key)
    }

    /// The last [`primer_bars`](DirectorSettings::primer_bars) bars scheduled before `due`
    /// (from a bar line, and no further back than a mid-bar restart), or `None` when there
    /// are no notes there.
    fn primer(&self, due: u64) -> Option<Score> {
        if !self.started || self.settings.primer_bars == 0 || due == 0 {
            return None;
        }
        let last = self.clock.position(due - 1).bar - 1;
        let first = last.saturating_sub(u64::from(self.settings.primer_bars) - 1);
        let lo = self
            .clock
            .bar_start(first)
            .max(self.clock.grid_origin(due - 1));
        let what = Render {
            markers: false,
            stingers: false,
        };
        let score = self.timeline.render(&self.clock, lo, due, what);
        (score.note_count() > 0).then_some(score)
    }
}
