//! The keys: a two-pair FM electric piano. Pair A (carrier and modulator at 1:1) gives the
//! warm body, its modulation index (brightness) set by velocity and decaying after the
//! strike; pair B (modulator at 14:1, a few cents sharp) gives the bell-like tine that
//! fades within a quarter second. The two pairs sit slightly apart in stereo.

use super::{CONTROL, Ctx, FADE_SECONDS, Voice};
use crate::dsp::{Adsr, key_hz, sin_turns, velocity_brightness, velocity_gain, wrap};

const LEVEL: f32 = 0.26;
const TINE_RATIO: f32 = 14.0;

#[derive(Default)]
pub(crate) struct Keys {
    carrier_a: f32,
    modulator_a: f32,
    carrier_b: f32,
    modulator_b: f32,
    increment: f32,
    amp: Adsr,
    gain: f32,
    /// Modulation index of pair A in turns, and its per-control-step decay.
    index_a: f32,
    index_a_floor: f32,
    index_a_decay: f32,
    /// Pair B's level and modulation index, both decaying.
    tine: f32,
    tine_decay: f32,
    index_b: f32,
    index_b_decay: f32,
    countdown: u32,
}

impl Voice for Keys {
    fn start(&mut self, key: u8, velocity: u8, seed: u32, ctx: &Ctx) {
        let freq = key_hz(key);
        let b = velocity_brightness(velocity);
        self.increment = freq / ctx.sr;
        self.carrier_a = 0.0;
        self.modulator_a = 0.0;
        self.carrier_b = 0.0;
        self.modulator_b = (seed & 0xFFFF) as f32 / 65_536.0;
        self.gain = velocity_gain(velocity) * LEVEL;
        let control_rate = ctx.sr / CONTROL as f32;
        // FM makes sidebands about (index + 1) multiples of the modulator away from the
        // carrier: cap each index so they stay below Nyquist on high notes.
        let room_a = (0.45 * ctx.sr / freq - 2.0).max(0.0);
        let room_b = (0.45 * ctx.sr / (freq * TINE_RATIO) - 1.5).max(0.0);
        // Index in radians / (2 pi), since the phases are in turns.
        self.index_a = (0.35 + 1.9 * b).min(room_a) / std::f32::consts::TAU;
        self.index_a_floor = 0.25f32.min(room_a) / std::f32::consts::TAU;
        self.index_a_decay = (-1.0 / (0.45 * control_rate)).exp();
        self.tine = 0.25 + 0.35 * b;
        self.tine_decay = (-1.0 / (0.09 * control_rate)).exp();
        self.index_b = (0.8 + 2.2 * b).min(room_b) / std::f32::consts::TAU;
        self.index_b_decay = (-1.0 / (0.03 * control_rate)).exp();
        // Low notes ring longer, as on a real instrument.
        let ring = (6.0 * ((48.0 - f32::from(key)) / 18.0).exp2()).clamp(1.2, 8.0);
        self.amp.set(0.0015, ring, 0.0, 0.28, ctx.sr);
        self.amp.trigger();
        self.countdown = 0;
    }

    fn release(&mut self) {
        self.amp.release();
    }

    fn fade(&mut self, ctx: &Ctx) {
        self.amp.fade((FADE_SECONDS * ctx.sr) as u32);
    }

    fn render(&mut self, _ctx: &Ctx, left: &mut [f32], right: &mut [f32]) {
        let inc = self.increment;
        let inc_b = inc * 1.0017;
        let mut index_a = self.index_a_floor + self.index_a;
        for (l, r) in left.iter_mut().zip(right.iter_mut()) {
            if self.countdown == 0 {
                self.index_a *= self.index_a_decay;
                self.index_b *= self.index_b_decay;
                self.tine *= self.tine_decay;
                index_a = self.index_a_floor + self.index_a;
                self.countdown = CONTROL;
            }
            self.countdown -= 1;
            let a = sin_turns(self.carrier_a + index_a * sin_turns(self.modulator_a));
            let b = sin_turns(self.carrier_b + self.index_b * sin_turns(self.modulator_b));
            self.carrier_a = wrap(self.carrier_a + inc);
            self.modulator_a = wrap(self.modulator_a + inc);
            self.carrier_b = wrap(self.carrier_b + inc_b);
            self.modulator_b = wrap(self.modulator_b + inc_b * TINE_RATIO);
            let g = self.amp.next() * self.gain;
            let tine = b * self.tine;
            *l += (0.9 * a + 0.7 * tine) * g;
            *r += (0.8 * a + 1.0 * tine) * g;
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
