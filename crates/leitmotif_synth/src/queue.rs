//! The engine's event queue: sorted by frame, stable for equal frames, fixed capacity.

use std::collections::VecDeque;

use crate::{Event, Scheduled};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub(crate) scheduled: Scheduled,
    /// Already played (a note-off pulled ahead of a note-on of the same key).
    pub(crate) done: bool,
}

/// Pending events in frame order; never grows past the capacity it was built with.
pub(crate) struct EventQueue {
    entries: VecDeque<Entry>,
    capacity: usize,
}

impl EventQueue {
    pub(crate) fn new(capacity: usize) -> Self {
        EventQueue {
            entries: VecDeque::with_capacity(capacity),
            capacity,
        }
    }

    /// Inserts after every event at the same or an earlier frame; `Err` when full.
    pub(crate) fn push(&mut self, scheduled: Scheduled) -> Result<(), Scheduled> {
        if self.entries.len() >= self.capacity {
            return Err(scheduled);
        }
        let entry = Entry {
            scheduled,
            done: false,
        };
        // Events mostly arrive in order: appending is the common, constant-time case.
        match self.entries.back() {
            Some(last) if last.scheduled.frame > scheduled.frame => {
                let at = self
                    .entries
                    .partition_point(|e| e.scheduled.frame <= scheduled.frame);
                self.entries.insert(at, entry);
            }
            _ => self.entries.push_back(entry),
        }
        Ok(())
    }

    /// The frame of the first pending event.
    pub(crate) fn next_frame(&self) -> Option<u64> {
        self.entries.front().map(|e| e.scheduled.frame)
    }

    /// Takes the first event if it is due at or before `frame`.
    pub(crate) fn pop_due(&mut self, frame: u64) -> Option<Entry> {
        if self.entries.front()?.scheduled.frame <= frame {
            self.entries.pop_front()
        } else {
            None
        }
    }

    /// Marks as done the first pending `NoteOff` of `bus`/`key` at exactly `frame`, if any.
    pub(crate) fn take_note_off(&mut self, frame: u64, bus: u16, key: u8) -> bool {
        for entry in &mut self.entries {
            if entry.scheduled.frame != frame {
                break;
            }
            if !entry.done && entry.scheduled.event == (Event::NoteOff { bus, key }) {
                entry.done = true;
                return true;
            }
        }
        false
    }

    /// Drops pending bus events at or after `frame` whose bus is in `buses`.
    pub(crate) fn cancel_from(&mut self, frame: u64, buses: std::ops::Range<u16>) {
        self.entries.retain(|e| {
            let bus = match e.scheduled.event {
                Event::NoteOn { bus, .. }
                | Event::NoteOff { bus, .. }
                | Event::AllNotesOff { bus }
                | Event::Gain { bus, .. } => bus,
                Event::Master { .. } => return true,
            };
            e.scheduled.frame < frame || !buses.contains(&bus)
        });
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}
