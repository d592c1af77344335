//! The voice engine: buses of built-in or SoundFont instruments, a sample-accurate event
//! queue, gain lanes, the master reverb and the limiter.

use crate::builtin::{BuiltInBus, Ctx};
use crate::dsp::WaveTables;
use crate::master::{GainLane, Limiter, Reverb};
use crate::queue::EventQueue;
use crate::{DEFAULT_SAMPLE_RATE, Instrument, SoundFont, SynthError};

/// The highest sample rate the engine accepts.
pub const MAX_SAMPLE_RATE: u32 = 384_000;
/// The lowest sample rate the engine accepts.
pub const MIN_SAMPLE_RATE: u32 = 8_000;

/// Frames rendered per inner pass (the size of the engine's scratch buffers).
const BLOCK: usize = 256;
/// The block size given to rustysynth: a SoundFont note starts on the first multiple of
/// this many frames (counted from the engine's frame 0) at or after its event's frame.
pub const SOUNDFONT_BLOCK: usize = 16;
/// Gain jumps are spread over at least this long, so they never click.
const DECLICK_SECONDS: f32 = 0.005;
/// The highest gain a lane accepts (about +12 dB).
const MAX_GAIN: f32 = 4.0;

/// What the engine does at a frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event {
    /// Starts a note (velocity 0 releases it, as in MIDI).
    NoteOn {
        /// The bus that plays it.
        bus: u16,
        /// MIDI key, 0..=127.
        key: u8,
        /// MIDI velocity, 1..=127.
        velocity: u8,
    },
    /// Releases a note.
    NoteOff {
        /// The bus that plays it.
        bus: u16,
        /// MIDI key, 0..=127.
        key: u8,
    },
    /// Releases every note of the bus (they fade with their release, no click).
    AllNotesOff {
        /// The bus to silence.
        bus: u16,
    },
    /// Ramps the bus's gain (linear amplitude, 0..=4) from its current value to `gain` over
    /// `ramp_frames` frames starting at the event's frame (0 = jump; the engine still
    /// de-clicks a jump over a few ms).
    Gain {
        /// The bus.
        bus: u16,
        /// The target gain.
        gain: f32,
        /// The ramp's length in frames.
        ramp_frames: u32,
    },
    /// Ramps the master gain likewise.
    Master {
        /// The target gain (linear amplitude, 0..=4).
        gain: f32,
        /// The ramp's length in frames.
        ramp_frames: u32,
    },
}

impl Event {
    /// The bus the event acts on (`None` for [`Event::Master`]).
    pub fn bus(&self) -> Option<u16> {
        match *self {
            Event::NoteOn { bus, .. }
            | Event::NoteOff { bus, .. }
            | Event::AllNotesOff { bus }
            | Event::Gain { bus, .. } => Some(bus),
            Event::Master { .. } => None,
        }
    }
}

/// An event at an absolute frame of the engine's transport (frames rendered since
/// creation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scheduled {
    /// When the event takes effect.
    pub frame: u64,
    /// What happens.
    pub event: Event,
}

/// How an [`Engine`] is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineSettings {
    /// Frames per second, [`MIN_SAMPLE_RATE`]..=[`MAX_SAMPLE_RATE`] (SoundFont buses need
    /// 16 000..=192 000). Default [`DEFAULT_SAMPLE_RATE`].
    pub sample_rate: u32,
    /// Voices per bus for built-ins (as many again may be fading after being stolen); the
    /// polyphony of each SoundFont synthesizer (clamped to 8..=256). Default 32.
    pub max_voices: usize,
    /// Pending scheduled events held at most. Default 16 384.
    pub event_capacity: usize,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            sample_rate: DEFAULT_SAMPLE_RATE,
            max_voices: 32,
            event_capacity: 16_384,
        }
    }
}

/// A bus playing a SoundFont preset through its own rustysynth synthesizer.
struct SoundFontBus {
    synth: rustysynth::Synthesizer,
    channel: i32,
    held: [u8; 128],
    held_count: usize,
    audible: bool,
}

impl SoundFontBus {
    fn new(
        font: &SoundFont,
        bank: u8,
        program: u8,
        drums: bool,
        settings: &EngineSettings,
    ) -> Result<Self, SynthError> {
        let rate = i32::try_from(settings.sample_rate).unwrap_or(i32::MAX);
        let mut synth_settings = rustysynth::SynthesizerSettings::new(rate);
        synth_settings.block_size = SOUNDFONT_BLOCK;
        synth_settings.maximum_polyphony = settings.max_voices.clamp(8, 256);
        // The engine's own room reverb serves every bus; rustysynth's would cost a reverb
        // and a chorus per bus.
        synth_settings.enable_reverb_and_chorus = false;
        let mut synth =
            rustysynth::Synthesizer::new(font.inner(), &synth_settings).map_err(|e| {
                SynthError::Invalid {
                    what: "sample rate",
                    reason: format!("SoundFont {} cannot play at it: {e}", font.name()),
                }
            })?;
        let channel = if drums { 9 } else { 0 };
        synth.process_midi_message(channel, 0xB0, 0x00, i32::from(bank & 0x7F));
        synth.process_midi_message(channel, 0xC0, i32::from(program & 0x7F), 0);
        Ok(SoundFontBus {
            synth,
            channel,
            held: [0; 128],
            held_count: 0,
            audible: false,
        })
    }

    fn note_on(&mut self, key: u8, velocity: u8) {
        self.synth
            .note_on(self.channel, i32::from(key), i32::from(velocity));
        let held = &mut self.held[usize::from(key & 0x7F)];
        if *held == 0 {
            self.held_count += 1;
        }
        *held = held.saturating_add(1);
        self.audible = true;
    }

    fn note_off(&mut self, key: u8) {
        self.synth.note_off(self.channel, i32::from(key));
        let held = &mut self.held[usize::from(key & 0x7F)];
        if *held > 0 {
            *held = 0;
            self.held_count -= 1;
        }
    }

    fn all_notes_off(&mut self) {
        // Controller 123, All Notes Off: every voice of the channel enters its release.
        self.synth.process_midi_message(self.channel, 0xB0, 0x7B, 0);
        self.held = [0; 128];
        self.held_count = 0;
    }

    fn render(&mut self, left: &mut [f32], right: &mut [f32]) {
        self.synth.render(left, right);
        if self.held_count == 0 && self.audible {
            self.audible = left.iter().chain(right.iter()).any(|x| x.abs() > 1e-5);
        }
    }

    fn active(&self) -> usize {
        self.held_count.max(usize::from(self.audible))
    }
}

enum Source {
    BuiltIn(BuiltInBus),
    SoundFont(Box<SoundFontBus>),
}

impl Source {
    fn new(
        instrument: &Instrument,
        settings: &EngineSettings,
        seed: u32,
    ) -> Result<Self, SynthError> {
        Ok(match instrument {
            Instrument::BuiltIn(kind) => {
                Source::BuiltIn(BuiltInBus::new(*kind, settings.max_voices, seed))
            }
            Instrument::SoundFont {
                font,
                bank,
                program,
                drums,
            } => Source::SoundFont(Box::new(SoundFontBus::new(
                font, *bank, *program, *drums, settings,
            )?)),
        })
    }

    fn reverb_send(&self) -> f32 {
        match self {
            Source::BuiltIn(bus) => bus.reverb_send(),
            Source::SoundFont(_) => 0.15,
        }
    }

    fn note_on(&mut self, key: u8, velocity: u8, ctx: &Ctx) {
        match self {
            Source::BuiltIn(bus) => bus.note_on(key, velocity, ctx),
            Source::SoundFont(bus) => bus.note_on(key, velocity),
        }
    }

    fn note_off(&mut self, key: u8) {
        match self {
            Source::BuiltIn(bus) => bus.note_off(key),
            Source::SoundFont(bus) => bus.note_off(key),
        }
    }

    fn all_notes_off(&mut self) {
        match self {
            Source::BuiltIn(bus) => bus.all_notes_off(),
            Source::SoundFont(bus) => bus.all_notes_off(),
        }
    }

    /// Writes (not adds) the source's output for the frames of `left`/`right`.
    fn render(&mut self, ctx: &Ctx, left: &mut [f32], right: &mut [f32]) {
        match self {
            Source::BuiltIn(bus) => {
                left.fill(0.0);
                right.fill(0.0);
                bus.render(ctx, left, right);
            }
            Source::SoundFont(bus) => bus.render(left, right),
        }
    }

    fn active(&self) -> usize {
        match self {
            Source::BuiltIn(bus) => bus.active(),
            Source::SoundFont(bus) => bus.active(),
        }
    }
}

struct Bus {
    source: Source,
    /// The previous instrument after [`Engine::set_instrument`], ringing out its releases.
    retiring: Option<Source>,
    gain: GainLane,
    send: f32,
    left: Vec<f32>,
    right: Vec<f32>,
}

/// The voice engine: one render path for offline and live use.
///
/// Each bus plays one [`Instrument`]; events queued with [`Engine::schedule`] take
/// effect on their exact frame during [`Engine::render`], which never allocates, locks
/// or does I/O (everything is allocated by [`Engine::new`] and
/// [`Engine::set_instrument`]).
///
/// Built-in instruments start every note on the exact frame of its event. A SoundFont
/// bus renders through rustysynth in blocks of [`SOUNDFONT_BLOCK`] frames, so its notes
/// start on the first block boundary at or after the event's frame: at most 15 frames
/// (0.31 ms at 48 kHz) late, always by the same rule.
pub struct Engine {
    settings: EngineSettings,
    ctx: Ctx,
    buses: Vec<Bus>,
    queue: EventQueue,
    frame: u64,
    master: GainLane,
    declick: u32,
    mix_left: Vec<f32>,
    mix_right: Vec<f32>,
    send: Vec<f32>,
    master_gain: Vec<f32>,
    scratch_left: Vec<f32>,
    scratch_right: Vec<f32>,
    reverb: Reverb,
    limiter: Limiter,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("settings", &self.settings)
            .field("buses", &self.buses.len())
            .field("frame", &self.frame)
            .field("queued", &self.queue.len())
            .finish_non_exhaustive()
    }
}

fn check_settings(settings: &EngineSettings) -> Result<(), SynthError> {
    if !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&settings.sample_rate) {
        return Err(SynthError::Invalid {
            what: "sample rate",
            reason: format!(
                "{} Hz is outside {MIN_SAMPLE_RATE}..={MAX_SAMPLE_RATE} Hz",
                settings.sample_rate
            ),
        });
    }
    if !(1..=1024).contains(&settings.max_voices) {
        return Err(SynthError::Invalid {
            what: "max_voices",
            reason: format!("{} is outside 1..=1024", settings.max_voices),
        });
    }
    if !(1..=1 << 24).contains(&settings.event_capacity) {
        return Err(SynthError::Invalid {
            what: "event_capacity",
            reason: format!("{} is outside 1..=16777216", settings.event_capacity),
        });
    }
    Ok(())
}

impl Engine {
    /// One bus per instrument (allocates everything here).
    ///
    /// # Errors
    /// [`SynthError::Invalid`] for a sample rate outside
    /// [`MIN_SAMPLE_RATE`]..=[`MAX_SAMPLE_RATE`] (or outside 16 000..=192 000 Hz with a
    /// SoundFont bus), no instruments or more than 65 536, or zero voices or event capacity.
    pub fn new(
        settings: EngineSettings,
        instruments: Vec<Instrument>,
    ) -> Result<Engine, SynthError> {
        check_settings(&settings)?;
        if instruments.is_empty() || instruments.len() > usize::from(u16::MAX) + 1 {
            return Err(SynthError::Invalid {
                what: "buses",
                reason: format!("{} instruments; give 1..=65536", instruments.len()),
            });
        }
        let sr = settings.sample_rate as f32;
        let mut buses = Vec::with_capacity(instruments.len());
        for (index, instrument) in instruments.iter().enumerate() {
            let seed = 0x2545_F491_u32.wrapping_mul(index as u32 + 1);
            let source = Source::new(instrument, &settings, seed)?;
            buses.push(Bus {
                send: source.reverb_send(),
                source,
                retiring: None,
                gain: GainLane::new(1.0),
                left: vec![0.0; BLOCK],
                right: vec![0.0; BLOCK],
            });
        }
        Ok(Engine {
            ctx: Ctx {
                sr,
                tables: WaveTables::get(),
            },
            buses,
            queue: EventQueue::new(settings.event_capacity),
            frame: 0,
            master: GainLane::new(1.0),
            declick: (DECLICK_SECONDS * sr) as u32,
            mix_left: vec![0.0; BLOCK],
            mix_right: vec![0.0; BLOCK],
            send: vec![0.0; BLOCK],
            master_gain: vec![0.0; BLOCK],
            scratch_left: vec![0.0; BLOCK],
            scratch_right: vec![0.0; BLOCK],
            reverb: Reverb::new(settings.sample_rate),
            limiter: Limiter::new(settings.sample_rate),
            settings,
        })
    }

    /// Replaces a bus's instrument (allocates: call it off the audio thread, or between
    /// renders in offline use). Sounding notes of that bus are released and ring out
    /// through the old instrument.
    ///
    /// # Errors
    /// [`SynthError::Invalid`] when `bus` does not exist or the instrument cannot play at
    /// the engine's sample rate.
    pub fn set_instrument(&mut self, bus: u16, instrument: Instrument) -> Result<(), SynthError> {
        let count = self.buses.len();
        let seed = 0x2545_F491_u32.wrapping_mul(u32::from(bus) + 1) ^ (self.frame as u32);
        let source = Source::new(&instrument, &self.settings, seed)?;
        let slot = self
            .buses
            .get_mut(usize::from(bus))
            .ok_or_else(|| SynthError::Invalid {
                what: "bus",
                reason: format!("bus {bus} does not exist (the engine has {count})"),
            })?;
        let mut old = std::mem::replace(&mut slot.source, source);
        old.all_notes_off();
        slot.retiring = Some(old);
        slot.send = slot.source.reverb_send();
        Ok(())
    }

    /// Frames per second.
    pub fn sample_rate(&self) -> u32 {
        self.settings.sample_rate
    }

    /// The number of buses.
    pub fn buses(&self) -> usize {
        self.buses.len()
    }

    /// The transport: frames rendered so far.
    pub fn frame(&self) -> u64 {
        self.frame
    }

    /// Events queued and not yet played.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Queues an event; never allocates. Events at a frame already rendered play at the
    /// start of the next render.
    ///
    /// # Errors
    /// The event back when the queue is full or its bus does not exist.
    pub fn schedule(&mut self, event: Scheduled) -> Result<(), Scheduled> {
        if let Some(bus) = event.event.bus()
            && usize::from(bus) >= self.buses.len()
        {
            return Err(event);
        }
        self.queue.push(event)
    }

    /// Drops queued (not yet played) events at or after `frame` whose bus is in `buses`
    /// (Gain/NoteOn/NoteOff/AllNotesOff; Master events are kept). Never allocates.
    pub fn cancel_from(&mut self, frame: u64, buses: std::ops::Range<u16>) {
        self.queue.cancel_from(frame, buses);
    }

    /// Voices sounding now (all buses): for built-ins the voices in use, releases and
    /// fades included; for a SoundFont bus the keys held, or 1 while it rings out after
    /// its last key was released (rustysynth does not report its voices).
    pub fn active_voices(&self) -> usize {
        self.buses
            .iter()
            .map(|b| b.source.active() + b.retiring.as_ref().map_or(0, Source::active))
            .sum()
    }

    /// Renders `out.len()` stereo frames: every queued event takes effect on its exact
    /// frame (events at one frame in queue order, a `NoteOff` before a `NoteOn` of the same
    /// bus and key), buses mixed with their gain lanes, the room reverb, master gain, then
    /// a look-ahead-free limiter so the output never exceeds 0 dBFS (|sample| < 1.0).
    /// Never allocates, locks or does I/O.
    pub fn render(&mut self, out: &mut [[f32; 2]]) {
        for chunk in out.chunks_mut(BLOCK) {
            self.render_block(chunk);
        }
    }

    fn render_block(&mut self, out: &mut [[f32; 2]]) {
        let n = out.len();
        let start = self.frame;
        self.mix_left[..n].fill(0.0);
        self.mix_right[..n].fill(0.0);
        self.send[..n].fill(0.0);
        let mut pos = 0;
        while pos < n {
            self.apply_due(start + pos as u64);
            let end = match self.queue.next_frame() {
                Some(frame) if frame < start + n as u64 => (frame - start) as usize,
                _ => n,
            };
            self.render_segment(pos, end);
            pos = end;
        }
        // The master gain multiplies dry and wet alike, so fading the master fades the
        // room too.
        self.reverb.process(
            &self.send[..n],
            &mut self.mix_left[..n],
            &mut self.mix_right[..n],
        );
        for (i, frame) in out.iter_mut().enumerate() {
            let g = self.master_gain[i];
            *frame = self
                .limiter
                .process([self.mix_left[i] * g, self.mix_right[i] * g]);
        }
        self.frame += n as u64;
    }

    /// Renders every bus for frames `from..to` of the block and mixes them.
    fn render_segment(&mut self, from: usize, to: usize) {
        if from >= to {
            return;
        }
        for bus in &mut self.buses {
            let (left, right) = (&mut bus.left[from..to], &mut bus.right[from..to]);
            bus.source.render(&self.ctx, left, right);
            if let Some(old) = &mut bus.retiring
                && old.active() > 0
            {
                let (sl, sr) = (
                    &mut self.scratch_left[from..to],
                    &mut self.scratch_right[from..to],
                );
                old.render(&self.ctx, sl, sr);
                for (d, s) in left.iter_mut().zip(sl.iter()) {
                    *d += *s;
                }
                for (d, s) in right.iter_mut().zip(sr.iter()) {
                    *d += *s;
                }
            }
            if bus.gain.is_silent() {
                continue;
            }
            let send = bus.send * 0.5;
            for i in from..to {
                let g = bus.gain.next();
                let (l, r) = (bus.left[i] * g, bus.right[i] * g);
                self.mix_left[i] += l;
                self.mix_right[i] += r;
                self.send[i] += (l + r) * send;
            }
        }
        for g in &mut self.master_gain[from..to] {
            *g = self.master.next();
        }
    }

    /// Plays every queued event due at or before `frame`.
    fn apply_due(&mut self, frame: u64) {
        while let Some(entry) = self.queue.pop_due(frame) {
            if entry.done {
                continue;
            }
            match entry.scheduled.event {
                Event::NoteOn { bus, key, velocity } => {
                    if key > 127 {
                        continue;
                    }
                    // A note-off of the same key at the same frame goes first, whatever
                    // order the two were queued in (a repeated note).
                    if self.queue.take_note_off(entry.scheduled.frame, bus, key) {
                        self.note_off(bus, key);
                    }
                    if velocity == 0 {
                        self.note_off(bus, key);
                    } else if let Some(b) = self.buses.get_mut(usize::from(bus)) {
                        b.source.note_on(key, velocity.min(127), &self.ctx);
                    }
                }
                Event::NoteOff { bus, key } => self.note_off(bus, key),
                Event::AllNotesOff { bus } => {
                    if let Some(b) = self.buses.get_mut(usize::from(bus)) {
                        b.source.all_notes_off();
                    }
                }
                Event::Gain {
                    bus,
                    gain,
                    ramp_frames,
                } => {
                    if let Some(b) = self.buses.get_mut(usize::from(bus))
                        && gain.is_finite()
                    {
                        b.gain
                            .ramp(gain.clamp(0.0, MAX_GAIN), ramp_frames, self.declick);
                    }
                }
                Event::Master { gain, ramp_frames } => {
                    if gain.is_finite() {
                        self.master
                            .ramp(gain.clamp(0.0, MAX_GAIN), ramp_frames, self.declick);
                    }
                }
            }
        }
    }

    fn note_off(&mut self, bus: u16, key: u8) {
        if let Some(b) = self.buses.get_mut(usize::from(bus)) {
            b.source.note_off(key);
        }
    }
}
