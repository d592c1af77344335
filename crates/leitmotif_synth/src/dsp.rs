//! DSP building blocks for the built-in voices: band-limited wavetables, envelopes, a
//! state-variable filter, noise and small helpers. Nothing here allocates after
//! construction.

use std::f32::consts::{PI, TAU};
use std::sync::OnceLock;

/// Samples per wavetable cycle (a power of two).
pub(crate) const TABLE_LEN: usize = 4096;
const TABLE_MASK: usize = TABLE_LEN - 1;

/// One band-limited cycle, with a guard sample equal to the first for interpolation.
pub(crate) type Table = [f32; TABLE_LEN + 1];

/// The highest fraction of the sample rate a table's top harmonic may reach.
const NYQUIST_MARGIN: f32 = 0.47;

/// Band-limited saw and square cycles at harmonic counts about half an octave apart
/// ("mipmaps"): an oscillator reads the richest table whose top harmonic stays below
/// Nyquist, so high notes never alias.
pub(crate) struct WaveTables {
    harmonics: Vec<u32>,
    saw: Vec<Table>,
    square: Vec<Table>,
}

/// Which waveform an [`Osc`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Wave {
    /// A rising ramp.
    #[default]
    Saw,
    /// A 50 % square.
    Square,
}

impl WaveTables {
    /// The shared tables, built on first use (about 330 KB per waveform).
    pub(crate) fn get() -> &'static WaveTables {
        static TABLES: OnceLock<WaveTables> = OnceLock::new();
        TABLES.get_or_init(WaveTables::build)
    }

    fn build() -> WaveTables {
        let mut harmonics: Vec<u32> = Vec::new();
        for j in 0..=20 {
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "2^(j/2) for j <= 20 is at most 1024"
            )]
            let h = 2f64.powf(f64::from(j) / 2.0).round() as u32;
            if harmonics.last() != Some(&h) {
                harmonics.push(h);
            }
        }
        let sine: Vec<f64> = (0..TABLE_LEN)
            .map(|n| (std::f64::consts::TAU * n as f64 / TABLE_LEN as f64).sin())
            .collect();
        let build = |amplitude: &dyn Fn(u32) -> f64| {
            let mut acc = vec![0.0f64; TABLE_LEN];
            let mut tables = Vec::with_capacity(harmonics.len());
            let mut done = 0;
            for &top in &harmonics {
                for h in done + 1..=top {
                    let a = amplitude(h);
                    if a != 0.0 {
                        for (n, v) in acc.iter_mut().enumerate() {
                            *v += a * sine[(h as usize * n) & TABLE_MASK];
                        }
                    }
                }
                done = top;
                let mut table = [0.0f32; TABLE_LEN + 1];
                for (t, v) in table.iter_mut().zip(&acc) {
                    #[expect(clippy::cast_possible_truncation, reason = "audio samples")]
                    let v = *v as f32;
                    *t = v;
                }
                table[TABLE_LEN] = table[0];
                tables.push(table);
            }
            tables
        };
        // A rising ramp 2t - 1 is -(2/pi) sum sin(2 pi h t) / h; a square is
        // (4/pi) sum over odd h of sin(2 pi h t) / h.
        let saw = build(&|h| -2.0 / std::f64::consts::PI / f64::from(h));
        let square = build(&|h| {
            if h % 2 == 1 {
                4.0 / std::f64::consts::PI / f64::from(h)
            } else {
                0.0
            }
        });
        WaveTables {
            harmonics,
            saw,
            square,
        }
    }

    /// The richest table whose harmonics stay below Nyquist at `increment` cycles per
    /// sample (with a little headroom for vibrato).
    fn level_for(&self, increment: f32) -> usize {
        let allowed = NYQUIST_MARGIN / (increment.abs() * 1.02).max(1e-9);
        self.harmonics
            .iter()
            .rposition(|&h| h as f32 <= allowed)
            .unwrap_or(0)
    }

    fn table(&self, wave: Wave, level: usize) -> &Table {
        match wave {
            Wave::Saw => &self.saw[level],
            Wave::Square => &self.square[level],
        }
    }
}

/// A band-limited wavetable oscillator.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Osc {
    /// Position in the cycle, 0..1.
    pub(crate) phase: f32,
    increment: f32,
    level: usize,
    wave: Wave,
}

impl Osc {
    /// An oscillator of `wave` starting at `phase`.
    pub(crate) fn new(wave: Wave, phase: f32) -> Self {
        Osc {
            phase: phase.rem_euclid(1.0),
            increment: 0.0,
            level: 0,
            wave,
        }
    }

    /// Sets the frequency (Hz) at sample rate `sr` and picks the table that cannot alias.
    pub(crate) fn set_freq(&mut self, hz: f32, sr: f32, tables: &WaveTables) {
        self.increment = (hz / sr).clamp(0.0, NYQUIST_MARGIN);
        self.level = tables.level_for(self.increment);
    }

    /// The next sample, in about -1..1.
    #[inline]
    pub(crate) fn next(&mut self, tables: &WaveTables) -> f32 {
        let value = read(tables.table(self.wave, self.level), self.phase);
        self.phase += self.increment;
        if self.phase >= 1.0 {
            self.phase -= 1.0;
        }
        value
    }
}

/// Linear interpolation in a table at `phase` (0..1).
#[inline]
fn read(table: &Table, phase: f32) -> f32 {
    let x = phase * TABLE_LEN as f32;
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "phase is in 0..1, so x is in 0..TABLE_LEN"
    )]
    let i = (x as usize) & TABLE_MASK;
    let frac = x - i as f32;
    let a = table[i];
    let b = table[i + 1];
    a + (b - a) * frac
}

/// `sin(2 pi turns)` for any `turns`, accurate to about 4e-6 (a 9th-order polynomial).
#[inline]
pub(crate) fn sin_turns(turns: f32) -> f32 {
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_precision_loss,
        reason = "truncation towards zero is the point; phases stay far below 2^31"
    )]
    let mut x = turns - (turns as i64) as f32;
    if x >= 0.5 {
        x -= 1.0;
    } else if x < -0.5 {
        x += 1.0;
    }
    // Fold into -0.25..=0.25 turns, where the polynomial is accurate.
    if x > 0.25 {
        x = 0.5 - x;
    } else if x < -0.25 {
        x = -0.5 - x;
    }
    let z = x * TAU;
    let z2 = z * z;
    z * (1.0
        + z2 * (-1.0 / 6.0 + z2 * (1.0 / 120.0 + z2 * (-1.0 / 5040.0 + z2 * (1.0 / 362_880.0)))))
}

/// Wraps a non-negative phase into 0..1 (cheaper than `fract`).
#[inline]
pub(crate) fn wrap(phase: f32) -> f32 {
    if phase >= 1.0 {
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "phases are small and non-negative"
        )]
        let whole = phase as u32;
        phase - whole as f32
    } else {
        phase
    }
}

/// The frequency of MIDI key `key` in Hz (A4 = key 69 = 440 Hz).
pub(crate) fn key_hz(key: u8) -> f32 {
    440.0 * 2f32.powf((f32::from(key) - 69.0) / 12.0)
}

/// Loudness for a MIDI velocity: about 20 dB between velocity 30 and 127.
pub(crate) fn velocity_gain(velocity: u8) -> f32 {
    (f32::from(velocity.min(127)) / 127.0).powf(1.6)
}

/// Brightness for a MIDI velocity, 0..=1.
pub(crate) fn velocity_brightness(velocity: u8) -> f32 {
    f32::from(velocity.min(127)) / 127.0
}

/// Per-sample multiplier that decays by 60 dB in `seconds` at `rate` steps per second.
pub(crate) fn decay_coef(seconds: f32, rate: f32) -> f32 {
    (-6.907_755 / (seconds.max(1e-4) * rate)).exp()
}

/// Constant-power pan gains for `pan` in -1 (left)..=1 (right), 1.0 each at the centre.
pub(crate) fn pan_gains(pan: f32) -> (f32, f32) {
    let angle = (pan.clamp(-1.0, 1.0) + 1.0) * PI / 4.0;
    (
        angle.cos() * std::f32::consts::SQRT_2,
        angle.sin() * std::f32::consts::SQRT_2,
    )
}

/// A smooth saturator: about `x` for small values, approaching ±1.
#[inline]
pub(crate) fn soft_clip(x: f32) -> f32 {
    let x = x.clamp(-3.0, 3.0);
    x * (27.0 + x * x) / (27.0 + 9.0 * x * x)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Stage {
    #[default]
    Idle,
    Attack,
    Decay,
    Release,
    Fade,
}

/// An ADSR envelope: linear attack, exponential decay and release, plus a short linear
/// fade used when a voice is stolen.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Adsr {
    stage: Stage,
    level: f32,
    attack_step: f32,
    decay: f32,
    sustain: f32,
    release: f32,
    fade_step: f32,
}

/// Below this an envelope in decay (with no sustain) or release counts as silent.
const SILENT: f32 = 1e-4;

impl Adsr {
    /// An envelope with the given attack time, decay and release times (to fall 60 dB)
    /// and sustain level, stepped `rate` times a second. It keeps the current level, so a
    /// retriggered voice rises from where it was without a click.
    pub(crate) fn set(&mut self, attack: f32, decay: f32, sustain: f32, release: f32, rate: f32) {
        self.attack_step = 1.0 / (attack * rate).max(1.0);
        self.decay = decay_coef(decay, rate);
        self.sustain = sustain.clamp(0.0, 1.0);
        self.release = decay_coef(release, rate);
    }

    /// Starts the attack from the current level.
    pub(crate) fn trigger(&mut self) {
        self.stage = Stage::Attack;
    }

    /// Starts the release (key up).
    pub(crate) fn release(&mut self) {
        if matches!(self.stage, Stage::Attack | Stage::Decay) {
            self.stage = Stage::Release;
        }
    }

    /// Fades linearly to silence over `steps` steps.
    pub(crate) fn fade(&mut self, steps: u32) {
        if self.stage != Stage::Idle {
            self.fade_step = self.level / steps.max(1) as f32;
            self.stage = Stage::Fade;
        }
    }

    /// Silences the envelope at once.
    pub(crate) fn reset(&mut self) {
        self.stage = Stage::Idle;
        self.level = 0.0;
    }

    /// The current level, 0..=1.
    pub(crate) fn level(&self) -> f32 {
        self.level
    }

    /// Whether the envelope has finished.
    pub(crate) fn is_idle(&self) -> bool {
        self.stage == Stage::Idle
    }

    /// Advances one step and returns the level.
    #[inline]
    pub(crate) fn next(&mut self) -> f32 {
        match self.stage {
            Stage::Idle => {}
            Stage::Attack => {
                self.level += self.attack_step;
                if self.level >= 1.0 {
                    self.level = 1.0;
                    self.stage = Stage::Decay;
                }
            }
            Stage::Decay => {
                self.level = self.sustain + (self.level - self.sustain) * self.decay;
                if self.sustain <= 0.0 && self.level < SILENT {
                    self.reset();
                }
            }
            Stage::Release => {
                self.level *= self.release;
                if self.level < SILENT {
                    self.reset();
                }
            }
            Stage::Fade => {
                self.level -= self.fade_step;
                if self.level <= 0.0 {
                    self.reset();
                }
            }
        }
        self.level
    }
}

/// A trapezoidal state-variable filter (Simper's form): stable under fast modulation,
/// with low-pass and high-pass outputs.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Svf {
    ic1: f32,
    ic2: f32,
    a1: f32,
    a2: f32,
    a3: f32,
    k: f32,
}

impl Svf {
    /// Sets the cutoff (Hz) and resonance (0 = none, 1 = nearly self-oscillating).
    pub(crate) fn set(&mut self, cutoff: f32, resonance: f32, sr: f32) {
        let cutoff = cutoff.clamp(10.0, sr * 0.45);
        let g = (PI * cutoff / sr).tan();
        self.k = 2.0 - 1.9 * resonance.clamp(0.0, 1.0);
        self.a1 = 1.0 / (1.0 + g * (g + self.k));
        self.a2 = g * self.a1;
        self.a3 = g * self.a2;
    }

    /// Clears the filter's memory.
    pub(crate) fn reset(&mut self) {
        self.ic1 = 0.0;
        self.ic2 = 0.0;
    }

    #[inline]
    fn tick(&mut self, v0: f32) -> (f32, f32) {
        let v3 = v0 - self.ic2;
        let v1 = self.a1 * self.ic1 + self.a2 * v3;
        let v2 = self.ic2 + self.a2 * self.ic1 + self.a3 * v3;
        self.ic1 = 2.0 * v1 - self.ic1;
        self.ic2 = 2.0 * v2 - self.ic2;
        (v1, v2)
    }

    /// Low-pass output.
    #[inline]
    pub(crate) fn lowpass(&mut self, x: f32) -> f32 {
        self.tick(x).1
    }

    /// High-pass output.
    #[inline]
    pub(crate) fn highpass(&mut self, x: f32) -> f32 {
        let (v1, v2) = self.tick(x);
        x - self.k * v1 - v2
    }
}

/// White noise from a 32-bit xorshift generator (deterministic for a seed).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Noise(u32);

impl Default for Noise {
    fn default() -> Self {
        Noise(0x9E37_79B9)
    }
}

impl Noise {
    /// A generator seeded with `seed` (0 is replaced by a fixed non-zero seed).
    pub(crate) fn new(seed: u32) -> Self {
        Noise(if seed == 0 { 0x9E37_79B9 } else { seed })
    }

    /// The next raw 32-bit value.
    #[inline]
    pub(crate) fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }

    /// The next sample, uniform in -1..1.
    #[inline]
    pub(crate) fn next(&mut self) -> f32 {
        #[expect(
            clippy::cast_possible_wrap,
            reason = "reinterpreting the bits is the point"
        )]
        let signed = self.next_u32() as i32;
        signed as f32 * (1.0 / 2_147_483_648.0)
    }

    /// A uniform value in 0..1.
    pub(crate) fn unit(&mut self) -> f32 {
        (self.next_u32() >> 8) as f32 / 16_777_216.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_sine_matches_std() {
        for i in -2000..2000 {
            let turns = i as f32 * 0.003_7;
            let want = (turns * TAU).sin();
            assert!((sin_turns(turns) - want).abs() < 2e-5, "at {turns}");
        }
    }

    #[test]
    fn tables_stay_below_nyquist() {
        let tables = WaveTables::get();
        for key in 0..=127u8 {
            let inc = key_hz(key) / 48_000.0;
            let level = tables.level_for(inc);
            let top = tables.harmonics[level] as f32 * inc * 1.02;
            assert!(
                top <= NYQUIST_MARGIN || level == 0,
                "key {key}: top harmonic at {top}"
            );
        }
        // A saw near the bottom of the range has hundreds of harmonics.
        assert!(tables.harmonics[tables.level_for(41.2 / 48_000.0)] >= 362);
    }

    #[test]
    fn envelope_runs_its_stages() {
        let mut env = Adsr::default();
        env.set(0.01, 0.1, 0.5, 0.1, 1000.0);
        env.trigger();
        let peak = (0..10).map(|_| env.next()).fold(0.0f32, f32::max);
        assert!((peak - 1.0).abs() < 1e-6);
        for _ in 0..1000 {
            env.next();
        }
        assert!((env.level() - 0.5).abs() < 1e-3);
        env.release();
        for _ in 0..200 {
            env.next();
        }
        assert!(env.is_idle());
    }
}
