//! Leitmotifs in the director: registered themes, stated in the mood playing when called
//! (by the game, or by a mood that names its theme), then developed by the next phrases.

use leitmotif_request::Request;
use leitmotif_request::request::layer_of_role;
use leitmotif_request::theme::{Development, ThemeTarget, development, statement};
use leitmotif_request::{Mood, Transition};
use leitmotif_score::Score;
use leitmotif_score::theory::Scale;
use leitmotif_tokens::Layer;

use crate::director::{Director, job_seed};
use crate::error::DirectorError;
use crate::session::Phrase;

/// Phrases after a theme's statement that develop it, in this order (the theme heard less
/// and less: measured recall falls from a new ending to a free continuation); then the
/// music goes on freely (continuing what plays) until the theme is called again.
pub(crate) const DEVELOPMENTS: [Development; 4] = [
    Development::NewEnding,
    Development::Sequence,
    Development::Inversion,
    Development::Continue,
];

/// The theme being developed: its name and how many development phrases were asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Developing {
    pub(crate) name: String,
    pub(crate) done: usize,
}

impl Director {
    /// Registers `score` as the theme called `name` (replacing one of that name). A theme
    /// is any score: its melody track is the theme (see
    /// [`Theme::from_score`](leitmotif_request::theme::Theme::from_score)).
    ///
    /// # Errors
    /// [`DirectorError::Theme`] for a score that is no theme (invalid, no pitched notes,
    /// too long); nothing changes.
    pub fn register_theme(&mut self, name: &str, score: &Score) -> Result<(), DirectorError> {
        self.themes.register(name, score)?;
        Ok(())
    }

    /// The names of the registered themes, sorted.
    pub fn themes(&self) -> impl Iterator<Item = &str> {
        self.themes.names()
    }

    /// Calls the theme `name`: on the next boundary `rule` names (at the very start when
    /// no music plays yet) the music states it in the current state's mood — in the key
    /// that mood's key rule gives from the music before (a lock still wins), at its tempo
    /// (or the locked one), in the session's meter and the mood's register, harmonised
    /// under the mood's layers — and the next phrases develop it (a new ending, a sequence,
    /// an inversion, a continuation of the statement) before the music goes on freely.
    /// Returns the statement's phrase id.
    ///
    /// # Errors
    /// [`DirectorError::Theme`] for a name no theme was registered under, or a theme that
    /// cannot be stated in the mood; [`DirectorError::InvalidPhrase`] for a statement the
    /// session cannot place. Nothing changes.
    pub fn play_theme(&mut self, name: &str, rule: Transition) -> Result<u64, DirectorError> {
        let theme = self.themes.get(name)?.clone();
        let due = if self.started {
            self.clock.next_boundary(self.horizon(), rule)
        } else {
            0
        };
        let mood = self.target.mood.clone();
        let id = self.take_id();
        let target = self.theme_target(&mood, due, theme.key());
        let composition = statement(
            &theme,
            &target,
            &mood_layers(&mood),
            self.intensity_target,
            job_seed(self.settings.seed, id),
        )?;
        let mut phrase = Phrase::new(id, self.target.name.clone(), composition)?;
        phrase.mood = Some(self.target.mood_name.clone());
        phrase.crossfade_beats = mood.crossfade_beats;
        self.cancel_main();
        let start = if self.started {
            self.cut_at_boundary(rule)
        } else {
            0
        };
        tracing::debug!(id, name, start, "theme stated");
        self.schedule(phrase, start)?;
        self.developing = Some(Developing {
            name: name.to_owned(),
            done: 0,
        });
        Ok(id)
    }

    /// Where a theme goes in `mood` for music due at `due`: the key the mood's rule gives
    /// from the music before (the theme's own key before any music), the tempo, meter and
    /// register.
    fn theme_target(&self, mood: &Mood, due: u64, own: Scale) -> ThemeTarget {
        let before = self.key_before(due).unwrap_or(own);
        let key = self
            .key_lock
            .or_else(|| mood.key.key_after(Some(before), mood.mode))
            .unwrap_or(before);
        let mut target =
            ThemeTarget::for_mood(mood, key, self.meter_lock.unwrap_or(self.settings.meter));
        if let Some(bpm) = self.tempo_lock {
            target.bpm = bpm;
        }
        target
    }

    /// The request of the next development of the theme being developed, made from the
    /// plain `request` for that phrase, and whether the phrase is the whole infilled score;
    /// `None` when no theme is being developed (or it cannot be, which is logged).
    pub(crate) fn development_request(&mut self, request: &Request) -> Option<(Request, bool)> {
        let developing = self.developing.as_mut()?;
        let Some(&kind) = DEVELOPMENTS.get(developing.done) else {
            self.developing = None;
            return None;
        };
        developing.done += 1;
        let theme = self.themes.get(&developing.name).ok()?;
        let mut target = ThemeTarget::for_mood(
            &self.target.mood,
            request.key.unwrap_or(theme.key()),
            self.meter_lock.unwrap_or(self.settings.meter),
        );
        target.bpm = request.tempo_bpm.unwrap_or(target.bpm);
        target.bars = Some(request.bars);
        match development(theme, kind, &target, request) {
            Ok(developed) => Some((developed, kind.keeps_head())),
            Err(e) => {
                tracing::warn!(theme = %developing.name, %kind, %e, "theme not developed");
                None
            }
        }
    }

    /// Calls the theme `mood_name`'s mood names, if it has one and it is registered: the
    /// statement lands on `rule`'s boundary. Returns whether it did.
    pub(crate) fn state_theme(&mut self, rule: Transition) -> bool {
        let Some(name) = self.target.mood.theme.clone() else {
            return false;
        };
        if !self.themes.contains(&name) {
            tracing::warn!(theme = %name, mood = %self.target.mood_name, "mood names an unregistered theme");
            return false;
        }
        match self.play_theme(&name, rule) {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(theme = %name, %e, "theme not stated");
                false
            }
        }
    }
}

/// The layers a mood plays, melody included.
fn mood_layers(mood: &Mood) -> Vec<Layer> {
    mood.layers
        .iter()
        .filter_map(|r| layer_of_role(*r))
        .chain([Layer::Melody])
        .collect()
}
