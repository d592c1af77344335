//! From decoded tokens to the finished score: the base (new, primer or infill input), the
//! model's notes in the written bars, the arranger's layers, and the report.

use std::collections::BTreeMap;

use leitmotif_arrange::{
    ArrangeSettings, BarSlot, Feel, Humanizer, arrange, arrange_on, progression, shape_velocities,
};
use leitmotif_score::melody::ControlValue;
use leitmotif_score::time::BarMap;
use leitmotif_score::{KeySignatureChange, Note, Score, TempoChange, TimeSignatureChange, Track};
use leitmotif_tokens::vocab::{
    DENSITY_BOUNDS, INTENSITY_BOUNDS, INTENSITY_BUCKETS, TEMPOS, bucket, bucket_bounds,
    level_of_velocity, tempo_bucket, velocity_of_level,
};
use leitmotif_tokens::{Layer, assign_layers, decode_tokens, unit_ticks};

use crate::composer::Generated;
use crate::composition::{Composition, LayerReport, Source};
use crate::error::ComposeError;
use crate::plan::{Plan, signature_of};
use crate::request::{Request, Task, allowed_pitch_classes, intensity_bucket};

/// Which track of `score` holds `layer`, adding one when none does.
fn track_for(score: &mut Score, layer: Layer, request: &Request) -> usize {
    if let Some(i) = assign_layers(score).iter().position(|l| *l == layer) {
        return i;
    }
    let (name, default_program, channel) = layer.track_defaults();
    let program = request
        .programs
        .iter()
        .find(|(l, _)| *l == layer)
        .map_or(default_program, |(_, p)| *p);
    score
        .tracks
        .push(Track::new(name, layer.role(), program, channel));
    score.tracks.len() - 1
}

/// Builds the score and the report.
pub(crate) fn assemble(
    request: &Request,
    generated: Generated,
    model: &str,
    backend: &str,
) -> Result<Composition, ComposeError> {
    let Generated {
        tokens,
        plan,
        join_bits,
        candidate_bits,
    } = generated;
    let unit = unit_ticks();
    let (lo, hi) = plan.span;
    let decoded = decode_tokens(&tokens, true)?;
    let mut score = plan.base.clone();
    let (sharps, minor) = signature_of(plan.scale);
    match &request.task {
        Task::New => {
            score.tempos = vec![TempoChange::from_bpm(0, plan.bpm)?];
            score.time_signatures = vec![TimeSignatureChange {
                tick: 0,
                numerator: plan.meter.numerator,
                denominator: plan.meter.denominator,
            }];
            score.key_signatures = vec![KeySignatureChange {
                tick: 0,
                sharps,
                minor,
            }];
            score.name = "Leitmotif".to_owned();
        }
        Task::Continue { .. } => {
            let meter_now = BarMap::new(&score).bar_at(lo.saturating_sub(1)).meter;
            if meter_now != plan.meter {
                score.time_signatures.push(TimeSignatureChange {
                    tick: lo,
                    numerator: plan.meter.numerator,
                    denominator: plan.meter.denominator,
                });
            }
            let key_now = score.key_signatures.iter().rev().find(|k| k.tick <= lo);
            if key_now.is_none_or(|k| (k.sharps, k.minor) != (sharps, minor)) {
                score.key_signatures.push(KeySignatureChange {
                    tick: lo,
                    sharps,
                    minor,
                });
            }
            let bpm_now = score
                .tempos
                .iter()
                .rev()
                .find(|t| t.tick <= lo)
                .map_or(120.0, TempoChange::bpm);
            // (a score without a tempo plays at MIDI's default 120 bpm)
            if (bpm_now - plan.bpm).abs() > 0.01 {
                score.tempos.push(TempoChange::from_bpm(lo, plan.bpm)?);
            }
        }
        Task::Infill { .. } => {}
    }
    score.end_tick = score.end_tick.max(hi);
    // Tracks for every written layer, in layer order for a new piece.
    let mut targets = plan.targets.clone();
    targets.sort();
    let mut reports = Vec::new();
    for &layer in &targets {
        let track = track_for(&mut score, layer, request);
        if matches!(request.task, Task::Infill { .. }) {
            score.tracks[track]
                .notes
                .retain(|n| n.start < lo || n.start >= hi);
        }
        let range = request.ranges.of(layer);
        reports.push(LayerReport {
            layer,
            source: if plan.model_layers.contains(&layer) {
                Source::Model
            } else {
                Source::Arranger
            },
            track,
            notes: 0,
            range,
            monophonic: matches!(layer, Layer::Melody | Layer::Bass),
        });
    }
    // The bars written, as the arranger sees them.
    let slots: Vec<BarSlot> = plan
        .bars
        .iter()
        .enumerate()
        .map(|(i, bar)| {
            let units = leitmotif_tokens::bar_units(bar.controls.meter).map_or(48, u64::from);
            let intensity = match request.task {
                Task::Infill { .. } => {
                    f64::from(bar.controls.intensity.saturating_sub(1))
                        / f64::from(INTENSITY_BUCKETS - 2)
                }
                _ => request.intensity.at(i, plan.bars.len()),
            };
            BarSlot {
                start: bar.origin * unit,
                ticks: units * unit,
                meter: plan.meter,
                intensity: intensity.clamp(0.0, 1.0),
            }
        })
        .collect();
    let mut allowed = allowed_pitch_classes(plan.scale);
    if !request.key_lock {
        // Pitches may leave the key: the given chords sound whole.
        for pc in request.chords.iter().flat_map(|c| c.pitch_classes()) {
            allowed[usize::from(pc.index())] = true;
        }
    }
    let mut settings = ArrangeSettings::new(score.ppq, allowed, plan.scale.tonic);
    settings.bass_range = request.ranges.bass.clone();
    settings.chord_range = request.ranges.chords.clone();
    settings.looped = plan.looped;
    settings.seed = request.seed;
    // The model's notes.
    let mut written: Vec<(usize, Vec<Note>)> = Vec::new();
    for track in &decoded.score.tracks {
        let Some(layer) = crate::request::layer_of_role(track.role) else {
            continue;
        };
        let Some(report) = reports
            .iter_mut()
            .find(|r| r.layer == layer && r.source == Source::Model)
        else {
            continue;
        };
        let mut notes: Vec<Note> = track
            .notes
            .iter()
            .filter(|n| n.start >= lo && n.start < hi)
            .copied()
            .collect();
        shape_velocities(&mut notes, &slots, &settings);
        report.notes = notes.len();
        written.push((report.track, notes));
    }
    if !matches!(request.task, Task::Infill { .. }) {
        let layers: Vec<Layer> = written
            .iter()
            .filter_map(|(track, _)| reports.iter().find(|r| r.track == *track))
            .map(|r| r.layer)
            .collect();
        fit_intensity(&mut written, &layers, &slots, score.ppq, plan.bpm);
    }
    for (track, notes) in written {
        score.tracks[track].notes.extend(notes);
    }
    // The arranger's, on the melody's harmony.
    if reports.iter().any(|r| r.source == Source::Arranger) {
        let melody: Vec<Note> = assign_layers(&score)
            .iter()
            .position(|l| *l == Layer::Melody)
            .map(|i| {
                score.tracks[i]
                    .notes
                    .iter()
                    .filter(|n| n.start >= lo && n.start < hi)
                    .copied()
                    .collect()
            })
            .unwrap_or_default();
        let parts = if request.chords.is_empty() {
            arrange(&melody, &slots, &settings)?
        } else {
            arrange_on(progression(&request.chords, &slots)?, &slots, &settings)?
        };
        for report in reports.iter_mut().filter(|r| r.source == Source::Arranger) {
            let notes = match report.layer {
                Layer::Bass => parts.bass.clone(),
                Layer::Chords => parts.chords.clone(),
                Layer::Drums => parts.drums.clone(),
                _ => Vec::new(),
            };
            let notes = fit(
                notes,
                &score.tracks[report.track].notes,
                report.monophonic,
                lo,
                hi,
            );
            report.notes = notes.len();
            score.tracks[report.track].notes.extend(notes);
        }
    }
    // The feel, on every written layer's notes in the written bars.
    let humanizer = Humanizer {
        feel: Feel {
            humanize: request.humanize,
            swing: request.swing,
        },
        ppq: score.ppq,
        seed: request.seed,
        bars: &slots,
    };
    if !humanizer.feel.is_exact() {
        for report in &reports {
            let notes = &mut score.tracks[report.track].notes;
            let (written, kept): (Vec<Note>, Vec<Note>) =
                notes.iter().partition(|n| n.start >= lo && n.start < hi);
            let mut played =
                humanizer.part(&written, report.layer.index() as u64, report.monophonic);
            if report.monophonic {
                // Nothing moves into a kept note still sounding when the written bars begin.
                let busy = kept.iter().filter(|k| k.start < lo).map(Note::end).max();
                for n in played
                    .iter_mut()
                    .filter(|n| busy.is_some_and(|b| n.start < b))
                {
                    let (start, end) = (busy.unwrap_or(n.start), n.end());
                    n.start = start;
                    n.duration = end.saturating_sub(start).max(1);
                }
            }
            *notes = kept;
            notes.extend(played);
        }
    }
    score.normalize();
    score.validate()?;
    let total_bars = plan.total_bars;
    let controls = controls_of(request, &plan);
    let allowed_spans = plan
        .bars
        .iter()
        .zip(&slots)
        .map(|(bar, slot)| {
            let key = leitmotif_score::theory::Key::from_key_signature(
                bar.controls.sharps,
                bar.controls.minor,
            )
            .map_or(plan.scale.tonic, |k| k.tonic);
            let mut mask = [false; 12];
            for (i, a) in bar.intervals.iter().enumerate() {
                if *a {
                    mask[usize::from(key.transpose(i as i32).index())] = true;
                }
            }
            (slot.start, slot.end(), mask)
        })
        .collect();
    Ok(Composition {
        score,
        key: plan.scale,
        tempo_bpm: plan.bpm,
        meter: plan.meter,
        bars: plan.first_bar..=plan.first_bar + plan.bars.len() as u32 - 1,
        total_bars,
        span: (lo, hi),
        layers: reports,
        key_lock: request.key_lock,
        allowed: allowed_spans,
        looped: plan.looped,
        seed: request.seed,
        model: model.to_owned(),
        backend: backend.to_owned(),
        join_bits,
        candidate_bits,
        tokens: tokens.len(),
        elapsed: std::time::Duration::ZERO,
        controls,
    })
}

/// Arranger notes fitted around kept ones: in a monophonic layer a note starting before a
/// kept note ends is dropped and one running into a kept note is cut short; nothing sounds
/// past `hi` when kept music follows.
fn fit(mut notes: Vec<Note>, kept: &[Note], monophonic: bool, lo: u64, hi: u64) -> Vec<Note> {
    notes.retain(|n| n.start >= lo && n.start < hi);
    for n in &mut notes {
        n.duration = n.duration.min(hi - n.start);
    }
    if monophonic {
        let busy = kept
            .iter()
            .filter(|k| k.start < lo)
            .map(Note::end)
            .max()
            .unwrap_or(0);
        notes.retain(|n| n.start >= busy);
        let next = kept.iter().filter(|k| k.start >= hi).map(|k| k.start).min();
        if let Some(next) = next {
            for n in &mut notes {
                n.duration = n.duration.min(next - n.start);
            }
        }
    }
    notes.retain(|n| n.duration > 0);
    notes
}

/// The request's controls, for the document's metadata.
fn controls_of(request: &Request, plan: &Plan) -> BTreeMap<String, ControlValue> {
    let n = plan.bars.len();
    let mut c = BTreeMap::new();
    c.insert("key".to_owned(), ControlValue::Text(plan.scale.to_string()));
    c.insert("tempo_bpm".to_owned(), ControlValue::Number(plan.bpm));
    c.insert(
        "meter".to_owned(),
        ControlValue::Text(plan.meter.to_string()),
    );
    c.insert("bars".to_owned(), ControlValue::Number(n as f64));
    c.insert("loop".to_owned(), ControlValue::Bool(plan.looped));
    c.insert("key_lock".to_owned(), ControlValue::Bool(request.key_lock));
    let layers: Vec<&str> = plan.targets.iter().map(|l| l.role().as_str()).collect();
    c.insert("layers".to_owned(), ControlValue::Text(layers.join(",")));
    for (name, curve) in [
        ("density", &request.density),
        ("register", &request.register),
        ("intensity", &request.intensity),
    ] {
        let values = (0..n)
            .map(|i| (curve.at(i, n) * 1000.0).round() / 1000.0)
            .collect();
        c.insert(name.to_owned(), ControlValue::Numbers(values));
    }
    let s = request.sampling;
    c.insert(
        "temperature".to_owned(),
        ControlValue::Number(f64::from(s.temperature)),
    );
    if let Some(k) = s.top_k {
        c.insert("top_k".to_owned(), ControlValue::Number(k as f64));
    }
    if let Some(p) = s.top_p {
        c.insert("top_p".to_owned(), ControlValue::Number(f64::from(p)));
    }
    if let Some(style) = request.style {
        c.insert(
            "style".to_owned(),
            ControlValue::Text(format!("{style:?}").to_lowercase()),
        );
    }
    c
}

/// Scales each written bar's model-written velocities where needed, so that the bar's
/// intensity as the training data measures it (the model-written layers' onsets per second
/// times their mean velocity / 90) lands in the bucket that the lead's density in the bar
/// and the request's intensity ask for. Loudness moves only as far as the bucket needs.
fn fit_intensity(
    parts: &mut [(usize, Vec<Note>)],
    layers: &[Layer],
    slots: &[BarSlot],
    ppq: u16,
    bpm: f64,
) {
    let Some(lead) = leitmotif_tokens::controls::lead_layer(layers) else {
        return;
    };
    for slot in slots {
        let inside = |n: &Note| n.start >= slot.start && n.start < slot.start + slot.ticks;
        // Velocities as the tokens carry them (32 levels), as the labels are measured.
        let heard = |v: u8| f64::from(velocity_of_level(level_of_velocity(v)));
        let (mut count, mut lead_count, mut velocity) = (0usize, 0usize, 0.0);
        for ((_, notes), layer) in parts.iter().zip(layers) {
            for note in notes.iter().filter(|n| inside(n)) {
                count += 1;
                lead_count += usize::from(*layer == lead);
                velocity += heard(note.velocity);
            }
        }
        if lead_count == 0 || bpm <= 0.0 {
            continue;
        }
        let quarters = slot.ticks as f64 / f64::from(ppq);
        let density = bucket(Some(lead_count as f64 / quarters), &DENSITY_BOUNDS);
        let target = intensity_bucket(density, slot.intensity, bpm, parts.len());
        let Some((low, high)) = bucket_bounds(target, &INTENSITY_BOUNDS) else {
            continue;
        };
        let low = low.max(0.0);
        // Seconds as the labels count them: at the tempo's vocabulary bucket.
        let heard_bpm = f64::from(TEMPOS[usize::from(tempo_bucket(bpm))]);
        let rate = count as f64 / (quarters * 60.0 / heard_bpm);
        let mean = velocity / count as f64;
        let now = rate * mean / 90.0;
        if now > low && now <= high {
            continue;
        }
        // The mean velocity a little inside the bucket, nearest to today's.
        let wanted = (now.clamp(low * 1.04, high * 0.97) * 90.0 / rate).clamp(1.0, 127.0);
        let factor = wanted / mean;
        for (_, notes) in parts.iter_mut() {
            for note in notes.iter_mut().filter(|n| inside(n)) {
                note.velocity = (f64::from(note.velocity) * factor)
                    .round()
                    .clamp(1.0, 127.0) as u8;
            }
        }
    }
}
