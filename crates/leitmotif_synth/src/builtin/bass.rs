//! The bass: saw plus square through a resonant low-pass with a fast, velocity-deep
//! filter envelope (the "pluck"), a clean sine an octave down, and gentle saturation.

use super::{CONTROL, Ctx, FADE_SECONDS, Voice};
use crate::dsp::{
    Adsr, Osc, Svf, Wave, key_hz, sin_turns, soft_clip, velocity_brightness, velocity_gain,
};

const LEVEL: f32 = 0.42;

#[derive(Default)]
pub(crate) struct Bass {
    saw: Osc,
    square: Osc,
    sub_phase: f32,
    sub_increment: f32,
    amp: Adsr,
    filter_env: Adsr,
    filter: Svf,
    freq: f32,
    gain: f32,
    bright: f32,
    countdown: u32,
}

impl Bass {
    fn control(&mut self, ctx: &Ctx) {
        let env = self.filter_env.next();
        let b = self.bright;
        let cutoff = (70.0 + self.freq * (1.5 + 3.5 * b)) * (1.0 + 6.0 * b * env);
        self.filter.set(cutoff, 0.35, ctx.sr);
    }
}

impl Voice for Bass {
    fn start(&mut self, key: u8, velocity: u8, seed: u32, ctx: &Ctx) {
        self.freq = key_hz(key);
        self.gain = velocity_gain(velocity) * LEVEL;
        self.bright = velocity_brightness(velocity);
        let phase = (seed >> 8) as f32 / 16_777_216.0;
        self.saw = Osc::new(Wave::Saw, phase);
        self.square = Osc::new(Wave::Square, phase);
        self.saw.set_freq(self.freq, ctx.sr, ctx.tables);
        self.square.set_freq(self.freq * 1.002, ctx.sr, ctx.tables);
        self.sub_phase = 0.0;
        self.sub_increment = self.freq * 0.5 / ctx.sr;
        self.amp.set(0.002, 1.6, 0.7, 0.08, ctx.sr);
        self.amp.trigger();
        self.filter_env.reset();
        self.filter_env
            .set(0.001, 0.25, 0.12, 0.1, ctx.sr / CONTROL as f32);
        self.filter_env.trigger();
        self.filter.reset();
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
            let x = 0.6 * self.saw.next(ctx.tables) + 0.4 * self.square.next(ctx.tables);
            let sub = sin_turns(self.sub_phase);
            self.sub_phase += self.sub_increment;
            if self.sub_phase >= 1.0 {
                self.sub_phase -= 1.0;
            }
            let y = soft_clip(1.4 * self.filter.lowpass(x)) * 0.75 + 0.45 * sub;
            let y = y * self.amp.next() * self.gain;
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
