//! The lead: a saw and a square a few cents apart through a resonant low-pass whose
//! envelope and cutoff follow velocity, with vibrato that fades in after the onset.

use super::{CONTROL, Ctx, FADE_SECONDS, Voice};
use crate::dsp::{Adsr, Osc, Svf, Wave, key_hz, sin_turns, velocity_brightness, velocity_gain};

const LEVEL: f32 = 0.30;
/// The two oscillators sit this many cents either side of the note.
const DETUNE_CENTS: f32 = 4.0;
const VIBRATO_HZ: f32 = 5.6;
const VIBRATO_CENTS: f32 = 14.0;
/// Vibrato starts this long after the onset and reaches full depth over `VIBRATO_RISE`.
const VIBRATO_DELAY: f32 = 0.25;
const VIBRATO_RISE: f32 = 0.45;

#[derive(Default)]
pub(crate) struct Lead {
    saw: Osc,
    square: Osc,
    amp: Adsr,
    filter_env: Adsr,
    filter: Svf,
    freq: f32,
    gain: f32,
    bright: f32,
    vibrato_phase: f32,
    age: u32,
    countdown: u32,
}

impl Lead {
    fn control(&mut self, ctx: &Ctx) {
        let seconds = self.age as f32 / ctx.sr;
        self.age = self.age.saturating_add(CONTROL);
        let depth = VIBRATO_CENTS * ((seconds - VIBRATO_DELAY) / VIBRATO_RISE).clamp(0.0, 1.0);
        self.vibrato_phase = (self.vibrato_phase + VIBRATO_HZ * CONTROL as f32 / ctx.sr).fract();
        let cents = depth * sin_turns(self.vibrato_phase);
        let freq = self.freq * (cents / 1200.0).exp2();
        let spread = (DETUNE_CENTS / 1200.0).exp2();
        self.saw.set_freq(freq * spread, ctx.sr, ctx.tables);
        self.square.set_freq(freq / spread, ctx.sr, ctx.tables);
        let env = self.filter_env.next();
        let b = self.bright;
        let cutoff = (180.0 + self.freq * (1.2 + 4.5 * b)) * (1.0 + 2.5 * b * env);
        self.filter.set(cutoff, 0.3, ctx.sr);
    }
}

impl Voice for Lead {
    fn start(&mut self, key: u8, velocity: u8, seed: u32, ctx: &Ctx) {
        self.freq = key_hz(key);
        self.gain = velocity_gain(velocity) * LEVEL;
        self.bright = velocity_brightness(velocity);
        let phase = (seed >> 8) as f32 / 16_777_216.0;
        self.saw = Osc::new(Wave::Saw, phase);
        self.square = Osc::new(Wave::Square, phase + 0.25);
        self.amp.set(0.004, 0.8, 0.75, 0.22, ctx.sr);
        self.amp.trigger();
        let control_rate = ctx.sr / CONTROL as f32;
        self.filter_env.reset();
        self.filter_env.set(0.004, 0.45, 0.3, 0.25, control_rate);
        self.filter_env.trigger();
        self.filter.reset();
        self.vibrato_phase = 0.0;
        self.age = 0;
        self.countdown = 0;
    }

    fn release(&mut self) {
        self.amp.release();
        self.filter_env.release();
    }

    fn fade(&mut self, ctx: &Ctx) {
        self.amp.fade((FADE_SECONDS * ctx.sr) as u32);
    }

    fn render(&mut self, ctx: &Ctx, left: &mut [f32], right: &mut [f32]) {
        for (l, r) in left.iter_mut().zip(right.iter_mut()) {
            if self.countdown == 0 {
                self.control(ctx);
                self.countdown = CONTROL;
            }
            self.countdown -= 1;
            let x = 0.55 * self.saw.next(ctx.tables) + 0.45 * self.square.next(ctx.tables);
            let y = self.filter.lowpass(x) * self.amp.next() * self.gain;
            *l += y;
            *r += y;
            if self.amp.is_idle() {
                break;
            }
        }
    }

    fn is_active(&self) -> bool {
        !self.amp.is_idle()
    }

    fn loudness(&self) -> f32 {
        self.amp.level() * self.gain
    }
}
