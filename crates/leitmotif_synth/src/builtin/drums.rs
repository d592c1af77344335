//! The drum kit, every piece synthesized.
//!
//! - Kick: a sine swept down from about 180 Hz to 46 Hz, lightly saturated, plus a short
//!   filtered-noise click whose level follows velocity.
//! - Snare: two drum-head modes (185 Hz and 330 Hz) with a small pitch drop, plus noise
//!   band-passed between 0.9 kHz and a velocity-dependent top (the wires).
//! - Side stick: a 1.65 kHz ping and a band of noise around 2.5 kHz, both very short.
//! - Clap: band-passed noise struck three times 10 ms apart, then a short tail.
//! - Hi-hats: six square waves at inharmonic ratios (the classic analogue "metal") plus
//!   noise, high-passed at 7 kHz; closed, pedal and open differ in length, and a closed
//!   hat chokes a ringing open one.
//! - Toms: swept sines tuned a minor third or so apart, with a touch of noise.
//! - Crash and ride: the metal an octave or more higher, long decays; the ride keeps a
//!   bell partial and less noise.
//!
//! Other General MIDI percussion keys play the nearest of these.

use super::{Ctx, FADE_SECONDS, Voice};
use crate::dsp::{
    Noise, Osc, Svf, Wave, decay_coef, pan_gains, sin_turns, soft_clip, velocity_brightness,
    velocity_gain, wrap,
};

/// The open hi-hat's key (choked by the closed and pedal hats).
pub(crate) const OPEN_HAT: u8 = 46;

/// The General MIDI keys the kit plays; others map to the nearest of these.
const KIT: [u8; 19] = [
    35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 57, 59,
];

/// Ratios of the six "metal" oscillators (after the Roland TR-808's hi-hat).
const METAL: [f32; 6] = [205.3, 304.4, 369.6, 522.7, 540.0, 800.0];

const SILENT: f32 = 1e-4;

/// The kit key that plays `key`: the nearest the kit has (the lower on a tie).
pub(crate) fn kit_key(key: u8) -> u8 {
    KIT.iter()
        .copied()
        .min_by_key(|&k| (k.abs_diff(key), k))
        .unwrap_or(36)
}

/// Whether hitting kit key `key` silences a ringing open hat.
pub(crate) fn chokes_open_hat(key: u8) -> bool {
    matches!(key, 42 | 44)
}

#[derive(Default)]
pub(crate) struct Drum {
    age: u32,
    active: bool,
    left: f32,
    right: f32,
    fading: bool,
    fade: f32,
    fade_step: f32,
    // The tonal part: a sine (and a second mode) swept down to `freq`.
    phase: f32,
    phase2: f32,
    freq: f32,
    ratio2: f32,
    sweep: f32,
    sweep_decay: f32,
    tone: f32,
    tone_decay: f32,
    tone_mix: f32,
    drive: f32,
    // The noisy part: noise and/or metal through a high-pass then a low-pass.
    noise: Noise,
    noise_env: f32,
    noise_decay: f32,
    noise_mix: f32,
    metal: [Osc; 6],
    metal_mix: f32,
    high_pass: Svf,
    low_pass: Svf,
    // Clap re-strikes.
    bursts: u8,
    burst_interval: u32,
    tail_decay: f32,
}

impl Drum {
    fn reset_parts(&mut self) {
        self.phase = 0.0;
        self.phase2 = 0.0;
        self.ratio2 = 0.0;
        self.sweep = 0.0;
        self.sweep_decay = 0.0;
        self.tone = 0.0;
        self.tone_decay = 0.0;
        self.tone_mix = 0.0;
        self.drive = 1.0;
        self.noise_env = 0.0;
        self.noise_decay = 0.0;
        self.noise_mix = 0.0;
        self.metal_mix = 0.0;
        self.bursts = 0;
        self.high_pass.reset();
        self.low_pass.reset();
    }

    fn set_metal(&mut self, scale: f32, phase_seed: u32, ctx: &Ctx) {
        for (i, (osc, ratio)) in self.metal.iter_mut().zip(METAL).enumerate() {
            let phase = ((phase_seed >> (i * 5)) & 0x1F) as f32 / 32.0;
            *osc = Osc::new(Wave::Square, phase);
            osc.set_freq(ratio * scale, ctx.sr, ctx.tables);
        }
    }
}

impl Voice for Drum {
    fn start(&mut self, key: u8, velocity: u8, seed: u32, ctx: &Ctx) {
        let sr = ctx.sr;
        let b = velocity_brightness(velocity);
        self.reset_parts();
        self.noise = Noise::new(seed);
        self.age = 0;
        self.active = true;
        self.fading = false;
        self.fade = 1.0;
        self.fade_step = 1.0 / (FADE_SECONDS * sr).max(1.0);
        let (level, pan) = match key {
            35 | 36 => {
                let deep = key == 35;
                self.freq = if deep { 42.0 } else { 46.0 };
                self.sweep = 110.0 + 80.0 * b;
                self.sweep_decay = decay_coef(0.09, sr);
                self.tone = 1.0;
                self.tone_decay = decay_coef(if deep { 0.75 } else { 0.55 }, sr);
                self.tone_mix = 1.0;
                self.drive = 1.6;
                self.noise_env = 1.0;
                self.noise_decay = decay_coef(0.012, sr);
                self.noise_mix = 0.25 + 0.35 * b;
                self.high_pass.set(1200.0, 0.0, sr);
                self.low_pass.set(7000.0, 0.0, sr);
                (0.85, 0.0)
            }
            38 | 40 => {
                self.freq = 185.0;
                self.ratio2 = 1.78;
                self.sweep = 50.0;
                self.sweep_decay = decay_coef(0.05, sr);
                self.tone = 1.0;
                self.tone_decay = decay_coef(0.18, sr);
                self.tone_mix = 0.55;
                self.noise_env = 1.0;
                self.noise_decay = decay_coef(if key == 40 { 0.22 } else { 0.3 }, sr);
                self.noise_mix = 0.75;
                self.high_pass.set(900.0, 0.1, sr);
                self.low_pass.set(4500.0 + 5500.0 * b, 0.1, sr);
                (0.62, -0.06)
            }
            37 => {
                self.freq = 1650.0;
                self.tone = 1.0;
                self.tone_decay = decay_coef(0.05, sr);
                self.tone_mix = 0.45;
                self.noise_env = 1.0;
                self.noise_decay = decay_coef(0.04, sr);
                self.noise_mix = 0.9;
                self.high_pass.set(1800.0, 0.4, sr);
                self.low_pass.set(3500.0, 0.4, sr);
                (0.5, -0.1)
            }
            39 => {
                self.noise_env = 1.0;
                self.noise_decay = decay_coef(0.03, sr);
                self.noise_mix = 1.2;
                self.bursts = 3;
                self.burst_interval = (0.0105 * sr) as u32;
                self.tail_decay = decay_coef(0.32, sr);
                self.high_pass.set(800.0, 0.3, sr);
                self.low_pass.set(1600.0 + 1200.0 * b, 0.3, sr);
                (0.6, 0.08)
            }
            42 | 44 | 46 => {
                self.set_metal(1.75, seed, ctx);
                self.metal_mix = 0.75;
                self.noise_mix = 0.35;
                self.noise_env = 1.0;
                let length = match key {
                    42 => 0.07 + 0.05 * b,
                    44 => 0.05,
                    _ => 0.55,
                };
                self.noise_decay = decay_coef(length, sr);
                self.high_pass.set(7000.0, 0.2, sr);
                self.low_pass.set(9000.0 + 5000.0 * b, 0.0, sr);
                let level = match key {
                    42 => 0.32,
                    44 => 0.22,
                    _ => 0.28,
                };
                (level, 0.3)
            }
            41 | 43 | 45 | 47 | 48 | 50 => {
                let index = KIT_TOMS.iter().position(|&k| k == key).unwrap_or(0);
                self.freq = [82.0, 98.0, 116.0, 138.0, 164.0, 196.0][index];
                self.sweep = self.freq * (0.4 + 0.4 * b);
                self.sweep_decay = decay_coef(0.12, sr);
                self.tone = 1.0;
                self.tone_decay = decay_coef(0.7 - 0.05 * index as f32, sr);
                self.tone_mix = 1.0;
                self.drive = 1.3;
                self.noise_env = 1.0;
                self.noise_decay = decay_coef(0.08, sr);
                self.noise_mix = 0.2;
                self.high_pass.set(self.freq * 2.0, 0.2, sr);
                self.low_pass.set(self.freq * 12.0, 0.2, sr);
                (0.7, -0.45 + 0.18 * index as f32)
            }
            49 | 57 => {
                self.set_metal(if key == 49 { 2.7 } else { 3.1 }, seed, ctx);
                self.metal_mix = 0.7;
                self.noise_mix = 0.6;
                self.noise_env = 1.0;
                self.noise_decay = decay_coef(if key == 49 { 1.9 } else { 1.6 }, sr);
                self.high_pass.set(4500.0, 0.1, sr);
                self.low_pass.set(10_000.0 + 6_000.0 * b, 0.0, sr);
                (0.3, if key == 49 { -0.4 } else { 0.45 })
            }
            _ => {
                // Ride (51, 59): a bell partial over quieter metal.
                self.set_metal(if key == 51 { 3.3 } else { 3.0 }, seed, ctx);
                self.metal_mix = 0.8;
                self.noise_mix = 0.2;
                self.noise_env = 1.0;
                self.noise_decay = decay_coef(1.4, sr);
                self.high_pass.set(3500.0, 0.25, sr);
                self.low_pass.set(9000.0 + 4000.0 * b, 0.2, sr);
                self.freq = if key == 51 { 2650.0 } else { 2450.0 };
                self.tone = 1.0;
                self.tone_decay = decay_coef(0.8, sr);
                self.tone_mix = 0.12;
                (0.26, if key == 51 { 0.35 } else { -0.3 })
            }
        };
        let gain = velocity_gain(velocity) * level;
        let (l, r) = pan_gains(pan);
        self.left = l * gain;
        self.right = r * gain;
    }

    fn release(&mut self) {}

    fn fade(&mut self, _ctx: &Ctx) {
        self.fading = true;
    }

    fn render(&mut self, ctx: &Ctx, left: &mut [f32], right: &mut [f32]) {
        let inv_sr = 1.0 / ctx.sr;
        let has_tone = self.tone_mix > 0.0;
        let has_noise = self.noise_mix > 0.0 || self.metal_mix > 0.0;
        for (l, r) in left.iter_mut().zip(right.iter_mut()) {
            let mut s = 0.0;
            if has_tone {
                let freq = self.freq + self.sweep;
                self.sweep *= self.sweep_decay;
                self.phase = wrap(self.phase + freq * inv_sr);
                let mut t = sin_turns(self.phase);
                if self.ratio2 > 0.0 {
                    self.phase2 = wrap(self.phase2 + freq * self.ratio2 * inv_sr);
                    t = 0.65 * t + 0.45 * sin_turns(self.phase2);
                }
                s += soft_clip(t * self.drive) * self.tone * self.tone_mix;
                self.tone *= self.tone_decay;
            }
            if has_noise {
                let mut n = self.noise.next() * self.noise_mix;
                if self.metal_mix > 0.0 {
                    let metal: f32 = self.metal.iter_mut().map(|o| o.next(ctx.tables)).sum();
                    n += metal * (self.metal_mix / 6.0);
                }
                let y = self.low_pass.lowpass(self.high_pass.highpass(n));
                s += y * self.noise_env;
                self.noise_env *= self.noise_decay;
                if self.bursts > 0
                    && self.age > 0
                    && self.age.is_multiple_of(self.burst_interval.max(1))
                {
                    self.bursts -= 1;
                    self.noise_env = 1.0;
                    if self.bursts == 0 {
                        self.noise_decay = self.tail_decay;
                    }
                }
            }
            if self.fading {
                self.fade -= self.fade_step;
                if self.fade <= 0.0 {
                    self.active = false;
                    break;
                }
                s *= self.fade;
            }
            *l += s * self.left;
            *r += s * self.right;
            self.age = self.age.wrapping_add(1);
        }
        if self.tone < SILENT && self.noise_env < SILENT && self.bursts == 0 {
            self.active = false;
        }
    }

    fn is_active(&self) -> bool {
        self.active
    }

    fn loudness(&self) -> f32 {
        if self.active {
            (self.tone.max(self.noise_env) * self.fade) * self.left.max(self.right)
        } else {
            0.0
        }
    }
}

const KIT_TOMS: [u8; 6] = [41, 43, 45, 47, 48, 50];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_keys_play_the_nearest_kit_piece() {
        assert_eq!(kit_key(36), 36);
        assert_eq!(kit_key(20), 35);
        assert_eq!(kit_key(55), 57);
        assert_eq!(kit_key(54), 51, "a tie goes to the lower key");
        assert_eq!(kit_key(100), 59);
    }
}
