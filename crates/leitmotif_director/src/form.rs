//! Form over minutes: while a game state lasts its music walks its mood's
//! [`Form`](leitmotif_request::Form), one phrase a section. A letter's first section is
//! new music (the first phrase of the state continues the music before, as every phrase
//! did; a later new letter is a contrast); the same letter again is that phrase placed
//! once more; primes make it a variation of it through the composer's own tasks. When the
//! form ends it starts again with new music; a new state, a cue, a primed phrase or any
//! music the walk did not place starts it over.

use leitmotif_request::form::{Form, Role, Section};
use leitmotif_request::theme::{Development, Theme, ThemeTarget, development};
use leitmotif_request::{Curve, Mood, Request, Task};
use leitmotif_score::DEFAULT_PPQ;

use crate::director::Director;
use crate::job::JobKind;

/// Where a letter's music comes from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Material {
    /// A phrase on the timeline, by id.
    Phrase(u64),
    /// A registered theme, by name (a form written in a mood that names its theme).
    Theme(String),
}

/// The form a state's music is walking.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FormWalk {
    /// The mood whose form it is.
    mood: String,
    form: Form,
    /// The next section's index in this pass.
    next: usize,
    /// Each letter's music, once heard (index: letter).
    material: Vec<Option<Material>>,
    /// The job asked for as a section (its id and the section's index): the walk moves
    /// on when it is delivered.
    pending: Option<(u64, usize)>,
    /// The phrase the walk placed last: it goes on only from its own music.
    last: Option<u64>,
}

impl FormWalk {
    fn new(mood: &str, form: Form) -> Self {
        Self {
            mood: mood.to_owned(),
            material: vec![None; form.len()],
            form,
            next: 0,
            pending: None,
            last: None,
        }
    }

    /// The next section's index, starting a new pass when the form has ended.
    fn next_index(&mut self) -> usize {
        if self.next >= self.form.len() {
            self.next = 0;
            self.material.iter_mut().for_each(|m| *m = None);
        }
        self.next
    }

    /// The music section `index` returns to, if it has been heard.
    fn material_of(&self, index: usize) -> Option<&Material> {
        let letter = self.form.sections().get(index)?.letter;
        self.material.get(usize::from(letter))?.as_ref()
    }

    /// Section `index` was placed as phrase `id`.
    fn placed(&mut self, index: usize, id: u64) {
        if self.form.role(index) == Some(Role::New)
            && let Some(section) = self.form.sections().get(index)
            && let Some(slot) = self.material.get_mut(usize::from(section.letter))
        {
            *slot = Some(Material::Phrase(id));
        }
        self.next = index + 1;
        self.last = Some(id);
    }
}

/// What the form walk keeps: the walk, and which section each placed phrase was.
#[derive(Debug, Clone, Default)]
pub(crate) struct FormState {
    walk: Option<FormWalk>,
    sections: Vec<(u64, Section)>,
}

/// The development a variation with `primes` primes is: freer with each prime.
pub(crate) fn variation_kind(primes: u8) -> Development {
    match primes {
        0 | 1 => Development::NewEnding,
        2 => Development::Sequence,
        3 => Development::Inversion,
        _ => Development::Fragment,
    }
}

/// How far a contrasting section moves a control, away from the mood's own.
const CONTRAST_REGISTER: f64 = 0.3;
const CONTRAST_DENSITY: f64 = 0.25;

/// `value` moved `by` toward the far end of 0..=1.
fn away(value: f64, by: f64) -> f64 {
    if value >= 0.5 {
        (value - by).max(0.0)
    } else {
        (value + by).min(1.0)
    }
}

/// Makes `request` a contrast for new letter `letter` (B, C...) of `mood`'s form: the
/// density moves away from the mood's, and for B, D... the register too (C, E... keep it,
/// so that two contrasts differ from each other as well).
fn contrast(request: &mut Request, mood: &Mood, letter: u8) {
    request.density = Curve::Constant(away(mood.density, CONTRAST_DENSITY));
    if letter % 2 == 1 {
        request.register = Curve::Constant(away(mood.register, CONTRAST_REGISTER));
    }
}

impl Director {
    /// The form section phrase `id` was planned as, while the state it played in lasted
    /// (`None` for a cue, a stinger, a theme's own developments, or an unknown id). An
    /// exact repeat places the same phrase again: its id keeps the section where its
    /// letter was first heard.
    pub fn section_of(&self, id: u64) -> Option<Section> {
        self.form
            .sections
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, s)| *s)
    }

    /// The form the current state's music walks and the index of the next section (`None`
    /// before the state's first phrase is asked for).
    pub fn form_position(&self) -> Option<(&Form, usize)> {
        self.form
            .walk
            .as_ref()
            .filter(|w| w.mood == self.target.mood_name)
            .map(|w| (&w.form, w.next))
    }

    /// Whether the music just before `due` is the walk's own last phrase.
    fn follows_walk(&self, walk: &FormWalk, due: u64) -> bool {
        let before = due
            .checked_sub(1)
            .and_then(|t| self.timeline.index_at(t))
            .and_then(|i| self.timeline.placements.get(i))
            .and_then(|p| self.timeline.phrases.get(p.phrase))
            .map(|p| p.id);
        before.is_some() && before == walk.last
    }

    /// The walk the next phrase, due at `due`, goes on with: `None` when it must start
    /// over (another state or form, or music before `due` the walk did not place).
    fn walk_on(&mut self, due: u64) -> Option<FormWalk> {
        let walk = self.form.walk.take()?;
        let form = self.target.mood.form_or_default();
        (walk.mood == self.target.mood_name && walk.form == form && self.follows_walk(&walk, due))
            .then_some(walk)
    }

    /// A theme statement just placed for a mood whose own form is written becomes that
    /// form's A: the form plans the phrases after it (its variations develop the theme)
    /// instead of the theme's own developments.
    pub(crate) fn adopt_theme(&mut self, due: u64) {
        let Some(form) = self.target.mood.form.clone() else {
            return;
        };
        let Some(developing) = self.developing.as_ref().filter(|d| d.done == 0) else {
            return;
        };
        let name = developing.name.clone();
        let statement = due
            .checked_sub(1)
            .and_then(|t| self.timeline.index_at(t))
            .and_then(|i| self.timeline.placements.get(i))
            .and_then(|p| self.timeline.phrases.get(p.phrase))
            .map(|p| p.id);
        let mut walk = FormWalk::new(&self.target.mood_name, form);
        if let Some(slot) = walk.material.first_mut() {
            *slot = Some(Material::Theme(name));
        }
        walk.next = 1;
        walk.last = statement;
        if let Some(id) = statement {
            self.form.sections.push((id, walk.form.sections()[0]));
        }
        self.form.walk = Some(walk);
        self.developing = None;
    }

    /// Plans job `id` (of `kind`, due at `due`) as the next section of the state's form,
    /// changing `request` for a contrast or a variation. Returns whether the delivered
    /// score is the whole phrase (a variation keeps a head and infills the rest).
    pub(crate) fn plan_section(
        &mut self,
        kind: JobKind,
        id: u64,
        due: u64,
        request: &mut Request,
    ) -> bool {
        let on = (kind == JobKind::Continue && self.theme.is_none())
            .then(|| self.walk_on(due))
            .flatten();
        let mut walk = on.unwrap_or_else(|| {
            FormWalk::new(&self.target.mood_name, self.target.mood.form_or_default())
        });
        let index = walk.next_index();
        walk.pending = Some((id, index));
        let section = walk.form.sections()[index];
        // B's music, new or varied, keeps B's controls.
        if section.letter > 0 {
            contrast(request, &self.target.mood, section.letter);
        }
        let whole = match walk.form.role(index) {
            Some(Role::New) | None => false,
            // A repeat that could not be placed as it was (see `place_repeat`) is heard
            // as its closest variation.
            Some(Role::Repeat) => self.vary(&walk, index, 1, request),
            Some(Role::Variation(primes)) => self.vary(&walk, index, primes, request),
        };
        tracing::debug!(id, section = %section, form = %walk.form, "form section planned");
        self.form.walk = Some(walk);
        whole
    }

    /// Makes `request` a variation with `primes` primes of the music section `index` of
    /// `walk` returns to. Returns whether the phrase is the whole infilled score; when the
    /// music is not there (or cannot be varied, which is logged) the request stays new
    /// music continuing the last.
    fn vary(&self, walk: &FormWalk, index: usize, primes: u8, request: &mut Request) -> bool {
        let kind = variation_kind(primes);
        let meter = self.meter_lock.unwrap_or(self.settings.meter);
        let theme = match walk.material_of(index) {
            Some(Material::Theme(name)) => {
                self.themes.get(name).cloned().map_err(|e| e.to_string())
            }
            Some(Material::Phrase(id)) => {
                let Some(phrase) = self.timeline.phrases.iter().find(|p| p.id == *id) else {
                    return false;
                };
                let key = request.key.unwrap_or(phrase.key);
                let bpm = request.tempo_bpm.unwrap_or(phrase.bpm);
                let bar = phrase.meter.ticks_per_bar(DEFAULT_PPQ).max(1);
                let bars = u32::try_from(phrase.length / bar).unwrap_or(0);
                if kind == Development::NewEnding
                    && phrase.key == key
                    && (phrase.bpm - bpm).abs() < 1e-9
                    && phrase.meter == meter
                    && phrase.length % bar == 0
                    && bars >= 2
                {
                    // The phrase as heard, every layer, with a new ending: its last quarter
                    // (the last bar of four, two of eight) rewritten, as a tune's second
                    // ending is, the rest kept.
                    let kept = bars - bars.div_ceil(4);
                    request.task = Task::Infill {
                        score: phrase.score(),
                        bars: kept + 1..=bars,
                        layer: None,
                    };
                    request.key = Some(phrase.key);
                    return true;
                }
                // Its melody as a theme, read in the key it was written in.
                Theme::from_score(&phrase.score())
                    .map(|t| t.in_key(phrase.key))
                    .map_err(|e| e.to_string())
            }
            None => return false,
        };
        let theme = match theme {
            Ok(theme) => theme,
            Err(e) => {
                tracing::warn!(%e, "form: the music to vary is not there");
                return false;
            }
        };
        let mut target =
            ThemeTarget::for_mood(&self.target.mood, request.key.unwrap_or(theme.key()), meter);
        target.bpm = request.tempo_bpm.unwrap_or(target.bpm);
        target.bars = Some(request.bars);
        // In the register the section's music was written in.
        if let Curve::Constant(register) = request.register {
            target.register = register;
        }
        match development(&theme, kind, &target, request) {
            Ok(developed) => {
                *request = developed;
                kind.keeps_head()
            }
            Err(e) => {
                tracing::warn!(%kind, %e, "form: variation not made; new music instead");
                false
            }
        }
    }

    /// Phrase `id` was delivered and placed: the walk moves past its section.
    pub(crate) fn section_delivered(&mut self, id: u64) {
        let Some(walk) = self.form.walk.as_mut() else {
            return;
        };
        let Some((_, index)) = walk.pending.take_if(|(p, _)| *p == id) else {
            return;
        };
        walk.placed(index, id);
        if let Some(section) = walk.form.sections().get(index) {
            self.form.sections.push((id, *section));
        }
    }

    /// Places the next section at `end` when it is an exact repeat of a phrase that can
    /// play again as it is (same key, tempo and meter as the state's music now). Returns
    /// whether it did; no job is needed then.
    pub(crate) fn place_repeat(&mut self, end: u64) -> bool {
        if self.theme.is_some() || self.developing.is_some() {
            return false;
        }
        let Some(mut walk) = self.walk_on(end) else {
            return false;
        };
        let placed = self.try_repeat(&mut walk, end);
        self.form.walk = Some(walk);
        placed
    }

    fn try_repeat(&mut self, walk: &mut FormWalk, end: u64) -> bool {
        let index = walk.next_index();
        if walk.form.role(index) != Some(Role::Repeat) {
            return false;
        }
        let Some(Material::Phrase(id)) = walk.material_of(index).cloned() else {
            return false;
        };
        let Some(at) = self.timeline.phrases.iter().position(|p| p.id == id) else {
            return false;
        };
        let phrase = &self.timeline.phrases[at];
        let mood = &self.target.mood;
        let bpm = self.tempo_lock.unwrap_or(mood.tempo_bpm);
        let meter = self.meter_lock.unwrap_or(self.settings.meter);
        let key = self
            .key_lock
            .or_else(|| mood.key.key_after(self.key_before(end), mood.mode));
        if key.is_some_and(|k| k != phrase.key)
            || (phrase.bpm - bpm).abs() > 1e-9
            || phrase.meter != meter
        {
            return false;
        }
        if self
            .clock
            .set_segment(end, phrase.bpm, phrase.meter)
            .is_err()
        {
            return false;
        }
        let plays = self
            .timeline
            .placements
            .iter()
            .filter(|p| p.phrase == at)
            .count();
        self.timeline
            .place(at, end, u32::try_from(plays).unwrap_or(u32::MAX));
        tracing::debug!(id, end, "form: section repeated");
        walk.placed(index, id);
        true
    }
}
