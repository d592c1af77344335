//! Scores to tokens: quantization to the vocabulary's grid, then encoding.

use leitmotif_score::time::BarMap;
use leitmotif_score::{
    DEFAULT_PPQ, KeySignatureChange, Note, Role, Score, TempoChange, TimeSignatureChange, Track,
};

use crate::controls::{bar_controls, estimated_key, key_at};
use crate::error::TokenizeError;
use crate::vocab::{
    DURATIONS, Layer, METERS, Style, TEMPOS, Token, UNITS_PER_QUARTER, duration_index,
    level_of_velocity, meter_index, tempo_bucket, velocity_of_level,
};

/// Ticks per grid unit at [`DEFAULT_PPQ`].
const UNIT: u64 = DEFAULT_PPQ as u64 / UNITS_PER_QUARTER;

/// Which layer each track of `score` plays, by role and order (see [`quantize`]).
///
/// Melody, bass and chords tracks take their layer; a second track of a taken role, and
/// every `Other` track, becomes an inner voice (numbered in track order, the third and
/// later sharing `Inner3`); all drum tracks share the drum layer. When no track takes the
/// melody, the first inner voice becomes it. Empty tracks get a layer but take none from
/// the others (quantization drops them). Applied to a quantized score, this gives every
/// track its own layer back.
pub fn assign_layers(score: &Score) -> Vec<Layer> {
    let mut taken = [false; Layer::ALL.len()];
    let mut main: Vec<Option<Layer>> = score
        .tracks
        .iter()
        .map(|track| {
            let wanted = match track.role {
                Role::Melody => Layer::Melody,
                Role::Bass => Layer::Bass,
                Role::Chords => Layer::Chords,
                Role::Drums => return Some(Layer::Drums),
                Role::Other => return track.notes.is_empty().then_some(Layer::Inner1),
            };
            if track.notes.is_empty() {
                Some(wanted)
            } else if taken[wanted.index()] {
                None
            } else {
                taken[wanted.index()] = true;
                Some(wanted)
            }
        })
        .collect();
    if !taken[Layer::Melody.index()]
        && let Some(first_inner) = main.iter_mut().find(|l| l.is_none())
    {
        *first_inner = Some(Layer::Melody);
    }
    let inner = [Layer::Inner1, Layer::Inner2, Layer::Inner3];
    let mut next = 0;
    main.iter_mut()
        .map(|layer| {
            layer.unwrap_or_else(|| {
                next += 1;
                inner[(next - 1).min(inner.len() - 1)]
            })
        })
        .collect()
}

/// The canonical form of `score` that the vocabulary represents exactly.
///
/// - resolution 480; one tempo, the nearest bucket of the first tempo (120 bpm if none);
/// - one track per layer in layer order with the layer's name, program and channel; tracks
///   are assigned to layers by role (the first `Other` track becomes the melody when there is
///   none; further tracks of a taken role become inner voices); empty tracks are dropped;
/// - onsets on the grid of a twelfth of a quarter, durations from [`DURATIONS`], velocities
///   on 32 levels; duplicate notes (same layer, onset and pitch) merged;
/// - a key signature at every bar where the key changes (the estimated key when none is
///   stated), a time signature wherever the meter changes, the end at a bar line;
/// - name and markers dropped.
///
/// # Errors
/// [`TokenizeError`] for meters outside [`METERS`] or bars cut short by a meter change.
pub fn quantize(score: &Score) -> Result<Score, TokenizeError> {
    let source = if score.ppq == DEFAULT_PPQ {
        score.clone()
    } else {
        score.rescaled(DEFAULT_PPQ)
    };
    let layers = assign_layers(&source);
    let fallback = estimated_key(&source);

    // Notes on the grid, gathered per layer.
    let mut per_layer: Vec<Vec<Note>> = vec![Vec::new(); Layer::ALL.len()];
    for (track, layer) in source.tracks.iter().zip(&layers) {
        for note in &track.notes {
            let start = (note.start + UNIT / 2) / UNIT * UNIT;
            let units = ((note.duration + UNIT / 2) / UNIT).max(1);
            let duration = u64::from(DURATIONS[usize::from(duration_index(units))]) * UNIT;
            per_layer[layer.index()].push(Note {
                start,
                duration,
                pitch: note.pitch,
                velocity: velocity_of_level(level_of_velocity(note.velocity)),
            });
        }
    }
    let last_end = per_layer.iter().flatten().map(Note::end).max().unwrap_or(0);
    let end = source.end_tick.max(last_end);
    let bar_map = BarMap::from_meters(DEFAULT_PPQ, &source.time_signatures, end.max(1));
    for bar in bar_map.bars() {
        let full = bar.meter.ticks_per_bar(DEFAULT_PPQ);
        let known = meter_index(bar.meter.numerator, bar.meter.denominator).is_some();
        if !known {
            return Err(TokenizeError::UnsupportedMeter {
                bar: bar.index,
                meter: bar.meter.to_string(),
            });
        }
        if bar.len != full && bar.end() < end {
            return Err(TokenizeError::IrregularBar {
                bar: bar.index,
                len: bar.len,
                expected: full,
            });
        }
    }
    let bars = bar_map.bars();
    let last_bar = bars[bar_map.bar_at(end.saturating_sub(1)).index];

    let mut out = Score::new(DEFAULT_PPQ);
    let bpm = source.tempos.first().map_or(120.0, TempoChange::bpm);
    let bucketed = f64::from(TEMPOS[usize::from(tempo_bucket(bpm))]);
    out.tempos.push(TempoChange::from_bpm(0, bucketed)?);
    let mut previous_meter = None;
    let mut previous_key = None;
    for bar in &bars[..=last_bar.index] {
        if previous_meter != Some(bar.meter) {
            out.time_signatures.push(TimeSignatureChange {
                tick: bar.start,
                numerator: bar.meter.numerator,
                denominator: bar.meter.denominator,
            });
            previous_meter = Some(bar.meter);
        }
        let key = key_at(&source, bar.start, fallback);
        if previous_key != Some(key) {
            out.key_signatures.push(KeySignatureChange {
                tick: bar.start,
                sharps: key.0,
                minor: key.1,
            });
            previous_key = Some(key);
        }
    }
    out.end_tick = last_bar.start + last_bar.meter.ticks_per_bar(DEFAULT_PPQ);
    for layer in Layer::ALL {
        let mut notes = std::mem::take(&mut per_layer[layer.index()]);
        if notes.is_empty() {
            continue;
        }
        // Same onset and pitch twice in a layer: keep the longest, loudest one.
        notes.sort_by_key(|n| {
            (
                n.start,
                n.pitch,
                std::cmp::Reverse((n.duration, n.velocity)),
            )
        });
        notes.dedup_by_key(|n| (n.start, n.pitch));
        let (name, program, channel) = layer.track_defaults();
        let mut track = Track::new(name, layer.role(), program, channel);
        track.notes = notes;
        track.sort_notes();
        out.tracks.push(track);
    }
    out.end_tick = out.end_tick.max(out.last_note_end());
    // Notes below their bar's tonic cannot be written key-relative: move them up an octave.
    let keys = out.key_signatures.clone();
    for track in out.tracks.iter_mut().filter(|t| t.role != Role::Drums) {
        for note in &mut track.notes {
            let tonic = tonic_at(&keys, &bar_map, note.start);
            while note.pitch < tonic {
                note.pitch += 12;
            }
        }
        track.sort_notes();
    }
    out.validate()?;
    Ok(out)
}

/// The tonic pitch class of the key in force at the bar containing `tick`.
fn tonic_at(keys: &[KeySignatureChange], bar_map: &BarMap, tick: u64) -> u8 {
    let bar_start = bar_map.bar_at(tick).start;
    keys.iter()
        .rev()
        .find(|k| k.tick <= bar_start)
        .and_then(|k| leitmotif_score::theory::Key::from_key_signature(k.sharps, k.minor).ok())
        .map_or(0, |key| key.tonic.index())
}

/// Encodes `score` (quantized first, see [`quantize`]) as a whole piece: `Bos`, style,
/// tempo, every bar with its controls and layers, `Eos`.
///
/// # Errors
/// As [`quantize`].
pub fn encode(score: &Score, style: Style) -> Result<Vec<Token>, TokenizeError> {
    let q = quantize(score)?;
    let layers: Vec<Layer> = assign_layers(&q);
    let controls = bar_controls(&q, &layers);
    let bar_map = BarMap::new(&q);
    let mut tokens = vec![
        Token::Bos,
        Token::Style(style),
        Token::Tempo(tempo_bucket(
            q.tempos.first().map_or(120.0, TempoChange::bpm),
        )),
    ];
    let mut cursors = vec![0usize; q.tracks.len()];
    for (bar, c) in bar_map.bars().iter().zip(&controls) {
        tokens.extend(c.tokens());
        let tonic = c.key().map_or(0, |k| k.tonic.index());
        for (t, (track, layer)) in q.tracks.iter().zip(&layers).enumerate() {
            let start = cursors[t];
            let count = track.notes[start..]
                .iter()
                .take_while(|n| n.start < bar.end())
                .count();
            cursors[t] += count;
            let notes = &track.notes[start..start + count];
            if notes.is_empty() {
                continue;
            }
            tokens.push(Token::Layer(*layer));
            let (mut onset, mut level) = (None, None);
            for note in notes {
                let position = u8::try_from((note.start - bar.start) / UNIT)
                    .map_err(|_| TokenizeError::Internal("position past the bar"))?;
                if onset != Some(position) {
                    tokens.push(Token::Position(position));
                    onset = Some(position);
                }
                let velocity = level_of_velocity(note.velocity);
                if level != Some(velocity) {
                    tokens.push(Token::Velocity(velocity));
                    level = Some(velocity);
                }
                let pitch = if layer.is_pitched() {
                    note.pitch - tonic
                } else {
                    note.pitch
                };
                tokens.push(Token::Pitch(pitch));
                tokens.push(Token::Duration(duration_index(note.duration / UNIT)));
            }
        }
    }
    tokens.push(Token::Eos);
    Ok(tokens)
}

/// Encodes to ids (see [`encode`]).
///
/// # Errors
/// As [`quantize`].
pub fn encode_ids(score: &Score, style: Style) -> Result<Vec<u32>, TokenizeError> {
    encode(score, style)?
        .into_iter()
        .map(|t| t.id().ok_or(TokenizeError::Internal("token out of range")))
        .collect()
}

/// Ticks per grid unit at the default resolution.
pub const fn unit_ticks() -> u64 {
    UNIT
}

/// Number of grid units in one bar of meter `index` (see [`METERS`]).
pub fn bar_units(index: u8) -> Option<u8> {
    let (num, den) = *METERS.get(usize::from(index))?;
    let units = u64::from(num) * UNITS_PER_QUARTER * 4 / u64::from(den);
    u8::try_from(units).ok()
}
