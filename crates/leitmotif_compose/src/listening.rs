//! A blind listening set: for prompts taken from held-out human tunes (their key, meter,
//! tempo and length), a model's phrase, the n-gram baseline's phrase and the human tune's
//! own opening, played alike (one instrument, one loudness) and shuffled, with the answers
//! kept apart.

use std::path::{Path, PathBuf};

use leitmotif_score::theory::{Mode, Scale};
use leitmotif_score::time::Meter;
use leitmotif_score::{DEFAULT_PPQ, Note, Role, Score, TempoChange, TimeSignatureChange, Track};
use leitmotif_tokens::fnv::Fnv1a;
use leitmotif_tokens::vocab::METERS;
use leitmotif_tokens::{Corpus, Layer, Split};
use serde::Serialize;

use crate::composer::Composer;
use crate::error::ComposeError;
use crate::realism::Melody;
use crate::request::Request;

/// Where a clip came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The model under test.
    Model,
    /// The n-gram baseline, through the same decoding.
    Ngram,
    /// The human tune the prompt was taken from.
    Human,
}

/// The loudness every clip plays at (the human tunes carry no dynamics).
pub const VELOCITY: u8 = 90;
/// The instrument every clip plays with (General MIDI 0: the built-in keys).
pub const PROGRAM: u8 = 0;
/// Tempo of tunes that state none, in quarter notes a minute (what MIDI players assume).
pub const DEFAULT_BPM: f64 = 120.0;

/// A prompt: what all three clips of it share, taken from a held-out human tune.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prompt {
    /// The human tune's file, relative to the data folder.
    pub source: PathBuf,
    /// Its key (the estimate from its notes, or its key signature where they leave it open).
    pub key: Scale,
    /// Its meter.
    pub meter: (u8, u8),
    /// Its tempo ([`DEFAULT_BPM`] where it states none).
    pub bpm: f64,
    /// Bars of each clip.
    pub bars: u32,
}

impl Prompt {
    /// What a listener is told: meter, key, tempo and length (not where it came from).
    pub fn describe(&self) -> String {
        format!(
            "{}/{}, {}, {:.0} bpm, {} bars",
            self.meter.0, self.meter.1, self.key, self.bpm, self.bars
        )
    }
}

/// A human tune the set takes a prompt and a clip from.
#[derive(Debug, Clone, PartialEq)]
pub struct HumanTune {
    /// The prompt it gives.
    pub prompt: Prompt,
    /// Its first bars ([`DEFAULT_PPQ`] ticks a quarter).
    pub notes: Vec<Note>,
}

/// One clip: a score of one melody track, ready to render.
#[derive(Debug, Clone, PartialEq)]
pub struct Clip {
    /// Where it came from.
    pub origin: Origin,
    /// The melody, played alike for every origin.
    pub score: Score,
}

/// One prompt's three clips, in the (shuffled) order a listener hears them.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// What the clips share.
    pub prompt: Prompt,
    /// The clips, shuffled.
    pub clips: Vec<Clip>,
}

/// A stable pseudo-random number for `text` and `seed`.
fn shuffle_key(text: &str, seed: u64) -> u64 {
    let mut h = Fnv1a::default();
    h.write_u64(seed);
    h.write(text.as_bytes());
    h.finish()
}

/// `count` held-out tunes of `corpus` (loaded from `dir`), spread over the meters of the
/// vocabulary and over major and minor (round robin over the kinds the split has, the
/// commonest first), each with
/// at least `bars` bars in one meter; which tunes of a kind is decided by `seed`.
///
/// # Errors
/// [`ComposeError::Request`] when `bars` is 0 or the split has fewer usable tunes than
/// `count`.
pub fn human_tunes(
    corpus: &Corpus,
    dir: &Path,
    count: usize,
    bars: u32,
    seed: u64,
) -> Result<Vec<HumanTune>, ComposeError> {
    if bars == 0 {
        return Err(ComposeError::Request("a clip needs at least 1 bar".into()));
    }
    let mut pieces: Vec<&Path> = corpus
        .split(Split::Validation)
        .map(|p| p.path.as_path())
        .collect();
    pieces.sort_by_key(|p| shuffle_key(&p.to_string_lossy(), seed));
    // Kinds: (meter index, minor); each kind's tunes in shuffled order.
    let mut kinds: Vec<((usize, bool), Vec<HumanTune>)> = Vec::new();
    for path in pieces {
        let Some(tune) = human_tune(dir, path, bars) else {
            continue;
        };
        let Some(meter) = METERS.iter().position(|m| *m == tune.prompt.meter) else {
            continue;
        };
        let kind = (meter, tune.prompt.key.mode != Mode::Major);
        match kinds.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, tunes)) => tunes.push(tune),
            None => kinds.push((kind, vec![tune])),
        }
    }
    // The commonest kinds first (6/8 major before 3/2 minor), as the data has them.
    kinds.sort_by_key(|(kind, tunes)| (std::cmp::Reverse(tunes.len()), *kind));
    let mut out = Vec::with_capacity(count);
    let mut round = 0;
    while out.len() < count {
        let before = out.len();
        for (_, tunes) in &kinds {
            if let Some(tune) = tunes.get(round)
                && out.len() < count
            {
                out.push(tune.clone());
            }
        }
        if out.len() == before {
            return Err(ComposeError::Request(format!(
                "the validation split has {} usable tunes of at least {bars} bars; {count} \
                 were asked for",
                out.len()
            )));
        }
        round += 1;
    }
    Ok(out)
}

/// The tune at `dir/path` when it reads, keeps one meter and one tempo over its first
/// `bars` bars and has notes in each of them.
fn human_tune(dir: &Path, path: &Path, bars: u32) -> Option<HumanTune> {
    let score = leitmotif_score::read_score(&dir.join(path)).ok()?;
    let melody = Melody::of(&score, bars as usize);
    if melody.bars < bars as usize || melody.notes().len() < 2 {
        return None;
    }
    let conductor = &melody.score;
    let end = conductor.end_tick;
    let changes =
        |ticks: &mut dyn Iterator<Item = u64>| ticks.filter(|&t| t > 0 && t < end).count();
    if changes(&mut conductor.time_signatures.iter().map(|t| t.tick)) > 0
        || changes(&mut conductor.tempos.iter().map(|t| t.tick)) > 0
    {
        return None;
    }
    let meter = conductor
        .time_signatures
        .first()
        .map_or((4, 4), |t| (t.numerator, t.denominator));
    let bpm = conductor.tempos.first().map_or(DEFAULT_BPM, |t| t.bpm());
    Some(HumanTune {
        prompt: Prompt {
            source: path.to_path_buf(),
            key: crate::theme::key_of(&score),
            meter,
            bpm: bpm.round(),
            bars,
        },
        notes: melody.notes().to_vec(),
    })
}

/// A clip's score: `notes` (at [`DEFAULT_PPQ`] ticks a quarter) cut to the prompt's bars, at one
/// loudness, on one instrument, in the prompt's meter and tempo.
///
/// # Errors
/// [`ComposeError::Score`] for a tempo MIDI cannot hold.
pub fn clip_score(prompt: &Prompt, notes: &[Note]) -> Result<Score, ComposeError> {
    let mut score = Score::new(DEFAULT_PPQ);
    score.tempos.push(TempoChange::from_bpm(0, prompt.bpm)?);
    let meter = Meter {
        numerator: prompt.meter.0,
        denominator: prompt.meter.1,
    };
    score.time_signatures.push(TimeSignatureChange {
        tick: 0,
        numerator: meter.numerator,
        denominator: meter.denominator,
    });
    let end = meter.ticks_per_bar(DEFAULT_PPQ) * u64::from(prompt.bars);
    let mut track = Track::new("melody", Role::Melody, PROGRAM, 0);
    track.notes = notes
        .iter()
        .filter(|n| n.start < end)
        .map(|n| Note {
            duration: n.duration.min(end - n.start),
            velocity: VELOCITY,
            ..*n
        })
        .collect();
    score.tracks.push(track);
    score.end_tick = end;
    score.normalize();
    Ok(score)
}

/// The request both writers get for `prompt`: its key, meter, tempo and bars, melody only.
pub fn request_for(prompt: &Prompt, seed: u64) -> Request {
    Request {
        key: Some(prompt.key),
        meter: Some(prompt.meter),
        tempo_bpm: Some(prompt.bpm),
        bars: prompt.bars,
        layers: vec![Layer::Melody],
        seed,
        ..Request::default()
    }
}

/// The listening set: for each tune, `model`'s phrase, `ngram`'s phrase (same request and
/// seed) and the tune's opening, in an order `seed` shuffles.
///
/// # Errors
/// What [`Composer::compose`] returns.
pub fn listening_set(
    model: &Composer,
    ngram: &Composer,
    tunes: &[HumanTune],
    seed: u64,
) -> Result<Vec<Item>, ComposeError> {
    let mut items = Vec::with_capacity(tunes.len());
    for (i, tune) in tunes.iter().enumerate() {
        let request = request_for(&tune.prompt, seed.wrapping_add(i as u64));
        let written = |composer: &Composer| -> Result<Vec<Note>, ComposeError> {
            let composition = composer.compose(&request)?;
            Ok(Melody::of(&composition.score, tune.prompt.bars as usize)
                .notes()
                .to_vec())
        };
        let mut clips = vec![
            (Origin::Model, written(model)?),
            (Origin::Ngram, written(ngram)?),
            (Origin::Human, tune.notes.clone()),
        ];
        clips.sort_by_key(|(origin, _)| {
            shuffle_key(&format!("{i} {origin:?}"), seed ^ 0x6C69_7374_656E)
        });
        let clips = clips
            .into_iter()
            .map(|(origin, notes)| {
                Ok(Clip {
                    origin,
                    score: clip_score(&tune.prompt, &notes)?,
                })
            })
            .collect::<Result<_, ComposeError>>()?;
        items.push(Item {
            prompt: tune.prompt.clone(),
            clips,
        });
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use leitmotif_score::theory::PitchClass;

    fn prompt() -> Prompt {
        Prompt {
            source: PathBuf::from("a.mid"),
            key: Scale {
                tonic: PitchClass::from_midi(2),
                mode: Mode::Major,
            },
            meter: (6, 8),
            bpm: 100.0,
            bars: 2,
        }
    }

    #[test]
    fn clips_are_cut_to_their_bars_and_played_alike() {
        let note = |start, duration, pitch, velocity| Note {
            start,
            duration,
            pitch,
            velocity,
        };
        let notes = [
            note(0, 720, 62, 40),
            note(1000, 1000, 66, 120),
            note(2880, 240, 69, 90),
        ];
        let score = clip_score(&prompt(), &notes).unwrap();
        assert_eq!(score.end_tick, 2880);
        let track = &score.tracks[0];
        assert_eq!(track.program, PROGRAM);
        assert_eq!(track.notes.len(), 2);
        assert!(track.notes.iter().all(|n| n.velocity == VELOCITY));
        assert_eq!(track.notes[1].duration, 1000);
        assert_eq!(prompt().describe(), "6/8, D major, 100 bpm, 2 bars");
    }
}
