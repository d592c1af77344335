//! A fast, deterministic stand-in for the composer, shaped like the real one (the primer
//! kept, then the bars asked for from its next bar line), whose music is easy to hear in a
//! test: each layer holds one note a bar, its pitch set by the mood's mode, and the drums
//! play one hit a beat.

use std::collections::BTreeMap;
use std::time::Duration;

use leitmotif_request::{Composition, LayerReport, Request, Source, Task};
use leitmotif_score::theory::{Mode, PitchClass, Scale};
use leitmotif_score::time::{BarMap, Meter};
use leitmotif_score::{KeySignatureChange, Note, Score, TempoChange, TimeSignatureChange, Track};
use leitmotif_tokens::Layer;

/// The melody's pitch for a mood's mode: A4 (440 Hz) in major, D#5 (622 Hz) in dorian, C5
/// (523 Hz) in natural minor, G4 (392 Hz) otherwise.
pub fn melody_pitch(mode: Mode) -> u8 {
    match mode {
        Mode::Major => 69,
        Mode::Dorian => 75,
        Mode::NaturalMinor => 72,
        _ => 67,
    }
}

/// Composes `request` at once (see the module's docs).
pub fn fake_compose(request: &Request) -> Composition {
    let bpm = request.tempo_bpm.unwrap_or(120.0);
    let (numerator, denominator) = request.meter.unwrap_or((4, 4));
    let meter = Meter {
        numerator,
        denominator,
    };
    let key = request
        .key
        .unwrap_or(Scale::new(PitchClass::C, request.mode));
    let (mut score, start, primer_bars) = match &request.task {
        Task::Continue { primer } => {
            let bars = BarMap::new(primer);
            let start = match primer.end_tick {
                0 => 0,
                end => bars.bar_at(end - 1).end(),
            };
            let count = bars.bars().iter().filter(|b| b.start < start).count();
            (primer.clone(), start, count)
        }
        _ => (Score::new(480), 0, 0),
    };
    score.tempos.retain(|t| t.tick < start);
    score.tempos.extend(TempoChange::from_bpm(start, bpm).ok());
    score.time_signatures.retain(|t| t.tick < start);
    score.time_signatures.push(TimeSignatureChange {
        tick: start,
        numerator,
        denominator,
    });
    score.key_signatures.retain(|k| k.tick < start);
    score.key_signatures.push(KeySignatureChange {
        tick: start,
        sharps: 0,
        minor: key.mode.is_minor(),
    });
    let beat = meter.ticks_per_beat(480);
    let bar = meter.ticks_per_bar(480);
    let beats = u64::from(numerator) * u64::from(request.bars);
    let end = start + u64::from(request.bars) * bar;
    let mut reports = Vec::new();
    for &layer in &request.layers {
        let role = layer.role();
        let track = match score.tracks.iter().position(|t| t.role == role) {
            Some(i) => i,
            None => {
                let (name, program, channel) = layer.track_defaults();
                score.tracks.push(Track::new(name, role, program, channel));
                score.tracks.len() - 1
            }
        };
        let notes = &mut score.tracks[track].notes;
        if layer == Layer::Drums {
            for k in 0..beats {
                notes.push(Note {
                    start: start + k * beat,
                    duration: beat / 2,
                    pitch: [36, 38, 42][(k % 3) as usize],
                    velocity: 90,
                });
            }
        } else {
            let pitch = match layer {
                Layer::Bass => 45,
                Layer::Chords => 57,
                _ => melody_pitch(request.mode),
            };
            for b in 0..u64::from(request.bars) {
                notes.push(Note {
                    start: start + b * bar,
                    duration: bar,
                    pitch,
                    velocity: 96,
                });
            }
        }
        reports.push(LayerReport {
            layer,
            source: Source::Arranger,
            track,
            notes: score.tracks[track].notes.len(),
            range: 0..=127,
            monophonic: true,
        });
    }
    score.end_tick = end;
    score.normalize();
    let first = u32::try_from(primer_bars).unwrap_or(0) + 1;
    Composition {
        score,
        key,
        tempo_bpm: bpm,
        meter,
        bars: first..=first + request.bars - 1,
        total_bars: first + request.bars - 1,
        span: (start, end),
        layers: reports,
        key_lock: request.key_lock,
        allowed: Vec::new(),
        looped: false,
        seed: request.seed,
        model: "fake".to_owned(),
        backend: "none".to_owned(),
        join_bits: None,
        candidate_bits: Vec::new(),
        tokens: 0,
        elapsed: Duration::ZERO,
        controls: BTreeMap::new(),
    }
}
