//! The `play` command: a score rendered by the synth and played through the audio device
//! with kira.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use kira::sound::PlaybackState;
use kira::sound::static_sound::{StaticSoundData, StaticSoundSettings};
use kira::{AudioManager, AudioManagerSettings, DefaultBackend, Frame};
use leitmotif_score::read_document;
use leitmotif_synth::render_score;

use crate::CliError;
use crate::audio::{clock, render_options, write_tracks};

/// How often the progress line is redrawn.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// How long the position may stand still while playing before the device is taken to have
/// stopped taking sound (an unplugged device with nothing to fall back to).
const STALL_LIMIT: Duration = Duration::from_secs(5);

/// `leitmotif play`.
#[derive(Debug, Args)]
pub struct PlayArgs {
    /// The score to play (.mid, .midi, .melody.json, .melody.ron or .tone.json).
    input: PathBuf,
    /// A sound font (an .sf2 file) to play the tracks with, each by its General MIDI
    /// program (channel 10 as a drum kit). Without one the built-in instruments play.
    #[arg(long, value_name = "FILE.sf2")]
    soundfont: Option<PathBuf>,
}

/// `leitmotif play`: reads and checks everything, opens the device, renders, then plays to
/// the end with the position on stderr (Ctrl-C stops it).
pub fn play(args: &PlayArgs) -> Result<(), CliError> {
    let score = read_document(&args.input)?.score;
    let options = render_options(args.soundfont.as_deref(), None)?;
    // The device is opened before rendering so that a machine without one fails at once.
    let mut manager = open_device()?;
    let audio = render_score(&score, &options)?;
    let duration = audio.duration_seconds();
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "playing {} ({}, {} Hz)",
            args.input.display(),
            clock(duration),
            audio.sample_rate
        );
        let _ = write_tracks(&mut out, &score, &options, &[]);
    }
    let frames: Arc<[Frame]> = audio
        .frames
        .iter()
        .map(|&[left, right]| Frame { left, right })
        .collect();
    let sound = StaticSoundData {
        sample_rate: audio.sample_rate,
        frames,
        settings: StaticSoundSettings::default(),
        slice: None,
    };
    let handle = manager
        .play(sound)
        .map_err(|e| CliError::Audio(format!("cannot start playback: {e}")))?;

    let mut err = std::io::stderr();
    let tty = err.is_terminal();
    let mut last = (handle.position(), Instant::now());
    while handle.state() != PlaybackState::Stopped {
        let position = handle.position();
        if tty {
            let _ = write!(err, "\r  {} / {} ", clock(position), clock(duration));
            let _ = err.flush();
        }
        if position != last.0 {
            last = (position, Instant::now());
        } else if last.1.elapsed() > STALL_LIMIT {
            if tty {
                let _ = writeln!(err);
            }
            return Err(CliError::Audio(format!(
                "the audio device stopped taking sound at {}",
                clock(position)
            )));
        }
        std::thread::sleep(PROGRESS_INTERVAL);
    }
    if tty {
        let _ = writeln!(err, "\r  {} / {} ", clock(duration), clock(duration));
    }
    Ok(())
}

/// The default output device through kira's cpal backend, or
/// [`CliError::NoAudioDevice`] with the reason on one line.
fn open_device() -> Result<AudioManager<DefaultBackend>, CliError> {
    let alsa = alsa_messages::capture();
    let manager = AudioManager::<DefaultBackend>::new(AudioManagerSettings::default());
    manager.map_err(|e| {
        let mut reason = e.to_string();
        if let Some(detail) = alsa_messages::take(alsa) {
            reason = format!("{reason}: {detail}");
        }
        CliError::NoAudioDevice(reason)
    })
}

/// ALSA's library prints its own errors to stderr (several `ALSA lib ...` lines when there
/// is no sound card). While the device is opened they are captured instead, on this thread,
/// so the command's error stays on one line and can carry ALSA's first complaint.
#[cfg(target_os = "linux")]
mod alsa_messages {
    use std::cell::RefCell;
    use std::rc::Rc;

    /// The capture buffer (None if ALSA could not make one: its messages then go to stderr).
    pub type Capture = Option<Rc<RefCell<alsa::Output>>>;

    /// Starts capturing ALSA's messages on this thread.
    pub fn capture() -> Capture {
        alsa::Output::local_error_handler().ok()
    }

    /// The first message captured, if any.
    pub fn take(capture: Capture) -> Option<String> {
        let text = capture?.borrow().to_string();
        text.lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(str::to_owned)
    }
}

/// Other systems' audio libraries do not print on their own.
#[cfg(not(target_os = "linux"))]
mod alsa_messages {
    /// Nothing to capture.
    pub type Capture = ();

    /// Nothing to capture.
    pub fn capture() -> Capture {}

    /// Nothing captured.
    pub fn take((): Capture) -> Option<String> {
        None
    }
}
