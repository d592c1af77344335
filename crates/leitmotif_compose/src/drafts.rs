//! Drafts decoded together: the candidates of one request, each on its own thread with its
//! own engine (grammar, rules, seeded sampler), and one model call per round for all of them.
//!
//! Each draft's [`DraftDecoder`] hands the tokens it fed to the coordinator (the calling
//! thread) when its engine asks for logits, and waits. The coordinator owns one fork of the
//! decoder per draft; when every draft still going has asked, it updates all their forks at
//! once with [`Decoder::update_together`] (one batched model call on the host path) and
//! answers each. The rounds do not depend on timing, so a request gives the same drafts
//! every time.

use std::sync::mpsc::{Receiver, Sender, channel};

use leitmotif_tokens::Token;

use crate::engine::Engine;
use crate::error::ComposeError;
use crate::session::Decoder;

/// What a draft tells the coordinator.
enum Message {
    /// Draft `draft` fed `tokens` and wants the logits after them.
    Logits { draft: usize, tokens: Vec<Token> },
    /// Draft `draft` needs no more logits.
    Done,
}

/// A draft's end of the link: a [`Decoder`] whose model lives with the coordinator.
pub(crate) struct DraftDecoder {
    draft: usize,
    pending: Vec<Token>,
    logits: Vec<f32>,
    /// Whether `logits` follow everything fed.
    current: bool,
    done: bool,
    requests: Sender<Message>,
    replies: Receiver<Result<Vec<f32>, ComposeError>>,
}

impl DraftDecoder {
    /// Tells the coordinator this draft needs no more logits.
    fn finish(&mut self) {
        if !self.done {
            self.done = true;
            // The coordinator outlives every draft; a send can fail only once it has
            // stopped for an error of its own, which it reports.
            let _ = self.requests.send(Message::Done);
        }
    }
}

impl Drop for DraftDecoder {
    fn drop(&mut self) {
        self.finish();
    }
}

impl Decoder for DraftDecoder {
    fn feed(&mut self, token: Token) {
        self.pending.push(token);
        self.current = false;
    }

    fn logits(&mut self) -> Result<&[f32], ComposeError> {
        if !self.current {
            let tokens = std::mem::take(&mut self.pending);
            self.requests
                .send(Message::Logits {
                    draft: self.draft,
                    tokens,
                })
                .map_err(|_| lost())?;
            self.logits = self.replies.recv().map_err(|_| lost())??;
            self.current = true;
        }
        Ok(&self.logits)
    }
}

fn lost() -> ComposeError {
    ComposeError::Constraint("the draft coordinator stopped".to_owned())
}

/// Runs `work` on `seeds.len()` forks of `engine`, one per seed (reseeded), decoding them
/// together, and returns each draft's result with its engine back on a decoder of its own.
///
/// # Errors
/// The first error of any draft, or of the model.
pub(crate) fn decode_drafts<'r, D, W>(
    engine: &Engine<'r, D>,
    seeds: &[u64],
    work: W,
) -> Result<Vec<(f64, Engine<'r, D>)>, ComposeError>
where
    D: Decoder + Clone,
    W: Fn(&mut Engine<'r, DraftDecoder>) -> Result<f64, ComposeError> + Sync,
{
    let mut forks: Vec<D> = vec![engine.decoder().clone(); seeds.len()];
    let (requests, inbox) = channel();
    let mut answer = Vec::with_capacity(seeds.len());
    let mut drafts = Vec::with_capacity(seeds.len());
    for (draft, &seed) in seeds.iter().enumerate() {
        let (reply, replies) = channel();
        answer.push(reply);
        let mut fork = engine.with_decoder(DraftDecoder {
            draft,
            pending: Vec::new(),
            logits: Vec::new(),
            current: false,
            done: false,
            requests: requests.clone(),
            replies,
        });
        fork.reseed(seed);
        drafts.push(fork);
    }
    drop(requests);
    std::thread::scope(|scope| {
        let work = &work;
        let handles: Vec<_> = drafts
            .into_iter()
            .map(|mut fork| {
                scope.spawn(move || {
                    let result = work(&mut fork);
                    fork.decoder_mut().finish();
                    result.map(|bits| (bits, fork))
                })
            })
            .collect();
        let coordinated = coordinate(&mut forks, &inbox, &answer);
        let mut results = Vec::with_capacity(handles.len());
        for (handle, fork) in handles.into_iter().zip(forks) {
            let (bits, engine) = handle
                .join()
                .map_err(|_| ComposeError::Constraint("a draft's thread panicked".to_owned()))??;
            results.push((bits, engine.with_decoder(fork)));
        }
        coordinated.map(|()| results)
    })
}

/// Answers the drafts round by round until every one is done.
fn coordinate<D: Decoder>(
    forks: &mut [D],
    inbox: &Receiver<Message>,
    answer: &[Sender<Result<Vec<f32>, ComposeError>>],
) -> Result<(), ComposeError> {
    let mut going = forks.len();
    while going > 0 {
        // One message from each draft still going: a request, or that it is done.
        let mut asked = Vec::new();
        let expected = going;
        for _ in 0..expected {
            match inbox.recv() {
                Ok(Message::Logits { draft, tokens }) => {
                    for token in tokens {
                        forks[draft].feed(token);
                    }
                    asked.push(draft);
                }
                Ok(Message::Done) => going -= 1,
                // Every draft has dropped its link.
                Err(_) => return Ok(()),
            }
        }
        asked.sort_unstable();
        let mut waiting: Vec<&mut D> = forks
            .iter_mut()
            .enumerate()
            .filter(|(i, _)| asked.binary_search(i).is_ok())
            .map(|(_, fork)| fork)
            .collect();
        let updated = D::update_together(&mut waiting);
        for (draft, fork) in asked.iter().zip(waiting) {
            let reply = match &updated {
                Ok(()) => fork.logits().map(<[f32]>::to_vec),
                Err(e) => Err(ComposeError::Constraint(format!("batched decoding: {e}"))),
            };
            // A draft that stopped waiting has failed on its own; its thread reports it.
            let _ = answer[*draft].send(reply);
        }
        updated?;
    }
    Ok(())
}
