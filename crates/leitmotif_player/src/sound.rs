//! The audio-thread side: the kira [`Sound`] that owns the voice engine, counts the frames
//! it plays (the transport), takes scheduled events from a lock-free queue and publishes
//! where it is.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

use kira::Frame;
use kira::info::Info;
use kira::sound::{Sound, SoundData};
use leitmotif_synth::{Engine, Event, Scheduled};
use rtrb::{Consumer, Producer};

/// Frames of the scratch buffer the engine renders into (kira asks for at most its internal
/// buffer size, 128 frames by default, at a time; larger requests are split).
const SCRATCH_FRAMES: usize = 1024;

/// How long pausing, resuming and swapping engines fade, in seconds.
pub(crate) const FADE_SECONDS: f64 = 0.01;

/// What the main thread tells the music sound.
pub(crate) enum Command {
    /// An engine event at a transport frame.
    Event(Scheduled),
    /// An event sent again after a [`Command::Swap`]: played only if its frame is still
    /// ahead (the old engine played it otherwise); a gain or master change already due is
    /// applied at once.
    Replay(Scheduled),
    /// A new engine (new instruments) taking over from the next frame; the old one rings
    /// out under a short fade and is sent back to be dropped off the audio thread.
    Swap(Box<Engine>),
    /// Fade out and stop the transport.
    Pause,
    /// Start the transport again and fade in.
    Resume,
}

/// What the music sound publishes for the main thread. Written only by the audio thread.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Frames the transport has played (the sound's own clock; it stands still while
    /// paused), as of the end of the last `process`.
    transport: AtomicU64,
    /// A sequence number, odd while `callback_frame` and `callback_nanos` are written.
    seq: AtomicU64,
    /// The transport when the last device callback began.
    callback_frame: AtomicU64,
    /// When the last device callback began, in nanoseconds since `epoch`.
    callback_nanos: AtomicU64,
    /// Frames in the last device callback (kira's `on_start_processing` to the next).
    block: AtomicU32,
    /// Whether the transport is stopped.
    paused: AtomicBool,
    /// Events the engine's queue refused (it was full).
    dropped: AtomicU64,
    /// Whether kira runs at another rate than the engine's (the device changed).
    rate_mismatch: AtomicBool,
    /// Set when the [`Player`](crate::Player) is dropped: the sound finishes.
    stop: AtomicBool,
    /// The zero of `callback_nanos`.
    epoch: Instant,
}

/// Where the audio thread stood at the start of its last device callback.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Callback {
    /// The transport then.
    pub(crate) frame: u64,
    /// When, as an instant.
    pub(crate) at: Instant,
}

impl Shared {
    pub(crate) fn new() -> Self {
        Self {
            transport: AtomicU64::new(0),
            seq: AtomicU64::new(0),
            callback_frame: AtomicU64::new(0),
            callback_nanos: AtomicU64::new(0),
            block: AtomicU32::new(0),
            paused: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
            rate_mismatch: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            epoch: Instant::now(),
        }
    }

    /// Frames the transport has played.
    pub(crate) fn transport(&self) -> u64 {
        self.transport.load(Ordering::Acquire)
    }

    /// The last device callback's start, if one came.
    pub(crate) fn callback(&self) -> Option<Callback> {
        for _ in 0..64 {
            let before = self.seq.load(Ordering::Acquire);
            if before % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let frame = self.callback_frame.load(Ordering::Acquire);
            let nanos = self.callback_nanos.load(Ordering::Acquire);
            if self.seq.load(Ordering::Acquire) == before {
                if before == 0 {
                    return None;
                }
                return Some(Callback {
                    frame,
                    at: self.epoch + std::time::Duration::from_nanos(nanos),
                });
            }
        }
        None
    }

    /// Frames in the last device callback.
    pub(crate) fn block(&self) -> u32 {
        self.block.load(Ordering::Relaxed)
    }

    /// Whether the transport has stopped (paused, its fade done).
    pub(crate) fn stopped(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub(crate) fn rate_mismatch(&self) -> bool {
        self.rate_mismatch.load(Ordering::Relaxed)
    }

    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    /// Moves the transport as if the audio thread had played to `frame`.
    #[cfg(test)]
    pub(crate) fn set_transport(&self, frame: u64) {
        self.transport.store(frame, Ordering::Release);
    }

    fn publish_callback(&self, frame: u64) {
        let nanos = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.seq.fetch_add(1, Ordering::AcqRel);
        self.callback_frame.store(frame, Ordering::Release);
        self.callback_nanos.store(nanos, Ordering::Release);
        self.seq.fetch_add(1, Ordering::AcqRel);
    }
}

/// The music as kira plays it: hand it to `AudioManager::play` (or a track's `play`).
/// Made with [`Player::new`](crate::Player::new); its handle is `()` (the
/// [`Player`](crate::Player) controls it).
pub struct MusicSoundData {
    pub(crate) sound: MusicSound,
}

impl std::fmt::Debug for MusicSoundData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MusicSoundData")
            .field("sample_rate", &self.sound.engine.sample_rate())
            .finish_non_exhaustive()
    }
}

impl SoundData for MusicSoundData {
    type Error = std::convert::Infallible;
    type Handle = ();

    fn into_sound(self) -> Result<(Box<dyn Sound>, ()), Self::Error> {
        Ok((Box::new(self.sound), ()))
    }
}

/// The kira sound: renders the engine on the transport, never allocating or locking.
pub(crate) struct MusicSound {
    engine: Box<Engine>,
    /// The engine's frame less the transport's (an engine has rendered a little before it
    /// plays, and one swapped in later starts later).
    shift: i64,
    /// An engine swapped out, ringing out, and the frames of fade it has left.
    retiring: Option<(Box<Engine>, u32)>,
    commands: Consumer<Command>,
    returns: Producer<Box<Engine>>,
    shared: Arc<Shared>,
    scratch: Vec<[f32; 2]>,
    retire_scratch: Vec<[f32; 2]>,
    transport: u64,
    /// The fade applied to the output: 1 playing, 0 paused.
    level: f32,
    /// Where `level` is heading (0 or 1) and its step per frame.
    level_target: f32,
    level_step: f32,
    fade_frames: u32,
    paused: bool,
    /// Frames processed since the last device callback began.
    in_block: u32,
    rate: f64,
    rate_checked: bool,
}

impl MusicSound {
    pub(crate) fn new(
        engine: Engine,
        commands: Consumer<Command>,
        returns: Producer<Box<Engine>>,
        shared: Arc<Shared>,
    ) -> Self {
        let rate = f64::from(engine.sample_rate());
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a few milliseconds of frames"
        )]
        let fade_frames = ((FADE_SECONDS * rate) as u32).max(1);
        Self {
            shift: i64::try_from(engine.frame()).unwrap_or(0),
            engine: Box::new(engine),
            retiring: None,
            commands,
            returns,
            shared,
            scratch: vec![[0.0; 2]; SCRATCH_FRAMES],
            retire_scratch: vec![[0.0; 2]; SCRATCH_FRAMES],
            transport: 0,
            level: 1.0,
            level_target: 1.0,
            level_step: 0.0,
            fade_frames,
            paused: false,
            in_block: 0,
            rate,
            rate_checked: false,
        }
    }

    /// The events the main thread has sent, taken off the queue (what the audio thread
    /// would play).
    #[cfg(test)]
    pub(crate) fn take_events(&mut self) -> Vec<Scheduled> {
        let mut out = Vec::new();
        while let Ok(command) = self.commands.pop() {
            if let Command::Event(scheduled) = command {
                out.push(scheduled);
            }
        }
        out
    }

    fn schedule(&mut self, scheduled: Scheduled) {
        let frame = i64::try_from(scheduled.frame)
            .unwrap_or(i64::MAX)
            .saturating_add(self.shift);
        let event = Scheduled {
            frame: u64::try_from(frame).unwrap_or(0),
            ..scheduled
        };
        if self.engine.schedule(event).is_err() {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn apply(&mut self, command: Command) {
        match command {
            Command::Event(scheduled) => self.schedule(scheduled),
            Command::Replay(scheduled) => {
                if scheduled.frame >= self.transport {
                    self.schedule(scheduled);
                } else if matches!(
                    scheduled.event,
                    Event::Gain { .. } | Event::Master { .. } | Event::AllNotesOff { .. }
                ) {
                    self.schedule(Scheduled {
                        frame: 0,
                        ..scheduled
                    });
                }
            }
            Command::Swap(engine) => {
                let mut old = std::mem::replace(&mut self.engine, engine);
                self.shift = i64::try_from(self.engine.frame())
                    .unwrap_or(0)
                    .saturating_sub(i64::try_from(self.transport).unwrap_or(0));
                for bus in 0..old.buses() {
                    let bus = u16::try_from(bus).unwrap_or(u16::MAX);
                    let _ = old.schedule(Scheduled {
                        frame: 0,
                        event: Event::AllNotesOff { bus },
                    });
                }
                if let Some((older, _)) = self.retiring.take() {
                    self.send_back(older);
                }
                self.retiring = Some((old, self.fade_frames.saturating_mul(5)));
            }
            Command::Pause => {
                self.paused = true;
                self.level_target = 0.0;
                self.level_step = 1.0 / self.fade_frames as f32;
            }
            Command::Resume => {
                self.paused = false;
                self.level_target = 1.0;
                self.level_step = 1.0 / self.fade_frames as f32;
                self.shared.paused.store(false, Ordering::Relaxed);
            }
        }
    }

    /// Hands an engine back to the main thread to be dropped there (never deallocates
    /// here; if the way back is full it is leaked, which a handful of swaps a second
    /// cannot cause).
    fn send_back(&mut self, engine: Box<Engine>) {
        if let Err(rtrb::PushError::Full(engine)) = self.returns.push(engine) {
            std::mem::forget(engine);
        }
    }

    /// Renders `out.len()` frames (at most the scratch size) of the engine with the
    /// pause/resume fade and the retiring engine mixed in.
    fn render_chunk(&mut self, out: &mut [Frame]) {
        let n = out.len();
        let stopped = self.paused && self.level <= 0.0;
        if stopped {
            out.fill(Frame::ZERO);
            return;
        }
        let scratch = &mut self.scratch[..n];
        self.engine.render(scratch);
        if let Some((old, left)) = &mut self.retiring {
            let retire = &mut self.retire_scratch[..n];
            old.render(retire);
            let total = (self.fade_frames.saturating_mul(5)).max(1) as f32;
            for (frame, r) in scratch.iter_mut().zip(retire.iter()) {
                let g = *left as f32 / total;
                *left = left.saturating_sub(1);
                frame[0] += r[0] * g;
                frame[1] += r[1] * g;
            }
        }
        if self.retiring.as_ref().is_some_and(|(_, left)| *left == 0)
            && let Some((old, _)) = self.retiring.take()
        {
            self.send_back(old);
        }
        for (o, s) in out.iter_mut().zip(self.scratch[..n].iter()) {
            if self.level != self.level_target {
                self.level = if self.level < self.level_target {
                    (self.level + self.level_step).min(self.level_target)
                } else {
                    (self.level - self.level_step).max(self.level_target)
                };
            }
            // The sum of two limited engines while one retires may pass 0 dBFS briefly.
            *o = Frame {
                left: (s[0] * self.level).clamp(-1.0, 1.0),
                right: (s[1] * self.level).clamp(-1.0, 1.0),
            };
        }
        self.transport += n as u64;
        if self.paused && self.level <= 0.0 {
            self.shared.paused.store(true, Ordering::Relaxed);
        }
    }
}

impl Sound for MusicSound {
    fn on_start_processing(&mut self) {
        if self.in_block > 0 {
            self.shared.block.store(self.in_block, Ordering::Relaxed);
        }
        self.in_block = 0;
        self.shared.publish_callback(self.transport);
    }

    fn process(&mut self, out: &mut [Frame], dt: f64, _info: &Info) {
        if !self.rate_checked && dt > 0.0 {
            self.rate_checked = true;
            if ((1.0 / dt) - self.rate).abs() > 0.5 {
                self.shared.rate_mismatch.store(true, Ordering::Relaxed);
            }
        }
        while let Ok(command) = self.commands.pop() {
            self.apply(command);
        }
        for chunk in out.chunks_mut(SCRATCH_FRAMES) {
            self.render_chunk(chunk);
        }
        self.in_block = self
            .in_block
            .saturating_add(u32::try_from(out.len()).unwrap_or(u32::MAX));
        self.shared
            .transport
            .store(self.transport, Ordering::Release);
    }

    fn finished(&self) -> bool {
        self.shared.stop.load(Ordering::Acquire)
    }
}
