//! Choosing what each bus sounds like: a built-in instrument or a SoundFont preset.

use leitmotif_score::{DRUM_CHANNEL, Track};

use crate::SoundFont;

/// Built-in instruments, synthesized, no files.
///
/// Each is a small subtractive or FM synthesizer tuned to sound finished at any velocity:
/// velocity sets loudness and brightness together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BuiltIn {
    /// A bright saw and square blend through a resonant low-pass, with vibrato that grows
    /// after the onset: melodies, brass, reeds, pipes and synth leads.
    Lead,
    /// Saw and square with a sine sub-octave and a plucky filter envelope: bass lines.
    Bass,
    /// Three detuned saws per note spread in stereo, slow attack and a slowly opening
    /// filter: strings, ensembles, organs and pads for chords.
    Pad,
    /// A two-pair FM electric piano with a bright tine attack that decays: pianos,
    /// mallets, guitars and other plucked or struck tones.
    Keys,
    /// A synthesized General MIDI drum kit (kick, snare, side stick, clap, hats, toms,
    /// crash and ride); other keys play the nearest of these.
    Drums,
}

impl BuiltIn {
    /// Every built-in instrument.
    pub const ALL: [BuiltIn; 5] = [
        BuiltIn::Lead,
        BuiltIn::Bass,
        BuiltIn::Pad,
        BuiltIn::Keys,
        BuiltIn::Drums,
    ];

    /// By General MIDI program family; `channel == 9` gives Drums.
    ///
    /// Pianos, chromatic percussion, guitars, harps, pizzicato, ethnic and percussive
    /// programs get [`BuiltIn::Keys`]; basses [`BuiltIn::Bass`]; organs, strings,
    /// ensembles, synth pads, effects and sound effects [`BuiltIn::Pad`]; brass, reeds,
    /// pipes and synth leads [`BuiltIn::Lead`].
    pub fn for_program(program: u8, channel: u8) -> BuiltIn {
        if channel == DRUM_CHANNEL {
            return BuiltIn::Drums;
        }
        match program & 0x7F {
            // Piano, chromatic percussion.
            0..=15 => BuiltIn::Keys,
            // Organ.
            16..=23 => BuiltIn::Pad,
            // Guitar.
            24..=31 => BuiltIn::Keys,
            // Bass.
            32..=39 => BuiltIn::Bass,
            // Pizzicato strings, orchestral harp, timpani.
            45..=47 => BuiltIn::Keys,
            // Strings, ensemble.
            40..=55 => BuiltIn::Pad,
            // Brass, reed, pipe, synth lead.
            56..=87 => BuiltIn::Lead,
            // Synth pad, synth effects.
            88..=103 => BuiltIn::Pad,
            // Ethnic (sitar, banjo, koto, kalimba...), percussive (bells, steel drums...).
            104..=119 => BuiltIn::Keys,
            // Sound effects.
            _ => BuiltIn::Pad,
        }
    }

    /// The instrument's lowercase name (`"lead"`, `"bass"`, `"pad"`, `"keys"`, `"drums"`).
    pub fn as_str(self) -> &'static str {
        match self {
            BuiltIn::Lead => "lead",
            BuiltIn::Bass => "bass",
            BuiltIn::Pad => "pad",
            BuiltIn::Keys => "keys",
            BuiltIn::Drums => "drums",
        }
    }
}

impl std::fmt::Display for BuiltIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// Where a bus's sound comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Instrument {
    /// A built-in instrument.
    BuiltIn(BuiltIn),
    /// A SoundFont preset; `drums` plays it as a GM drum kit (channel 10 behaviour).
    SoundFont {
        /// The loaded font.
        font: SoundFont,
        /// The preset's bank: 0 for General MIDI presets. With `drums` it counts from the
        /// drum banks (bank 0 is the file's bank 128, where GM drum kits live); a preset
        /// the file lacks falls back to program `program` of bank 0 (or the standard kit).
        bank: u8,
        /// The preset's program number, 0..=127.
        program: u8,
        /// Whether to play it on the percussion channel.
        drums: bool,
    },
}

impl Instrument {
    /// The instrument for a score track: its program / drum channel, from `font` when
    /// given, else built in.
    pub fn for_track(track: &Track, font: Option<&SoundFont>) -> Instrument {
        let drums = track.channel == DRUM_CHANNEL;
        match font {
            Some(font) => Instrument::SoundFont {
                font: font.clone(),
                bank: 0,
                program: track.program & 0x7F,
                drums,
            },
            None => Instrument::BuiltIn(BuiltIn::for_program(track.program, track.channel)),
        }
    }
}

impl From<BuiltIn> for Instrument {
    fn from(built_in: BuiltIn) -> Self {
        Instrument::BuiltIn(built_in)
    }
}
