//! The n-gram baseline as a decoder: the Kneser-Ney model the neural models' bits per token
//! are compared with, writing music through the same constrained decoding (grammar, key,
//! controls), so a listener compares models and not rules.

use leitmotif_model::{ModelError, TokenDecoder, check_ids};
use leitmotif_tokens::ngram::KneserNey;
use leitmotif_tokens::{Corpus, Split, VOCAB_SIZE};

/// The baseline's order (the README's 5-gram).
pub const ORDER: usize = 5;

/// The baseline: an [`ORDER`]-gram model fit on `corpus`'s training split.
pub fn baseline(corpus: &Corpus) -> KneserNey {
    KneserNey::fit(
        ORDER,
        VOCAB_SIZE,
        corpus.split(Split::Train).map(|p| p.ids.as_slice()),
    )
}

/// A [`KneserNey`] model fed one token at a time: its state is the history it conditions on.
#[derive(Debug, Clone)]
pub struct NgramDecoder {
    model: KneserNey,
}

impl NgramDecoder {
    /// Wraps `model`.
    pub fn new(model: KneserNey) -> Self {
        Self { model }
    }

    /// The wrapped model.
    pub fn model(&self) -> &KneserNey {
        &self.model
    }
}

impl TokenDecoder for NgramDecoder {
    /// The last `order - 1` tokens fed (all the model reads).
    type State = Vec<u32>;

    fn new_state(&self) -> Self::State {
        Vec::new()
    }

    fn feed(
        &self,
        state: &mut Self::State,
        tokens: &[u32],
        logits: &mut Vec<f32>,
    ) -> Result<(), ModelError> {
        if tokens.is_empty() {
            return Err(ModelError::Empty);
        }
        check_ids(tokens, self.model.vocab())?;
        state.extend_from_slice(tokens);
        let keep = self.model.order().saturating_sub(1);
        if state.len() > keep {
            state.drain(..state.len() - keep);
        }
        self.model.log_probs(state, logits);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feeding_in_pieces_or_at_once_gives_the_same_logits() {
        let pieces: Vec<Vec<u32>> = vec![vec![1, 5, 6, 7, 5, 6, 8, 2], vec![1, 9, 9, 9, 2]];
        let decoder = NgramDecoder::new(KneserNey::fit(3, 12, pieces.iter().map(Vec::as_slice)));
        let (mut a, mut b) = (decoder.new_state(), decoder.new_state());
        let (mut la, mut lb) = (Vec::new(), Vec::new());
        decoder.feed(&mut a, &[1, 5, 6, 7], &mut la).unwrap();
        decoder.feed(&mut b, &[1, 5], &mut lb).unwrap();
        decoder.feed(&mut b, &[6, 7], &mut lb).unwrap();
        assert_eq!(la, lb);
        assert_eq!(a, vec![6, 7]);
        // After 6 7 the data continues with 5.
        let best = la
            .iter()
            .enumerate()
            .max_by(|x, y| x.1.total_cmp(y.1))
            .unwrap();
        assert_eq!(best.0, 5);
    }

    #[test]
    fn bad_tokens_are_refused() {
        let decoder = NgramDecoder::new(KneserNey::fit(3, 12, [[1u32, 2, 3].as_slice()]));
        let mut state = decoder.new_state();
        let mut logits = Vec::new();
        assert!(matches!(
            decoder.feed(&mut state, &[], &mut logits),
            Err(ModelError::Empty)
        ));
        assert!(matches!(
            decoder.feed(&mut state, &[12], &mut logits),
            Err(ModelError::TokenOutOfRange { token: 12, .. })
        ));
    }
}
