//! With Bevy's `RenderPlugin` (the crate's `render` feature), the models run on Bevy's own
//! wgpu device. Here that device is Mesa's lavapipe (Vulkan on the CPU), which the test
//! suite installs.
#![cfg(feature = "render")]

use bevy::app::PluginsState;
use bevy::asset::AssetPlugin;
use bevy::prelude::*;
use bevy::render::RenderPlugin;
use bevy::render::renderer::RenderDevice;
use bevy::render::settings::{Backends, RenderCreation, WgpuSettings};
use bevy_leitmotif::{ComposerHandle, LeitmotifPlugin};
use leitmotif_compose::{Composer, Request};
use leitmotif_model::BackendChoice;
use leitmotif_model::ModelSource;

fn render_plugin() -> RenderPlugin {
    RenderPlugin {
        render_creation: RenderCreation::Automatic(Box::new(WgpuSettings {
            backends: Some(Backends::VULKAN),
            ..WgpuSettings::default()
        })),
        synchronous_pipeline_compilation: true,
        ..RenderPlugin::default()
    }
}

/// A headless app with `DefaultPlugins`' rendering part (no window) and `plugin`, added
/// before or after the renderer, built the way `App::run` builds it: wait for the renderer,
/// then finish and clean up.
fn render_app(plugin: LeitmotifPlugin, plugin_first: bool) -> App {
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, AssetPlugin::default()));
    if plugin_first {
        app.add_plugins(plugin.clone());
    }
    app.add_plugins((
        bevy::transform::TransformPlugin,
        bevy::window::WindowPlugin {
            primary_window: None,
            exit_condition: bevy::window::ExitCondition::DontExit,
            ..default()
        },
        render_plugin(),
        bevy::image::ImagePlugin::default(),
        bevy::mesh::MeshPlugin,
        bevy::camera::CameraPlugin,
    ));
    if !plugin_first {
        app.add_plugins(plugin);
    }
    while app.plugins_state() == PluginsState::Adding {
        bevy::tasks::tick_global_task_pools_on_main_thread();
        std::thread::yield_now();
    }
    app.finish();
    app.cleanup();
    app
}

fn leitmotif() -> LeitmotifPlugin {
    LeitmotifPlugin {
        model: ModelSource::DefaultRnn,
        backend: BackendChoice::Wgpu,
        wait_for_phrases: true,
        ..LeitmotifPlugin::default()
    }
}

fn backend(app: &App) -> String {
    app.world()
        .get_resource::<ComposerHandle>()
        .map(|c| c.0.backend().to_owned())
        .unwrap_or_else(|| panic!("no model loaded"))
}

#[test]
fn the_models_run_on_bevys_render_device() {
    // The plugin added after the renderer: the model loads in `finish`.
    let mut app = render_app(leitmotif(), false);
    assert!(
        app.world().contains_resource::<RenderDevice>(),
        "Bevy found no Vulkan adapter (install mesa-vulkan-drivers)"
    );
    let name = backend(&app);
    assert!(name.contains("Bevy's render device"), "{name}");

    // The same phrase as on a device of the model's own: same adapter, same kernels.
    let request = Request {
        bars: 1,
        seed: 11,
        ..Request::default()
    };
    let shared = app.world().resource::<ComposerHandle>().0.clone();
    let on_bevy = shared.compose(&request).unwrap_or_else(|e| panic!("{e}"));
    let own = Composer::load(&ModelSource::DefaultRnn, BackendChoice::Wgpu)
        .and_then(|c| c.compose(&request))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!own.backend.contains("Bevy"));
    assert_eq!(on_bevy.score, own.score);
    // Bevy's frames go on with the models on its device.
    for _ in 0..3 {
        app.update();
    }

    // The plugin added before the renderer: the model waits for the device (`cleanup`).
    let app = render_app(leitmotif(), true);
    let name = backend(&app);
    assert!(name.contains("Bevy's render device"), "{name}");

    // `Cpu` keeps the models off the GPU even when Bevy renders.
    let cpu = LeitmotifPlugin {
        backend: BackendChoice::Cpu,
        ..leitmotif()
    };
    assert_eq!(backend(&render_app(cpu, false)), "cpu (host decoder)");
}
