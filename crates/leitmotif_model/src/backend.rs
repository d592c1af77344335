//! Backend selection, in one place.
//!
//! The models are generic over burn's [`Backend`](burn::tensor::backend::Backend); this module
//! names the concrete backends Leitmotif uses and picks one at run time:
//!
//! - the host path ([`HostModel`](crate::HostModel)): CPU inference, with no burn backend;
//! - `CpuBackend` (burn's pure-Rust `Flex`, feature `flex`): training and the reference the
//!   host path is tested against;
//! - `GpuBackend` (burn's `Wgpu`, feature `wgpu`): inference on a GPU (or on Mesa's lavapipe
//!   in CI).
//!
//! [`BackendChoice::resolve`] probes for a wgpu adapter without panicking.

#[cfg(feature = "wgpu")]
use burn::backend::wgpu::WgpuDevice;

/// burn's CPU backend, pure-Rust `Flex`: training, and the reference for the host path.
#[cfg(feature = "flex")]
pub type CpuBackend = burn::backend::Flex;

/// The device of [`CpuBackend`].
#[cfg(feature = "flex")]
pub type CpuDevice = burn::backend::flex::FlexDevice;

/// The GPU inference backend: burn's `Wgpu` (Vulkan on Linux and Windows, Metal on macOS).
#[cfg(feature = "wgpu")]
pub type GpuBackend = burn::backend::Wgpu;

/// Which backend the caller asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// A hardware wgpu adapter if one exists, else the CPU backend.
    ///
    /// Software adapters (Mesa's lavapipe) are skipped: the host path is far faster on the
    /// same CPU.
    #[default]
    Auto,
    /// Any wgpu adapter, software ones included; an error if there is none.
    Wgpu,
    /// The CPU: the host decoding path.
    Cpu,
}

/// The kind of a wgpu adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdapterKind {
    /// A discrete GPU.
    DiscreteGpu,
    /// A GPU integrated with the CPU.
    IntegratedGpu,
    /// A virtualised GPU.
    VirtualGpu,
    /// A software rasteriser running on the CPU (such as Mesa's lavapipe).
    Cpu,
    /// Anything else the driver reports.
    Other,
}

impl AdapterKind {
    /// Whether the adapter is real graphics hardware.
    pub fn is_hardware(self) -> bool {
        matches!(
            self,
            Self::DiscreteGpu | Self::IntegratedGpu | Self::VirtualGpu
        )
    }
}

/// A wgpu adapter found by [`probe_wgpu`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WgpuAdapter {
    /// The adapter's name as the driver reports it.
    pub name: String,
    /// The adapter's kind.
    pub kind: AdapterKind,
    /// The graphics API it runs on (`"Vulkan"`, `"Metal"`, ...).
    pub api: String,
}

#[cfg(feature = "wgpu")]
impl WgpuAdapter {
    /// The burn device that selects this adapter.
    pub fn device(&self) -> WgpuDevice {
        match self.kind {
            AdapterKind::DiscreteGpu => WgpuDevice::DiscreteGpu(0),
            AdapterKind::IntegratedGpu => WgpuDevice::IntegratedGpu(0),
            AdapterKind::VirtualGpu => WgpuDevice::VirtualGpu(0),
            AdapterKind::Cpu => WgpuDevice::Cpu,
            AdapterKind::Other => WgpuDevice::DefaultDevice,
        }
    }
}

#[cfg(feature = "wgpu")]
impl WgpuAdapter {
    /// Describes an adapter from what its driver reports.
    pub fn from_info(info: &wgpu::AdapterInfo) -> Self {
        Self {
            name: info.name.clone(),
            kind: match info.device_type {
                wgpu::DeviceType::DiscreteGpu => AdapterKind::DiscreteGpu,
                wgpu::DeviceType::IntegratedGpu => AdapterKind::IntegratedGpu,
                wgpu::DeviceType::VirtualGpu => AdapterKind::VirtualGpu,
                wgpu::DeviceType::Cpu => AdapterKind::Cpu,
                wgpu::DeviceType::Other => AdapterKind::Other,
            },
            api: format!("{:?}", info.backend),
        }
    }
}

/// A wgpu device someone else opened (a game engine's render device), with its queue,
/// adapter and instance, for the models to share.
///
/// The handles are clones of the owner's: the models' compute work goes through the same
/// device and queue as the owner's own work, so no second device is opened and no memory is
/// copied between devices.
#[cfg(feature = "wgpu")]
#[derive(Debug, Clone)]
pub struct SharedWgpu {
    /// The instance the adapter came from; `None` when the owner no longer exposes it
    /// (burn keeps it only alongside the device; a fresh one is made).
    pub instance: Option<wgpu::Instance>,
    /// The adapter (the physical device).
    pub adapter: wgpu::Adapter,
    /// The logical device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
}

#[cfg(feature = "wgpu")]
impl SharedWgpu {
    /// Opens a device of its own on the best adapter: a hardware one, or with
    /// `allow_software` Mesa's lavapipe where there is none. It asks for the adapter's
    /// features and limits, as burn does for the devices it opens (burn picks kernels by
    /// the adapter's features). Keep a clone of the handles, then
    /// [`into_burn_device`](Self::into_burn_device): the models and anything else on the
    /// same device (the fused sampler of `gpu_sampling`) then share one queue.
    ///
    /// `None` when there is no such adapter or it refuses a device.
    pub fn open(allow_software: bool) -> Option<Self> {
        let backends = graphics_api_backends();
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends,
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        let mut adapters = futures_lite::future::block_on(instance.enumerate_adapters(backends));
        adapters.sort_by_key(|a| {
            let kind = WgpuAdapter::from_info(&a.get_info()).kind;
            (!kind.is_hardware(), kind == AdapterKind::Cpu)
        });
        let adapter = adapters
            .into_iter()
            .find(|a| allow_software || WgpuAdapter::from_info(&a.get_info()).kind.is_hardware())?;
        let (device, queue) = futures_lite::future::block_on(
            adapter.request_device(&wgpu::DeviceDescriptor {
                label: Some("leitmotif models"),
                required_features: adapter
                    .features()
                    .difference(wgpu::Features::MAPPABLE_PRIMARY_BUFFERS),
                required_limits: adapter.limits(),
                ..Default::default()
            }),
        )
        .ok()?;
        Some(Self {
            instance: Some(instance),
            adapter,
            device,
            queue,
        })
    }

    /// The adapter, as [`probe_wgpu`] would describe it.
    pub fn adapter_info(&self) -> WgpuAdapter {
        WgpuAdapter::from_info(&self.adapter.get_info())
    }

    /// Registers the device with burn and returns the burn device that runs
    /// [`GpuBackend`] on it. Each call registers a new burn device; call it once per device.
    pub fn into_burn_device(self) -> WgpuDevice {
        let backend = self.adapter.get_info().backend;
        let instance = self.instance.unwrap_or_else(|| {
            wgpu::Instance::new(wgpu::InstanceDescriptor {
                backends: backend.into(),
                ..wgpu::InstanceDescriptor::new_without_display_handle()
            })
        });
        burn::backend::wgpu::init_device(
            burn::backend::wgpu::WgpuSetup {
                instance,
                adapter: self.adapter,
                device: self.device,
                queue: self.queue,
                backend,
            },
            burn::backend::wgpu::RuntimeOptions::default(),
        )
    }
}

/// The backend [`BackendChoice::resolve`] settled on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolvedBackend {
    /// Use [`GpuBackend`] on [`WgpuAdapter::device`].
    Wgpu(WgpuAdapter),
    /// Decode on the CPU (the host path).
    Cpu,
}

/// Errors from backend selection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// [`BackendChoice::Wgpu`] was asked for but no adapter exists.
    #[error(
        "no wgpu adapter found for {api}; on Linux without a GPU install Mesa's lavapipe \
         (Debian package `mesa-vulkan-drivers`)"
    )]
    NoWgpuAdapter {
        /// The graphics API that was probed.
        api: &'static str,
    },
    /// [`BackendChoice::Wgpu`] was asked for but this build has no wgpu backend.
    #[error("this build has no wgpu backend (build with the `wgpu` feature)")]
    WgpuNotBuilt,
}

impl BackendChoice {
    /// Picks the backend to run on, probing for a wgpu adapter where needed.
    ///
    /// # Errors
    ///
    /// [`BackendError::NoWgpuAdapter`] when [`BackendChoice::Wgpu`] is asked for and no
    /// adapter exists. `Auto` never fails: it falls back to the CPU.
    pub fn resolve(self) -> Result<ResolvedBackend, BackendError> {
        match self {
            Self::Cpu => Ok(ResolvedBackend::Cpu),
            Self::Wgpu if !cfg!(feature = "wgpu") => Err(BackendError::WgpuNotBuilt),
            Self::Wgpu => probe_wgpu()
                .into_iter()
                .next()
                .map(ResolvedBackend::Wgpu)
                .ok_or(BackendError::NoWgpuAdapter {
                    api: graphics_api_name(),
                }),
            Self::Auto => Ok(probe_wgpu()
                .into_iter()
                .find(|adapter| adapter.kind.is_hardware())
                .map_or(ResolvedBackend::Cpu, ResolvedBackend::Wgpu)),
        }
    }
}

/// The wgpu adapters the models could use: none, in a build without the `wgpu` feature.
#[cfg(not(feature = "wgpu"))]
pub fn probe_wgpu() -> Vec<WgpuAdapter> {
    Vec::new()
}

/// Lists the wgpu adapters burn's [`GpuBackend`] could use, best first; never panics.
///
/// Hardware adapters come before software ones. The probe uses the graphics API that burn's
/// default `Wgpu` backend uses on this platform (Vulkan, or Metal on macOS).
#[cfg(feature = "wgpu")]
pub fn probe_wgpu() -> Vec<WgpuAdapter> {
    let backends = graphics_api_backends();
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends,
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    });
    let mut adapters: Vec<WgpuAdapter> =
        futures_lite::future::block_on(instance.enumerate_adapters(backends))
            .into_iter()
            .map(|adapter| WgpuAdapter::from_info(&adapter.get_info()))
            .collect();
    adapters.sort_by_key(|adapter| match adapter.kind {
        AdapterKind::DiscreteGpu => 0,
        AdapterKind::IntegratedGpu => 1,
        AdapterKind::VirtualGpu => 2,
        AdapterKind::Other => 3,
        AdapterKind::Cpu => 4,
    });
    tracing::debug!(?adapters, "probed wgpu adapters");
    adapters
}

/// The wgpu backends that burn's `AutoGraphicsApi` uses on this platform.
#[cfg(feature = "wgpu")]
fn graphics_api_backends() -> wgpu::Backends {
    if cfg!(target_os = "macos") {
        wgpu::Backends::METAL
    } else {
        wgpu::Backends::VULKAN
    }
}

fn graphics_api_name() -> &'static str {
    if cfg!(target_os = "macos") {
        "Metal"
    } else {
        "Vulkan"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_always_resolves() {
        assert_eq!(
            BackendChoice::Cpu.resolve().ok(),
            Some(ResolvedBackend::Cpu)
        );
    }

    #[test]
    fn auto_never_fails_and_skips_software_adapters() {
        match BackendChoice::Auto.resolve() {
            Ok(ResolvedBackend::Cpu) => {}
            Ok(ResolvedBackend::Wgpu(adapter)) => assert!(adapter.kind.is_hardware()),
            Err(err) => panic!("Auto must not fail: {err}"),
        }
    }

    #[test]
    fn wgpu_choice_matches_probe() {
        let found = !probe_wgpu().is_empty();
        assert_eq!(BackendChoice::Wgpu.resolve().is_ok(), found);
    }
}
