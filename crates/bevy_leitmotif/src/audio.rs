//! Playback: the director's music through kira, every note on the exact sample of its
//! tick, with the musical clock following what is heard.
//!
//! The plugin drives kira 0.12 itself (`bevy_kira_audio` exposes no custom sounds): kira's
//! `AudioManager` lives in the [`LeitmotifAudio`] non-send resource with a
//! [`Player`](leitmotif_player::Player), which sends the director's notes, crossfades and
//! layer gain lanes a little ahead to the audio thread. With sound on, the director is
//! advanced each frame by the time the device has played, less the output latency (one
//! device callback as kira's callbacks measure it, plus
//! [`AudioSettings::extra_latency_seconds`]), so [`BeatTick`](crate::BeatTick) and
//! [`BarTick`](crate::BarTick) arrive in the frame in which their beat is heard. With no
//! audio device the game runs on silently with one warning, and the clock follows frame
//! time.

use std::path::Path;
use std::time::Instant;

use bevy::asset::io::Reader;
use bevy::asset::{Asset, AssetEvent, AssetLoader, AssetServer, Assets, Handle, LoadContext};
use bevy::ecs::message::Message;
use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use bevy::reflect::TypePath;
use leitmotif_player::{
    InstrumentChoice, MusicOutput, Part, PerPart, Player, PlayerError, PlayerSettings, SoundFont,
};
use leitmotif_synth::{Audio, SynthError};
use thiserror::Error;
use tracing::{info, warn};

use crate::systems::LeitmotifTimings;
use crate::{LeitmotifStatus, MusicDirector};

/// Where the music goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AudioOutput {
    /// The default audio output device (needs this crate's `audio` feature). Without one,
    /// the game runs on silently with one warning and the clock follows frame time.
    #[default]
    Device,
    /// No device: kira renders offline, in step with the game's frames (each frame, the
    /// frame's time of audio, at 48 kHz), and the musical clock follows those frames.
    /// With `record`, the audio is kept ([`LeitmotifAudio::recording`],
    /// [`LeitmotifAudio::write_wav`]): a soundtrack rendered from a scripted game.
    Offline {
        /// Whether to keep what is rendered.
        record: bool,
    },
    /// No device: kira renders only when the game asks
    /// ([`LeitmotifAudio::render`], between frames, as a device thread would), and the
    /// clock follows what has been rendered. For benchmarks and custom outputs.
    Manual,
}

/// How the plugin plays the music. Every field has a default.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioSettings {
    /// Whether to play at all. Default true. Turn it off in tests that run frames faster
    /// than real time (the clock would follow the device).
    pub enabled: bool,
    /// Where the music goes. Default [`AudioOutput::Device`].
    pub output: AudioOutput,
    /// Linear gain of the whole mix, 0..=4. Default 1.
    pub master_volume: f32,
    /// Linear gain of each layer and of the stingers, 0..=4. Default 1 each.
    pub layer_volumes: PerPart<f32>,
    /// The instrument of each layer and of the stingers: built in, or a preset of the
    /// SoundFont. Default [`InstrumentChoice::Auto`] (the layer's General MIDI program:
    /// from the SoundFont when one is loaded, else built in).
    pub instruments: PerPart<InstrumentChoice>,
    /// A SoundFont 2 asset to load and play (`"music/gm.sf2"`), or `None` for the built-in
    /// instruments. (A path, because the plugin's settings exist before the asset server;
    /// [`SetSoundFont`] takes a handle.)
    pub soundfont: Option<String>,
    /// How far ahead of the transport the music is sent to the audio thread, in seconds.
    /// Changes of state, cues and stingers land on their boundaries after it. Default 0.3.
    pub look_ahead_seconds: f64,
    /// How long a layer fades in or out as the intensity crosses its entry intensity, in
    /// seconds. Default 1.
    pub layer_fade_seconds: f64,
    /// Output latency of the driver beyond one device callback, in seconds (kira does not
    /// report it). Default 0.
    pub extra_latency_seconds: f64,
}

impl Default for AudioSettings {
    fn default() -> Self {
        let player = PlayerSettings::default();
        Self {
            enabled: true,
            output: AudioOutput::Device,
            master_volume: player.master_volume,
            layer_volumes: player.volumes,
            instruments: player.instruments,
            soundfont: None,
            look_ahead_seconds: player.look_ahead_seconds,
            layer_fade_seconds: player.layer_fade_seconds,
            extra_latency_seconds: player.extra_latency_seconds,
        }
    }
}

impl AudioSettings {
    /// No playback (the clock follows frame time).
    pub fn off() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }

    /// Offline playback in step with the frames, `record`ing it or not.
    pub fn offline(record: bool) -> Self {
        Self {
            output: AudioOutput::Offline { record },
            ..Self::default()
        }
    }

    fn player_settings(&self) -> PlayerSettings {
        PlayerSettings {
            master_volume: self.master_volume,
            volumes: self.layer_volumes,
            instruments: self.instruments,
            look_ahead_seconds: self.look_ahead_seconds,
            layer_fade_seconds: self.layer_fade_seconds,
            extra_latency_seconds: self.extra_latency_seconds,
            ..PlayerSettings::default()
        }
    }
}

/// A SoundFont 2 file (`.sf2`) loaded as an asset.
#[derive(Asset, TypePath, Clone)]
pub struct SoundFontAsset(pub SoundFont);

impl std::fmt::Debug for SoundFontAsset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SoundFontAsset")
            .field(&self.0.name())
            .finish()
    }
}

/// Why a SoundFont did not load.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SoundFontLoaderError {
    /// The file could not be read.
    #[error("cannot read the SoundFont: {0}")]
    Io(#[from] std::io::Error),
    /// Not a SoundFont 2 file, or a broken one (the message names the file and why).
    #[error(transparent)]
    SoundFont(#[from] SynthError),
}

/// Loads `.sf2` files into [`SoundFontAsset`]s.
#[derive(Debug, Default, TypePath)]
pub struct SoundFontLoader;

impl AssetLoader for SoundFontLoader {
    type Asset = SoundFontAsset;
    type Settings = ();
    type Error = SoundFontLoaderError;

    async fn load(
        &self,
        reader: &mut dyn Reader,
        _settings: &(),
        load_context: &mut LoadContext<'_>,
    ) -> Result<SoundFontAsset, SoundFontLoaderError> {
        let name = load_context.path().path().display().to_string();
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).await?;
        Ok(SoundFontAsset(SoundFont::from_bytes(&name, &bytes)?))
    }

    fn extensions(&self) -> &[&str] {
        &["sf2"]
    }
}

/// Mute (`true`) or unmute the music: its gain ramps to 0 and back in a few milliseconds;
/// the clock runs on.
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
pub struct MuteMusic(pub bool);

/// Pause the music: the sound fades out in 10 ms and its transport stops, and so does the
/// musical clock (no beats, no bars, no phrase changes) until [`ResumeMusic`]. Without
/// sound the clock stops too.
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PauseMusic;

/// Resume the music after [`PauseMusic`].
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ResumeMusic;

/// Set the master volume (linear gain, 0..=4).
#[derive(Message, Debug, Clone, Copy, PartialEq)]
pub struct SetMasterVolume(pub f32);

/// Set a layer's (or the stingers') volume (linear gain, 0..=4).
#[derive(Message, Debug, Clone, Copy, PartialEq)]
pub struct SetLayerVolume {
    /// The layer.
    pub part: Part,
    /// Its gain.
    pub volume: f32,
}

/// Change a layer's (or the stingers') instrument. Builds a new voice engine (a SoundFont
/// preset takes a few milliseconds) that takes over while the old one rings out.
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetInstrument {
    /// The layer.
    pub part: Part,
    /// Its instrument.
    pub instrument: InstrumentChoice,
}

/// Play a SoundFont asset (`None`: the built-in instruments), once it has loaded.
#[derive(Message, Debug, Clone, PartialEq)]
pub struct SetSoundFont(pub Option<Handle<SoundFontAsset>>);

/// The music's playback: kira's manager and the [`Player`] (a non-send resource, present
/// while sound plays). Read it with `NonSend<LeitmotifAudio>`.
pub struct LeitmotifAudio {
    output: MusicOutput,
    player: Player,
    mode: AudioOutput,
    recording: Vec<[f32; 2]>,
    /// The offline output's frames of the piece being rendered.
    scratch: Vec<[f32; 2]>,
    /// Fractional frames owed to the offline output.
    carry: f64,
    /// The SoundFont asset to play once it loads.
    soundfont: Option<Handle<SoundFontAsset>>,
    /// Whether the clock is held (paused without sound to stop it).
    paused: bool,
}

impl std::fmt::Debug for LeitmotifAudio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeitmotifAudio")
            .field("mode", &self.mode)
            .field("player", &self.player)
            .field("recorded_frames", &self.recording.len())
            .finish_non_exhaustive()
    }
}

impl LeitmotifAudio {
    /// The player (transport, heard position, volumes, pause and mute state).
    pub fn player(&self) -> &Player {
        &self.player
    }

    /// The player, for direct control.
    pub fn player_mut(&mut self) -> &mut Player {
        &mut self.player
    }

    /// kira's manager and output.
    pub fn output_mut(&mut self) -> &mut MusicOutput {
        &mut self.output
    }

    /// Where the music goes.
    pub fn mode(&self) -> AudioOutput {
        self.mode
    }

    /// Frames per second.
    pub fn sample_rate(&self) -> u32 {
        self.player.sample_rate()
    }

    /// What the offline output has rendered and kept (with
    /// [`AudioOutput::Offline`]`{ record: true }`), from the first frame.
    pub fn recording(&self) -> &[[f32; 2]] {
        &self.recording
    }

    /// Takes the recording, leaving it empty (recording goes on).
    pub fn take_recording(&mut self) -> Vec<[f32; 2]> {
        std::mem::take(&mut self.recording)
    }

    /// Writes the recording to a 16-bit stereo WAV file, atomically.
    ///
    /// # Errors
    /// [`SynthError::Wav`] when the file cannot be written (nothing is left behind).
    pub fn write_wav(&self, path: &Path) -> Result<(), SynthError> {
        let audio = Audio {
            sample_rate: self.sample_rate(),
            frames: self.recording.clone(),
        };
        leitmotif_synth::write_wav(path, &audio)
    }

    /// With [`AudioOutput::Manual`]: renders the next `frames` frames (what a device thread
    /// would pull) and appends them to `out`. Returns false (and renders nothing) on
    /// another output. Keep each call within the look-ahead, and call it between frames.
    pub fn render(&mut self, frames: usize, out: &mut Vec<[f32; 2]>) -> bool {
        self.mode == AudioOutput::Manual && self.output.render(frames, out)
    }
}

/// The step the musical clock takes this frame, when the sound sets it.
#[derive(Resource, Debug, Default)]
pub(crate) struct AudioClock {
    /// Seconds to advance the director (`None`: the frame's time).
    pub(crate) step: Option<f64>,
}

/// Opens the output (in the plugin's `finish`) and reports it in [`LeitmotifStatus`].
pub(crate) fn setup(app: &mut App, settings: &AudioSettings) {
    if !settings.enabled {
        return;
    }
    let player_settings = settings.player_settings();
    let opened = match settings.output {
        AudioOutput::Device => open_device(player_settings),
        AudioOutput::Offline { .. } | AudioOutput::Manual => MusicOutput::offline(player_settings),
    };
    let status = match opened {
        Ok((output, player)) => {
            info!(
                "leitmotif: music plays {} at {} Hz",
                match settings.output {
                    AudioOutput::Device => "on the audio device",
                    _ => "offline",
                },
                player.sample_rate()
            );
            app.world_mut().insert_non_send(LeitmotifAudio {
                output,
                player,
                mode: settings.output,
                recording: Vec::new(),
                scratch: Vec::new(),
                carry: 0.0,
                soundfont: None,
                paused: false,
            });
            crate::status::AudioStatus::Playing
        }
        Err(e) => {
            warn!(
                "leitmotif: no sound ({e}); the game runs on silently and the musical clock \
                 follows frame time"
            );
            crate::status::AudioStatus::NoDevice {
                message: e.to_string(),
            }
        }
    };
    app.world_mut()
        .get_resource_or_init::<LeitmotifStatus>()
        .audio = status;
}

#[cfg(feature = "audio")]
fn open_device(settings: PlayerSettings) -> Result<(MusicOutput, Player), PlayerError> {
    MusicOutput::device(settings)
}

#[cfg(not(feature = "audio"))]
fn open_device(_settings: PlayerSettings) -> Result<(MusicOutput, Player), PlayerError> {
    Err(PlayerError::Device(
        "bevy_leitmotif was built without its `audio` feature".to_owned(),
    ))
}

/// Starts loading the SoundFont the settings name.
pub(crate) fn load_soundfont(
    path: String,
) -> impl FnMut(Option<NonSendMut<LeitmotifAudio>>, Option<Res<AssetServer>>) {
    move |audio, server| {
        if let (Some(mut audio), Some(server)) = (audio, server) {
            audio.soundfont = Some(server.load(path.clone()));
        }
    }
}

/// The playback messages.
#[derive(SystemParam)]
pub(crate) struct AudioInputs<'w, 's> {
    mute: MessageReader<'w, 's, MuteMusic>,
    pause: MessageReader<'w, 's, PauseMusic>,
    resume: MessageReader<'w, 's, ResumeMusic>,
    master: MessageReader<'w, 's, SetMasterVolume>,
    volumes: MessageReader<'w, 's, SetLayerVolume>,
    instruments: MessageReader<'w, 's, SetInstrument>,
    fonts: MessageReader<'w, 's, SetSoundFont>,
    font_events: MessageReader<'w, 's, AssetEvent<SoundFontAsset>>,
    font_assets: Option<Res<'w, Assets<SoundFontAsset>>>,
}

/// In [`LeitmotifSystems::Input`](crate::LeitmotifSystems::Input): applies the playback
/// messages and SoundFont loads.
pub(crate) fn read_audio_input(
    audio: Option<NonSendMut<LeitmotifAudio>>,
    mut input: AudioInputs,
    mut held: ResMut<ClockHeld>,
    mut timings: ResMut<LeitmotifTimings>,
) {
    let started = Instant::now();
    let paused = input.pause.read().count() > 0;
    let resumed = input.resume.read().count() > 0;
    // Without sound, pausing holds the frame-time clock.
    if paused && !resumed {
        held.0 = true;
    } else if resumed {
        held.0 = false;
    }
    let Some(mut audio) = audio else {
        input.mute.clear();
        input.master.clear();
        input.volumes.clear();
        input.instruments.clear();
        input.fonts.clear();
        input.font_events.clear();
        return;
    };
    let audio = &mut *audio;
    if paused && !resumed {
        audio.player.pause();
    } else if resumed {
        audio.player.resume();
    }
    audio.paused = audio.player.is_paused();
    if let Some(MuteMusic(muted)) = input.mute.read().last() {
        audio.player.set_muted(*muted);
    }
    for SetMasterVolume(volume) in input.master.read() {
        if let Err(e) = audio.player.set_master_volume(*volume) {
            warn!("leitmotif: {e}");
        }
    }
    for SetLayerVolume { part, volume } in input.volumes.read() {
        if let Err(e) = audio.player.set_volume(*part, *volume) {
            warn!("leitmotif: {e}");
        }
    }
    for SetInstrument { part, instrument } in input.instruments.read() {
        if let Err(e) = audio.player.set_instrument(*part, *instrument) {
            warn!("leitmotif: instrument for {part:?} refused: {e}");
        }
    }
    for SetSoundFont(handle) in input.fonts.read() {
        audio.soundfont.clone_from(handle);
        if handle.is_none()
            && let Err(e) = audio.player.set_soundfont(None)
        {
            warn!("leitmotif: {e}");
        }
    }
    let loaded = input.font_events.read().any(|event| {
        matches!(event, AssetEvent::LoadedWithDependencies { id } | AssetEvent::Modified { id }
            if audio.soundfont.as_ref().is_some_and(|h| h.id() == *id))
    });
    if loaded
        && let (Some(handle), Some(assets)) = (&audio.soundfont, &input.font_assets)
        && let Some(SoundFontAsset(font)) = assets.get(handle)
    {
        match audio.player.set_soundfont(Some(font.clone())) {
            Ok(()) => info!("leitmotif: playing SoundFont {}", font.name()),
            Err(e) => warn!("leitmotif: SoundFont {} refused: {e}", font.name()),
        }
    }
    timings.add(started);
}

/// Whether the clock is held without sound (paused with no audio output).
#[derive(Resource, Debug, Default)]
pub(crate) struct ClockHeld(pub(crate) bool);

/// In [`LeitmotifSystems::Clock`](crate::LeitmotifSystems::Clock), before the clock
/// advances: renders the frame's audio offline (with an offline output), sends the music
/// ahead, and sets the clock's step from what has been heard.
pub(crate) fn play_music(
    time: Res<Time>,
    audio: Option<NonSendMut<LeitmotifAudio>>,
    director: Option<ResMut<MusicDirector>>,
    held: Res<ClockHeld>,
    mut clock: ResMut<AudioClock>,
    mut timings: ResMut<LeitmotifTimings>,
) {
    let started = Instant::now();
    let frame = time.delta_secs_f64();
    let (Some(mut audio), Some(mut director)) = (audio, director) else {
        clock.step = held.0.then_some(0.0);
        return;
    };
    let audio = &mut *audio;
    let director = &mut director.director;
    if let AudioOutput::Offline { record } = audio.mode {
        // The frame's audio, in pieces no longer than half the look-ahead, the music sent
        // ahead before each.
        let rate = f64::from(audio.sample_rate());
        let owed = frame * rate + audio.carry;
        let frames = owed.floor();
        audio.carry = owed - frames;
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a frame's worth of audio frames"
        )]
        let mut left = frames.max(0.0) as usize;
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a fraction of a second of frames"
        )]
        let piece = ((audio.player.settings().look_ahead_seconds * rate / 2.0) as usize).max(1);
        while left > 0 {
            let n = left.min(piece);
            audio.player.update(director);
            audio.scratch.clear();
            audio.output.render(n, &mut audio.scratch);
            if record {
                audio.recording.extend_from_slice(&audio.scratch);
            }
            left -= n;
        }
    }
    audio.player.update(director);
    clock.step = Some(audio.player.clock_step(director, frame));
    timings.add(started);
}
