//! Tokens to scores.

use leitmotif_score::{KeySignatureChange, Note, Score, TempoChange, TimeSignatureChange, Track};

use crate::controls::BarControls;
use crate::encode::unit_ticks;
use crate::error::DecodeError;
use crate::grammar::Grammar;
use crate::vocab::{DURATIONS, Layer, METERS, Style, TEMPOS, Token, velocity_of_level};

/// A decoded piece.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The music.
    pub score: Score,
    /// The style token.
    pub style: Option<Style>,
    /// The controls stated before each bar.
    pub controls: Vec<BarControls>,
}

/// Decodes a whole piece (`Bos` … `Eos`).
///
/// # Errors
/// [`DecodeError`] for an id past the vocabulary, a token the grammar does not allow where
/// it stands, or a sequence with no `Eos`.
pub fn decode(ids: &[u32]) -> Result<Decoded, DecodeError> {
    let tokens = to_tokens(ids)?;
    decode_tokens(&tokens, false)
}

/// Decodes a piece that may stop early: everything up to the last complete note is kept
/// and the score ends at the end of the last bar started.
///
/// # Errors
/// As [`decode`], except that a missing `Eos` is fine.
pub fn decode_prefix(ids: &[u32]) -> Result<Decoded, DecodeError> {
    let tokens = to_tokens(ids)?;
    decode_tokens(&tokens, true)
}

fn to_tokens(ids: &[u32]) -> Result<Vec<Token>, DecodeError> {
    ids.iter()
        .enumerate()
        .map(|(index, &id)| Token::from_id(id).ok_or(DecodeError::UnknownId { index, id }))
        .collect()
}

/// Decodes tokens (see [`decode`] and [`decode_prefix`]).
///
/// # Errors
/// As [`decode`]; with `allow_unfinished`, a missing `Eos` is fine.
pub fn decode_tokens(tokens: &[Token], allow_unfinished: bool) -> Result<Decoded, DecodeError> {
    let unit = unit_ticks();
    let mut grammar = Grammar::new();
    let mut score = Score::default();
    let mut style = None;
    let mut controls: Vec<BarControls> = Vec::new();
    let mut notes: Vec<Vec<Note>> = vec![Vec::new(); Layer::ALL.len()];
    let mut used = [false; Layer::ALL.len()];
    let (mut bar_start, mut bar_len) = (0u64, 0u64);
    let mut started = false;
    let (mut layer, mut onset, mut level, mut pitch) = (Layer::Melody, 0u64, 0u8, 0u8);
    for (index, &token) in tokens.iter().enumerate() {
        grammar
            .advance(token)
            .map_err(|source| DecodeError::Grammar { index, source })?;
        match token {
            Token::Style(s) => style = Some(s),
            Token::Tempo(t) => {
                let bpm = f64::from(TEMPOS[usize::from(t)]);
                let change = TempoChange::from_bpm(0, bpm).map_err(|_| DecodeError::Unfinished)?;
                score.tempos.push(change);
            }
            Token::Bar => {
                if started {
                    bar_start += bar_len;
                }
                started = true;
                controls.push(BarControls::default());
            }
            Token::Key { sharps, minor } => {
                if score
                    .key_signatures
                    .last()
                    .is_none_or(|k| (k.sharps, k.minor) != (sharps, minor))
                {
                    score.key_signatures.push(KeySignatureChange {
                        tick: bar_start,
                        sharps,
                        minor,
                    });
                }
                if let Some(c) = controls.last_mut() {
                    (c.sharps, c.minor) = (sharps, minor);
                }
            }
            Token::Meter(m) => {
                let (numerator, denominator) = METERS[usize::from(m)];
                let same = score
                    .time_signatures
                    .last()
                    .is_some_and(|t| (t.numerator, t.denominator) == (numerator, denominator));
                if !same {
                    score.time_signatures.push(TimeSignatureChange {
                        tick: bar_start,
                        numerator,
                        denominator,
                    });
                }
                bar_len = u64::from(grammar.bar_units()) * unit;
                if let Some(c) = controls.last_mut() {
                    c.meter = m;
                }
            }
            Token::Density(v) => set(&mut controls, |c| c.density = v),
            Token::Register(v) => set(&mut controls, |c| c.register = v),
            Token::Intensity(v) => set(&mut controls, |c| c.intensity = v),
            Token::Layer(l) => {
                layer = l;
                used[l.index()] = true;
            }
            Token::Position(p) => onset = bar_start + u64::from(p) * unit,
            Token::Velocity(v) => level = v,
            Token::Pitch(p) => {
                pitch = if layer.is_pitched() {
                    p + grammar.tonic()
                } else {
                    p
                };
            }
            Token::Duration(d) => notes[layer.index()].push(Note {
                start: onset,
                duration: u64::from(DURATIONS[usize::from(d)]) * unit,
                pitch,
                velocity: velocity_of_level(level),
            }),
            Token::Pad | Token::Bos | Token::Eos => {}
        }
    }
    if !grammar.is_done() && !allow_unfinished {
        return Err(DecodeError::Unfinished);
    }
    score.end_tick = if started { bar_start + bar_len } else { 0 };
    for l in Layer::ALL {
        if !used[l.index()] {
            continue;
        }
        let (name, program, channel) = l.track_defaults();
        let mut track = Track::new(name, l.role(), program, channel);
        track.notes = std::mem::take(&mut notes[l.index()]);
        score.tracks.push(track);
    }
    score.normalize();
    Ok(Decoded {
        score,
        style,
        controls,
    })
}

fn set(controls: &mut [BarControls], f: impl FnOnce(&mut BarControls)) {
    if let Some(c) = controls.last_mut() {
        f(c);
    }
}
