//! Where the music goes: kira's `AudioManager` on the audio device (feature `cpal`), or on
//! the [`OfflineBackend`], pulled frame by frame.

use kira::{AudioManager, AudioManagerSettings};

use crate::error::PlayerError;
use crate::offline::{OfflineBackend, OfflineSettings};
use crate::player::Player;
use crate::settings::PlayerSettings;

/// kira's internal buffer size the outputs use, in frames (kira's default): kira updates
/// clocks and modulators this often; the music sound itself is sample-accurate.
pub const INTERNAL_BUFFER_FRAMES: usize = 128;

enum Manager {
    Offline(Box<AudioManager<OfflineBackend>>),
    #[cfg(feature = "cpal")]
    Device(Box<AudioManager<kira::backend::cpal::CpalBackend>>),
}

/// A kira `AudioManager` playing a [`Player`]'s music: on the default audio device
/// ([`device`](Self::device), feature `cpal`) or offline ([`offline`](Self::offline),
/// where [`render`](Self::render) pulls the frames).
///
/// ```
/// use leitmotif_player::{MusicOutput, PlayerSettings};
///
/// let (mut output, player) = MusicOutput::offline(PlayerSettings::default())?;
/// assert_eq!(player.sample_rate(), 48_000);
/// let mut audio = Vec::new();
/// output.render(4800, &mut audio);
/// assert_eq!(audio.len(), 4800);
/// assert_eq!(player.transport(), 4800, "the music's transport ran with the frames");
/// # Ok::<(), leitmotif_player::PlayerError>(())
/// ```
pub struct MusicOutput {
    manager: Manager,
    sample_rate: u32,
}

impl std::fmt::Debug for MusicOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MusicOutput")
            .field("offline", &self.is_offline())
            .field("sample_rate", &self.sample_rate)
            .finish_non_exhaustive()
    }
}

fn play<B: kira::backend::Backend>(
    manager: &mut AudioManager<B>,
    settings: PlayerSettings,
    live: bool,
) -> Result<Player, PlayerError> {
    let (player, sound) = Player::new(settings, live)?;
    manager
        .play(sound)
        .map_err(|e| PlayerError::Kira(e.to_string()))?;
    Ok(player)
}

impl MusicOutput {
    /// kira on the [`OfflineBackend`] at `settings.sample_rate`, playing a new
    /// [`Player`]'s music; nothing sounds until [`render`](Self::render) pulls frames.
    ///
    /// # Errors
    /// As [`Player::new`].
    pub fn offline(settings: PlayerSettings) -> Result<(Self, Player), PlayerError> {
        settings.validate()?;
        let sample_rate = settings.sample_rate;
        let Ok(mut manager) = AudioManager::<OfflineBackend>::new(AudioManagerSettings {
            backend_settings: OfflineSettings { sample_rate },
            internal_buffer_size: INTERNAL_BUFFER_FRAMES,
            ..AudioManagerSettings::default()
        });
        let player = play(&mut manager, settings, false)?;
        Ok((
            Self {
                manager: Manager::Offline(Box::new(manager)),
                sample_rate,
            },
            player,
        ))
    }

    /// kira on the default audio output device at its default sample rate (which replaces
    /// `settings.sample_rate`), playing a new [`Player`]'s music.
    ///
    /// # Errors
    /// [`PlayerError::Device`] when there is no output device or its stream cannot be
    /// opened; as [`Player::new`] otherwise.
    #[cfg(feature = "cpal")]
    pub fn device(mut settings: PlayerSettings) -> Result<(Self, Player), PlayerError> {
        use kira::backend::cpal::cpal::traits::{DeviceTrait, HostTrait};
        use kira::backend::cpal::{CpalBackend, CpalBackendSettings, cpal};

        let host = cpal::default_host();
        let device = host
            .default_output_device()
            .ok_or_else(|| PlayerError::Device("no default output device".to_owned()))?;
        let config = device
            .default_output_config()
            .map_err(|e| PlayerError::Device(e.to_string()))?
            .config();
        settings.sample_rate = config.sample_rate;
        settings.validate()?;
        let sample_rate = settings.sample_rate;
        let mut manager = AudioManager::<CpalBackend>::new(AudioManagerSettings {
            backend_settings: CpalBackendSettings {
                device: None,
                config: Some(config),
            },
            internal_buffer_size: INTERNAL_BUFFER_FRAMES,
            ..AudioManagerSettings::default()
        })
        .map_err(|e| PlayerError::Device(e.to_string()))?;
        let player = play(&mut manager, settings, true)?;
        Ok((
            Self {
                manager: Manager::Device(Box::new(manager)),
                sample_rate,
            },
            player,
        ))
    }

    /// Whether this output is offline (frames come only from [`render`](Self::render)).
    pub fn is_offline(&self) -> bool {
        matches!(self.manager, Manager::Offline(_))
    }

    /// Frames per second.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Offline: renders the next `frames` frames of kira's whole mix and appends them to
    /// `out`, returning true. On a device (which pulls frames itself) it does nothing and
    /// returns false.
    pub fn render(&mut self, frames: usize, out: &mut Vec<[f32; 2]>) -> bool {
        match &mut self.manager {
            Manager::Offline(manager) => {
                manager.backend_mut().render(frames, out);
                true
            }
            #[cfg(feature = "cpal")]
            Manager::Device(_) => false,
        }
    }

    /// kira's manager when offline: to play other sounds into the same mix.
    pub fn offline_manager(&mut self) -> Option<&mut AudioManager<OfflineBackend>> {
        match &mut self.manager {
            Manager::Offline(manager) => Some(manager.as_mut()),
            #[cfg(feature = "cpal")]
            Manager::Device(_) => None,
        }
    }

    /// kira's manager on the device: to play other sounds into the same mix.
    #[cfg(feature = "cpal")]
    pub fn device_manager(
        &mut self,
    ) -> Option<&mut AudioManager<kira::backend::cpal::CpalBackend>> {
        match &mut self.manager {
            Manager::Device(manager) => Some(manager.as_mut()),
            Manager::Offline(_) => None,
        }
    }
}
