//! The token grammar as a state machine: which tokens may come next, so that decoding can
//! mask the model's choices and every finished sequence decodes to a valid score.
//!
//! ```text
//! piece  := Bos Style Tempo bar* Eos
//! bar    := Bar Key Meter Density Register Intensity layer*      (layers in Layer order)
//! layer  := Layer note+
//! note   := [Position] [Velocity] Pitch Duration
//! ```
//!
//! The first note of a layer in a bar carries both a position and a velocity. A note with
//! no position starts with the previous one (a chord) and must be higher than it; positions
//! rise strictly within a layer and stay inside the bar; a pitched note plus the key's
//! tonic stays within MIDI's 0..=127.

use leitmotif_score::theory::Key;

use crate::encode::bar_units;
use crate::error::GrammarError;
use crate::vocab::{Layer, Token, TokenKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Start,
    Style,
    Tempo,
    Bar,
    Key,
    Meter,
    Density,
    Register,
    Intensity,
    /// After the controls or a finished note: a layer, a bar, the end, or (inside a layer)
    /// another note.
    Body,
    /// After a position: velocity, or pitch if the layer has one.
    Positioned,
    /// After a velocity: pitch.
    Voiced,
    /// After a pitch: duration.
    Pitched,
    Done,
}

/// The grammar's state after some prefix of a piece.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grammar {
    phase: Phase,
    tonic: u8,
    bar_units: u8,
    layer: Option<Layer>,
    onset: Option<u8>,
    last_pitch: Option<u8>,
    velocity: Option<u8>,
    /// Whether the note being written got a new position.
    repositioned: bool,
}

impl Default for Grammar {
    fn default() -> Self {
        Self::new()
    }
}

impl Grammar {
    /// The state before `Bos`.
    pub fn new() -> Self {
        Self {
            phase: Phase::Start,
            tonic: 0,
            bar_units: 0,
            layer: None,
            onset: None,
            last_pitch: None,
            velocity: None,
            repositioned: false,
        }
    }

    /// Whether the piece is complete (`Eos` seen).
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// Whether `Bar` or `Eos` may come next.
    pub fn at_bar_boundary(&self) -> bool {
        self.expected().contains(&TokenKind::Bar)
    }

    /// The layer being written, if any.
    pub fn layer(&self) -> Option<Layer> {
        self.layer
    }

    /// The onset (grid units into the bar) of the note being written, if any.
    pub fn onset(&self) -> Option<u8> {
        self.onset
    }

    /// The tonic pitch class of the current bar's key.
    pub fn tonic(&self) -> u8 {
        self.tonic
    }

    /// Grid units in the current bar.
    pub fn bar_units(&self) -> u8 {
        self.bar_units
    }

    /// The last pitch token written at the current onset, if any.
    pub fn last_pitch(&self) -> Option<u8> {
        self.last_pitch
    }

    /// Whether the next pitch would join the current onset's chord (no new position was
    /// given since the last pitch), so it must be above [`last_pitch`](Self::last_pitch).
    pub fn joins_chord(&self) -> bool {
        !self.repositioned && self.last_pitch.is_some()
    }

    /// The kinds that may come next.
    pub fn expected(&self) -> &'static [TokenKind] {
        use TokenKind as K;
        match self.phase {
            Phase::Start => &[K::Bos],
            Phase::Style => &[K::Style],
            Phase::Tempo => &[K::Tempo],
            Phase::Bar => &[K::Bar, K::Eos],
            Phase::Key => &[K::Key],
            Phase::Meter => &[K::Meter],
            Phase::Density => &[K::Density],
            Phase::Register => &[K::Register],
            Phase::Intensity => &[K::Intensity],
            Phase::Body if self.layer.is_none() => &[K::Layer, K::Bar, K::Eos],
            Phase::Body if self.velocity.is_none() => &[K::Position],
            Phase::Body => &[K::Position, K::Velocity, K::Pitch, K::Layer, K::Bar, K::Eos],
            Phase::Positioned if self.velocity.is_none() => &[K::Velocity],
            Phase::Positioned => &[K::Velocity, K::Pitch],
            Phase::Voiced => &[K::Pitch],
            Phase::Pitched => &[K::Duration],
            Phase::Done => &[],
        }
    }

    /// Whether `token` may come next.
    pub fn accepts(&self, token: Token) -> bool {
        self.check(token).is_ok()
    }

    fn check(&self, token: Token) -> Result<(), String> {
        if !self.expected().contains(&token.kind()) {
            return Err(format!("expected one of {:?}", self.expected()));
        }
        match token {
            Token::Meter(m) if bar_units(m).is_none() => Err(format!("no meter {m}")),
            Token::Key { sharps, .. } if !(-7..=7).contains(&sharps) => {
                Err(format!("{sharps} sharps"))
            }
            Token::Layer(l) if self.layer.is_some_and(|current| l <= current) => {
                Err(format!("layer {l:?} must come after {:?}", self.layer))
            }
            Token::Position(p) if p >= self.bar_units => Err(format!(
                "position {p} past the bar's {} units",
                self.bar_units
            )),
            Token::Position(p) if self.onset.is_some_and(|o| p <= o) => {
                Err(format!("position {p} not after {:?}", self.onset))
            }
            Token::Velocity(_) if self.phase == Phase::Body && !self.chord_room() => {
                Err("no pitch is left above the chord for a new velocity".to_owned())
            }
            Token::Pitch(p) => {
                let pitched = self.layer.is_some_and(Layer::is_pitched);
                let absolute = u16::from(p) + if pitched { u16::from(self.tonic) } else { 0 };
                if absolute > 127 {
                    return Err(format!("pitch {p} above the tonic is past MIDI's range"));
                }
                if !self.repositioned && self.last_pitch.is_some_and(|last| p <= last) {
                    return Err(format!("a chord note must be above {:?}", self.last_pitch));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Whether a note can still be added above the current chord (same onset).
    fn chord_room(&self) -> bool {
        let tonic = if self.layer.is_some_and(Layer::is_pitched) {
            u16::from(self.tonic)
        } else {
            0
        };
        self.last_pitch
            .is_none_or(|last| u16::from(last) + 1 + tonic <= 127)
    }

    /// Moves past `token`.
    ///
    /// # Errors
    /// [`GrammarError`] naming the token and what was expected; the state is unchanged.
    pub fn advance(&mut self, token: Token) -> Result<(), GrammarError> {
        self.check(token).map_err(|reason| GrammarError {
            token: token.label(),
            reason,
        })?;
        self.phase = match token {
            Token::Bos => Phase::Style,
            Token::Style(_) => Phase::Tempo,
            Token::Tempo(_) => Phase::Bar,
            Token::Bar => {
                self.layer = None;
                self.onset = None;
                self.last_pitch = None;
                self.velocity = None;
                Phase::Key
            }
            Token::Key { sharps, minor } => {
                self.tonic = Key::from_key_signature(sharps, minor).map_or(0, |k| k.tonic.index());
                Phase::Meter
            }
            Token::Meter(m) => {
                self.bar_units = bar_units(m).unwrap_or(0);
                Phase::Density
            }
            Token::Density(_) => Phase::Register,
            Token::Register(_) => Phase::Intensity,
            Token::Intensity(_) => Phase::Body,
            Token::Layer(l) => {
                self.layer = Some(l);
                self.onset = None;
                self.last_pitch = None;
                self.velocity = None;
                Phase::Body
            }
            Token::Position(p) => {
                self.onset = Some(p);
                self.repositioned = true;
                Phase::Positioned
            }
            Token::Velocity(v) => {
                self.velocity = Some(v);
                Phase::Voiced
            }
            Token::Pitch(p) => {
                if self.repositioned {
                    self.last_pitch = None;
                }
                self.last_pitch = Some(p);
                self.repositioned = false;
                Phase::Pitched
            }
            Token::Duration(_) => Phase::Body,
            Token::Eos => Phase::Done,
            Token::Pad => Phase::Done,
        };
        Ok(())
    }
}
