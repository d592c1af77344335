//! What the player is built with: sample rate, look-ahead, fades, volumes and instruments.

use leitmotif_score::{Role, Track};
use leitmotif_synth::{BuiltIn, Instrument, SoundFont};
use leitmotif_tokens::Layer;

use crate::error::PlayerError;

/// A part of the music with its own bus, gain and instrument: the four layers a phrase is
/// written in, and the stingers played over them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Part {
    /// The tune.
    Melody,
    /// The bass line.
    Bass,
    /// Chords or pad.
    Chords,
    /// Drums.
    Drums,
    /// Stingers.
    Stinger,
}

impl Part {
    /// Every part, in bus order.
    pub const ALL: [Part; 5] = [
        Part::Melody,
        Part::Bass,
        Part::Chords,
        Part::Drums,
        Part::Stinger,
    ];

    /// The part a layer plays in (inner voices go with the chords).
    pub fn of_layer(layer: Layer) -> Part {
        match layer {
            Layer::Melody => Part::Melody,
            Layer::Bass => Part::Bass,
            Layer::Drums => Part::Drums,
            _ => Part::Chords,
        }
    }

    /// Its index in [`ALL`](Self::ALL).
    pub fn index(self) -> usize {
        match self {
            Part::Melody => 0,
            Part::Bass => 1,
            Part::Chords => 2,
            Part::Drums => 3,
            Part::Stinger => 4,
        }
    }

    /// The score track a part's music comes from, by default: the composer's name, role,
    /// General MIDI program and channel for its layer (a brass section on channel 5 for
    /// stingers).
    pub fn default_track(self) -> Track {
        let layer = match self {
            Part::Melody => Layer::Melody,
            Part::Bass => Layer::Bass,
            Part::Chords => Layer::Chords,
            Part::Drums => Layer::Drums,
            Part::Stinger => return Track::new("Stinger", Role::Other, 61, 4),
        };
        let (name, program, channel) = layer.track_defaults();
        Track::new(name, layer.role(), program, channel)
    }
}

/// One value per [`Part`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PerPart<T> {
    /// The melody's.
    pub melody: T,
    /// The bass's.
    pub bass: T,
    /// The chords'.
    pub chords: T,
    /// The drums'.
    pub drums: T,
    /// The stingers'.
    pub stinger: T,
}

impl<T: Clone> PerPart<T> {
    /// The same value for every part.
    pub fn all(value: T) -> Self {
        Self {
            melody: value.clone(),
            bass: value.clone(),
            chords: value.clone(),
            drums: value.clone(),
            stinger: value,
        }
    }
}

impl<T> PerPart<T> {
    /// The value for `part`.
    pub fn get(&self, part: Part) -> &T {
        match part {
            Part::Melody => &self.melody,
            Part::Bass => &self.bass,
            Part::Chords => &self.chords,
            Part::Drums => &self.drums,
            Part::Stinger => &self.stinger,
        }
    }

    /// The value for `part`, to change.
    pub fn get_mut(&mut self, part: Part) -> &mut T {
        match part {
            Part::Melody => &mut self.melody,
            Part::Bass => &mut self.bass,
            Part::Chords => &mut self.chords,
            Part::Drums => &mut self.drums,
            Part::Stinger => &mut self.stinger,
        }
    }
}

/// Which instrument plays a part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum InstrumentChoice {
    /// The part's General MIDI program ([`Part::default_track`]): that preset of the
    /// player's SoundFont when one is set, else the built-in instrument of its family.
    #[default]
    Auto,
    /// A built-in instrument, even when a SoundFont is set.
    BuiltIn(BuiltIn),
    /// A preset of the player's SoundFont (the part's built-in instrument while none is
    /// set).
    Preset {
        /// The bank (0 for General MIDI presets; with `drums`, counted from the drum banks).
        bank: u8,
        /// The program, 0..=127.
        program: u8,
        /// Whether it plays as a drum kit.
        drums: bool,
    },
}

impl InstrumentChoice {
    /// The instrument this choice gives `part`, with `font` as the player's SoundFont.
    pub fn instrument(self, part: Part, font: Option<&SoundFont>) -> Instrument {
        match (self, font) {
            (InstrumentChoice::BuiltIn(built_in), _) => Instrument::BuiltIn(built_in),
            (
                InstrumentChoice::Preset {
                    bank,
                    program,
                    drums,
                },
                Some(font),
            ) => Instrument::SoundFont {
                font: font.clone(),
                bank,
                program: program & 0x7F,
                drums,
            },
            (InstrumentChoice::Preset { .. }, None) => {
                Instrument::for_track(&part.default_track(), None)
            }
            (InstrumentChoice::Auto, font) => Instrument::for_track(&part.default_track(), font),
        }
    }
}

/// How a [`Player`](crate::Player) plays. Every field has a default.
#[derive(Clone)]
pub struct PlayerSettings {
    /// Frames per second: the output's rate. Default 48 000.
    pub sample_rate: u32,
    /// How far ahead of the transport notes are sent to the audio thread, in seconds
    /// (0.05..=2). Longer rides out longer frame hitches; changes of state, cues and
    /// stingers still land on their own boundaries, but never inside this window, and a
    /// layer's fade starts at its far end. Default 0.3.
    pub look_ahead_seconds: f64,
    /// How long a layer takes to fade in or out when the intensity crosses its entry
    /// intensity, in seconds. Default 1.
    pub layer_fade_seconds: f64,
    /// Linear gain of the whole mix, 0..=4. Default 1.
    pub master_volume: f32,
    /// Linear gain of each part, 0..=4. Default 1 each.
    pub volumes: PerPart<f32>,
    /// The instrument of each part. Default [`InstrumentChoice::Auto`] each.
    pub instruments: PerPart<InstrumentChoice>,
    /// The SoundFont for [`InstrumentChoice::Auto`] and [`InstrumentChoice::Preset`]
    /// parts (`None`: built-in instruments).
    pub soundfont: Option<SoundFont>,
    /// Voices per bus (the polyphony of each SoundFont bus). Default 32.
    pub max_voices: usize,
    /// Output latency beyond one device callback, in seconds, that the clock accounts for
    /// (the driver's own buffering, which kira does not report). Default 0.
    pub extra_latency_seconds: f64,
}

impl Default for PlayerSettings {
    fn default() -> Self {
        Self {
            sample_rate: leitmotif_synth::DEFAULT_SAMPLE_RATE,
            look_ahead_seconds: 0.3,
            layer_fade_seconds: 1.0,
            master_volume: 1.0,
            volumes: PerPart::all(1.0),
            instruments: PerPart::all(InstrumentChoice::Auto),
            soundfont: None,
            max_voices: 32,
            extra_latency_seconds: 0.0,
        }
    }
}

impl std::fmt::Debug for PlayerSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlayerSettings")
            .field("sample_rate", &self.sample_rate)
            .field("look_ahead_seconds", &self.look_ahead_seconds)
            .field("layer_fade_seconds", &self.layer_fade_seconds)
            .field("master_volume", &self.master_volume)
            .field("volumes", &self.volumes)
            .field("instruments", &self.instruments)
            .field("soundfont", &self.soundfont.as_ref().map(SoundFont::name))
            .field("max_voices", &self.max_voices)
            .field("extra_latency_seconds", &self.extra_latency_seconds)
            .finish()
    }
}

/// Checks a volume.
pub(crate) fn check_volume(what: &'static str, volume: f32) -> Result<(), PlayerError> {
    if volume.is_finite() && (0.0..=4.0).contains(&volume) {
        Ok(())
    } else {
        Err(PlayerError::Invalid {
            what,
            reason: format!("{volume} is outside 0..=4"),
        })
    }
}

impl PlayerSettings {
    /// Checks every value's range.
    ///
    /// # Errors
    /// [`PlayerError::Invalid`] naming the first bad setting.
    pub fn validate(&self) -> Result<(), PlayerError> {
        let invalid = |what, reason: String| Err(PlayerError::Invalid { what, reason });
        if !(self.look_ahead_seconds.is_finite() && (0.05..=2.0).contains(&self.look_ahead_seconds))
        {
            return invalid(
                "look_ahead_seconds",
                format!("{} is outside 0.05..=2", self.look_ahead_seconds),
            );
        }
        for (what, value) in [
            ("layer_fade_seconds", self.layer_fade_seconds),
            ("extra_latency_seconds", self.extra_latency_seconds),
        ] {
            if !(value.is_finite() && (0.0..=10.0).contains(&value)) {
                return invalid(what, format!("{value} is outside 0..=10"));
            }
        }
        check_volume("master_volume", self.master_volume)?;
        for part in Part::ALL {
            check_volume("volumes", *self.volumes.get(part))?;
        }
        Ok(())
    }
}
