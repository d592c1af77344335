//! Where the models run: on Bevy's own render device when the app renders (feature
//! `render`), else on a device of their own, else on the CPU.

use bevy::app::App;
use leitmotif_compose::{ComposeError, Composer};
use leitmotif_model::BackendChoice;
use leitmotif_model::ModelSource;

/// Whether the app renders but its render device is not there yet: Bevy's `RenderPlugin`
/// puts the device into the world in its own `finish`, which runs after ours when
/// [`LeitmotifPlugin`](crate::LeitmotifPlugin) was added first. The model is then loaded in
/// `cleanup`, when every plugin has finished.
pub(crate) fn render_device_pending(app: &App) -> bool {
    #[cfg(feature = "render")]
    {
        app.is_plugin_added::<bevy::render::RenderPlugin>()
            && !app
                .world()
                .contains_resource::<bevy::render::renderer::RenderDevice>()
    }
    #[cfg(not(feature = "render"))]
    {
        let _ = app;
        false
    }
}

/// Loads `model` where `backend` and the app say:
///
/// - [`BackendChoice::Cpu`]: the CPU.
/// - [`BackendChoice::Wgpu`]: Bevy's render device if the app has one (any adapter,
///   software ones included), else a wgpu device of the model's own.
/// - [`BackendChoice::Auto`]: Bevy's render device if it is graphics hardware, else a
///   hardware device of the model's own, else the CPU (a software rasteriser such as
///   lavapipe is slower than the CPU backend on the same cores).
pub(crate) fn load_composer(
    app: &App,
    model: &ModelSource,
    backend: BackendChoice,
) -> Result<Composer, ComposeError> {
    if backend != BackendChoice::Cpu
        && let Some(shared) = render_device(app)
    {
        let adapter = shared.adapter_info();
        if backend == BackendChoice::Wgpu || adapter.kind.is_hardware() {
            let name = format!(
                "wgpu ({}, {}; Bevy's render device)",
                adapter.name, adapter.api
            );
            return Composer::load_on_shared_wgpu(model, shared, &name);
        }
        tracing::info!(
            "leitmotif: Bevy renders on a software adapter ({}); the models run on their own",
            adapter.name
        );
    }
    Composer::load(model, backend)
}

/// Bevy's render device, queue, adapter and instance, when the app renders.
#[cfg(feature = "render")]
fn render_device(app: &App) -> Option<leitmotif_model::SharedWgpu> {
    use bevy::render::RenderApp;
    use bevy::render::renderer::{RenderAdapter, RenderDevice, RenderInstance, RenderQueue};

    let world = app.world();
    let device = world.get_resource::<RenderDevice>()?;
    let queue = world.get_resource::<RenderQueue>()?;
    let adapter = world.get_resource::<RenderAdapter>()?;
    // The instance lives only in the render sub-app, which pipelined rendering moves to
    // its own thread in `cleanup`.
    let instance = app
        .get_sub_app(RenderApp)
        .and_then(|render| render.world().get_resource::<RenderInstance>())
        .map(|instance| (**instance.0).clone());
    Some(leitmotif_model::SharedWgpu {
        instance,
        adapter: (**adapter.0).clone(),
        device: device.wgpu_device().clone(),
        queue: (**queue.0).clone(),
    })
}

#[cfg(not(feature = "render"))]
fn render_device(_app: &App) -> Option<leitmotif_model::SharedWgpu> {
    None
}
