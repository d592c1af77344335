//! Test helpers: a fast deterministic stand-in for the composer, and a host loop.

use std::collections::BTreeMap;
use std::time::Duration;

use leitmotif_director::{Director, DirectorEvent, DirectorSettings, Job};
use leitmotif_request::{Composition, LayerReport, MoodTable, Request, Source, Task};
use leitmotif_score::theory::{PitchClass, Scale};
use leitmotif_score::time::{BarMap, Meter};
use leitmotif_score::{KeySignatureChange, Note, Score, TempoChange, TimeSignatureChange, Track};
use leitmotif_tokens::Layer;

/// A mood table with one mood per transition rule, all at 120 bpm, plus a fast one.
pub const RULES_RON: &str = r#"(moods: {
    "base": (words: ["explore"], mode: major, tempo_bpm: 120, density: 0.5, register: 0.5,
             intensity: 0.5, layers: [melody, bass], transition: next_bar),
    "now": (words: ["immediate"], mode: major, tempo_bpm: 120, density: 0.5, register: 0.5,
            intensity: 0.5, layers: [melody], transition: immediate),
    "beat": (words: ["next_beat"], mode: natural_minor, tempo_bpm: 120, density: 0.5,
             register: 0.5, intensity: 0.5, layers: [melody], transition: next_beat),
    "bar": (words: ["next_bar"], mode: dorian, tempo_bpm: 120, density: 0.5, register: 0.5,
            intensity: 0.5, layers: [melody], transition: next_bar),
    "pair": (words: ["bars_2"], mode: major, tempo_bpm: 120, density: 0.5, register: 0.5,
             intensity: 0.5, layers: [melody, chords], transition: bars(2)),
    "fast": (words: ["chase"], mode: major, tempo_bpm: 150, density: 0.5, register: 0.5,
             intensity: 0.5, layers: [melody, drums], transition: next_bar),
})"#;

/// [`RULES_RON`] parsed.
pub fn rules_table() -> MoodTable {
    MoodTable::from_ron(RULES_RON).unwrap_or_else(|e| panic!("{e}"))
}

/// The shipped mood table.
pub fn default_table() -> MoodTable {
    MoodTable::default_table().unwrap_or_else(|e| panic!("{e}"))
}

/// A director or the test fails.
pub fn director(settings: DirectorSettings, table: MoodTable) -> Director {
    Director::new(settings, table).unwrap_or_else(|e| panic!("{e}"))
}

/// Composes like the real composer in shape, instantly: the primer kept, then
/// `request.bars` bars after it (from its next bar line), one note per beat on every layer.
pub fn fake_compose(request: &Request) -> Composition {
    let bpm = request.tempo_bpm.unwrap_or(110.0);
    let (numerator, denominator) = request.meter.unwrap_or((4, 4));
    let meter = Meter {
        numerator,
        denominator,
    };
    let key = request.key.unwrap_or(Scale::new(
        PitchClass::new((request.seed % 12) as u8).unwrap_or(PitchClass::C),
        request.mode,
    ));
    let (mut score, start, primer_bars) = match &request.task {
        Task::Continue { primer } => {
            let bars = BarMap::new(primer);
            let start = match primer.end_tick {
                0 => 0,
                end => bars.bar_at(end - 1).end(),
            };
            (
                primer.clone(),
                start,
                bars.bars().iter().filter(|b| b.start < start).count(),
            )
        }
        _ => (Score::new(480), 0, 0),
    };
    score.tempos.retain(|t| t.tick < start);
    score
        .tempos
        .push(TempoChange::from_bpm(start, bpm).unwrap_or_else(|e| panic!("{e}")));
    score.time_signatures.retain(|t| t.tick < start);
    score.time_signatures.push(TimeSignatureChange {
        tick: start,
        numerator,
        denominator,
    });
    score.key_signatures.retain(|k| k.tick < start);
    score.key_signatures.push(KeySignatureChange {
        tick: start,
        sharps: 0,
        minor: key.mode.is_minor(),
    });
    let beat = meter.ticks_per_beat(480);
    let beats = u64::from(numerator) * u64::from(request.bars);
    let end = start + beats * beat;
    let mut reports = Vec::new();
    for &layer in &request.layers {
        let role = layer.role();
        let track = match score.tracks.iter().position(|t| t.role == role) {
            Some(i) => i,
            None => {
                let (name, program, channel) = layer.track_defaults();
                score.tracks.push(Track::new(name, role, program, channel));
                score.tracks.len() - 1
            }
        };
        let base: u8 = match layer {
            Layer::Bass => 40,
            Layer::Chords => 60,
            Layer::Drums => 36,
            _ => 72,
        };
        for k in 0..beats {
            let step = ((request.seed >> (k % 32)) % 5) as u8;
            let pitch = if layer == Layer::Drums {
                [36, 38, 42][(k % 3) as usize]
            } else {
                key.snap(base + step * 2)
            };
            score.tracks[track].notes.push(Note {
                start: start + k * beat,
                duration: if layer == Layer::Drums {
                    beat / 2
                } else {
                    beat
                },
                pitch,
                velocity: 64 + (k % 4) as u8 * 8,
            });
        }
        reports.push(LayerReport {
            layer,
            source: Source::Arranger,
            track,
            notes: beats as usize,
            range: 0..=127,
            monophonic: false,
        });
    }
    score.end_tick = end;
    score.normalize();
    score
        .validate()
        .unwrap_or_else(|e| panic!("fake composition invalid: {e}"));
    let first = primer_bars as u32 + 1;
    Composition {
        score,
        key,
        tempo_bpm: bpm,
        meter,
        bars: first..=first + request.bars - 1,
        total_bars: first + request.bars - 1,
        span: (start, end),
        layers: reports,
        key_lock: request.key_lock,
        allowed: Vec::new(),
        looped: false,
        seed: request.seed,
        model: "fake".to_owned(),
        backend: "none".to_owned(),
        join_bits: None,
        candidate_bits: Vec::new(),
        tokens: 0,
        elapsed: Duration::ZERO,
        controls: BTreeMap::new(),
    }
}

/// A host: polls jobs after every step and (unless holding) delivers them at once.
pub struct Host {
    /// The director under test.
    pub director: Director,
    /// Every event, in order.
    pub events: Vec<DirectorEvent>,
    /// Every job handed out, in order.
    pub jobs: Vec<Job>,
    /// While true, jobs are kept in `held` instead of delivered.
    pub hold: bool,
    /// Jobs not delivered yet.
    pub held: Vec<Job>,
    compose: fn(&Request) -> Composition,
}

impl Host {
    /// A host over `director` composing with the fake.
    pub fn new(director: Director) -> Self {
        Self::with_composer(director, fake_compose)
    }

    /// A host over `director` composing with `compose`.
    pub fn with_composer(director: Director, compose: fn(&Request) -> Composition) -> Self {
        let mut host = Self {
            director,
            events: Vec::new(),
            jobs: Vec::new(),
            hold: false,
            held: Vec::new(),
            compose,
        };
        host.serve();
        host
    }

    /// Polls every job, delivering or holding each.
    pub fn serve(&mut self) {
        while let Some(job) = self.director.poll_job() {
            self.jobs.push(job.clone());
            if self.hold {
                self.held.push(job);
            } else {
                self.deliver(&job);
            }
        }
    }

    /// Composes and delivers `job`.
    pub fn deliver(&mut self, job: &Job) {
        let composition = (self.compose)(&job.request);
        self.director
            .deliver(job.id, composition)
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Delivers every held job.
    pub fn release(&mut self) {
        for job in std::mem::take(&mut self.held) {
            self.deliver(&job);
        }
    }

    /// Advances `seconds` in steps of at most `step`, serving jobs after each.
    pub fn run(&mut self, seconds: f64, step: f64) -> Vec<DirectorEvent> {
        let mut out = Vec::new();
        let mut left = seconds;
        while left > 1e-12 {
            let dt = step.min(left);
            left -= dt;
            out.extend(self.director.advance(dt));
            self.serve();
        }
        self.events.extend(out.iter().cloned());
        out
    }

    /// The last job handed out.
    pub fn last_job(&self) -> &Job {
        self.jobs.last().unwrap_or_else(|| panic!("no job yet"))
    }
}

/// Ticks of the events matching `pick`.
pub fn ticks(events: &[DirectorEvent], pick: fn(&DirectorEvent) -> bool) -> Vec<u64> {
    events
        .iter()
        .filter(|e| pick(e))
        .filter_map(DirectorEvent::tick)
        .collect()
}
