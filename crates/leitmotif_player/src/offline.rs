//! A kira backend with no device: the caller pulls frames from kira's renderer, exactly as
//! many as it wants, when it wants (tests, rendering a session to a file, benchmarks).

use kira::backend::{Backend, Renderer};

/// Settings for the [`OfflineBackend`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OfflineSettings {
    /// The sample rate kira's renderer runs at. Default 48 000.
    pub sample_rate: u32,
}

impl Default for OfflineSettings {
    fn default() -> Self {
        Self {
            sample_rate: leitmotif_synth::DEFAULT_SAMPLE_RATE,
        }
    }
}

/// A kira [`Backend`] that keeps the [`Renderer`] and renders when asked
/// ([`render`](Self::render)): the whole of kira's mixer (tracks, effects, clocks, every
/// playing sound) runs exactly as it does on a device, frame for frame, but on the caller's
/// thread and schedule.
///
/// ```
/// use kira::{AudioManager, AudioManagerSettings};
/// use leitmotif_player::{OfflineBackend, OfflineSettings};
///
/// let mut manager = AudioManager::<OfflineBackend>::new(AudioManagerSettings {
///     backend_settings: OfflineSettings { sample_rate: 48_000 },
///     ..AudioManagerSettings::default()
/// })?;
/// let mut audio = Vec::new();
/// manager.backend_mut().render(480, &mut audio);
/// assert_eq!(audio.len(), 480);
/// assert!(audio.iter().all(|[l, r]| *l == 0.0 && *r == 0.0), "nothing plays yet");
/// # Ok::<(), std::convert::Infallible>(())
/// ```
pub struct OfflineBackend {
    sample_rate: u32,
    renderer: Option<Renderer>,
    buffer: Vec<f32>,
    rendered: u64,
}

impl std::fmt::Debug for OfflineBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OfflineBackend")
            .field("sample_rate", &self.sample_rate)
            .field("rendered", &self.rendered)
            .finish_non_exhaustive()
    }
}

impl OfflineBackend {
    /// The sample rate.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Frames rendered so far.
    pub fn rendered(&self) -> u64 {
        self.rendered
    }

    /// Renders the next `frames` stereo frames and appends them to `out`, as one device
    /// callback would: kira's `on_start_processing` (which takes in new sounds and
    /// commands), then its `process`.
    pub fn render(&mut self, frames: usize, out: &mut Vec<[f32; 2]>) {
        let Some(renderer) = &mut self.renderer else {
            out.extend(std::iter::repeat_n([0.0; 2], frames));
            return;
        };
        self.buffer.clear();
        self.buffer.resize(frames * 2, 0.0);
        renderer.on_start_processing();
        renderer.process(&mut self.buffer, 2);
        out.extend(self.buffer.chunks_exact(2).map(|c| [c[0], c[1]]));
        self.rendered += frames as u64;
    }
}

impl Backend for OfflineBackend {
    type Settings = OfflineSettings;
    type Error = std::convert::Infallible;

    fn setup(
        settings: Self::Settings,
        _internal_buffer_size: usize,
    ) -> Result<(Self, u32), Self::Error> {
        Ok((
            Self {
                sample_rate: settings.sample_rate,
                renderer: None,
                buffer: Vec::new(),
                rendered: 0,
            },
            settings.sample_rate,
        ))
    }

    fn start(&mut self, renderer: Renderer) -> Result<(), Self::Error> {
        self.renderer = Some(renderer);
        Ok(())
    }
}
