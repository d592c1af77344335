//! The main-thread side: the [`Player`] reads the director's timeline a little ahead of the
//! transport and sends every note, gain ramp and crossfade to the audio thread at its exact
//! frame; it also tells the host how far the music has been heard, so the musical clock
//! follows the sound.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use leitmotif_director::{Audible, Director, Lane, NoteKey, Section};
use leitmotif_synth::{Engine, EngineSettings, Event, Scheduled, SoundFont};
use leitmotif_tokens::Layer;
use rtrb::{Consumer, Producer, RingBuffer};

use crate::error::PlayerError;
use crate::settings::{InstrumentChoice, Part, PlayerSettings, check_volume};
use crate::sound::{Command, MusicSound, MusicSoundData, Shared};

/// Buses of the player's engine: two decks of four layers, then the stingers.
pub const BUSES: u16 = 9;

/// The stingers' bus.
pub const STINGER_BUS: u16 = 8;

/// Commands the queue to the audio thread holds.
const COMMAND_CAPACITY: usize = 16_384;

/// Engines the way back from the audio thread holds.
const RETURN_CAPACITY: usize = 8;

/// The longest stretch a gain ramp is sent as one straight line, in frames: curves (an
/// equal-power crossfade, a layer fade during one) are followed piece by piece.
const MAX_RAMP_FRAMES: u64 = 1024;

/// How long a volume change ramps, in seconds (a de-click).
const VOLUME_RAMP_SECONDS: f64 = 0.03;

/// Frames a new engine renders (silently) before it plays, for its first gains to settle.
const SETTLE_FRAMES: usize = 1024;

/// How far below its entry intensity the intensity must fall before a layer that came in
/// leaves again (so that it does not flutter at the threshold).
const HYSTERESIS: f64 = 0.02;

/// A fast hasher for the player's small integer keys (no untrusted input reaches them).
#[derive(Debug, Default, Clone, Copy)]
struct QuickHasher(u64);

impl std::hash::Hasher for QuickHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u16(&mut self, n: u16) {
        self.write_u64(u64::from(n));
    }

    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

type Quick = std::hash::BuildHasherDefault<QuickHasher>;

/// The bus a note plays on: deck × 4 + layer, or the stingers' bus.
pub fn bus_of(lane: Lane, layer: Layer) -> u16 {
    match lane {
        Lane::Deck(deck) => {
            let part = u16::try_from(Part::of_layer(layer).index()).unwrap_or(0);
            u16::from(deck.min(1)) * 4 + part
        }
        Lane::Stinger => STINGER_BUS,
    }
}

/// A straight ramp between two frames.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Ramp {
    from: f64,
    to: f64,
    start: u64,
    end: u64,
}

impl Ramp {
    fn hold(value: f64) -> Self {
        Self {
            from: value,
            to: value,
            start: 0,
            end: 0,
        }
    }

    fn at(&self, frame: u64) -> f64 {
        if frame >= self.end {
            self.to
        } else if frame <= self.start {
            self.from
        } else {
            let x = (frame - self.start) as f64 / (self.end - self.start) as f64;
            self.from + (self.to - self.from) * x
        }
    }
}

/// A layer's gain on one deck, following the intensity.
#[derive(Debug, Clone, Copy)]
struct LayerLane {
    ramp: Ramp,
    /// A section beginning on the deck: from this frame the lane holds this value.
    pending: Option<(u64, f64)>,
    /// Whether the layer is in (for the hysteresis).
    on: bool,
}

impl LayerLane {
    fn at(&self, frame: u64) -> f64 {
        match self.pending {
            Some((from, value)) if frame >= from => value,
            _ => self.ramp.at(frame),
        }
    }
}

/// A note whose `NoteOn` has been sent and whose `NoteOff` has not.
#[derive(Debug, Clone, Copy)]
struct Open {
    bus: u16,
    pitch: u8,
    on: u64,
    off: u64,
    /// Sounds through another note of its bus and key (a bus plays one voice per key): it
    /// sends nothing more.
    shadow: bool,
}

/// The music's main-thread handle: what the audio thread plays, and where it is.
///
/// Each frame the host calls [`update`](Self::update) with the director: the player
/// [commits](Director::commit) the music up to a short look-ahead past the transport and
/// sends every note starting there (its `NoteOff` when its end comes into the window), the
/// decks' crossfades and cuts, and the layers' gain lanes, each at its exact frame:
/// `frame = session start + round(seconds × sample rate)`. Then
/// [`clock_step`](Self::clock_step) says how far to advance the director so that its clock
/// follows what is heard.
///
/// Buses: deck 0's melody, bass, chords and drums (0..4), deck 1's (4..8), stingers (8).
/// Each new game state's music plays on the other deck, so a crossfade plays the old music
/// under the new; a cut switches decks on the boundary's sample (the engine de-clicks the
/// jump). Each layer bus's gain is 1 while the director's smoothed intensity has reached
/// the layer's entry intensity in the deck's mood, else 0, ramped over
/// [`layer_fade_seconds`](PlayerSettings::layer_fade_seconds).
pub struct Player {
    settings: PlayerSettings,
    commands: Producer<Command>,
    returns: Consumer<Box<Engine>>,
    shared: Arc<Shared>,
    /// Whether a device plays the sound (the heard position is then estimated from the
    /// device's callbacks); offline, what has been rendered has been heard.
    live: bool,
    rate: f64,
    session: Option<u64>,
    sent_until: u64,
    open: HashMap<NoteKey, Open, Quick>,
    /// The open note that owns each bus and key's voice.
    owners: HashMap<(u16, u8), NoteKey, Quick>,
    seen: HashSet<NoteKey, Quick>,
    lanes: [LayerLane; 8],
    volumes: [Ramp; 5],
    volume_targets: [f64; 5],
    last_gain: [f32; BUSES as usize],
    /// Each bus's gain as of the transport (the target of its last event played).
    settled_gain: [f32; BUSES as usize],
    /// The events sent that the transport has not passed (sent again after a swap).
    log: VecDeque<Scheduled>,
    batch: Vec<Scheduled>,
    heard: u64,
    muted: bool,
    paused: bool,
    last_update: Option<Instant>,
    /// The longest recent gap between two updates, in seconds (live only).
    update_gap: f64,
    dropped_commands: u64,
}

impl std::fmt::Debug for Player {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Player")
            .field("settings", &self.settings)
            .field("live", &self.live)
            .field("session", &self.session)
            .field("sent_until", &self.sent_until)
            .field("open_notes", &self.open.len())
            .field("paused", &self.paused)
            .field("muted", &self.muted)
            .finish_non_exhaustive()
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        self.shared.stop();
    }
}

/// Builds the engine for `settings`: its nine buses, silent, and the master volume.
fn build_engine(
    settings: &PlayerSettings,
    gains: &[f32],
    master: f32,
) -> Result<Engine, PlayerError> {
    let font = settings.soundfont.as_ref();
    let instrument = |part: Part| settings.instruments.get(part).instrument(part, font);
    let layers = [Part::Melody, Part::Bass, Part::Chords, Part::Drums];
    let instruments = layers
        .iter()
        .chain(layers.iter())
        .chain(std::iter::once(&Part::Stinger))
        .map(|part| instrument(*part))
        .collect();
    let mut engine = Engine::new(
        EngineSettings {
            sample_rate: settings.sample_rate,
            max_voices: settings.max_voices,
            ..EngineSettings::default()
        },
        instruments,
    )?;
    for (bus, gain) in (0..BUSES).zip(gains) {
        let _ = engine.schedule(Scheduled {
            frame: 0,
            event: Event::Gain {
                bus,
                gain: *gain,
                ramp_frames: 0,
            },
        });
    }
    let _ = engine.schedule(Scheduled {
        frame: 0,
        event: Event::Master {
            gain: master,
            ramp_frames: 0,
        },
    });
    // The engine spreads every gain jump over a few milliseconds (its buses start at 1):
    // render that silence here, so the music starts on these gains.
    let mut silence = [[0.0f32; 2]; SETTLE_FRAMES];
    engine.render(&mut silence);
    Ok(engine)
}

impl Player {
    /// A player and the kira sound it controls: play the sound through an `AudioManager`
    /// running at `settings.sample_rate` (see [`MusicOutput`](crate::MusicOutput) for one
    /// made for it). `live`: a device plays it, so the heard position is the device's
    /// (estimated from its callbacks, less the output latency); otherwise (an
    /// [`OfflineBackend`](crate::OfflineBackend)) every frame rendered counts as heard.
    ///
    /// # Errors
    /// [`PlayerError::Invalid`] for a setting out of range; [`PlayerError::Synth`] when the
    /// engine cannot be built.
    pub fn new(
        settings: PlayerSettings,
        live: bool,
    ) -> Result<(Self, MusicSoundData), PlayerError> {
        settings.validate()?;
        let engine = build_engine(&settings, &[0.0; BUSES as usize], settings.master_volume)?;
        let (commands, consumer) = RingBuffer::new(COMMAND_CAPACITY);
        let (returner, returns) = RingBuffer::new(RETURN_CAPACITY);
        let shared = Arc::new(Shared::new());
        let sound = MusicSound::new(engine, consumer, returner, Arc::clone(&shared));
        let volume_targets = Part::ALL.map(|part| f64::from(*settings.volumes.get(part)));
        let player = Self {
            rate: f64::from(settings.sample_rate),
            commands,
            returns,
            shared,
            live,
            session: None,
            sent_until: 0,
            open: HashMap::default(),
            owners: HashMap::default(),
            seen: HashSet::default(),
            lanes: [LayerLane {
                ramp: Ramp::hold(0.0),
                pending: None,
                on: false,
            }; 8],
            volumes: volume_targets.map(Ramp::hold),
            volume_targets,
            last_gain: [0.0; BUSES as usize],
            settled_gain: [0.0; BUSES as usize],
            log: VecDeque::new(),
            batch: Vec::new(),
            heard: 0,
            muted: false,
            paused: false,
            last_update: None,
            update_gap: 0.0,
            dropped_commands: 0,
            settings,
        };
        Ok((player, MusicSoundData { sound }))
    }

    /// The settings (volumes and instruments as last set).
    pub fn settings(&self) -> &PlayerSettings {
        &self.settings
    }

    /// Frames per second.
    pub fn sample_rate(&self) -> u32 {
        self.settings.sample_rate
    }

    /// Frames the transport has played (it stands still while paused).
    pub fn transport(&self) -> u64 {
        self.shared.transport()
    }

    /// The transport frame where the session's tick 0 plays (`None` before the music
    /// starts).
    pub fn session_start(&self) -> Option<u64> {
        self.session
    }

    /// The output latency the clock accounts for, in frames: one device callback (the
    /// block being played while the next is written, as measured from kira's callbacks)
    /// plus [`extra_latency_seconds`](PlayerSettings::extra_latency_seconds); 0 offline.
    pub fn latency_frames(&self) -> u64 {
        if !self.live {
            return 0;
        }
        u64::from(self.shared.block()) + self.seconds_to_frames(self.settings.extra_latency_seconds)
    }

    /// The transport frame being heard now: offline, every frame rendered; live, the
    /// frame the device plays, estimated from the start of its last callback and the time
    /// since, less the [latency](Self::latency_frames). Never goes back.
    pub fn heard_frame(&mut self) -> u64 {
        let transport = self.shared.transport();
        let estimate = if self.live {
            match self.shared.callback() {
                Some(callback) => {
                    let since = callback.at.elapsed().as_secs_f64() * self.rate;
                    let frame = callback.frame as f64 + since - self.latency_frames() as f64;
                    #[expect(
                        clippy::cast_possible_truncation,
                        clippy::cast_sign_loss,
                        reason = "clamped to 0..=transport"
                    )]
                    let frame = frame.clamp(0.0, transport as f64) as u64;
                    frame
                }
                None => 0,
            }
        } else {
            transport
        };
        self.heard = self.heard.max(estimate);
        self.heard
    }

    /// Session seconds heard now (`None` before the music starts).
    pub fn heard_seconds(&mut self) -> Option<f64> {
        let start = self.session?;
        let heard = self.heard_frame();
        Some(heard.saturating_sub(start) as f64 / self.rate)
    }

    /// How far to [advance](Director::advance) the director now so that its clock stands
    /// where the music is heard: `frame_seconds` (the frame's time) until the music starts
    /// (only the intensity moves then), 0 while its first notes are on their way to the
    /// device, then the heard session time less the director's. It stands still while the
    /// music is paused.
    pub fn clock_step(&mut self, director: &Director, frame_seconds: f64) -> f64 {
        if !director.is_started() {
            return frame_seconds;
        }
        match self.heard_seconds() {
            Some(heard) => (heard - director.seconds()).max(0.0),
            None => 0.0,
        }
    }

    fn seconds_to_frames(&self, seconds: f64) -> u64 {
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "non-negative and far below u64::MAX"
        )]
        let frames = (seconds * self.rate).round().max(0.0) as u64;
        frames
    }

    /// The transport frame of session second `seconds`.
    fn frame_at(&self, start: u64, seconds: f64) -> u64 {
        start + self.seconds_to_frames(seconds)
    }

    /// Frames between the transport and the session's start when it begins: nothing
    /// offline; live, enough for the first notes to reach the audio thread before it
    /// renders them (two callbacks and 5 ms).
    fn start_lead(&self) -> u64 {
        if self.live {
            2 * u64::from(self.shared.block().max(128)) + self.seconds_to_frames(0.005)
        } else {
            0
        }
    }

    /// How far past the transport the music is sent.
    fn ahead(&self) -> u64 {
        let mut seconds = self.settings.look_ahead_seconds;
        if self.live {
            seconds += 2.0 * self.update_gap;
        }
        self.seconds_to_frames(seconds)
            + if self.live {
                u64::from(self.shared.block())
            } else {
                0
            }
    }

    /// Sends the music of the next stretch: call it every frame (after the director has
    /// taken the frame's input and phrases). Before the director's music starts it does
    /// nothing; when it starts, its tick 0 is put at the transport (live: a few
    /// milliseconds past it).
    pub fn update(&mut self, director: &mut Director) {
        self.collect_returns();
        if self.live {
            let now = Instant::now();
            if let Some(last) = self.last_update {
                let gap = now.duration_since(last).as_secs_f64().min(1.0);
                // Follows a hitch at once, forgets it over a few seconds.
                self.update_gap = gap.max(self.update_gap * 0.99);
            }
            self.last_update = Some(now);
        }
        let transport = self.shared.transport();
        self.prune_log(transport);
        if !director.is_started() {
            return;
        }
        let lead = self.start_lead();
        let start = *self.session.get_or_insert(transport + lead);
        self.sent_until = self.sent_until.max(start);
        let hi = transport.max(start) + self.ahead();
        let lo = self.sent_until;
        // Refilled a third of the look-ahead at a time: most frames have nothing to do.
        if hi <= lo || hi - lo < self.seconds_to_frames(self.settings.look_ahead_seconds / 3.0) {
            return;
        }
        let (lo_s, hi_s) = (
            (lo - start) as f64 / self.rate,
            (hi - start) as f64 / self.rate,
        );
        let commit = director.clock().tick_at(hi_s) + 1;
        director.commit(commit);
        let audible = director.audible(lo_s, hi_s);
        let intensity = director.intensity();
        let mut batch = std::mem::take(&mut self.batch);
        batch.clear();
        self.plan_gains(&audible, intensity, start, lo, hi, &mut batch);
        self.plan_notes(&audible, start, lo, hi, &mut batch);
        batch.sort_by_key(|s| s.frame);
        for scheduled in batch.drain(..) {
            self.send(Command::Event(scheduled));
            self.log.push_back(scheduled);
        }
        self.batch = batch;
        self.sent_until = hi;
    }

    fn send(&mut self, command: Command) {
        if self.commands.push(command).is_err() {
            self.dropped_commands += 1;
            if self.dropped_commands == 1 {
                tracing::warn!("leitmotif: the audio thread is not taking events; music dropped");
            }
        }
    }

    /// Drops the engines the audio thread handed back (here, not there).
    fn collect_returns(&mut self) {
        while let Ok(engine) = self.returns.pop() {
            drop(engine);
        }
    }

    /// Forgets the events the transport has passed, keeping each bus's last gain target.
    fn prune_log(&mut self, transport: u64) {
        while let Some(scheduled) = self.log.pop_front() {
            if scheduled.frame >= transport {
                self.log.push_front(scheduled);
                break;
            }
            if let Event::Gain { bus, gain, .. } = scheduled.event
                && let Some(settled) = self.settled_gain.get_mut(usize::from(bus))
            {
                *settled = gain;
            }
        }
    }

    /// Notes: a `NoteOn` for each note starting in `lo..hi`; a `NoteOff` for each open
    /// note ending before `hi` (at its latest end: a change of state may have cut it).
    fn plan_notes(
        &mut self,
        audible: &Audible<'_>,
        start: u64,
        lo: u64,
        hi: u64,
        out: &mut Vec<Scheduled>,
    ) {
        self.seen.clear();
        for note in &audible.notes {
            let on = self.frame_at(start, note.on);
            let off = self.frame_at(start, note.off).max(on + 1);
            if let Some(open) = self.open.get_mut(&note.key) {
                open.off = off;
                self.seen.insert(note.key);
            } else if (lo..hi).contains(&on) {
                let bus = bus_of(note.lane, note.layer);
                let pitch = note.pitch.min(127);
                // One voice per bus and key: a note starting with the same key already
                // sounding there either doubles it (same frame: it sounds through it) or
                // takes its voice over (the older note is released here).
                let owner = self
                    .owners
                    .get(&(bus, pitch))
                    .and_then(|k| self.open.get_mut(k).map(|o| (*k, o)))
                    .filter(|(_, o)| !o.shadow && o.off > on);
                let shadow = match owner {
                    Some((_, o)) if o.on == on => true,
                    Some((_, o)) => {
                        out.push(Scheduled {
                            frame: on,
                            event: Event::NoteOff { bus, key: pitch },
                        });
                        o.shadow = true;
                        false
                    }
                    None => false,
                };
                if !shadow {
                    out.push(Scheduled {
                        frame: on,
                        event: Event::NoteOn {
                            bus,
                            key: pitch,
                            velocity: note.velocity.clamp(1, 127),
                        },
                    });
                    self.owners.insert((bus, pitch), note.key);
                }
                self.open.insert(
                    note.key,
                    Open {
                        bus,
                        pitch,
                        on,
                        off,
                        shadow,
                    },
                );
                self.seen.insert(note.key);
            }
        }
        let seen = &self.seen;
        let owners = &mut self.owners;
        self.open.retain(|key, open| {
            if !seen.contains(key) {
                // Gone from the music (it cannot be, but no note may hang).
                open.off = open.off.min(lo);
            }
            if open.off >= hi {
                return true;
            }
            if !open.shadow {
                out.push(Scheduled {
                    frame: open.off.max(lo),
                    event: Event::NoteOff {
                        bus: open.bus,
                        key: open.pitch,
                    },
                });
            }
            if owners.get(&(open.bus, open.pitch)) == Some(key) {
                owners.remove(&(open.bus, open.pitch));
            }
            false
        });
    }

    /// The target gain of a layer lane for `section` at `intensity` (with hysteresis from
    /// `on`): 1 when the layer is in.
    fn layer_in(section: &Section<'_>, part: Part, intensity: f64, on: bool) -> bool {
        let Some(mood) = section.mood else {
            return true; // a cue plays everything it has
        };
        let role = match part {
            Part::Melody | Part::Stinger => return true,
            Part::Bass => leitmotif_score::Role::Bass,
            Part::Chords => leitmotif_score::Role::Chords,
            Part::Drums => leitmotif_score::Role::Drums,
        };
        if !mood.layers.contains(&role) {
            return false;
        }
        let enter = mood.enter.get(&role).copied().unwrap_or(0.0);
        if on {
            intensity >= enter - HYSTERESIS
        } else {
            intensity >= enter
        }
    }

    /// Gains: the decks' fades, the layer lanes and the volumes, multiplied per bus and
    /// sent as ramps over `lo..hi`.
    fn plan_gains(
        &mut self,
        audible: &Audible<'_>,
        intensity: f64,
        start: u64,
        lo: u64,
        hi: u64,
        out: &mut Vec<Scheduled>,
    ) {
        let fade = self.seconds_to_frames(self.settings.layer_fade_seconds);
        let layers = [Part::Melody, Part::Bass, Part::Chords, Part::Drums];
        // Layer lanes: a section beginning on a deck sets its lanes at once (the deck is
        // silent or fading in there); the intensity moves them from the window's start.
        for deck in 0..2u8 {
            let mut current: Option<&Section<'_>> = None;
            for section in audible.sections.iter().filter(|s| s.deck == deck) {
                let begins = self.frame_at(start, section.start);
                if (lo..hi).contains(&begins) {
                    for (slot, part) in layers.iter().enumerate() {
                        let lane = &mut self.lanes[usize::from(deck) * 4 + slot];
                        let on = Self::layer_in(section, *part, intensity, false);
                        lane.pending = Some((begins, if on { 1.0 } else { 0.0 }));
                        lane.on = on;
                    }
                }
                if begins < hi {
                    current = Some(section);
                }
            }
            let Some(section) = current else {
                continue;
            };
            for (slot, part) in layers.iter().enumerate() {
                let lane = &mut self.lanes[usize::from(deck) * 4 + slot];
                let on = Self::layer_in(section, *part, intensity, lane.on);
                if on == lane.on {
                    continue;
                }
                lane.on = on;
                let from = lane.at(lo);
                let target = if on { 1.0 } else { 0.0 };
                let begin = match lane.pending {
                    Some((at, _)) => at.max(lo),
                    None => lo,
                };
                lane.pending = None;
                lane.ramp = Ramp {
                    from,
                    to: target,
                    start: begin,
                    end: begin + fade,
                };
            }
        }
        // Volumes move from the window's start.
        let ramp = self.seconds_to_frames(VOLUME_RAMP_SECONDS);
        for (i, target) in self.volume_targets.iter().enumerate() {
            let volume = &mut self.volumes[i];
            if (volume.to - target).abs() > 1e-9 {
                *volume = Ramp {
                    from: volume.at(lo),
                    to: *target,
                    start: lo,
                    end: lo + ramp,
                };
            }
        }
        // Where anything bends or jumps in the window.
        let mut points: Vec<u64> = vec![lo, hi];
        for section in &audible.sections {
            for seconds in [
                section.start,
                section.start + section.fade_in,
                section.end,
                section.end + section.fade_out,
                section.stop,
            ] {
                if seconds.is_finite() {
                    let frame = self.frame_at(start, seconds.max(0.0));
                    if frame > lo && frame < hi {
                        points.push(frame);
                    }
                }
            }
        }
        for lane in &self.lanes {
            points.extend([lane.ramp.start, lane.ramp.end]);
            if let Some((at, _)) = lane.pending {
                points.push(at);
            }
        }
        for volume in &self.volumes {
            points.extend([volume.start, volume.end]);
        }
        points.retain(|p| (lo..=hi).contains(p));
        points.sort_unstable();
        points.dedup();
        for bus in 0..BUSES {
            for pair in points.windows(2) {
                let (a, c) = (pair[0], pair[1]);
                let mut from = a;
                while from < c {
                    let to = (from + MAX_RAMP_FRAMES).min(c);
                    let here = self.bus_gain(bus, audible, start, from, false);
                    let there = self.bus_gain(bus, audible, start, to, true);
                    let last = &mut self.last_gain[usize::from(bus)];
                    if (here - *last).abs() > 1e-6 {
                        out.push(Scheduled {
                            frame: from,
                            event: Event::Gain {
                                bus,
                                gain: here,
                                ramp_frames: 0,
                            },
                        });
                        *last = here;
                    }
                    if (there - here).abs() > 1e-6 {
                        out.push(Scheduled {
                            frame: from,
                            event: Event::Gain {
                                bus,
                                gain: there,
                                ramp_frames: u32::try_from(to - from).unwrap_or(u32::MAX),
                            },
                        });
                        *last = there;
                    }
                    from = to;
                }
            }
        }
        for lane in &mut self.lanes {
            if let Some((at, value)) = lane.pending
                && at < hi
            {
                lane.ramp = Ramp::hold(value);
                lane.pending = None;
            }
        }
    }

    /// A bus's gain at transport frame `frame` (`left`: just before it, where a cut jumps).
    fn bus_gain(&self, bus: u16, audible: &Audible<'_>, start: u64, frame: u64, left: bool) -> f32 {
        let volume = |part: Part| self.volumes[part.index()].at(frame);
        let gain = if bus == STINGER_BUS {
            volume(Part::Stinger)
        } else {
            let deck = u8::from(bus >= 4);
            let slot = usize::from(bus % 4);
            let seconds = frame.saturating_sub(start) as f64 / self.rate;
            let deck_gain: f64 = audible
                .sections
                .iter()
                .filter(|s| s.deck == deck)
                .map(|s| s.gain(seconds, left))
                .sum();
            let lane = &self.lanes[usize::from(deck) * 4 + slot];
            let lane = if left && lane.pending.is_some_and(|(at, _)| at == frame) {
                lane.ramp.at(frame)
            } else {
                lane.at(frame)
            };
            deck_gain.min(1.0) * lane * volume(Part::ALL[slot])
        };
        #[expect(clippy::cast_possible_truncation, reason = "a gain in 0..=4")]
        let gain = gain as f32;
        gain
    }

    /// Sets the master volume (linear, 0..=4), ramped over a few milliseconds from the
    /// next frame the audio thread renders.
    ///
    /// # Errors
    /// [`PlayerError::Invalid`] outside 0..=4; nothing changes.
    pub fn set_master_volume(&mut self, volume: f32) -> Result<(), PlayerError> {
        check_volume("master volume", volume)?;
        self.settings.master_volume = volume;
        self.send_master();
        Ok(())
    }

    /// Mutes (the master gain ramps to 0) or unmutes the music; the clock runs on.
    pub fn set_muted(&mut self, muted: bool) {
        if self.muted != muted {
            self.muted = muted;
            self.send_master();
        }
    }

    /// Whether the music is muted.
    pub fn is_muted(&self) -> bool {
        self.muted
    }

    fn send_master(&mut self) {
        let gain = if self.muted {
            0.0
        } else {
            self.settings.master_volume
        };
        let ramp = u32::try_from(self.seconds_to_frames(VOLUME_RAMP_SECONDS)).unwrap_or(0);
        let scheduled = Scheduled {
            frame: 0,
            event: Event::Master {
                gain,
                ramp_frames: ramp,
            },
        };
        self.send(Command::Event(scheduled));
    }

    /// Sets a part's volume (linear, 0..=4); it ramps from the end of the music already
    /// sent.
    ///
    /// # Errors
    /// [`PlayerError::Invalid`] outside 0..=4; nothing changes.
    pub fn set_volume(&mut self, part: Part, volume: f32) -> Result<(), PlayerError> {
        check_volume("volume", volume)?;
        *self.settings.volumes.get_mut(part) = volume;
        self.volume_targets[part.index()] = f64::from(volume);
        Ok(())
    }

    /// Pauses: the output fades out over 10 ms and the transport stops, so the clock
    /// ([`clock_step`](Self::clock_step)) stops too. Notes sounding resume with it.
    pub fn pause(&mut self) {
        if !self.paused {
            self.paused = true;
            self.send(Command::Pause);
        }
    }

    /// Resumes after [`pause`](Self::pause): the transport runs again and the output fades
    /// in.
    pub fn resume(&mut self) {
        if self.paused {
            self.paused = false;
            self.send(Command::Resume);
        }
    }

    /// Whether the music is paused (asked to pause; see
    /// [`is_stopped`](Self::is_stopped) for the transport).
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Whether the transport has stopped: paused, and its fade-out played.
    pub fn is_stopped(&self) -> bool {
        self.shared.stopped()
    }

    /// Changes a part's instrument: a new engine is built here (it allocates; a SoundFont
    /// preset takes a few milliseconds) and takes over on the audio thread while the old
    /// one rings out under a 50 ms fade. Notes already sounding are not carried over.
    ///
    /// # Errors
    /// [`PlayerError::Synth`] when the engine cannot be built; nothing changes.
    pub fn set_instrument(
        &mut self,
        part: Part,
        choice: InstrumentChoice,
    ) -> Result<(), PlayerError> {
        let mut settings = self.settings.clone();
        *settings.instruments.get_mut(part) = choice;
        self.swap_engine(settings)
    }

    /// Sets (or clears) the SoundFont the [`InstrumentChoice::Auto`] and
    /// [`InstrumentChoice::Preset`] parts play, as [`set_instrument`](Self::set_instrument)
    /// does.
    ///
    /// # Errors
    /// [`PlayerError::Synth`] when the engine cannot be built; nothing changes.
    pub fn set_soundfont(&mut self, font: Option<SoundFont>) -> Result<(), PlayerError> {
        let mut settings = self.settings.clone();
        settings.soundfont = font;
        self.swap_engine(settings)
    }

    fn swap_engine(&mut self, settings: PlayerSettings) -> Result<(), PlayerError> {
        let transport = self.shared.transport();
        self.prune_log(transport);
        let gains = self.settled_gain;
        let master = if self.muted {
            0.0
        } else {
            settings.master_volume
        };
        let engine = build_engine(&settings, &gains, master)?;
        self.settings = settings;
        self.send(Command::Swap(Box::new(engine)));
        let replay: Vec<Scheduled> = self.log.iter().copied().collect();
        for scheduled in replay {
            self.send(Command::Replay(scheduled));
        }
        Ok(())
    }

    /// Events the engine's queue refused, and commands the queue to the audio thread could
    /// not take: 0 unless the player is starved.
    pub fn dropped_events(&self) -> u64 {
        self.shared.dropped() + self.dropped_commands
    }

    /// Whether kira runs at another sample rate than the player's (the device changed
    /// rate after the player was built): the music then plays off pitch and tempo until
    /// the player is built again.
    pub fn rate_mismatch(&self) -> bool {
        self.shared.rate_mismatch()
    }

    /// Notes sounding (sent and not yet ended) on their own voice.
    pub fn open_notes(&self) -> usize {
        self.open.values().filter(|o| !o.shadow).count()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use leitmotif_director::DirectorSettings;
    use leitmotif_request::MoodTable;

    use super::*;

    const MOODS: &str = r#"(moods: {
        "calm": (words: ["explore"], mode: major, tempo_bpm: 120, density: 0.5, register: 0.5,
                 intensity: 0.5, layers: [melody, bass, drums], enter: {drums: 0.5},
                 transition: next_bar),
        "snap": (mode: natural_minor, tempo_bpm: 150, density: 0.5, register: 0.5,
                 intensity: 0.5, layers: [melody, chords], transition: immediate),
        "fade": (mode: dorian, tempo_bpm: 90, density: 0.5, register: 0.5, intensity: 0.5,
                 layers: [melody, bass, chords, drums], transition: next_beat,
                 crossfade_beats: 6),
    })"#;

    #[test]
    fn every_note_on_gets_its_note_off_and_nothing_is_sent_late_or_twice() {
        let table = MoodTable::from_ron(MOODS).unwrap_or_else(|e| panic!("{e}"));
        let settings = DirectorSettings {
            initial_state: "calm".to_owned(),
            ..DirectorSettings::default()
        };
        let mut director = Director::new(settings, table).unwrap_or_else(|e| panic!("{e}"));
        let (mut player, mut data) =
            Player::new(PlayerSettings::default(), false).unwrap_or_else(|e| panic!("{e}"));
        let mut transport = 0;
        let mut held = Vec::new();
        let mut sent: Vec<(u64, Scheduled)> = Vec::new();
        for frame in 0..3000u32 {
            let t = f64::from(frame) / 50.0;
            // A restless game: states every few seconds (cuts, an immediate change, a long
            // crossfade), stingers, intensity swings, and a stretch of late phrases.
            match frame {
                150 | 900 | 1800 => director.set_state("fade").unwrap_or_else(|e| panic!("{e}")),
                260 | 1500 => director.set_state("snap").unwrap_or_else(|e| panic!("{e}")),
                400 | 1200 | 2400 => director.set_state("calm").unwrap_or_else(|e| panic!("{e}")),
                _ => {}
            }
            if frame % 170 == 60 {
                let _ = director.stinger("fade");
            }
            director.set_intensity(if ((t / 3.0).floor() as u64).is_multiple_of(2) {
                0.9
            } else {
                0.1
            });
            let hold = (1000..1300).contains(&frame);
            while let Some(job) = director.poll_job() {
                held.push(job);
            }
            if !hold {
                for job in std::mem::take(&mut held) {
                    let phrase = crate::fake::fake_compose(&job.request);
                    director
                        .deliver(job.id, phrase)
                        .unwrap_or_else(|e| panic!("{e}"));
                }
            }
            player.update(&mut director);
            for event in data.sound.take_events() {
                sent.push((transport, event));
            }
            transport += 960;
            player.shared.set_transport(transport);
            let dt = player.clock_step(&director, 0.02);
            director.advance(dt);
        }
        assert!(director.position().bar > 25, "the music went on");
        let mut sounding: BTreeMap<(u16, u8), u32> = BTreeMap::new();
        let mut ons = std::collections::HashSet::new();
        let mut events: Vec<Scheduled> = Vec::new();
        for (at, scheduled) in &sent {
            if let Event::Master { .. } = scheduled.event {
                continue;
            }
            assert!(
                scheduled.frame >= *at,
                "{scheduled:?} sent late, with the transport at {at}"
            );
            events.push(*scheduled);
        }
        // Offs before ons at one frame, as the engine plays them.
        events.sort_by_key(|s| (s.frame, matches!(s.event, Event::NoteOn { .. })));
        let mut notes = 0;
        for scheduled in &events {
            match scheduled.event {
                Event::NoteOn { bus, key, .. } => {
                    notes += 1;
                    assert!(
                        ons.insert((scheduled.frame, bus, key)),
                        "sent twice: {scheduled:?}"
                    );
                    let count = sounding.entry((bus, key)).or_default();
                    assert_eq!(*count, 0, "{scheduled:?} while the note still sounds");
                    *count += 1;
                }
                Event::NoteOff { bus, key } => {
                    let count = sounding.entry((bus, key)).or_default();
                    assert_eq!(*count, 1, "{scheduled:?} without a note on");
                    *count -= 1;
                }
                _ => {}
            }
        }
        assert!(notes > 150, "{notes} notes");
        let left: u32 = sounding.values().sum();
        assert_eq!(
            left as usize,
            player.open_notes(),
            "only the notes still playing"
        );
        assert!(player.open_notes() < 16);
        // Both decks and the stingers played.
        for bus in [0, 4, STINGER_BUS] {
            assert!(
                events
                    .iter()
                    .any(|s| matches!(s.event, Event::NoteOn { bus: b, .. } if b == bus)),
                "nothing on bus {bus}"
            );
        }
    }
}
