//! The pad: three saws a few cents apart, spread left, centre and right, through a pair of
//! low-passes that open slowly with the filter envelope and drift with a slow LFO.

use super::{CONTROL, Ctx, FADE_SECONDS, Voice};
use crate::dsp::{Adsr, Osc, Svf, Wave, key_hz, sin_turns, velocity_brightness, velocity_gain};

const LEVEL: f32 = 0.16;
const DETUNE_CENTS: f32 = 11.0;
const LFO_HZ: f32 = 0.23;

#[derive(Default)]
pub(crate) struct Pad {
    oscs: [Osc; 3],
    amp: Adsr,
    filter_env: Adsr,
    filters: [Svf; 2],
    freq: f32,
    gain: f32,
    bright: f32,
    lfo_phase: f32,
    countdown: u32,
}

impl Voice for Pad {
    fn start(&mut self, key: u8, velocity: u8, seed: u32, ctx: &Ctx) {
        self.freq = key_hz(key);
        self.gain = velocity_gain(velocity) * LEVEL;
        self.bright = velocity_brightness(velocity);
        let spread = (DETUNE_CENTS / 1200.0).exp2();
        for (i, osc) in self.oscs.iter_mut().enumerate() {
            // Free-running phases, different for every note, so chords shimmer.
            let phase = ((seed >> (8 * i)) & 0xFF) as f32 / 256.0;
            *osc = Osc::new(Wave::Saw, phase);
            let ratio = match i {
                0 => 1.0 / spread,
                1 => 1.0,
                _ => spread,
            };
            osc.set_freq(self.freq * ratio, ctx.sr, ctx.tables);
        }
        let attack = 0.42 - 0.25 * self.bright;
        self.amp.set(attack, 3.0, 0.85, 0.9, ctx.sr);
        self.amp.trigger();
        self.filter_env.reset();
        self.filter_env
            .set(0.6, 2.5, 0.55, 1.0, ctx.sr / CONTROL as f32);
        self.filter_env.trigger();
        for filter in &mut self.filters {
            filter.reset();
        }
        self.lfo_phase = (seed & 0xFFFF) as f32 / 65_536.0;
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
        let [a, b, c] = &mut self.oscs;
        let [fl, fr] = &mut self.filters;
        for (l, r) in left.iter_mut().zip(right.iter_mut()) {
            if self.countdown == 0 {
                let env = self.filter_env.next();
                self.lfo_phase = (self.lfo_phase + LFO_HZ * CONTROL as f32 / ctx.sr).fract();
                let drift = 1.0 + 0.15 * sin_turns(self.lfo_phase);
                let cutoff = (250.0 + self.freq * (1.5 + 3.0 * self.bright)) * (0.45 + env) * drift;
                fl.set(cutoff, 0.18, ctx.sr);
                fr.set(cutoff * 1.03, 0.18, ctx.sr);
                self.countdown = CONTROL;
            }
            self.countdown -= 1;
            let (xa, xb, xc) = (a.next(ctx.tables), b.next(ctx.tables), c.next(ctx.tables));
            let g = self.amp.next() * self.gain;
            *l += fl.lowpass(xa + 0.6 * xb) * g;
            *r += fr.lowpass(xc + 0.6 * xb) * g;
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
