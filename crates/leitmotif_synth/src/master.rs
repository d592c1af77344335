//! The master section: gain lanes, a light room reverb and the limiter. All buffers are
//! allocated when built; processing never allocates.

use crate::dsp::Svf;

/// A gain that ramps linearly to a target; jumps are spread over a short de-click ramp.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GainLane {
    value: f32,
    target: f32,
    step: f32,
    remaining: u32,
}

impl GainLane {
    /// A lane holding `gain`.
    pub(crate) fn new(gain: f32) -> Self {
        GainLane {
            value: gain,
            target: gain,
            step: 0.0,
            remaining: 0,
        }
    }

    /// Ramps from the current value to `target` over `frames` frames (at least `min`).
    pub(crate) fn ramp(&mut self, target: f32, frames: u32, min: u32) {
        let frames = frames.max(min).max(1);
        self.target = target;
        self.step = (target - self.value) / frames as f32;
        self.remaining = frames;
    }

    /// Whether the lane holds still at zero (its bus can be skipped in the mix).
    pub(crate) fn is_silent(&self) -> bool {
        self.remaining == 0 && self.value == 0.0
    }

    /// The gain for the next frame.
    #[inline]
    pub(crate) fn next(&mut self) -> f32 {
        if self.remaining > 0 {
            self.remaining -= 1;
            self.value = if self.remaining == 0 {
                self.target
            } else {
                self.value + self.step
            };
        }
        self.value
    }
}

/// A delay line of fixed length.
struct Delay {
    buffer: Vec<f32>,
    at: usize,
}

impl Delay {
    fn new(len: usize) -> Self {
        Delay {
            buffer: vec![0.0; len.max(1)],
            at: 0,
        }
    }

    /// The sample written `len` frames ago.
    #[inline]
    fn read(&self) -> f32 {
        self.buffer[self.at]
    }

    #[inline]
    fn write(&mut self, x: f32) {
        self.buffer[self.at] = x;
        self.at += 1;
        if self.at == self.buffer.len() {
            self.at = 0;
        }
    }
}

/// A Schroeder all-pass diffuser.
struct AllPass {
    delay: Delay,
    gain: f32,
}

impl AllPass {
    #[inline]
    fn process(&mut self, x: f32) -> f32 {
        let delayed = self.delay.read();
        let v = x + self.gain * delayed;
        self.delay.write(v);
        delayed - self.gain * v
    }
}

/// Lengths of the feedback delay network's lines at 48 kHz, in milliseconds (mutually
/// prime in samples, spread so the echo density builds quickly).
const LINES_MS: [f32; 8] = [31.7, 37.9, 41.3, 46.1, 52.7, 59.3, 65.9, 71.1];
/// Seconds for the tail to fall 60 dB.
const DECAY_SECONDS: f32 = 1.4;
/// Frequencies above this fade faster in the tail (air and walls absorb them).
const DAMPING_HZ: f32 = 5500.0;
/// Added inside the loop so the decaying tail never reaches subnormal numbers, which are
/// slow on many processors; 1e-18 is 340 dB below full scale.
const ANTI_DENORMAL: f32 = 1e-18;

/// A small room: pre-delay, two all-pass diffusers, then an 8-line feedback delay network
/// with a Householder matrix and damping in each line; decorrelated left and right outs.
pub(crate) struct Reverb {
    pre_delay: Delay,
    diffusers: [AllPass; 2],
    lines: Vec<Delay>,
    gains: [f32; 8],
    damping: f32,
    damp_state: [f32; 8],
    input_filter: Svf,
}

impl Reverb {
    pub(crate) fn new(sample_rate: u32) -> Self {
        let sr = sample_rate as f32;
        let frames = |ms: f32| (ms * 0.001 * sr).round().max(1.0) as usize;
        let lines: Vec<Delay> = LINES_MS.iter().map(|&ms| Delay::new(frames(ms))).collect();
        let mut gains = [0.0; 8];
        for (gain, line) in gains.iter_mut().zip(&lines) {
            // Each pass through a line of length L loses 60 dB * L / (decay time).
            *gain = 10f32.powf(-3.0 * line.buffer.len() as f32 / (DECAY_SECONDS * sr));
        }
        let mut input_filter = Svf::default();
        input_filter.set(9000.0, 0.0, sr);
        Reverb {
            pre_delay: Delay::new(frames(14.0)),
            diffusers: [
                AllPass {
                    delay: Delay::new(frames(4.77)),
                    gain: 0.6,
                },
                AllPass {
                    delay: Delay::new(frames(1.63)),
                    gain: 0.6,
                },
            ],
            lines,
            gains,
            damping: 1.0 - (-std::f32::consts::TAU * DAMPING_HZ / sr).exp(),
            damp_state: [0.0; 8],
            input_filter,
        }
    }

    /// Adds the room's response to `input` (a mono send) onto `left` and `right`.
    pub(crate) fn process(&mut self, input: &[f32], left: &mut [f32], right: &mut [f32]) {
        for ((&x, l), r) in input.iter().zip(left.iter_mut()).zip(right.iter_mut()) {
            let x = self.input_filter.lowpass(x) + ANTI_DENORMAL;
            self.pre_delay.write(x);
            let mut x = self.pre_delay.read();
            for diffuser in &mut self.diffusers {
                x = diffuser.process(x);
            }
            let mut outs = [0.0f32; 8];
            let mut sum = 0.0;
            for (i, out) in outs.iter_mut().enumerate() {
                let raw = self.lines[i].read();
                self.damp_state[i] += (raw - self.damp_state[i]) * self.damping;
                *out = self.damp_state[i] * self.gains[i];
                sum += *out;
            }
            // Householder feedback: out - (2/N) * sum, lossless before the line gains.
            let feedback = sum * 0.25;
            for (i, out) in outs.iter().enumerate() {
                let sign = if i % 2 == 0 { 1.0 } else { -1.0 };
                self.lines[i].write(out - feedback + sign * x);
            }
            *l += 0.35 * (outs[0] - outs[2] + outs[4] - outs[6]);
            *r += 0.35 * (outs[1] - outs[3] + outs[5] - outs[7]);
        }
    }
}

/// Peak limiter without look-ahead: the gain drops at once to hold any peak at the
/// threshold, then recovers smoothly, so the output never exceeds the threshold.
pub(crate) struct Limiter {
    envelope: f32,
    release: f32,
}

/// The limiter's ceiling, -0.5 dBFS: leaves room for 16-bit dither.
pub(crate) const CEILING: f32 = 0.944;

impl Limiter {
    pub(crate) fn new(sample_rate: u32) -> Self {
        Limiter {
            envelope: CEILING,
            release: (-1.0 / (0.12 * sample_rate as f32)).exp(),
        }
    }

    /// Limits one stereo frame (linked: both channels get the same gain).
    #[inline]
    pub(crate) fn process(&mut self, frame: [f32; 2]) -> [f32; 2] {
        let [mut l, mut r] = frame;
        if !l.is_finite() {
            l = 0.0;
        }
        if !r.is_finite() {
            r = 0.0;
        }
        let peak = l.abs().max(r.abs());
        // The envelope follows peaks at once and falls back towards the ceiling, so the
        // gain (ceiling / envelope) is 1 whenever the signal stays below the ceiling.
        self.envelope = CEILING + (self.envelope - CEILING) * self.release;
        if self.envelope < CEILING * 1.002 {
            // Close enough: snap back to unity gain (a 0.02 dB step) rather than creep.
            self.envelope = CEILING;
        }
        if peak > self.envelope {
            self.envelope = peak;
        }
        let gain = CEILING / self.envelope;
        [
            (l * gain).clamp(-CEILING, CEILING),
            (r * gain).clamp(-CEILING, CEILING),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_never_passes_the_ceiling() {
        let mut limiter = Limiter::new(48_000);
        let mut max = 0.0f32;
        for i in 0..48_000 {
            let x = (i as f32 * 0.05).sin() * 8.0 * (i % 977) as f32 / 977.0;
            let [l, r] = limiter.process([x, -x * 0.5]);
            max = max.max(l.abs()).max(r.abs());
        }
        assert!(max <= CEILING);
        assert!(
            max > 0.9,
            "the limiter only turns peaks down to the ceiling"
        );
        // Quiet signals pass untouched once the envelope has recovered.
        for _ in 0..48_000 {
            limiter.process([0.0, 0.0]);
        }
        assert_eq!(limiter.process([0.5, -0.25]), [0.5, -0.25]);
    }

    #[test]
    fn gain_lane_ramps_linearly_and_declicks_jumps() {
        let mut lane = GainLane::new(1.0);
        lane.ramp(0.0, 4, 1);
        let values: Vec<f32> = (0..5).map(|_| lane.next()).collect();
        assert_eq!(values, vec![0.75, 0.5, 0.25, 0.0, 0.0]);
        lane.ramp(1.0, 0, 100);
        assert!(
            (lane.next() - 0.01).abs() < 1e-6,
            "a jump is spread over 100 frames"
        );
    }

    #[test]
    fn reverb_tail_decays() {
        let mut reverb = Reverb::new(48_000);
        let mut input = vec![0.0; 48_000 * 3];
        input[0] = 1.0;
        let (mut l, mut r) = (vec![0.0; input.len()], vec![0.0; input.len()]);
        reverb.process(&input, &mut l, &mut r);
        let energy = |s: &[f32]| s.iter().map(|x| x * x).sum::<f32>();
        let early = energy(&l[..24_000]) + energy(&r[..24_000]);
        let late = energy(&l[120_000..]) + energy(&r[120_000..]);
        assert!(early > 0.0);
        assert!(late < early * 1e-4, "early {early} late {late}");
    }
}
