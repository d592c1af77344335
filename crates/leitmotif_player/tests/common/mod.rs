//! Test helpers: the fake composer, a host that plays a director through the offline kira
//! backend frame by frame as the Bevy plugin does, and measurements of the audio.

#![allow(dead_code, reason = "each test file uses some of the helpers")]

pub mod fake;

use leitmotif_director::{Director, DirectorEvent, DirectorSettings, Job};
use leitmotif_player::{MusicOutput, Player, PlayerSettings};
use leitmotif_request::MoodTable;

/// Frames per second of the simulated game.
pub const FPS: f64 = 50.0;

/// The output's sample rate.
pub const RATE: f64 = 48_000.0;

/// Moods whose music is told apart by pitch (see [`fake::melody_pitch`]), all at 120 bpm
/// (a beat is half a second, a bar two).
pub const MOODS_RON: &str = r#"(moods: {
    "calm": (words: ["explore"], mode: major, tempo_bpm: 120, density: 0.5, register: 0.5,
             intensity: 0.5, layers: [melody], transition: next_bar),
    "snap": (mode: natural_minor, tempo_bpm: 120, density: 0.5, register: 0.5,
             intensity: 0.5, layers: [melody], transition: next_bar),
    "fade": (mode: dorian, tempo_bpm: 120, density: 0.5, register: 0.5, intensity: 0.5,
             layers: [melody], transition: next_bar, crossfade_beats: 4),
    "layered": (mode: mixolydian, tempo_bpm: 120, density: 0.5, register: 0.5,
                intensity: 0.5, layers: [melody, chords], enter: {chords: 0.6},
                transition: next_bar),
})"#;

/// A director in `state` over [`MOODS_RON`].
pub fn director(state: &str, intensity: f64) -> Director {
    let table = MoodTable::from_ron(MOODS_RON).unwrap_or_else(|e| panic!("{e}"));
    let settings = DirectorSettings {
        initial_state: state.to_owned(),
        initial_intensity: intensity,
        ..DirectorSettings::default()
    };
    Director::new(settings, table).unwrap_or_else(|e| panic!("{e}"))
}

/// A game: the director composed for by the fake, played through kira offline, a frame of
/// audio rendered per game frame.
pub struct Rig {
    /// The director under test.
    pub director: Director,
    /// Its player.
    pub player: Player,
    /// kira, offline.
    pub output: MusicOutput,
    /// Every frame rendered, from transport frame 0.
    pub audio: Vec<[f32; 2]>,
    /// Every director event, in order.
    pub events: Vec<DirectorEvent>,
    /// While true, jobs wait in `held`.
    pub hold: bool,
    /// Jobs not delivered yet.
    pub held: Vec<Job>,
    /// Every job asked for.
    pub jobs: Vec<Job>,
    carry: f64,
}

impl Rig {
    /// A rig over `director`, its first phrase delivered.
    pub fn new(director: Director, settings: PlayerSettings) -> Self {
        let (output, player) = MusicOutput::offline(settings).unwrap_or_else(|e| panic!("{e}"));
        let mut rig = Self {
            director,
            player,
            output,
            audio: Vec::new(),
            events: Vec::new(),
            hold: false,
            held: Vec::new(),
            jobs: Vec::new(),
            carry: 0.0,
        };
        rig.serve();
        rig
    }

    /// Composes (or holds) every job asked for.
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
        let phrase = fake::fake_compose(&job.request);
        self.director
            .deliver(job.id, phrase)
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Delivers every held job.
    pub fn release(&mut self) {
        for job in std::mem::take(&mut self.held) {
            self.deliver(&job);
        }
    }

    /// One game frame, in the plugin's order: phrases in, the frame's audio rendered (the
    /// music sent ahead before each piece), the clock advanced by what was heard.
    pub fn step(&mut self) {
        self.serve();
        let owed = RATE / FPS + self.carry;
        let frames = owed.floor();
        self.carry = owed - frames;
        let mut left = frames as usize;
        while left > 0 {
            let n = left.min(4800);
            self.player.update(&mut self.director);
            self.output.render(n, &mut self.audio);
            left -= n;
        }
        self.player.update(&mut self.director);
        let dt = self.player.clock_step(&self.director, 1.0 / FPS);
        let events = self.director.advance(dt);
        self.events.extend(events);
    }

    /// Runs `seconds` of game frames.
    pub fn run(&mut self, seconds: f64) {
        for _ in 0..(seconds * FPS).round() as usize {
            self.step();
        }
    }

    /// The transport frame (an index into `audio`) of session tick `tick`.
    pub fn frame_of(&self, tick: u64) -> usize {
        let start = self
            .player
            .session_start()
            .unwrap_or_else(|| panic!("the music has not started"));
        start as usize + (self.director.clock().seconds_at(tick) * RATE).round() as usize
    }

    /// The audio frame index of session second `seconds`.
    pub fn frame_at(&self, seconds: f64) -> usize {
        let start = self.player.session_start().unwrap_or(0);
        start as usize + (seconds * RATE).round() as usize
    }
}

/// Root mean square of both channels over `frames`.
pub fn rms(frames: &[[f32; 2]]) -> f64 {
    if frames.is_empty() {
        return 0.0;
    }
    let sum: f64 = frames
        .iter()
        .map(|[l, r]| f64::from(*l).powi(2) + f64::from(*r).powi(2))
        .sum();
    (sum / (2 * frames.len()) as f64).sqrt()
}

/// The amplitude of `hz` in `frames` (left + right), through a Hann window.
pub fn tone(frames: &[[f32; 2]], hz: f64) -> f64 {
    let n = frames.len();
    if n < 2 {
        return 0.0;
    }
    let (mut re, mut im, mut norm) = (0.0, 0.0, 0.0);
    for (i, [l, r]) in frames.iter().enumerate() {
        let w = 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / (n - 1) as f64).cos();
        let x = f64::from(*l + *r) * w;
        let phase = std::f64::consts::TAU * hz * i as f64 / RATE;
        re += x * phase.cos();
        im -= x * phase.sin();
        norm += w;
    }
    2.0 * (re * re + im * im).sqrt() / norm
}

/// The frequency of a MIDI pitch.
pub fn hz(pitch: u8) -> f64 {
    440.0 * 2f64.powf((f64::from(pitch) - 69.0) / 12.0)
}

/// The first frame where `a` and `b` differ (over their common length).
pub fn first_difference(a: &[[f32; 2]], b: &[[f32; 2]]) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| x != y)
}
