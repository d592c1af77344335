//! The built-in instruments: one voice type per instrument, played from a fixed pool.

mod bass;
mod drums;
mod keys;
mod lead;
mod pad;

use crate::BuiltIn;
use crate::dsp::{Noise, WaveTables};

/// Steps between updates of a voice's slow parameters (filter cutoff, vibrato).
pub(crate) const CONTROL: u32 = 16;

/// What every voice needs while it plays.
pub(crate) struct Ctx {
    /// Sample rate in Hz.
    pub(crate) sr: f32,
    /// The shared band-limited tables.
    pub(crate) tables: &'static WaveTables,
}

/// A voice of a built-in instrument.
pub(crate) trait Voice: Default {
    /// Starts a note (the slot may still hold a fading voice: start from its level).
    fn start(&mut self, key: u8, velocity: u8, seed: u32, ctx: &Ctx);
    /// Key up.
    fn release(&mut self);
    /// Fades out within a few milliseconds (stolen).
    fn fade(&mut self, ctx: &Ctx);
    /// Adds the voice's output to `left` and `right` (equal lengths).
    fn render(&mut self, ctx: &Ctx, left: &mut [f32], right: &mut [f32]);
    /// Whether the voice still sounds.
    fn is_active(&self) -> bool;
    /// The voice's current loudness (for choosing which voice to steal).
    fn loudness(&self) -> f32;
}

/// How long a stolen voice takes to fade out.
pub(crate) const FADE_SECONDS: f32 = 0.003;

#[derive(Default)]
struct Slot<V> {
    voice: V,
    key: u8,
    age: u64,
    active: bool,
    held: bool,
    fading: bool,
}

/// A fixed pool of voices: `max` may sound at once, and as many again may be fading out
/// after being stolen.
pub(crate) struct Pool<V> {
    slots: Vec<Slot<V>>,
    max: usize,
    clock: u64,
    seeds: Noise,
}

impl<V: Voice> Pool<V> {
    fn new(max: usize, seed: u32) -> Self {
        let max = max.max(1);
        Pool {
            slots: (0..max * 2).map(|_| Slot::default()).collect(),
            max,
            clock: 0,
            seeds: Noise::new(seed),
        }
    }

    /// Fades every sounding voice whose key satisfies `which`.
    fn fade_where(&mut self, ctx: &Ctx, which: impl Fn(u8) -> bool) {
        for slot in &mut self.slots {
            if slot.active && !slot.fading && which(slot.key) {
                slot.voice.fade(ctx);
                slot.fading = true;
                slot.held = false;
            }
        }
    }

    fn note_on(&mut self, key: u8, velocity: u8, ctx: &Ctx) {
        let sounding = self.slots.iter().filter(|s| s.active && !s.fading).count();
        if sounding >= self.max {
            // Steal: the quietest released voice, else the oldest held one.
            let victim = self
                .slots
                .iter_mut()
                .filter(|s| s.active && !s.fading)
                .min_by(|a, b| {
                    (a.held, a.age)
                        .cmp(&(b.held, b.age))
                        .then_with(|| a.voice.loudness().total_cmp(&b.voice.loudness()))
                });
            if let Some(victim) = victim {
                victim.voice.fade(ctx);
                victim.fading = true;
                victim.held = false;
            }
        }
        let free = self.slots.iter().position(|s| !s.active).or_else(|| {
            // Every slot busy (a storm of notes): take over the quietest fading voice.
            self.slots
                .iter()
                .enumerate()
                .filter(|(_, s)| s.fading)
                .min_by(|a, b| a.1.voice.loudness().total_cmp(&b.1.voice.loudness()))
                .map(|(i, _)| i)
        });
        let Some(index) = free else { return };
        self.clock += 1;
        let seed = self.seeds.next_u32();
        let slot = &mut self.slots[index];
        slot.voice.start(key, velocity, seed, ctx);
        slot.key = key;
        slot.age = self.clock;
        slot.active = true;
        slot.held = true;
        slot.fading = false;
    }

    fn note_off(&mut self, key: u8) {
        for slot in &mut self.slots {
            if slot.held && slot.key == key {
                slot.held = false;
                slot.voice.release();
            }
        }
    }

    fn all_notes_off(&mut self) {
        for slot in &mut self.slots {
            if slot.held {
                slot.held = false;
                slot.voice.release();
            }
        }
    }

    fn render(&mut self, ctx: &Ctx, left: &mut [f32], right: &mut [f32]) {
        for slot in &mut self.slots {
            if slot.active {
                slot.voice.render(ctx, left, right);
                if !slot.voice.is_active() {
                    slot.active = false;
                    slot.held = false;
                    slot.fading = false;
                }
            }
        }
    }

    fn active(&self) -> usize {
        self.slots.iter().filter(|s| s.active).count()
    }
}

/// A bus playing one built-in instrument.
pub(crate) enum BuiltInBus {
    Lead(Pool<lead::Lead>),
    Bass(Pool<bass::Bass>),
    Pad(Pool<pad::Pad>),
    Keys(Pool<keys::Keys>),
    Drums(Pool<drums::Drum>),
}

macro_rules! each_pool {
    ($bus:expr, $pool:ident => $body:expr) => {
        match $bus {
            BuiltInBus::Lead($pool) => $body,
            BuiltInBus::Bass($pool) => $body,
            BuiltInBus::Pad($pool) => $body,
            BuiltInBus::Keys($pool) => $body,
            BuiltInBus::Drums($pool) => $body,
        }
    };
}

impl BuiltInBus {
    /// A bus of `instrument` with `max_voices` voices; `seed` varies its random phases.
    pub(crate) fn new(instrument: BuiltIn, max_voices: usize, seed: u32) -> Self {
        match instrument {
            BuiltIn::Lead => BuiltInBus::Lead(Pool::new(max_voices, seed)),
            BuiltIn::Bass => BuiltInBus::Bass(Pool::new(max_voices, seed)),
            BuiltIn::Pad => BuiltInBus::Pad(Pool::new(max_voices, seed)),
            BuiltIn::Keys => BuiltInBus::Keys(Pool::new(max_voices, seed)),
            BuiltIn::Drums => BuiltInBus::Drums(Pool::new(max_voices, seed)),
        }
    }

    /// How much of this instrument goes to the master reverb.
    pub(crate) fn reverb_send(&self) -> f32 {
        match self {
            BuiltInBus::Lead(_) => 0.16,
            BuiltInBus::Bass(_) => 0.03,
            BuiltInBus::Pad(_) => 0.30,
            BuiltInBus::Keys(_) => 0.20,
            BuiltInBus::Drums(_) => 0.10,
        }
    }

    /// Starts a note; a key that is still sounding is faded out first (drums ring on,
    /// except that a closed hat chokes an open one).
    pub(crate) fn note_on(&mut self, key: u8, velocity: u8, ctx: &Ctx) {
        if let BuiltInBus::Drums(pool) = self {
            let key = drums::kit_key(key);
            if drums::chokes_open_hat(key) {
                pool.fade_where(ctx, |k| k == drums::OPEN_HAT);
            }
            pool.note_on(key, velocity, ctx);
            return;
        }
        each_pool!(self, pool => {
            pool.fade_where(ctx, |k| k == key);
            pool.note_on(key, velocity, ctx);
        });
    }

    /// Releases a key.
    pub(crate) fn note_off(&mut self, key: u8) {
        match self {
            // Drum hits ring out whatever the key does.
            BuiltInBus::Drums(_) => {}
            _ => each_pool!(self, pool => pool.note_off(key)),
        }
    }

    /// Releases every key.
    pub(crate) fn all_notes_off(&mut self) {
        each_pool!(self, pool => pool.all_notes_off());
    }

    /// Adds the bus's voices to `left` and `right`.
    pub(crate) fn render(&mut self, ctx: &Ctx, left: &mut [f32], right: &mut [f32]) {
        each_pool!(self, pool => pool.render(ctx, left, right));
    }

    /// Voices sounding (including releases and fades).
    pub(crate) fn active(&self) -> usize {
        each_pool!(self, pool => pool.active())
    }
}
