//! The n-gram baseline: an interpolated Kneser-Ney language model over token ids, fit on
//! the training split, against which the neural models' bits per token are compared.
//!
//! Interpolated Kneser-Ney (Chen & Goodman 1998) with one absolute discount per order:
//! the highest order uses raw counts, lower orders use continuation counts (how many
//! different tokens precede an n-gram), and the bottom interpolates with a uniform
//! distribution over the vocabulary so no token has probability zero. Histories are
//! padded with `Pad` at the start of every piece.

use std::collections::HashMap;

use crate::fnv::Fnv1a;
use crate::vocab::Token;

/// Counts for one history: the sum of the counts of what follows it, and how many
/// different tokens follow it.
#[derive(Debug, Clone, Copy, Default)]
struct History {
    total: u32,
    types: u32,
}

/// An interpolated Kneser-Ney n-gram model.
#[derive(Debug, Clone)]
pub struct KneserNey {
    order: usize,
    vocab: usize,
    /// Per n-gram length k (index k-1): counts of k-grams (raw for the highest order,
    /// continuation counts below), keyed by a hash of the k ids.
    grams: Vec<HashMap<u64, u32>>,
    /// Per n-gram length k: the histories (k-1 ids) with their totals.
    histories: Vec<HashMap<u64, History>>,
    /// Discount per order.
    discounts: Vec<f64>,
}

fn hash(ids: &[u32]) -> u64 {
    let mut h = Fnv1a::default();
    h.write_u64(ids.len() as u64);
    for &id in ids {
        h.write(&id.to_le_bytes());
    }
    h.finish()
}

impl KneserNey {
    /// Fits an `order`-gram model on `pieces` (each a whole token sequence) over a
    /// vocabulary of `vocab` ids.
    pub fn fit<'a>(
        order: usize,
        vocab: usize,
        pieces: impl IntoIterator<Item = &'a [u32]>,
    ) -> Self {
        let order = order.max(1);
        let pad = Token::Pad.id().unwrap_or(0);
        // Raw counts of the highest order.
        let mut top: HashMap<Vec<u32>, u32> = HashMap::new();
        for piece in pieces {
            let mut padded = vec![pad; order - 1];
            padded.extend_from_slice(piece);
            for window in padded.windows(order) {
                *top.entry(window.to_vec()).or_default() += 1;
            }
        }
        // Continuation counts, from the highest order down: a (k)-gram's count is the
        // number of distinct (k+1)-grams that end with it.
        let mut levels: Vec<HashMap<Vec<u32>, u32>> = vec![HashMap::new(); order];
        levels[order - 1] = top;
        for k in (1..order).rev() {
            let mut lower: HashMap<Vec<u32>, u32> = HashMap::new();
            for gram in levels[k].keys() {
                *lower.entry(gram[1..].to_vec()).or_default() += 1;
            }
            levels[k - 1] = lower;
        }
        let mut grams = Vec::with_capacity(order);
        let mut histories = Vec::with_capacity(order);
        let mut discounts = Vec::with_capacity(order);
        for level in &levels {
            let (mut n1, mut n2) = (0f64, 0f64);
            let mut h: HashMap<u64, History> = HashMap::new();
            let mut g: HashMap<u64, u32> = HashMap::with_capacity(level.len());
            for (gram, &count) in level {
                match count {
                    1 => n1 += 1.0,
                    2 => n2 += 1.0,
                    _ => {}
                }
                g.insert(hash(gram), count);
                let entry = h.entry(hash(&gram[..gram.len() - 1])).or_default();
                entry.total += count;
                entry.types += 1;
            }
            // Ney's estimate D = n1 / (n1 + 2 n2), kept inside (0, 1).
            let d = if n1 + n2 > 0.0 {
                n1 / (n1 + 2.0 * n2)
            } else {
                0.75
            };
            discounts.push(d.clamp(0.05, 0.95));
            grams.push(g);
            histories.push(h);
        }
        Self {
            order,
            vocab,
            grams,
            histories,
            discounts,
        }
    }

    /// The model's order.
    pub fn order(&self) -> usize {
        self.order
    }

    /// The probability of `next` after `history` (only the last `order - 1` ids are used;
    /// a shorter history is padded as at the start of a piece).
    pub fn prob(&self, history: &[u32], next: u32) -> f64 {
        let pad = Token::Pad.id().unwrap_or(0);
        let keep = history.len().min(self.order - 1);
        let mut context = vec![pad; self.order - 1 - keep];
        context.extend_from_slice(&history[history.len() - keep..]);
        let mut p = 1.0 / self.vocab.max(1) as f64;
        // From unigrams up: each order interpolates its discounted estimate with the one below.
        for k in 1..=self.order {
            let h = &context[context.len() - (k - 1)..];
            let Some(stats) = self.histories[k - 1].get(&hash(h)) else {
                continue;
            };
            let mut gram = h.to_vec();
            gram.push(next);
            let count = f64::from(self.grams[k - 1].get(&hash(&gram)).copied().unwrap_or(0));
            let d = self.discounts[k - 1];
            let total = f64::from(stats.total);
            p = (count - d).max(0.0) / total + d * f64::from(stats.types) / total * p;
        }
        p
    }

    /// The number of token ids it predicts over.
    pub fn vocab(&self) -> usize {
        self.vocab
    }

    /// The natural log of the probability of every id `0..vocab` after `history` (as
    /// [`prob`](Self::prob) gives each one, in one pass), written into `out`.
    pub fn log_probs(&self, history: &[u32], out: &mut Vec<f32>) {
        let pad = Token::Pad.id().unwrap_or(0);
        let keep = history.len().min(self.order - 1);
        let mut context = vec![pad; self.order - 1 - keep];
        context.extend_from_slice(&history[history.len() - keep..]);
        let mut p = vec![1.0 / self.vocab.max(1) as f64; self.vocab];
        let mut gram = Vec::with_capacity(self.order);
        for k in 1..=self.order {
            let h = &context[context.len() - (k - 1)..];
            let Some(stats) = self.histories[k - 1].get(&hash(h)) else {
                continue;
            };
            let d = self.discounts[k - 1];
            let total = f64::from(stats.total);
            let lower = d * f64::from(stats.types) / total;
            gram.clear();
            gram.extend_from_slice(h);
            gram.push(0);
            for (next, p) in p.iter_mut().enumerate() {
                gram[k - 1] = next as u32;
                let count = f64::from(self.grams[k - 1].get(&hash(&gram)).copied().unwrap_or(0));
                *p = (count - d).max(0.0) / total + lower * *p;
            }
        }
        out.clear();
        out.extend(p.iter().map(|p| p.ln() as f32));
    }

    /// Bits per token of `pieces`: every token after the first of each piece, given all
    /// the tokens before it in that piece.
    pub fn bits_per_token<'a>(&self, pieces: impl IntoIterator<Item = &'a [u32]>) -> (f64, usize) {
        let (mut bits, mut count) = (0.0, 0usize);
        for piece in pieces {
            for i in 1..piece.len() {
                bits -= self.prob(&piece[..i], piece[i]).log2();
                count += 1;
            }
        }
        (if count > 0 { bits / count as f64 } else { 0.0 }, count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_sum_to_one() {
        let pieces: Vec<Vec<u32>> = vec![
            vec![1, 5, 6, 7, 5, 6, 8, 2],
            vec![1, 5, 6, 7, 9, 2],
            vec![1, 9, 9, 9, 2],
        ];
        let model = KneserNey::fit(4, 12, pieces.iter().map(Vec::as_slice));
        for history in [&[][..], &[1], &[1, 5], &[5, 6], &[9, 9, 9], &[3, 3, 3, 3]] {
            let total: f64 = (0..12).map(|w| model.prob(history, w)).sum();
            assert!((total - 1.0).abs() < 1e-9, "{history:?}: {total}");
        }
        // What the data shows often is likely; what it never shows is possible.
        assert!(model.prob(&[1, 5], 6) > 0.5);
        assert!(model.prob(&[1, 5], 11) > 0.0);
    }

    #[test]
    fn log_probs_are_the_log_of_each_prob() {
        let pieces: Vec<Vec<u32>> = vec![vec![1, 5, 6, 7, 5, 6, 8, 2], vec![1, 9, 9, 9, 2]];
        let model = KneserNey::fit(3, 12, pieces.iter().map(Vec::as_slice));
        let mut out = Vec::new();
        for history in [&[][..], &[1, 5], &[9, 9, 9, 9]] {
            model.log_probs(history, &mut out);
            assert_eq!(out.len(), 12);
            for (w, lp) in out.iter().enumerate() {
                let p = model.prob(history, w as u32);
                assert!((f64::from(*lp) - p.ln()).abs() < 1e-5, "{history:?} {w}");
            }
        }
    }

    #[test]
    fn a_repetitive_corpus_is_cheap_and_noise_is_not() {
        let pattern: Vec<u32> = (0..400).map(|i| [3, 4, 5, 6][i % 4]).collect();
        let model = KneserNey::fit(5, 20, [pattern.as_slice()]);
        let (bits, n) = model.bits_per_token([pattern.as_slice()]);
        assert_eq!(n, 399);
        assert!(bits < 0.2, "{bits}");
        let noise: Vec<u32> = (0..400).map(|i| (i * 7919 % 20) as u32).collect();
        let (noisy, _) = model.bits_per_token([noise.as_slice()]);
        assert!(noisy > 3.0, "{noisy}");
    }
}
