//! Music rendered ahead into `bevy_kira_audio` [`AudioSource`] assets (feature
//! `kira_audio_source`), for games that play their audio through `bevy_kira_audio`
//! channels: a whole score or composition, one source per stem (vertical layering), a
//! seamless loop, a stinger.
//!
//! ```no_run
//! use bevy::prelude::*;
//! use bevy_kira_audio::{Audio, AudioControl, AudioSource};
//! use bevy_leitmotif::kira_source;
//! use leitmotif_synth::RenderOptions;
//!
//! fn play_loop(
//!     mut sources: ResMut<Assets<AudioSource>>,
//!     audio: Res<Audio>,
//! ) -> Result<(), BevyError> {
//!     let score = leitmotif_score::read_score("assets/music/village.mid".as_ref())?;
//!     let region = 0..score.end_tick;
//!     let source = kira_source::audio_source_loop(&score, region, &RenderOptions::default())?;
//!     // The loop region is set on the source: it plays on until stopped.
//!     audio.play(sources.add(source));
//!     Ok(())
//! }
//! ```
//!
//! The audio comes from `leitmotif_synth` (built-in instruments, or the SoundFont in
//! [`RenderOptions::soundfont`]), so it sounds as the plugin's own playback does.

use std::ops::Range;
use std::sync::Arc;

use bevy_kira_audio::AudioSource;
use kira::Frame;
use kira::sound::static_sound::{StaticSoundData, StaticSoundSettings};
use kira::sound::{EndPosition, PlaybackPosition, Region};
use leitmotif_compose::Composition;
use leitmotif_score::time::TempoMap;
use leitmotif_score::{Marker, Note, Score, TempoChange, TimeSignatureChange};
use leitmotif_synth::{Audio, RenderOptions, SynthError, render_score, render_stems};
use thiserror::Error;

/// Copies of a loop rendered ahead of the one kept, at most: enough for any release tail
/// of a loop longer than `tail_seconds / MAX_LEAD_COPIES`.
pub const MAX_LEAD_COPIES: usize = 64;

/// Why music could not be rendered into an [`AudioSource`].
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AudioSourceError {
    /// The synthesizer refused (a SoundFont that does not load, an absurd sample rate).
    #[error(transparent)]
    Synth(#[from] SynthError),
    /// A region of the score that holds no time (its end at or before its start) or lies
    /// past the score's end.
    #[error("cannot render ticks {start}..{end} of a score ending at tick {score_end}: {reason}")]
    Region {
        /// The region's first tick.
        start: u64,
        /// The region's end (exclusive).
        end: u64,
        /// The score's `end_tick`.
        score_end: u64,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Rendered audio as an [`AudioSource`] (the frames are copied once; the source then clones
/// cheaply). It plays once; see [`audio_source_loop`] for a loop.
pub fn audio_source_from(audio: &Audio) -> AudioSource {
    let frames: Arc<[Frame]> = audio
        .frames
        .iter()
        .map(|&[left, right]| Frame { left, right })
        .collect();
    AudioSource {
        sound: StaticSoundData {
            sample_rate: audio.sample_rate,
            frames,
            settings: StaticSoundSettings::default(),
            slice: None,
        },
    }
}

/// The whole score mixed (its tempo map honoured), with the release tail of
/// [`RenderOptions::tail_seconds`] after its last note. For a [`Composition`] this renders
/// its whole score, any context bars included; [`audio_source_phrase`] renders only the
/// bars it wrote.
///
/// # Errors
/// [`AudioSourceError::Synth`] when the synthesizer refuses `options`.
pub fn audio_source(
    score: &Score,
    options: &RenderOptions,
) -> Result<AudioSource, AudioSourceError> {
    Ok(audio_source_from(&render_score(score, options)?))
}

/// One source per track, each alone and as long as the mix, named by the track's role
/// (`melody`, `bass`, `chords`, `drums`, `other`; a second track of one role gets `-2`...),
/// for vertical layering: play them together on their own channels and set each channel's
/// volume.
///
/// # Errors
/// As [`audio_source`].
pub fn audio_source_stems(
    score: &Score,
    options: &RenderOptions,
) -> Result<Vec<(String, AudioSource)>, AudioSourceError> {
    Ok(render_stems(score, options)?
        .into_iter()
        .map(|stem| (stem.name, audio_source_from(&stem.audio)))
        .collect())
}

/// The bars a composition wrote ([`Composition::span`]: a phrase, a stinger), played once
/// with its release tail: notes that start there, cut at its end, as the director plays
/// them.
///
/// # Errors
/// As [`audio_source`]; [`AudioSourceError::Region`] for a composition that wrote no bars.
pub fn audio_source_phrase(
    composition: &Composition,
    options: &RenderOptions,
) -> Result<AudioSource, AudioSourceError> {
    let (start, end) = composition.span;
    let phrase = excerpt(&composition.score, start..end)?;
    audio_source(&phrase, options)
}

/// The ticks `region` of `score` as a seamless loop: exactly the region's length in frames
/// (its duration on the score's tempo map, rounded to the frame), with the kira loop region
/// set over the whole sound so it plays on until stopped.
///
/// The release tails that ring past the loop's end are folded back into its start, as they
/// sound when the loop plays round: the region is rendered several times in a row (enough
/// for [`RenderOptions::tail_seconds`] of tail, at most [`MAX_LEAD_COPIES`] before the one
/// kept), and the last whole copy is kept, tails of the copies before it included and
/// through the synthesizer's limiter, so the loop point has no click and the loop never
/// clips. Notes are those that start in `region`, cut at its end.
///
/// # Errors
/// As [`audio_source`]; [`AudioSourceError::Region`] for an empty region or one past the
/// score's end.
pub fn audio_source_loop(
    score: &Score,
    region: Range<u64>,
    options: &RenderOptions,
) -> Result<AudioSource, AudioSourceError> {
    let part = excerpt(score, region)?;
    let length = part.end_tick;
    let seconds = TempoMap::new(&part).seconds(length);
    let rate = f64::from(options.sample_rate);
    let lead = if seconds > 0.0 {
        (options.tail_seconds.max(0.0) / seconds).ceil()
    } else {
        1.0
    };
    // A non-negative whole number (or NaN, which casts to 0), clamped to a small count.
    let lead = (lead as usize).clamp(1, MAX_LEAD_COPIES);
    let copies = repeat(&part, lead + 1);
    let audio = render_score(&copies, options)?;
    // Seconds of a bounded score, non-negative: the cast cannot truncate.
    let frame = |s: f64| (s * rate).round().max(0.0) as usize;
    let loop_frames = frame(seconds).max(1);
    let first = frame(seconds * lead as f64);
    let mut frames: Vec<Frame> = audio
        .frames
        .iter()
        .skip(first)
        .take(loop_frames)
        .map(|&[left, right]| Frame { left, right })
        .collect();
    // A region ending in rests past the render's tail: silence up to the loop's length.
    frames.resize(loop_frames, Frame::ZERO);
    let sound = StaticSoundData {
        sample_rate: audio.sample_rate,
        frames: frames.into(),
        settings: StaticSoundSettings::default(),
        slice: None,
    };
    Ok(AudioSource {
        sound: sound.loop_region(Region {
            start: PlaybackPosition::Samples(0),
            end: EndPosition::EndOfAudio,
        }),
    })
}

/// The ticks `region` of `score` as a score of its own starting at tick 0: the notes that
/// start in it, cut at its end, and the tempo, meter and key in force there.
fn excerpt(score: &Score, region: Range<u64>) -> Result<Score, AudioSourceError> {
    let (start, end) = (region.start, region.end);
    let refuse = |reason| AudioSourceError::Region {
        start,
        end,
        score_end: score.end_tick,
        reason,
    };
    if end <= start {
        return Err(refuse("the region is empty"));
    }
    if start >= score.end_tick.max(score.last_note_end()) {
        return Err(refuse("the region starts after the score ends"));
    }
    let length = end - start;
    let mut part = Score::new(score.ppq);
    part.name.clone_from(&score.name);
    part.end_tick = length;
    part.tempos = in_region(
        &score.tempos,
        |t| t.tick,
        start,
        end,
        |t, tick| TempoChange { tick, ..*t },
    );
    part.time_signatures = in_region(
        &score.time_signatures,
        |t| t.tick,
        start,
        end,
        |t, tick| TimeSignatureChange { tick, ..*t },
    );
    part.key_signatures = in_region(
        &score.key_signatures,
        |k| k.tick,
        start,
        end,
        |k, tick| leitmotif_score::KeySignatureChange { tick, ..*k },
    );
    part.markers = score
        .markers
        .iter()
        .filter(|m| (start..end).contains(&m.tick))
        .map(|m| Marker {
            tick: m.tick - start,
            text: m.text.clone(),
        })
        .collect();
    part.tracks = score
        .tracks
        .iter()
        .map(|track| {
            let mut cut = track.clone();
            cut.notes = track
                .notes
                .iter()
                .filter(|n| (start..end).contains(&n.start))
                .map(|n| Note {
                    start: n.start - start,
                    duration: n.duration.min(end - n.start),
                    ..*n
                })
                .filter(|n| n.duration > 0)
                .collect();
            cut
        })
        .collect();
    Ok(part)
}

/// The changes of a map (tempo, meter, key) in `start..end`, moved to start at 0: the one
/// in force at `start` (if any) at tick 0, then those after it.
fn in_region<T>(
    changes: &[T],
    tick: impl Fn(&T) -> u64,
    start: u64,
    end: u64,
    moved: impl Fn(&T, u64) -> T,
) -> Vec<T> {
    let in_force = changes.iter().rev().find(|c| tick(c) <= start);
    in_force
        .map(|c| moved(c, 0))
        .into_iter()
        .chain(
            changes
                .iter()
                .filter(|c| tick(c) > start && tick(c) < end)
                .map(|c| moved(c, tick(c) - start)),
        )
        .collect()
}

/// `part` played `times` times in a row.
fn repeat(part: &Score, times: usize) -> Score {
    let length = part.end_tick;
    let offsets = || (0..times as u64).map(|i| i * length);
    let mut score = part.clone();
    score.end_tick = length * times as u64;
    score.tempos = offsets()
        .flat_map(|o| {
            part.tempos.iter().map(move |t| TempoChange {
                tick: t.tick + o,
                ..*t
            })
        })
        .collect();
    score.time_signatures = offsets()
        .flat_map(|o| {
            part.time_signatures
                .iter()
                .map(move |t| TimeSignatureChange {
                    tick: t.tick + o,
                    ..*t
                })
        })
        .collect();
    score.key_signatures = offsets()
        .flat_map(|o| {
            part.key_signatures
                .iter()
                .map(move |k| leitmotif_score::KeySignatureChange {
                    tick: k.tick + o,
                    ..*k
                })
        })
        .collect();
    score.markers.clear();
    for (track, source) in score.tracks.iter_mut().zip(&part.tracks) {
        track.notes = offsets()
            .flat_map(|o| {
                source.notes.iter().map(move |n| Note {
                    start: n.start + o,
                    ..*n
                })
            })
            .collect();
    }
    score
}

#[cfg(test)]
mod tests {
    use kira::sound::{EndPosition, PlaybackPosition, Region};
    use leitmotif_compose::{Composer, MoodTable};
    use leitmotif_director::{Director, DirectorSettings};
    use leitmotif_model::BackendChoice;
    use leitmotif_model::ModelSource;
    use leitmotif_score::{Note, Role, Score, TempoChange, TimeSignatureChange, Track};
    use leitmotif_synth::{RenderOptions, render_score, render_stems};

    use super::*;

    const RATE: u32 = 48_000;

    fn options() -> RenderOptions {
        RenderOptions {
            sample_rate: RATE,
            tail_seconds: 1.0,
            ..RenderOptions::default()
        }
    }

    fn note(start: u64, duration: u64, pitch: u8) -> Note {
        Note {
            start,
            duration,
            pitch,
            velocity: 100,
        }
    }

    /// Two bars of 4/4 at 120 bpm (4 s): a lead with A4 on beat 2 and E5 on beat 4 of the
    /// second bar, ringing up to the end; a bass with one low note in the first bar.
    fn two_bars() -> Score {
        let mut score = Score::new(480);
        score.tempos = TempoChange::from_bpm(0, 120.0).into_iter().collect();
        score.time_signatures = vec![TimeSignatureChange {
            tick: 0,
            numerator: 4,
            denominator: 4,
        }];
        let mut lead = Track::new("Lead", Role::Melody, 0, 0);
        lead.notes = vec![note(480, 480, 69), note(3360, 480, 76)];
        let mut bass = Track::new("Bass", Role::Bass, 33, 1);
        bass.notes = vec![note(960, 960, 45)];
        score.tracks = vec![lead, bass];
        score.end_tick = 3840;
        score
    }

    fn frames(source: &AudioSource) -> Vec<[f32; 2]> {
        source
            .sound
            .frames
            .iter()
            .map(|f| [f.left, f.right])
            .collect()
    }

    fn rms(frames: &[[f32; 2]]) -> f32 {
        let sum: f32 = frames.iter().map(|[l, r]| l * l + r * r).sum();
        (sum / (2 * frames.len().max(1)) as f32).sqrt()
    }

    #[test]
    fn a_score_and_its_stems_become_sources_of_the_same_audio() {
        let score = two_bars();
        let audio = render_score(&score, &options()).unwrap_or_else(|e| panic!("{e}"));
        let source = audio_source(&score, &options()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(source.sound.sample_rate, RATE);
        assert_eq!(frames(&source), audio.frames);
        assert!(source.sound.settings.loop_region.is_none(), "plays once");

        let stems = render_stems(&score, &options()).unwrap_or_else(|e| panic!("{e}"));
        let sources = audio_source_stems(&score, &options()).unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<&str> = sources.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["melody", "bass"]);
        for (stem, (name, source)) in stems.iter().zip(&sources) {
            assert_eq!(&stem.name, name);
            assert_eq!(frames(source), stem.audio.frames);
        }
    }

    #[test]
    fn a_loop_is_its_region_long_with_the_tails_folded_into_its_start() {
        let score = two_bars();
        let source =
            audio_source_loop(&score, 0..3840, &options()).unwrap_or_else(|e| panic!("{e}"));
        // Two bars at 120 bpm: exactly 4 s.
        let looped = frames(&source);
        assert_eq!(looped.len(), 4 * RATE as usize);
        assert_eq!(
            source.sound.settings.loop_region,
            Some(Region {
                start: PlaybackPosition::Samples(0),
                end: EndPosition::EndOfAudio,
            })
        );
        // The first note starts at 0.5 s; before it, a plain render is silent and the loop
        // holds the release of the last note, which rings past the loop's end.
        let head = RATE as usize / 200;
        let once = frames(&audio_source(&score, &options()).unwrap_or_else(|e| panic!("{e}")));
        assert!(rms(&once[..head]) < 1e-6, "{}", rms(&once[..head]));
        assert!(rms(&looped[..head]) > 1e-4, "{}", rms(&looped[..head]));
        // The loop point is as smooth as the rest of the sound: no click.
        let step = |a: [f32; 2], b: [f32; 2]| (a[0] - b[0]).abs().max((a[1] - b[1]).abs());
        let largest = looped
            .windows(2)
            .map(|w| step(w[0], w[1]))
            .fold(0.0f32, f32::max);
        let seam = step(looped[looped.len() - 1], looped[0]);
        assert!(seam <= largest, "seam {seam}, largest step {largest}");
        assert!(looped.iter().all(|[l, r]| l.abs() < 1.0 && r.abs() < 1.0));

        // A one-bar loop of the second bar: 2 s, its notes moved to its start.
        let bar =
            audio_source_loop(&score, 1920..3840, &options()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bar.sound.frames.len(), 2 * RATE as usize);
        assert!(matches!(
            audio_source_loop(&score, 1920..1920, &options()),
            Err(AudioSourceError::Region { .. })
        ));
        assert!(matches!(
            audio_source_loop(&score, 9600..10_000, &options()),
            Err(AudioSourceError::Region { .. })
        ));
    }

    #[test]
    fn a_stinger_renders() {
        let composer = Composer::load(&ModelSource::DefaultRnn, BackendChoice::Cpu)
            .unwrap_or_else(|e| panic!("{e}"));
        let table = MoodTable::default_table().unwrap_or_else(|e| panic!("{e}"));
        let settings = DirectorSettings {
            seed: 3,
            ..DirectorSettings::default()
        };
        let mut director = Director::new(settings, table).unwrap_or_else(|e| panic!("{e}"));
        let first = director
            .poll_job()
            .unwrap_or_else(|| panic!("no first job"));
        let phrase = composer
            .compose(&first.request)
            .unwrap_or_else(|e| panic!("{e}"));
        director
            .deliver(first.id, phrase)
            .unwrap_or_else(|e| panic!("{e}"));
        let id = director.stinger("heroic").unwrap_or_else(|e| panic!("{e}"));
        let job = std::iter::from_fn(|| director.poll_job())
            .find(|job| job.id == id)
            .unwrap_or_else(|| panic!("no stinger job"));
        let stinger = composer
            .compose(&job.request)
            .unwrap_or_else(|e| panic!("{e}"));
        let source = audio_source_phrase(&stinger, &options()).unwrap_or_else(|e| panic!("{e}"));
        let audio = frames(&source);
        let (lo, hi) = stinger.span;
        let bar = (hi - lo) as f64 / 480.0 * 60.0 / stinger.tempo_bpm;
        // The bar, the synthesizer's shortest note (30 ms: a note ending on the last tick
        // still sounds) and the release tail.
        let longest = ((bar + 0.03 + options().tail_seconds) * f64::from(RATE)).ceil() as usize + 1;
        assert!(
            audio.len() <= longest,
            "{} frames for a {bar} s bar",
            audio.len()
        );
        assert!(audio.len() >= RATE as usize, "{} frames", audio.len());
        let peak = audio
            .iter()
            .map(|[l, r]| l.abs().max(r.abs()))
            .fold(0.0f32, f32::max);
        assert!(peak > 0.01 && peak < 1.0, "peak {peak}");
    }
}
