//! Data-parallel training steps: one batch split across several devices (or several workers
//! sharing the CPU's one device), one optimiser step on the combined gradients.
//!
//! Each step clones the model into a replica per device, deals the batch's rows out to
//! them, runs forward and backward on every replica on its own thread
//! ([`std::thread::scope`]), brings the gradients to the first device, sums them there and
//! steps the optimiser once. The replicas are made afresh from the updated model on the next
//! step, so no weights drift apart. This is what burn-train's `MultiDevice` strategy does
//! inside its `Learner`; Leitmotif's loop is its own, so it does it with burn's primitives.

use std::ops::Range;

use burn::module::{AutodiffModule, ModuleMapper, ModuleVisitor, Param};
use burn::optim::{GradientsAccumulator, GradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{BasicOps, Bool, ElementConversion, Int, Tensor};
use leitmotif_model::{LanguageModel, next_token_loss};

use crate::error::TrainError;
use crate::step::train_step;

/// One optimisation step, data-parallel: the batch's rows are dealt out to `devices`, each
/// device runs forward and backward on its rows on its own thread, and the optimiser steps
/// once, on `devices[0]`, with the combined gradients.
///
/// The result equals [`train_step`] on the whole batch, up to float rounding: each device's
/// loss is weighted by its share of the batch's counted targets (those that are not `pad`),
/// so the summed gradients are the gradient of the batch's mean loss, however the padding
/// falls. Gradient clipping and the optimiser's state therefore see what one device would.
/// Models with dropout draw different masks than on one device, so they agree only in
/// expectation.
///
/// `devices` may repeat a device: on the CPU backend, whose one device is shared, `n` entries
/// run `n` workers in parallel threads. With one device this is [`train_step`].
///
/// Replicas train the parameters whose tensors require gradients, as burn's `fork` does
/// (every parameter of the shipped models, as built and as loaded).
///
/// Returns the updated model (on `devices[0]`) and the batch's loss before the update.
///
/// # Shapes
///
/// - tokens: `[batch, seq + 1]`
///
/// # Errors
///
/// [`TrainError::NoDevices`] for an empty `devices`, [`TrainError::TooManyDevices`] for more
/// devices than rows, [`TrainError::ShortRows`] for rows under 2 tokens, and
/// [`TrainError::ModelDevice`] when the model is not on `devices[0]`.
pub fn train_step_parallel<B, M, O>(
    model: M,
    optimizer: &mut O,
    tokens: Tensor<B, 2, Int>,
    learning_rate: f64,
    pad: Option<u32>,
    devices: &[B::Device],
) -> Result<(M, f32), TrainError>
where
    B: AutodiffBackend,
    M: LanguageModel<B> + AutodiffModule<B>,
    O: Optimizer<M, B>,
{
    let [batch, len] = tokens.dims();
    check_devices(devices.len(), batch)?;
    if len < 2 {
        return Err(TrainError::ShortRows { len });
    }
    let main = &devices[0];
    // `devices` reads every parameter, which also initialises lazy ones. That must happen
    // before the replicas are made: a clone of an unread parameter initialises on its own,
    // so each replica would draw different random weights.
    let found = model.devices();
    if found.iter().any(|device| device != main) {
        return Err(TrainError::ModelDevice {
            expected: format!("{main:?}"),
            found: format!("{found:?}"),
        });
    }
    if devices.len() == 1 {
        let tokens = move_to(tokens, main);
        return Ok(train_step(model, optimizer, tokens, learning_rate, pad));
    }
    let shards = shard_rows(batch, devices.len());
    let counts = target_counts(&tokens, pad);
    let total = counts.iter().sum::<usize>().max(1) as f64;
    let results = std::thread::scope(|scope| {
        let workers: Vec<_> = devices
            .iter()
            .zip(&shards)
            .map(|(device, rows)| {
                let replica = replica(&model, device);
                let shard = move_to(tokens.clone().narrow(0, rows.start, rows.len()), device);
                let weight = counts[rows.clone()].iter().sum::<usize>() as f64 / total;
                scope.spawn(move || shard_gradients(replica, shard, pad, weight, main))
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                // A worker only panics on a bug (inputs were checked above): re-raise it.
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect::<Vec<_>>()
    });
    let mut accumulator = GradientsAccumulator::<M>::new();
    let mut loss = 0.0f64;
    for (grads, shard_loss) in results {
        accumulator.accumulate::<B>(&model, grads);
        loss += f64::from(shard_loss);
    }
    let model = optimizer.step(learning_rate, model, accumulator.grads());
    Ok((model, loss as f32))
}

/// Checks a data-parallel split of `rows` batch rows over `devices` workers.
///
/// # Errors
///
/// [`TrainError::NoDevices`] for 0 devices, [`TrainError::TooManyDevices`] for more devices
/// than rows.
pub fn check_devices(devices: usize, rows: usize) -> Result<(), TrainError> {
    match devices {
        0 => Err(TrainError::NoDevices),
        n if n > rows => Err(TrainError::TooManyDevices { devices, rows }),
        _ => Ok(()),
    }
}

/// Deals `batch` rows to `workers` contiguous shards as evenly as possible, the first
/// `batch % workers` shards one row longer. Needs `1 <= workers <= batch`.
fn shard_rows(batch: usize, workers: usize) -> Vec<Range<usize>> {
    let (base, extra) = (batch / workers, batch % workers);
    let mut start = 0;
    (0..workers)
        .map(|i| {
            let len = base + usize::from(i < extra);
            let rows = start..start + len;
            start += len;
            rows
        })
        .collect()
}

/// Targets that count towards the loss in each row: those that are not `pad`.
///
/// # Shapes
///
/// - tokens: `[batch, seq + 1]`
/// - output: `batch` counts
fn target_counts<B: Backend>(tokens: &Tensor<B, 2, Int>, pad: Option<u32>) -> Vec<usize> {
    let [batch, len] = tokens.dims();
    let Some(pad) = pad else {
        return vec![len - 1; batch];
    };
    // [batch, 1]
    let counts = tokens
        .clone()
        .narrow(1, 1, len - 1)
        .not_equal_elem(pad)
        .int()
        .sum_dim(1);
    counts
        .into_data()
        .iter::<i64>()
        .map(|count| usize::try_from(count).unwrap_or(0))
        .collect()
}

/// A copy of `model` on `device` whose parameters are fresh autodiff leaves (with the same
/// `ParamId`s), so each worker records and walks its own graph. Like burn's `fork`, but
/// moving tensors between devices with [`move_to`].
fn replica<B: AutodiffBackend, M: AutodiffModule<B>>(model: &M, device: &B::Device) -> M {
    model.clone().map(&mut Replica { device })
}

/// The mapper behind [`replica`].
struct Replica<'a, B: Backend> {
    device: &'a B::Device,
}

impl<B: Backend> ModuleMapper<B> for Replica<'_, B> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let device = self.device;
        param.map(|tensor| {
            let trainable = tensor.is_require_grad();
            let tensor = move_to(tensor.detach(), device);
            if trainable {
                tensor.require_grad()
            } else {
                tensor
            }
        })
    }

    fn map_int<const D: usize>(
        &mut self,
        param: Param<Tensor<B, D, Int>>,
    ) -> Param<Tensor<B, D, Int>> {
        let device = self.device;
        param.map(|tensor| move_to(tensor, device))
    }

    fn map_bool<const D: usize>(
        &mut self,
        param: Param<Tensor<B, D, Bool>>,
    ) -> Param<Tensor<B, D, Bool>> {
        let device = self.device;
        param.map(|tensor| move_to(tensor, device))
    }
}

/// Moves a tensor to `device` through host memory; one already there is returned as it is.
///
/// Not burn's `to_device`: in burn 0.21 that copies between two wgpu devices with cubecl's
/// collective send/receive, which wgpu does not implement (the copy panics on the device's
/// thread and the result is garbage). A read-back and an upload works on every backend; for
/// the models here (a few MB of weights) it costs little next to a training step.
fn move_to<B: Backend, const D: usize, K: BasicOps<B>>(
    tensor: Tensor<B, D, K>,
    device: &B::Device,
) -> Tensor<B, D, K> {
    if tensor.device() == *device {
        tensor
    } else {
        Tensor::from_data(tensor.into_data(), device)
    }
}

/// Moves every gradient in `grads` that belongs to a parameter of the visited module to
/// `device`.
struct GradientsTo<'a, B: Backend> {
    grads: &'a mut GradientsParams,
    device: &'a B::Device,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for GradientsTo<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(grad) = self.grads.remove::<B::InnerBackend, D>(param.id) {
            let grad = move_to(grad, self.device);
            self.grads.register::<B::InnerBackend, D>(param.id, grad);
        }
    }
}

/// Forward and backward of one shard on its replica; returns the gradients of `weight` ×
/// the shard's loss, moved to `main`, and that weighted loss.
///
/// # Shapes
///
/// - tokens: `[rows, seq + 1]`
fn shard_gradients<B, M>(
    replica: M,
    tokens: Tensor<B, 2, Int>,
    pad: Option<u32>,
    weight: f64,
    main: &B::Device,
) -> (GradientsParams, f32)
where
    B: AutodiffBackend,
    M: LanguageModel<B> + AutodiffModule<B>,
{
    let [_rows, len] = tokens.dims();
    let inputs = tokens.clone().narrow(1, 0, len - 1);
    let targets = tokens.narrow(1, 1, len - 1);
    let loss = next_token_loss(replica.forward(inputs), targets, pad).mul_scalar(weight);
    let mut grads = GradientsParams::from_grads(loss.backward(), &replica);
    replica.visit(&mut GradientsTo::<B> {
        grads: &mut grads,
        device: main,
    });
    (grads, loss.into_scalar().elem::<f32>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_the_batch_evenly_in_order() {
        assert_eq!(shard_rows(5, 2), vec![0..3, 3..5]);
        assert_eq!(shard_rows(7, 3), vec![0..3, 3..5, 5..7]);
        assert_eq!(shard_rows(4, 4), vec![0..1, 1..2, 2..3, 3..4]);
        assert_eq!(shard_rows(6, 1), vec![0..6]);
    }

    #[test]
    fn device_counts_outside_one_to_rows_are_refused() {
        assert!(matches!(check_devices(0, 4), Err(TrainError::NoDevices)));
        assert!(matches!(
            check_devices(5, 4),
            Err(TrainError::TooManyDevices {
                devices: 5,
                rows: 4
            })
        ));
        assert!(check_devices(4, 4).is_ok());
        assert!(check_devices(1, 1).is_ok());
    }
}
