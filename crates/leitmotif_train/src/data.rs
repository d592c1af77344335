//! Batches for training and validation, drawn from a tokenized corpus.

use leitmotif_tokens::{Piece, Token};
use rand::RngExt;
use rand::rngs::StdRng;

/// The id used for padding (ignored by the loss).
pub fn pad_id() -> u32 {
    Token::Pad.id().unwrap_or(0)
}

/// Random training windows from the training pieces laid end to end (each piece keeps its
/// own `Bos` … `Eos`, so a window may cross from one piece into the next, as in most
/// language-model training).
#[derive(Debug, Clone)]
pub struct Batcher {
    stream: Vec<u32>,
}

impl Batcher {
    /// A batcher over `pieces`.
    pub fn new<'a>(pieces: impl IntoIterator<Item = &'a Piece>) -> Self {
        Self {
            stream: pieces
                .into_iter()
                .flat_map(|p| p.ids.iter().copied())
                .collect(),
        }
    }

    /// Tokens in the stream.
    pub fn tokens(&self) -> usize {
        self.stream.len()
    }

    /// `batch` windows of `len` tokens at random offsets (shorter streams are padded).
    pub fn sample(&self, batch: usize, len: usize, rng: &mut StdRng) -> Vec<Vec<u32>> {
        (0..batch)
            .map(|_| {
                if self.stream.len() <= len {
                    let mut row = self.stream.clone();
                    row.resize(len, pad_id());
                    row
                } else {
                    let start = rng.random_range(0..=self.stream.len() - len);
                    self.stream[start..start + len].to_vec()
                }
            })
            .collect()
    }
}

/// Every validation piece cut into consecutive windows of `len` tokens that overlap by one
/// (so every token after a piece's first is predicted exactly once); the last window of a
/// piece is padded.
pub fn validation_windows<'a>(
    pieces: impl IntoIterator<Item = &'a Piece>,
    len: usize,
) -> Vec<Vec<u32>> {
    let len = len.max(2);
    let mut windows = Vec::new();
    for piece in pieces {
        let mut start = 0;
        while start + 1 < piece.ids.len() {
            let end = (start + len).min(piece.ids.len());
            let mut row = piece.ids[start..end].to_vec();
            row.resize(len, pad_id());
            windows.push(row);
            start = end - 1;
        }
    }
    windows
}

#[cfg(test)]
mod tests {
    use super::*;
    use leitmotif_tokens::{Split, Style};
    use rand::SeedableRng;

    fn piece(ids: Vec<u32>) -> Piece {
        Piece {
            path: "x.mid".into(),
            style: Style::Other,
            split: Split::Validation,
            ids,
        }
    }

    #[test]
    fn validation_windows_predict_every_token_once() {
        let pieces = [piece((1..=10).collect()), piece(vec![1, 2])];
        let windows = validation_windows(pieces.iter(), 4);
        // Targets are every window's tokens after its first.
        let targets: Vec<u32> = windows
            .iter()
            .flat_map(|w| w[1..].iter().copied().filter(|&t| t != pad_id()))
            .collect();
        assert_eq!(targets, vec![2, 3, 4, 5, 6, 7, 8, 9, 10, 2]);
        assert!(windows.iter().all(|w| w.len() == 4));
    }

    #[test]
    fn batches_are_windows_of_the_stream_and_repeat_with_the_seed() {
        let pieces = [piece((0..100).collect())];
        let batcher = Batcher::new(pieces.iter());
        let a = batcher.sample(3, 8, &mut StdRng::seed_from_u64(5));
        let b = batcher.sample(3, 8, &mut StdRng::seed_from_u64(5));
        assert_eq!(a, b);
        for row in &a {
            assert_eq!(row.len(), 8);
            assert!(row.windows(2).all(|w| w[1] == w[0] + 1), "{row:?}");
        }
    }
}
