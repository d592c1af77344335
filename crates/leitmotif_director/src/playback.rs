//! Time passing: beats, bars, phrase starts, late phrases and repeats as the director's
//! clock advances, and what the director says about the music now.

use leitmotif_request::{MoodTable, Transition};
use leitmotif_tokens::Layer;

use crate::clock::{MusicClock, Position};
use crate::director::Director;
use crate::events::{DirectorEvent, PhraseInfo};
use crate::job::DirectorSettings;

impl Director {
    /// Moves time on by `dt` seconds and returns what happened, in order: every beat and bar
    /// line crossed however large `dt` is, phrase starts, transitions, late phrases. Before
    /// the first phrase arrives only the intensity moves.
    pub fn advance(&mut self, dt: f64) -> Vec<DirectorEvent> {
        let mut events = std::mem::take(&mut self.queued);
        if !(dt.is_finite() && dt > 0.0) {
            return events;
        }
        let tau = self.settings.intensity_smoothing_seconds;
        let alpha = if tau > 0.0 {
            1.0 - (-dt / tau).exp()
        } else {
            1.0
        };
        self.intensity += (self.intensity_target - self.intensity) * alpha;
        if !self.started {
            return events;
        }
        self.seconds += dt;
        let mut from = self.tick;
        loop {
            let to = self.clock.tick_at(self.seconds).max(self.tick);
            let next = self.next_event(from);
            if next >= to {
                self.tick = to;
                return events;
            }
            self.events_at(next, &mut events);
            from = next + 1;
        }
    }

    /// The first tick at or after `from` where something may happen.
    fn next_event(&self, from: u64) -> u64 {
        let mut next = self.clock.next_boundary(from, Transition::NextBeat);
        let end = self.timeline.end();
        if end >= from {
            next = next.min(end);
        }
        // Placements and overlays are sorted by start: only the first at or after `from`
        // of each can come first.
        let placements = &self.timeline.placements;
        let overlays = &self.timeline.overlays;
        let placement = placements
            .get(placements.partition_point(|p| p.start < from))
            .map(|p| p.start);
        let overlay = overlays
            .get(overlays.partition_point(|o| o.start < from))
            .map(|o| o.start);
        let due = self.main.as_ref().map(|p| p.due).filter(|t| *t >= from);
        let notice = self
            .late_notices
            .iter()
            .filter_map(DirectorEvent::tick)
            .filter(|t| *t >= from)
            .min();
        [placement, overlay, due, notice]
            .into_iter()
            .flatten()
            .fold(next, u64::min)
    }

    /// Emits what happens at `tick` (and repeats the music if it runs out there).
    fn events_at(&mut self, tick: u64, events: &mut Vec<DirectorEvent>) {
        let bar = self.clock.position(tick).bar;
        if self.late_notices.iter().any(|e| e.tick() == Some(tick)) {
            let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.late_notices)
                .into_iter()
                .partition(|e| e.tick() == Some(tick));
            self.late_notices = later;
            for notice in now {
                tracing::info!(?notice, "phrase late; the music goes on");
                events.push(notice);
            }
        }
        if let Some(p) = self.main.as_mut().filter(|p| p.due == tick && !p.late) {
            p.late = true;
            tracing::info!(id = p.id, state = %p.state, "phrase late; the music goes on");
            events.push(DirectorEvent::PhraseLate {
                state: p.state.clone(),
                bar,
                id: p.id,
                tick,
            });
        }
        if self.timeline.end() == tick
            && let Some(last) = self.timeline.placements.last().copied()
            && let Some(phrase) = self.timeline.phrases.get(last.phrase)
            && self
                .clock
                .set_segment(tick, phrase.bpm, phrase.meter)
                .is_ok()
        {
            self.timeline.place(last.phrase, tick, last.repeat + 1);
        }
        let placements = &self.timeline.placements;
        if let Some(i) = placements.iter().position(|p| p.start == tick) {
            let phrase = &self.timeline.phrases[placements[i].phrase];
            let before = i
                .checked_sub(1)
                .map(|j| &self.timeline.phrases[placements[j].phrase]);
            if let Some(before) = before.filter(|b| b.state != phrase.state) {
                events.push(DirectorEvent::TransitionDone {
                    from: before.state.clone(),
                    to: phrase.state.clone(),
                    bar,
                    tick,
                    crossfade_beats: phrase.crossfade_beats,
                });
            }
            events.push(DirectorEvent::PhraseStarted {
                state: phrase.state.clone(),
                bar,
                id: phrase.id,
                repeat: placements[i].repeat,
                tick,
            });
        }
        let position = self.clock.position(tick);
        for o in self.timeline.overlays.iter().filter(|o| o.start == tick) {
            let phrase = &self.timeline.phrases[o.phrase];
            events.push(DirectorEvent::StingerStarted {
                name: phrase.state.clone(),
                bar,
                beat: position.beat,
                id: phrase.id,
                tick,
            });
        }
        if self.clock.is_beat(tick) {
            let segment = self.clock.segment_at(tick);
            if position.beat == 1 {
                events.push(DirectorEvent::Bar { bar, tick });
            }
            events.push(DirectorEvent::Beat {
                bar,
                beat: position.beat,
                bpm: segment.bpm,
                meter: segment.meter,
                tick,
            });
        }
    }

    /// Repeats the last phrase until the scheduled music reaches `tick`.
    pub(crate) fn extend_to(&mut self, tick: u64) {
        while self.timeline.end() < tick {
            let Some(last) = self.timeline.placements.last().copied() else {
                return;
            };
            let end = last.end;
            let Some(phrase) = self.timeline.phrases.get(last.phrase) else {
                return;
            };
            if self
                .clock
                .set_segment(end, phrase.bpm, phrase.meter)
                .is_err()
            {
                return;
            }
            self.timeline.place(last.phrase, end, last.repeat + 1);
        }
    }

    /// The state playing now (the name the game used); before the music starts, the state
    /// the first phrase is for.
    pub fn state(&self) -> &str {
        self.timeline
            .index_at(self.tick)
            .and_then(|i| {
                self.timeline
                    .phrases
                    .get(self.timeline.placements[i].phrase)
            })
            .map_or(self.target.name.as_str(), |p| p.state.as_str())
    }

    /// The state last asked for (playing, or waiting for its boundary or phrase).
    pub fn target_state(&self) -> &str {
        &self.target.name
    }

    /// The mood the state last asked for resolves to.
    pub fn target_mood(&self) -> &str {
        &self.target.mood_name
    }

    /// The theme the next phrase will continue (see [`prime`](Self::prime)), until a phrase
    /// made from it arrives.
    pub fn theme(&self) -> Option<&leitmotif_score::Score> {
        self.theme.as_ref()
    }

    /// Whether the first phrase has arrived and the clock runs.
    pub fn is_started(&self) -> bool {
        self.started
    }

    /// The session tick now.
    pub fn tick(&self) -> u64 {
        self.tick
    }

    /// Seconds since the first phrase began.
    pub fn seconds(&self) -> f64 {
        self.seconds
    }

    /// Bar and beat now.
    pub fn position(&self) -> Position {
        self.clock.position(self.tick)
    }

    /// The clock.
    pub fn clock(&self) -> &MusicClock {
        &self.clock
    }

    /// The smoothed intensity the director uses now.
    pub fn intensity(&self) -> f64 {
        self.intensity
    }

    /// The intensity the game asked for.
    pub fn target_intensity(&self) -> f64 {
        self.intensity_target
    }

    /// The layers heard now: those the phrase playing now has whose entry intensity
    /// ([`Mood::enter`](leitmotif_request::Mood::enter)) the smoothed
    /// [`intensity`](Self::intensity) has reached (the melody always; every layer of a cue).
    /// Phrases are written with all their mood's layers, so that a layer can come in in the
    /// middle of a phrase; [`PhraseInfo::layers`] lists what was written. None before the
    /// music starts.
    pub fn active_layers(&self) -> Vec<Layer> {
        let Some(phrase) = self.current_phrase() else {
            return Vec::new();
        };
        match self.table.lookup(&phrase.state) {
            Some((_, mood)) => {
                let heard: Vec<Layer> = mood
                    .layers_at(self.intensity)
                    .into_iter()
                    .filter_map(leitmotif_request::request::layer_of_role)
                    .collect();
                phrase
                    .layers
                    .into_iter()
                    .filter(|l| *l == Layer::Melody || heard.contains(l))
                    .collect()
            }
            None => phrase.layers,
        }
    }

    /// The phrase playing now.
    pub fn current_phrase(&self) -> Option<PhraseInfo> {
        self.timeline.index_at(self.tick).and_then(|i| self.info(i))
    }

    /// The phrase scheduled after the one playing now, if one is.
    pub fn next_phrase(&self) -> Option<PhraseInfo> {
        let i = self.timeline.index_at(self.tick)?;
        self.info(i + 1)
    }

    /// The id and due tick of the state or continuation job being waited for.
    pub fn pending_job(&self) -> Option<(u64, u64)> {
        self.main.as_ref().map(|p| (p.id, p.due))
    }

    /// The settings.
    pub fn settings(&self) -> &DirectorSettings {
        &self.settings
    }

    /// The mood table in use.
    pub fn table(&self) -> &MoodTable {
        &self.table
    }

    fn info(&self, index: usize) -> Option<PhraseInfo> {
        let p = self.timeline.placements.get(index)?;
        let phrase = self.timeline.phrases.get(p.phrase)?;
        Some(PhraseInfo {
            id: phrase.id,
            state: phrase.state.clone(),
            start_tick: p.start,
            end_tick: p.end,
            bar: self.clock.position(p.start).bar,
            bpm: phrase.bpm,
            meter: phrase.meter,
            key: phrase.key,
            layers: phrase.layers.clone(),
            repeat: p.repeat,
            pivot: self
                .timeline
                .pivots
                .get(&p.start)
                .map(|pivot| (pivot.from, pivot.chord)),
        })
    }
}
