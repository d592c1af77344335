//! Weights straight into host memory: a burnpack's tensors by name, read without any burn
//! backend, each checked against the shape its model's config implies.

use std::collections::BTreeMap;

use burn::module::Module;
use burn::store::{BurnpackStore, ModuleSnapshot, ModuleStore, TensorSnapshot};
use burn::tensor::Bytes;
use burn::tensor::backend::Backend;

use crate::weights::WeightsError;

/// A model's tensors by module path (`blocks.0.mlp.up.weight`), taken one by one as the host
/// model is built; whatever is left over at the end is a mismatch.
pub(crate) struct HostTensors {
    tensors: BTreeMap<String, TensorSnapshot>,
}

impl HostTensors {
    /// Reads every tensor of a burnpack held in memory.
    ///
    /// The bytes are owned: burnpack tensors are cast in place, and `include_bytes!` data
    /// has no alignment guarantee.
    pub(crate) fn from_burnpack(bytes: Vec<u8>) -> Result<Self, WeightsError> {
        let mut store = BurnpackStore::from_bytes(Some(Bytes::from_bytes_vec(bytes)));
        let tensors = store
            .get_all_snapshots()
            .map_err(WeightsError::Corrupt)?
            .clone();
        Ok(Self { tensors })
    }

    /// The tensors of a burn module, on whatever device it is.
    pub(crate) fn from_module<B: Backend, M: Module<B>>(module: &M) -> Self {
        let tensors = module
            .collect(None, None, false)
            .into_iter()
            .map(|snapshot| (snapshot.full_path(), snapshot))
            .collect();
        Self { tensors }
    }

    /// Removes the tensor `name`, checks that it has `shape` and returns its values as
    /// `f32`, row major.
    pub(crate) fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, WeightsError> {
        let snapshot = self
            .tensors
            .remove(name)
            .ok_or_else(|| WeightsError::Mismatch(format!("tensor {name} is missing")))?;
        if snapshot.shape.as_slice() != shape {
            return Err(WeightsError::Mismatch(format!(
                "tensor {name} has shape {:?}, the config implies {shape:?}",
                snapshot.shape.as_slice()
            )));
        }
        let data = snapshot
            .to_data()
            .map_err(|e| WeightsError::Mismatch(format!("tensor {name} cannot be read: {e:?}")))?;
        let values = data
            .convert::<f32>()
            .to_vec::<f32>()
            .map_err(|e| WeightsError::Mismatch(format!("tensor {name} is not float: {e:?}")))?;
        if values.len() != shape.iter().product::<usize>() {
            return Err(WeightsError::Mismatch(format!(
                "tensor {name} holds {} values for shape {shape:?}",
                values.len()
            )));
        }
        if values.iter().any(|v| !v.is_finite()) {
            return Err(WeightsError::Mismatch(format!(
                "tensor {name} holds values that are not finite"
            )));
        }
        Ok(values)
    }

    /// Checks that every tensor was used.
    pub(crate) fn finish(self) -> Result<(), WeightsError> {
        match self.tensors.keys().next() {
            None => Ok(()),
            Some(name) => Err(WeightsError::Mismatch(format!(
                "tensor {name} (and {} more) is not part of the model the config describes",
                self.tensors.len() - 1
            ))),
        }
    }
}
