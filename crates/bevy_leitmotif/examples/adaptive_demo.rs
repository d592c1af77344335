//! A playable adaptive-music demo: walk between a village, a forest and a dungeon, let
//! enemies close in, and watch the music follow on a HUD with a live piano roll.
//!
//! Arrow keys or WASD move the player. Each zone sets a game state (village: `village`,
//! forest: `mysterious`, dungeon: `dungeon`); enemies close by raise the intensity, and one
//! at arm's length turns the state to `danger`. Space fires a heroic stinger. M mutes and P
//! pauses the music. The first phrase takes a moment to compose.
//!
//! `cargo run -p bevy_leitmotif --features demo --example adaptive_demo`
//!
//! `--screenshot FILE.png [--timeout SECONDS]` plays a scripted walk instead (into the forest,
//! into the dungeon, an enemy closes in, a stinger), saves a screenshot once the music has
//! answered all of it, and exits (non-zero if the walk stalled before the timeout).
//! `scripts/demo-screenshot.sh` runs it under Xvfb.

use std::collections::VecDeque;
use std::io::Write;
use std::path::PathBuf;

use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured, save_to_disk};
use bevy::sprite::Anchor;
use bevy::window::WindowResolution;
use bevy_leitmotif::{
    AudioStatus, FireStinger, LeitmotifPlugin, LeitmotifStatus, LeitmotifSystems, LeitmotifTimings,
    ModelStatus, MusicDirector, MuteMusic, PauseMusic, PhraseFailed, PhraseLate, PhraseStarted,
    ResumeMusic, SetGameState, SetIntensity, StingerStarted, TransitionDone,
};
use leitmotif_director::{Director, DirectorSettings, PhraseInfo};
use leitmotif_score::Role;

// --- Layout (world units are window pixels; the origin is the window's centre) ---------

/// The window's size.
const WINDOW: Vec2 = Vec2::new(1280.0, 720.0);
/// Width of the HUD panel on the left.
const PANEL: f32 = 340.0;
/// Left edge of the map and the piano roll.
const LEFT: f32 = -WINDOW.x / 2.0 + PANEL + 14.0;
/// Right edge of the map and the piano roll.
const RIGHT: f32 = WINDOW.x / 2.0 - 14.0;
/// The map's top and bottom.
const MAP_TOP: f32 = 348.0;
const MAP_BOTTOM: f32 = 40.0;
/// The piano roll: its whole box, the header band with phrase and bar labels, the pitched
/// notes' area and the drum strip.
const ROLL_TOP: f32 = 4.0;
const ROLL_BOTTOM: f32 = -348.0;
const HEADER_BOTTOM: f32 = -18.0;
const PITCH_TOP: f32 = -24.0;
const PITCH_BOTTOM: f32 = -268.0;
const DRUM_TOP: f32 = -276.0;
const DRUM_BOTTOM: f32 = -344.0;
/// How much of the roll lies behind "now", in bars, and ahead.
const BARS_BEHIND: f64 = 1.0;
const BARS_AHEAD: f64 = 2.0;
/// Sprites kept for notes and grid lines.
const NOTE_POOL: usize = 480;
const LINE_POOL: usize = 40;
/// Text labels kept for phrases and bar numbers.
const PHRASE_LABELS: usize = 4;
const BAR_LABELS: usize = 5;

// --- Game feel -----------------------------------------------------------------------

const PLAYER_SPEED: f32 = 250.0;
const PLAYER_RADIUS: f32 = 11.0;
const WANDER_SPEED: f32 = 55.0;
const CHASE_SPEED: f32 = 95.0;
/// An enemy chases a player in its zone within this distance.
const CHASE_RADIUS: f32 = 190.0;
/// How close a chasing enemy comes.
const TOUCH: f32 = 40.0;
/// Nearness (and with it intensity) rises from this distance to [`TOUCH`].
const NEAR_RADIUS: f32 = 260.0;
/// An enemy closer than this turns the state to danger; all farther than
/// [`DANGER_OUT`] for [`DANGER_HOLD`] seconds turn it back.
const DANGER_IN: f32 = 90.0;
const DANGER_OUT: f32 = 170.0;
const DANGER_HOLD: f64 = 4.0;
/// The game states (names or words of the default mood table).
const DANGER_STATE: &str = "danger";
const STINGER: &str = "heroic";
/// Lines kept in the HUD's event log.
const LOG_LINES: usize = 7;

fn main() -> AppExit {
    let script = match parse_args() {
        Ok(script) => script,
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "{message}");
            let _ = writeln!(
                std::io::stderr(),
                "usage: adaptive_demo [--screenshot FILE.png [--timeout SECONDS]]"
            );
            return AppExit::from_code(2);
        }
    };
    let mut app = App::new();
    app.add_plugins((
        DefaultPlugins.set(WindowPlugin {
            primary_window: Some(Window {
                title: "Leitmotif: adaptive music demo".to_owned(),
                // A fixed layout: one logical pixel per world unit and UI pixel.
                resolution: WindowResolution::new(WINDOW.x as u32, WINDOW.y as u32)
                    .with_scale_factor_override(1.0),
                resizable: false,
                ..default()
            }),
            ..default()
        }),
        LeitmotifPlugin {
            director: DirectorSettings {
                initial_state: Zone::Village.state().to_owned(),
                initial_intensity: Zone::Village.base_intensity(),
                seed: 11,
                ..default()
            },
            ..default()
        },
    ))
    .insert_resource(ClearColor(Color::srgb(0.035, 0.04, 0.06)))
    .insert_resource(Rng(0x9e37_79b9_7f4a_7c15))
    .init_resource::<Game>()
    .init_resource::<Roll>()
    .add_systems(Startup, (spawn_map, spawn_roll, spawn_hud))
    .add_systems(
        Update,
        (
            (move_player, move_enemies, steer_music, control_audio)
                .chain()
                .before(LeitmotifSystems::Input),
            (log_music, refresh_roll, draw_roll, update_hud)
                .chain()
                .after(LeitmotifSystems::Clock),
        ),
    );
    if let Some(script) = script {
        app.insert_resource(script)
            .add_systems(Update, run_script.after(draw_roll));
    }
    app.run()
}

/// Reads `--screenshot FILE [--timeout SECONDS]`.
fn parse_args() -> Result<Option<Script>, String> {
    let mut path = None;
    let mut timeout = 300.0;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--screenshot", Some(file)) => path = Some(PathBuf::from(file)),
            ("--timeout", Some(secs)) => {
                timeout = secs
                    .parse::<f64>()
                    .ok()
                    .filter(|s| *s > 0.0)
                    .ok_or_else(|| format!("--timeout takes seconds, not {secs:?}"))?;
            }
            (flag, _) => return Err(format!("unknown or incomplete argument {flag:?}")),
        }
    }
    Ok(path.map(|path| Script {
        path,
        timeout,
        stage: Stage::Overture,
        landed_bar: None,
        stinger_fired: false,
        stinger_at: None,
        failed: false,
        captured: false,
    }))
}

// --- The map --------------------------------------------------------------------------

/// The three zones, left to right.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Zone {
    Village,
    Forest,
    Dungeon,
}

impl Zone {
    const ALL: [Zone; 3] = [Zone::Village, Zone::Forest, Zone::Dungeon];

    fn name(self) -> &'static str {
        match self {
            Zone::Village => "village",
            Zone::Forest => "forest",
            Zone::Dungeon => "dungeon",
        }
    }

    /// The game state the zone sends (a word of the default mood table).
    fn state(self) -> &'static str {
        match self {
            Zone::Village => "village",
            Zone::Forest => "mysterious",
            Zone::Dungeon => "dungeon",
        }
    }

    /// The intensity with no enemy near.
    fn base_intensity(self) -> f64 {
        match self {
            Zone::Village => 0.2,
            Zone::Forest => 0.35,
            Zone::Dungeon => 0.45,
        }
    }

    fn ground(self) -> Color {
        match self {
            Zone::Village => Color::srgb(0.36, 0.52, 0.28),
            Zone::Forest => Color::srgb(0.10, 0.27, 0.16),
            Zone::Dungeon => Color::srgb(0.17, 0.15, 0.21),
        }
    }

    fn rect(self) -> Rect {
        let width = (RIGHT - LEFT) / 3.0;
        let i = Zone::ALL.iter().position(|z| *z == self).unwrap_or(0) as f32;
        Rect::new(
            LEFT + i * width,
            MAP_BOTTOM,
            LEFT + (i + 1.0) * width,
            MAP_TOP,
        )
    }

    fn at(x: f32) -> Zone {
        Zone::ALL
            .into_iter()
            .find(|z| x < z.rect().max.x)
            .unwrap_or(Zone::Dungeon)
    }
}

fn map_rect() -> Rect {
    Rect::new(LEFT, MAP_BOTTOM, RIGHT, MAP_TOP)
}

#[derive(Component)]
struct Player;

#[derive(Component)]
struct Enemy {
    zone: Zone,
    velocity: Vec2,
    /// Seconds until the wanderer picks a new direction.
    turn_in: f32,
    /// Chases the player wherever it is in its zone (the scripted ambush).
    hunter: bool,
}

/// A small deterministic random source (xorshift64) for wandering and scenery.
#[derive(Resource)]
struct Rng(u64);

impl Rng {
    /// A number in `0..1`.
    fn unit(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }

    fn in_rect(&mut self, rect: Rect) -> Vec2 {
        Vec2::new(
            rect.min.x + self.unit() * rect.width(),
            rect.min.y + self.unit() * rect.height(),
        )
    }
}

fn spawn_map(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<ColorMaterial>>,
    mut rng: ResMut<Rng>,
) {
    commands.spawn(Camera2d);
    for zone in Zone::ALL {
        let rect = zone.rect();
        commands.spawn((
            Sprite::from_color(zone.ground(), rect.size()),
            Transform::from_translation(rect.center().extend(0.0)),
        ));
        commands.spawn((
            Text2d::new(zone.name().to_uppercase()),
            TextFont::from_font_size(22.0),
            TextColor(Color::srgba(1.0, 1.0, 1.0, 0.85)),
            Anchor::TOP_LEFT,
            Transform::from_xyz(rect.min.x + 12.0, rect.max.y - 8.0, 6.0),
        ));
        commands.spawn((
            Text2d::new(format!("state \"{}\"", zone.state())),
            TextFont::from_font_size(13.0),
            TextColor(Color::srgba(1.0, 1.0, 1.0, 0.55)),
            Anchor::TOP_LEFT,
            Transform::from_xyz(rect.min.x + 12.0, rect.max.y - 34.0, 6.0),
        ));
    }
    // Scenery, kept clear of the labels.
    let scenery = |zone: Zone| {
        let r = zone.rect();
        Rect::new(
            r.min.x + 24.0,
            r.min.y + 24.0,
            r.max.x - 24.0,
            r.max.y - 64.0,
        )
    };
    let roof = meshes.add(Triangle2d::new(
        Vec2::new(0.0, 16.0),
        Vec2::new(-22.0, 0.0),
        Vec2::new(22.0, 0.0),
    ));
    let roof_colour = materials.add(Color::srgb(0.62, 0.24, 0.18));
    for (x, y) in [(0.2, 0.75), (0.62, 0.82), (0.35, 0.28), (0.8, 0.35)] {
        let area = scenery(Zone::Village);
        let at = area.min + area.size() * Vec2::new(x, y);
        commands.spawn((
            Sprite::from_color(Color::srgb(0.85, 0.74, 0.55), Vec2::new(34.0, 26.0)),
            Transform::from_translation(at.extend(1.0)),
        ));
        commands.spawn((
            Mesh2d(roof.clone()),
            MeshMaterial2d(roof_colour.clone()),
            Transform::from_translation((at + Vec2::new(0.0, 13.0)).extend(1.1)),
        ));
    }
    let canopy = meshes.add(Circle::new(15.0));
    let leaves = [
        materials.add(Color::srgb(0.13, 0.42, 0.22)),
        materials.add(Color::srgb(0.18, 0.50, 0.26)),
        materials.add(Color::srgb(0.08, 0.34, 0.18)),
    ];
    for i in 0..16 {
        let at = rng.in_rect(scenery(Zone::Forest));
        commands.spawn((
            Sprite::from_color(Color::srgb(0.32, 0.22, 0.12), Vec2::new(5.0, 12.0)),
            Transform::from_translation((at - Vec2::new(0.0, 14.0)).extend(1.0)),
        ));
        commands.spawn((
            Mesh2d(canopy.clone()),
            MeshMaterial2d(leaves[i % leaves.len()].clone()),
            Transform::from_translation(at.extend(1.1))
                .with_scale(Vec3::splat(0.8 + 0.5 * rng.unit())),
        ));
    }
    let dungeon = Zone::Dungeon.rect();
    for row in 0..7 {
        for col in 0..7 {
            let size = Vec2::new(dungeon.width() / 7.0, (dungeon.height() - 48.0) / 7.0);
            let at = dungeon.min + size * Vec2::new(col as f32 + 0.5, row as f32 + 0.5);
            let shade = 0.19 + 0.04 * rng.unit();
            commands.spawn((
                Sprite::from_color(
                    Color::srgb(shade, shade * 0.92, shade * 1.15),
                    size - Vec2::splat(4.0),
                ),
                Transform::from_translation(at.extend(0.5)),
            ));
        }
    }
    let flame = meshes.add(Circle::new(5.0));
    let glow = meshes.add(Circle::new(22.0));
    let flame_colour = materials.add(Color::srgb(1.0, 0.62, 0.2));
    let glow_colour = materials.add(Color::srgba(1.0, 0.55, 0.15, 0.16));
    for (x, y) in [(0.15, 0.85), (0.85, 0.85), (0.5, 0.12)] {
        let area = scenery(Zone::Dungeon);
        let at = area.min + area.size() * Vec2::new(x, y);
        commands.spawn((
            Mesh2d(glow.clone()),
            MeshMaterial2d(glow_colour.clone()),
            Transform::from_translation(at.extend(1.0)),
        ));
        commands.spawn((
            Mesh2d(flame.clone()),
            MeshMaterial2d(flame_colour.clone()),
            Transform::from_translation(at.extend(1.1)),
        ));
    }
    // Zone borders.
    for zone in [Zone::Forest, Zone::Dungeon] {
        commands.spawn((
            Sprite::from_color(
                Color::srgba(0.0, 0.0, 0.0, 0.45),
                Vec2::new(3.0, MAP_TOP - MAP_BOTTOM),
            ),
            Transform::from_xyz(zone.rect().min.x, (MAP_TOP + MAP_BOTTOM) / 2.0, 2.0),
        ));
    }
    // Enemies: two in the forest, three in the dungeon.
    let body = meshes.add(Rhombus::new(26.0, 26.0));
    let body_colour = materials.add(Color::srgb(0.93, 0.27, 0.32));
    let ring = meshes.add(Annulus::new(DANGER_IN - 2.0, DANGER_IN));
    let ring_colour = materials.add(Color::srgba(0.93, 0.27, 0.32, 0.22));
    for zone in [
        Zone::Forest,
        Zone::Forest,
        Zone::Dungeon,
        Zone::Dungeon,
        Zone::Dungeon,
    ] {
        let at = rng.in_rect(scenery(zone));
        commands
            .spawn((
                Enemy {
                    zone,
                    velocity: Vec2::ZERO,
                    turn_in: 0.0,
                    hunter: false,
                },
                Mesh2d(body.clone()),
                MeshMaterial2d(body_colour.clone()),
                Transform::from_translation(at.extend(3.0)),
            ))
            .with_child((
                Mesh2d(ring.clone()),
                MeshMaterial2d(ring_colour.clone()),
                Transform::from_xyz(0.0, 0.0, -0.5),
            ));
    }
    let start = Zone::Village.rect().center() - Vec2::new(40.0, 30.0);
    commands
        .spawn((
            Player,
            Mesh2d(meshes.add(Circle::new(PLAYER_RADIUS))),
            MeshMaterial2d(materials.add(Color::srgb(1.0, 0.92, 0.5))),
            Transform::from_translation(start.extend(4.0)),
        ))
        .with_child((
            Mesh2d(meshes.add(Annulus::new(PLAYER_RADIUS, PLAYER_RADIUS + 3.0))),
            MeshMaterial2d(materials.add(Color::srgb(0.12, 0.1, 0.05))),
            Transform::from_xyz(0.0, 0.0, 0.1),
        ));
}

fn move_player(
    time: Res<Time>,
    keys: Res<ButtonInput<KeyCode>>,
    script: Option<Res<Script>>,
    mut player: Single<&mut Transform, With<Player>>,
) {
    let at = player.translation.truncate();
    let direction = match script.as_deref().and_then(Script::walk_to) {
        Some(target) if at.distance(target) > 4.0 => (target - at).normalize_or_zero(),
        Some(_) => Vec2::ZERO,
        None if script.is_some() => Vec2::ZERO,
        None => {
            let pressed = |a: KeyCode, b: KeyCode| keys.pressed(a) || keys.pressed(b);
            let mut d = Vec2::ZERO;
            if pressed(KeyCode::ArrowLeft, KeyCode::KeyA) {
                d.x -= 1.0;
            }
            if pressed(KeyCode::ArrowRight, KeyCode::KeyD) {
                d.x += 1.0;
            }
            if pressed(KeyCode::ArrowDown, KeyCode::KeyS) {
                d.y -= 1.0;
            }
            if pressed(KeyCode::ArrowUp, KeyCode::KeyW) {
                d.y += 1.0;
            }
            d.normalize_or_zero()
        }
    };
    let bounds = map_rect().inflate(-PLAYER_RADIUS - 3.0);
    let next = (at + direction * PLAYER_SPEED * time.delta_secs()).clamp(bounds.min, bounds.max);
    player.translation = next.extend(player.translation.z);
}

fn move_enemies(
    time: Res<Time>,
    mut rng: ResMut<Rng>,
    script: Option<Res<Script>>,
    player: Single<&Transform, (With<Player>, Without<Enemy>)>,
    mut enemies: Query<(&mut Enemy, &mut Transform)>,
) {
    let dt = time.delta_secs();
    let target = player.translation.truncate();
    for (mut enemy, mut transform) in &mut enemies {
        let at = transform.translation.truncate();
        let bounds = enemy.zone.rect().inflate(-18.0);
        let to_player = target - at;
        // In the scripted walk only the hunter chases, so the walk goes as planned.
        let chasing = bounds.contains(target)
            && (enemy.hunter || (script.is_none() && to_player.length() < CHASE_RADIUS));
        let velocity = if chasing {
            if to_player.length() > TOUCH {
                to_player.normalize_or_zero() * CHASE_SPEED
            } else {
                Vec2::ZERO
            }
        } else if script.is_some() && !enemy.hunter && to_player.length() < NEAR_RADIUS + 24.0 {
            // In the scripted walk the others keep their distance.
            enemy.velocity = -to_player.normalize_or_zero() * WANDER_SPEED;
            enemy.velocity
        } else {
            enemy.turn_in -= dt;
            if enemy.turn_in <= 0.0 {
                enemy.velocity =
                    Vec2::from_angle(rng.unit() * std::f32::consts::TAU) * WANDER_SPEED;
                enemy.turn_in = 1.5 + 2.0 * rng.unit();
            }
            enemy.velocity
        };
        let moved = at + velocity * dt;
        let next = moved.clamp(bounds.min, bounds.max);
        // Bounce off the zone's edges.
        if next.x != moved.x {
            enemy.velocity.x = -enemy.velocity.x;
        }
        if next.y != moved.y {
            enemy.velocity.y = -enemy.velocity.y;
        }
        transform.translation = next.extend(transform.translation.z);
        transform.rotation = Quat::from_rotation_z(0.6 * (time.elapsed_secs() + at.x * 0.01).sin());
    }
}

// --- The game talks to the music ---------------------------------------------------------

/// What the game has told the music, and what the HUD's event log shows.
#[derive(Resource)]
struct Game {
    zone: Zone,
    danger: bool,
    /// When an enemy was last within [`DANGER_OUT`].
    danger_seen: f64,
    sent_state: String,
    sent_intensity: f64,
    /// Nearness of the nearest enemy, 0 to 1.
    nearness: f32,
    /// What M and P last asked of the music.
    muted: bool,
    paused: bool,
    log: VecDeque<String>,
}

impl Default for Game {
    fn default() -> Self {
        Self {
            zone: Zone::Village,
            danger: false,
            danger_seen: f64::NEG_INFINITY,
            sent_state: Zone::Village.state().to_owned(),
            sent_intensity: Zone::Village.base_intensity(),
            nearness: 0.0,
            muted: false,
            paused: false,
            log: VecDeque::new(),
        }
    }
}

impl Game {
    fn log(&mut self, bar: Option<u64>, line: String) {
        let bar = bar.map_or_else(|| "   ".to_owned(), |b| format!("{b:>3}"));
        self.log.push_back(format!("{bar}  {line}"));
        while self.log.len() > LOG_LINES {
            self.log.pop_front();
        }
    }
}

/// The bar playing, once the music runs.
fn bar_now(director: Option<&MusicDirector>) -> Option<u64> {
    let d = director?.director();
    d.is_started().then(|| d.position().bar)
}

/// Sends the zone's state, the danger state, intensity from the enemies' nearness, and
/// stingers.
#[expect(clippy::too_many_arguments, reason = "a system's parameters")]
fn steer_music(
    time: Res<Time>,
    keys: Res<ButtonInput<KeyCode>>,
    script: Option<Res<Script>>,
    director: Option<Res<MusicDirector>>,
    mut game: ResMut<Game>,
    player: Single<&Transform, With<Player>>,
    enemies: Query<&Transform, With<Enemy>>,
    mut out: (
        MessageWriter<SetGameState>,
        MessageWriter<SetIntensity>,
        MessageWriter<FireStinger>,
    ),
    mut gizmos: Gizmos,
) {
    let now = time.elapsed_secs_f64();
    let bar = bar_now(director.as_deref());
    let at = player.translation.truncate();
    let nearest = enemies
        .iter()
        .map(|t| t.translation.truncate())
        .min_by(|a, b| a.distance(at).total_cmp(&b.distance(at)));
    let distance = nearest.map_or(f32::INFINITY, |e| e.distance(at));
    let near = ((NEAR_RADIUS - distance) / (NEAR_RADIUS - TOUCH)).clamp(0.0, 1.0);
    game.nearness = near * near * (3.0 - 2.0 * near);
    if let Some(enemy) = nearest
        && game.nearness > 0.0
    {
        gizmos.line_2d(
            at,
            enemy,
            Color::srgba(1.0, 0.35, 0.35, 0.25 + 0.6 * game.nearness),
        );
    }

    let zone = Zone::at(at.x);
    if zone != game.zone {
        game.zone = zone;
        game.log(bar, format!("enter {}", zone.name()));
    }
    if distance < DANGER_OUT {
        game.danger_seen = now;
    }
    if !game.danger && distance < DANGER_IN {
        game.danger = true;
        game.log(bar, "an enemy is on you".to_owned());
    } else if game.danger && now - game.danger_seen > DANGER_HOLD {
        game.danger = false;
        game.log(bar, "you got away".to_owned());
    }
    let state = if game.danger {
        DANGER_STATE
    } else {
        zone.state()
    };
    if state != game.sent_state {
        state.clone_into(&mut game.sent_state);
        out.0.write(SetGameState(state.to_owned()));
        game.log(bar, format!("SetGameState(\"{state}\")"));
    }
    let base = zone.base_intensity();
    let intensity = base + (1.0 - base) * f64::from(game.nearness);
    if (intensity - game.sent_intensity).abs() > 0.02 {
        game.sent_intensity = intensity;
        out.1.write(SetIntensity(intensity));
    }
    let fire = match script.as_deref() {
        Some(script) => script.stage == Stage::Stinger && !script.stinger_fired,
        None => keys.just_pressed(KeyCode::Space),
    };
    if fire {
        out.2.write(FireStinger(STINGER.to_owned()));
        game.log(bar, format!("FireStinger(\"{STINGER}\")"));
    }
}

/// M mutes and unmutes the music, P pauses and resumes it (and the musical clock).
fn control_audio(
    keys: Res<ButtonInput<KeyCode>>,
    director: Option<Res<MusicDirector>>,
    mut game: ResMut<Game>,
    mut mute: MessageWriter<MuteMusic>,
    mut pause: MessageWriter<PauseMusic>,
    mut resume: MessageWriter<ResumeMusic>,
) {
    let bar = bar_now(director.as_deref());
    if keys.just_pressed(KeyCode::KeyM) {
        game.muted = !game.muted;
        mute.write(MuteMusic(game.muted));
        let line = if game.muted {
            "music muted"
        } else {
            "music unmuted"
        };
        game.log(bar, line.to_owned());
    }
    if keys.just_pressed(KeyCode::KeyP) {
        game.paused = !game.paused;
        if game.paused {
            pause.write(PauseMusic);
        } else {
            resume.write(ResumeMusic);
        }
        let line = if game.paused {
            "music paused"
        } else {
            "music resumed"
        };
        game.log(bar, line.to_owned());
    }
}

/// Writes what the music did into the event log.
fn log_music(
    mut game: ResMut<Game>,
    mut transitions: MessageReader<TransitionDone>,
    mut phrases: MessageReader<PhraseStarted>,
    mut stingers: MessageReader<StingerStarted>,
    mut late: MessageReader<PhraseLate>,
    mut failed: MessageReader<PhraseFailed>,
) {
    for p in phrases.read() {
        game.log(
            Some(u64::from(p.bar)),
            format!("phrase for \"{}\"", p.state),
        );
    }
    for t in transitions.read() {
        game.log(Some(u64::from(t.bar)), format!("now playing \"{}\"", t.to));
    }
    for s in stingers.read() {
        game.log(
            Some(u64::from(s.bar)),
            format!("stinger \"{}\" on beat {}", s.name, s.beat),
        );
    }
    for p in late.read() {
        game.log(
            Some(u64::from(p.bar)),
            format!("\"{}\" late: music repeats", p.state),
        );
    }
    for p in failed.read() {
        game.log(None, format!("\"{}\" failed: {}", p.state, p.message));
    }
}

// --- The piano roll ----------------------------------------------------------------------

/// What a note on the roll belongs to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Part {
    Melody,
    Bass,
    Chords,
    /// Drums, by row of the drum strip (0 = bottom).
    Drum(u8),
    Stinger,
}

impl Part {
    fn of(role: Role, pitch: u8) -> Part {
        match role {
            Role::Melody => Part::Melody,
            Role::Bass => Part::Bass,
            Role::Chords => Part::Chords,
            Role::Drums => Part::Drum(drum_row(pitch)),
            // The session's stinger track; any other part is drawn with it.
            _ => Part::Stinger,
        }
    }

    fn colour(self) -> Srgba {
        match self {
            Part::Melody => Srgba::rgb(0.38, 0.80, 1.0),
            Part::Bass => Srgba::rgb(1.0, 0.58, 0.22),
            Part::Chords => Srgba::rgb(0.70, 0.52, 1.0),
            Part::Drum(_) => Srgba::rgb(0.55, 0.92, 0.55),
            Part::Stinger => Srgba::rgb(1.0, 0.85, 0.20),
        }
    }
}

/// The layers the HUD's legend names, with their colours.
const LEGEND: [(&str, Part, Option<Role>); 5] = [
    ("melody", Part::Melody, Some(Role::Melody)),
    ("bass", Part::Bass, Some(Role::Bass)),
    ("chords", Part::Chords, Some(Role::Chords)),
    ("drums", Part::Drum(0), Some(Role::Drums)),
    ("stinger", Part::Stinger, None),
];

/// The drum strip's rows, bottom to top.
const DRUM_ROWS: [&str; 5] = ["kick", "snare", "tom", "hat", "cymbal"];

/// The drum strip row of a General MIDI percussion key.
fn drum_row(pitch: u8) -> u8 {
    match pitch {
        35 | 36 => 0,
        37..=40 => 1,
        42 | 44 | 46 => 3,
        49..=59 => 4,
        _ => 2,
    }
}

/// A note of the scheduled music, in session ticks.
#[derive(Clone, Copy, Debug)]
struct RollNote {
    start: u64,
    end: u64,
    pitch: u8,
    part: Part,
}

/// The music around now, read from the director a few times a beat; drawn every frame.
#[derive(Resource)]
struct Roll {
    notes: Vec<RollNote>,
    /// The tick and time of the last read.
    read_at: Option<(u64, f64)>,
    /// The pitch range drawn, eased towards the notes'.
    low: f32,
    high: f32,
    /// Phrases seen on the timeline (those begun, the current one, the next one).
    phrases: Vec<PhraseInfo>,
}

impl Default for Roll {
    fn default() -> Self {
        Self {
            notes: Vec::new(),
            read_at: None,
            low: 48.0,
            high: 84.0,
            phrases: Vec::new(),
        }
    }
}

/// The roll's window on the timeline at `now`: first and last tick shown (the first may
/// lie before the session's start) and the horizontal scale.
struct View {
    lo: f64,
    hi: f64,
    px_per_tick: f32,
}

impl View {
    fn at(director: &Director) -> View {
        let now = director.tick() as f64;
        let bar = director.clock().segment_at(director.tick()).bar_ticks() as f64;
        let lo = now - BARS_BEHIND * bar;
        let hi = now + BARS_AHEAD * bar;
        View {
            lo,
            hi,
            px_per_tick: (RIGHT - LEFT) / (hi - lo) as f32,
        }
    }

    fn x(&self, tick: f64) -> f32 {
        LEFT + (tick.clamp(self.lo, self.hi) - self.lo) as f32 * self.px_per_tick
    }

    fn shows(&self, tick: f64) -> bool {
        tick >= self.lo && tick <= self.hi
    }
}

/// The x of "now" on the roll.
fn now_x() -> f32 {
    LEFT + (RIGHT - LEFT) * (BARS_BEHIND / (BARS_BEHIND + BARS_AHEAD)) as f32
}

#[derive(Component)]
struct NoteSprite;

#[derive(Component)]
struct GridLine;

#[derive(Component)]
struct PhraseLabel;

#[derive(Component)]
struct BarLabel;

/// The shade over what is not composed yet, and its caption.
#[derive(Component)]
struct Unscheduled;

#[derive(Component)]
struct UnscheduledCaption;

fn spawn_roll(mut commands: Commands) {
    let width = RIGHT - LEFT;
    let box_at = |top: f32, bottom: f32| {
        Transform::from_xyz((LEFT + RIGHT) / 2.0, (top + bottom) / 2.0, 0.0)
    };
    commands.spawn((
        Sprite::from_color(
            Color::srgb(0.07, 0.08, 0.11),
            Vec2::new(width, ROLL_TOP - ROLL_BOTTOM),
        ),
        box_at(ROLL_TOP, ROLL_BOTTOM),
    ));
    commands.spawn((
        Sprite::from_color(
            Color::srgb(0.05, 0.055, 0.08),
            Vec2::new(width, DRUM_TOP - DRUM_BOTTOM + 4.0),
        ),
        box_at(DRUM_TOP + 2.0, DRUM_BOTTOM - 2.0).with_translation(Vec3::new(
            (LEFT + RIGHT) / 2.0,
            (DRUM_TOP + DRUM_BOTTOM) / 2.0,
            0.1,
        )),
    ));
    commands.spawn((
        Text2d::new("LIVE PIANO ROLL   one bar back, two bars ahead"),
        TextFont::from_font_size(14.0),
        TextColor(Color::srgba(1.0, 1.0, 1.0, 0.6)),
        Anchor::CENTER_LEFT,
        Transform::from_xyz(LEFT, (MAP_BOTTOM + ROLL_TOP) / 2.0 + 1.0, 5.0),
    ));
    let row_height = (DRUM_TOP - DRUM_BOTTOM) / DRUM_ROWS.len() as f32;
    for (i, name) in DRUM_ROWS.iter().enumerate() {
        commands.spawn((
            Text2d::new(*name),
            TextFont::from_font_size(10.0),
            TextColor(Color::srgba(1.0, 1.0, 1.0, 0.35)),
            Anchor::CENTER_LEFT,
            Transform::from_xyz(LEFT + 4.0, DRUM_BOTTOM + row_height * (i as f32 + 0.5), 5.0),
        ));
    }
    // "Now".
    commands.spawn((
        Sprite::from_color(
            Color::srgba(1.0, 1.0, 1.0, 0.9),
            Vec2::new(2.0, ROLL_TOP - ROLL_BOTTOM),
        ),
        Transform::from_xyz(now_x(), (ROLL_TOP + ROLL_BOTTOM) / 2.0, 3.0),
    ));
    commands.spawn((
        Text2d::new("now"),
        TextFont::from_font_size(12.0),
        TextColor(Color::WHITE),
        Anchor::BOTTOM_CENTER,
        Transform::from_xyz(now_x(), ROLL_TOP + 1.0, 5.0),
    ));
    commands.spawn((
        Unscheduled,
        Sprite::from_color(Color::srgba(0.0, 0.0, 0.0, 0.45), Vec2::ONE),
        Transform::from_xyz(0.0, 0.0, 2.5),
        Visibility::Hidden,
    ));
    commands.spawn((
        UnscheduledCaption,
        Text2d::default(),
        TextFont::from_font_size(13.0),
        TextColor(Color::srgba(1.0, 1.0, 1.0, 0.7)),
        Anchor::CENTER,
        Transform::from_xyz(0.0, (PITCH_TOP + PITCH_BOTTOM) / 2.0, 5.0),
        Visibility::Hidden,
    ));
    for _ in 0..NOTE_POOL {
        commands.spawn((
            NoteSprite,
            Sprite::from_color(Color::WHITE, Vec2::ONE),
            Transform::default(),
            Visibility::Hidden,
        ));
    }
    for _ in 0..LINE_POOL {
        commands.spawn((
            GridLine,
            Sprite::from_color(Color::WHITE, Vec2::ONE),
            Transform::default(),
            Visibility::Hidden,
        ));
    }
    for _ in 0..PHRASE_LABELS {
        commands.spawn((
            PhraseLabel,
            Text2d::default(),
            TextFont::from_font_size(12.0),
            TextColor(Color::srgb(1.0, 0.86, 0.5)),
            Anchor::CENTER_LEFT,
            Transform::default(),
            Visibility::Hidden,
        ));
    }
    for _ in 0..BAR_LABELS {
        commands.spawn((
            BarLabel,
            Text2d::default(),
            TextFont::from_font_size(10.0),
            TextColor(Color::srgba(1.0, 1.0, 1.0, 0.45)),
            Anchor::BOTTOM_LEFT,
            Transform::default(),
            Visibility::Hidden,
        ));
    }
}

/// Reads the scheduled music around now from the director a few times a beat (and a few
/// times a second before the music starts), and keeps the phrases seen.
fn refresh_roll(time: Res<Time>, director: Option<Res<MusicDirector>>, mut roll: ResMut<Roll>) {
    let Some(director) = director else {
        return;
    };
    let d = director.director();
    let now = d.tick();
    let seconds = time.elapsed_secs_f64();
    let segment = d.clock().segment_at(now);
    let stale = roll.read_at.is_none_or(|(tick, at)| {
        now.abs_diff(tick) >= segment.beat_ticks() / 4 || seconds - at >= 0.25
    });
    if stale {
        roll.read_at = Some((now, seconds));
        let bar = segment.bar_ticks();
        // A margin on both sides: a note begun before the window still rings into it,
        // and the window moves on until the next read.
        let lo = now.saturating_sub(2 * bar);
        let hi = now + 3 * bar;
        let score = d.scheduled_score(lo, hi);
        roll.notes.clear();
        for track in &score.tracks {
            roll.notes.extend(track.notes.iter().map(|n| RollNote {
                start: lo + n.start,
                end: lo + n.end(),
                pitch: n.pitch,
                part: Part::of(track.role, n.pitch),
            }));
        }
    }
    // Phrases: keep those begun (as last seen); the current and next come fresh, since a
    // state change may replace what lies ahead.
    let view = View::at(d);
    roll.phrases
        .retain(|p| p.start_tick <= now && (p.end_tick as f64) > view.lo);
    for p in [d.current_phrase(), d.next_phrase()].into_iter().flatten() {
        match roll
            .phrases
            .iter_mut()
            .find(|q| q.start_tick == p.start_tick)
        {
            Some(q) => *q = p,
            None => roll.phrases.push(p),
        }
    }
    roll.phrases.sort_by_key(|p| p.start_tick);
}

/// Not one of the piano roll's sprites (the labels' queries stay disjoint from theirs).
type NotRoll = (Without<NoteSprite>, Without<GridLine>, Without<Unscheduled>);

/// A sprite of the piano roll, and the filter that picks one kind of them.
type RollSprite<'w, 's, F> = Query<
    'w,
    's,
    (
        &'static mut Transform,
        &'static mut Sprite,
        &'static mut Visibility,
    ),
    F,
>;

/// A text label of the piano roll.
type Label = (
    &'static mut Transform,
    &'static mut Text2d,
    &'static mut Visibility,
);

/// The piano roll's labels: phrases, bars, and the caption of what is not scheduled yet.
type Labels<'w, 's> = ParamSet<
    'w,
    's,
    (
        Query<'static, 'static, Label, (With<PhraseLabel>, NotRoll)>,
        Query<'static, 'static, Label, (With<BarLabel>, NotRoll)>,
        Single<'static, 'static, Label, (With<UnscheduledCaption>, NotRoll)>,
    ),
>;

/// The shade over what is not scheduled yet.
type Shade<'w, 's> = Single<
    'w,
    's,
    (&'static mut Transform, &'static mut Visibility),
    (With<Unscheduled>, Without<NoteSprite>, Without<GridLine>),
>;

/// Places the pooled sprites and labels for the roll's view at now.
fn draw_roll(
    time: Res<Time>,
    director: Option<Res<MusicDirector>>,
    mut roll: ResMut<Roll>,
    mut notes: RollSprite<(With<NoteSprite>, Without<GridLine>, Without<Unscheduled>)>,
    mut lines: RollSprite<(With<GridLine>, Without<NoteSprite>, Without<Unscheduled>)>,
    mut shade: Shade,
    mut labels: Labels,
) {
    let Some(director) = director else {
        return;
    };
    let d = director.director();
    let view = View::at(d);
    let now = d.tick() as f64;

    // Ease the pitch range towards the pitched notes in view.
    let (mut low, mut high) = (u8::MAX, u8::MIN);
    for n in roll
        .notes
        .iter()
        .filter(|n| !matches!(n.part, Part::Drum(_)))
    {
        if (n.end as f64) > view.lo && (n.start as f64) < view.hi {
            low = low.min(n.pitch);
            high = high.max(n.pitch);
        }
    }
    if low <= high {
        let (mut lo, mut hi) = (f32::from(low) - 2.0, f32::from(high) + 3.0);
        let span = hi - lo;
        if span < 30.0 {
            lo -= (30.0 - span) / 2.0;
            hi += (30.0 - span) / 2.0;
        }
        let k = 1.0 - (-3.0 * time.delta_secs()).exp();
        roll.low += (lo - roll.low) * k;
        roll.high += (hi - roll.high) * k;
    }
    let row = (PITCH_TOP - PITCH_BOTTOM) / (roll.high - roll.low);
    let drum_row_height = (DRUM_TOP - DRUM_BOTTOM) / DRUM_ROWS.len() as f32;

    let mut pool = notes.iter_mut();
    for n in &roll.notes {
        let (start, end) = (n.start as f64, n.end as f64);
        if end <= view.lo || start >= view.hi {
            continue;
        }
        let Some((mut transform, mut sprite, mut visibility)) = pool.next() else {
            break;
        };
        let (x0, x1) = (view.x(start), view.x(end));
        let (y, height, width) = match n.part {
            Part::Drum(r) => (
                DRUM_BOTTOM + drum_row_height * (f32::from(r) + 0.5),
                drum_row_height - 3.0,
                (x1 - x0).clamp(3.0, 8.0),
            ),
            _ => (
                PITCH_BOTTOM + (f32::from(n.pitch) - roll.low + 0.5) * row,
                (row - 1.0).clamp(2.0, 9.0),
                (x1 - x0 - 1.0).max(2.0),
            ),
        };
        let base = n.part.colour();
        let colour = if end <= now {
            base.with_alpha(0.4)
        } else if start <= now {
            // Sounding: lit up.
            base.mix(&Srgba::WHITE, 0.45)
        } else {
            base.with_alpha(0.85)
        };
        transform.translation = Vec3::new(x0 + width / 2.0, y, 2.0);
        transform.scale = Vec3::new(width, height, 1.0);
        sprite.color = colour.into();
        visibility.set_if_neq(Visibility::Inherited);
    }
    for (_, _, mut visibility) in pool {
        visibility.set_if_neq(Visibility::Hidden);
    }

    // Beat and bar lines, per tempo and meter segment; bar numbers in the header.
    let mut lines = lines.iter_mut();
    let mut bar_labels = labels.p1();
    let mut bar_labels = bar_labels.iter_mut();
    let segments = d.clock().segments();
    let mut line = |x: f32, width: f32, top: f32, colour: Color| {
        if let Some((mut transform, mut sprite, mut visibility)) = lines.next() {
            transform.translation = Vec3::new(x, (top + DRUM_BOTTOM) / 2.0, 1.0);
            transform.scale = Vec3::new(width, top - DRUM_BOTTOM, 1.0);
            sprite.color = colour;
            visibility.set_if_neq(Visibility::Inherited);
        }
    };
    for (i, segment) in segments.iter().enumerate() {
        let end = segments
            .get(i + 1)
            .map_or(f64::INFINITY, |s| s.tick as f64)
            .min(view.hi);
        let beat = segment.beat_ticks() as f64;
        let beats_per_bar = (segment.bar_ticks() / segment.beat_ticks()).max(1);
        // Lines count from the segment's bar grid (a tempo step keeps the grid before it).
        let from = (view.lo.max(segment.tick as f64) - segment.grid as f64) / beat;
        let first = from.ceil().max(0.0) as u64;
        for k in first.. {
            let tick = segment.grid as f64 + k as f64 * beat;
            if tick >= end {
                break;
            }
            let x = view.x(tick);
            if k % beats_per_bar == 0 {
                line(x, 1.5, HEADER_BOTTOM, Color::srgba(1.0, 1.0, 1.0, 0.22));
                if let Some((mut transform, mut text, mut visibility)) = bar_labels.next() {
                    let bar = segment.first_bar + k / beats_per_bar + 1;
                    let label = format!("bar {bar}");
                    if text.0 != label {
                        text.0 = label;
                    }
                    transform.translation = Vec3::new(x + 3.0, HEADER_BOTTOM - 14.0, 5.0);
                    visibility.set_if_neq(Visibility::Inherited);
                }
            } else {
                line(x, 1.0, PITCH_TOP, Color::srgba(1.0, 1.0, 1.0, 0.07));
            }
        }
    }
    for (_, _, mut visibility) in bar_labels {
        visibility.set_if_neq(Visibility::Hidden);
    }

    // Phrase boundaries, labelled with state, key and tempo.
    let mut shown: Vec<(f32, String)> = Vec::new();
    for p in &roll.phrases {
        let start = p.start_tick as f64;
        if (p.end_tick as f64) <= view.lo || start >= view.hi {
            continue;
        }
        if view.shows(start) && start > view.lo {
            line(
                view.x(start),
                2.0,
                ROLL_TOP,
                Color::srgba(1.0, 0.82, 0.4, 0.75),
            );
        }
        let label = format!("{}  {}  {:.0} bpm", p.state, p.key, p.bpm);
        shown.push((view.x(start) + 5.0, label));
    }
    for (_, _, mut visibility) in lines {
        visibility.set_if_neq(Visibility::Hidden);
    }
    // Hide a label that the next one would overlap.
    let keep: Vec<bool> = (0..shown.len())
        .map(|i| {
            shown
                .get(i + 1)
                .is_none_or(|next| next.0 - shown[i].0 > 7.2 * shown[i].1.len() as f32)
        })
        .collect();
    let mut phrase_labels = labels.p0();
    let mut phrase_labels = phrase_labels.iter_mut();
    for ((x, label), keep) in shown.into_iter().zip(keep) {
        if !keep {
            continue;
        }
        let Some((mut transform, mut text, mut visibility)) = phrase_labels.next() else {
            break;
        };
        if text.0 != label {
            text.0 = label;
        }
        transform.translation = Vec3::new(x, (ROLL_TOP + HEADER_BOTTOM) / 2.0, 5.0);
        visibility.set_if_neq(Visibility::Inherited);
    }
    for (_, _, mut visibility) in phrase_labels {
        visibility.set_if_neq(Visibility::Hidden);
    }

    // What is not composed yet.
    let scheduled = if d.is_started() {
        roll.phrases.iter().map(|p| p.end_tick).max().unwrap_or(0) as f64
    } else {
        view.lo
    };
    let (shade_transform, shade_visibility) = &mut *shade;
    let mut caption = labels.p2();
    let (caption_transform, caption_text, caption_visibility) = &mut *caption;
    if scheduled < view.hi {
        let x0 = view.x(scheduled.max(view.lo));
        shade_transform.translation =
            Vec3::new((x0 + RIGHT) / 2.0, (HEADER_BOTTOM + DRUM_BOTTOM) / 2.0, 2.5);
        shade_transform.scale = Vec3::new(RIGHT - x0, HEADER_BOTTOM - DRUM_BOTTOM, 1.0);
        shade_visibility.set_if_neq(Visibility::Inherited);
        let text = if !d.is_started() {
            "composing the first phrase..."
        } else if d.pending_job().is_some() {
            "composing..."
        } else {
            "not scheduled yet"
        };
        if caption_text.0 != text {
            text.clone_into(&mut caption_text.0);
        }
        caption_transform.translation.x = (x0 + RIGHT) / 2.0;
        caption_visibility.set_if_neq(if RIGHT - x0 > 120.0 {
            Visibility::Inherited
        } else {
            Visibility::Hidden
        });
    } else {
        shade_visibility.set_if_neq(Visibility::Hidden);
        caption_visibility.set_if_neq(Visibility::Hidden);
    }
}

// --- The HUD -----------------------------------------------------------------------------

/// The HUD's value fields.
#[derive(Component, Clone, Copy, PartialEq, Eq)]
enum Field {
    State,
    Target,
    Position,
    Tempo,
    Key,
    Phrase,
    Next,
    Intensity,
    Model,
    Backend,
    Audio,
    Cost,
    Events,
}

/// A span of the layers row, lit when its layer plays.
#[derive(Component)]
struct LayerSpan(usize);

#[derive(Component)]
struct IntensityFill;

#[derive(Component)]
struct IntensityTarget;

const LABEL: Color = Color::srgb(0.52, 0.57, 0.68);
const VALUE: Color = Color::srgb(0.93, 0.95, 0.98);
const HEADING: Color = Color::srgb(1.0, 0.82, 0.4);

fn spawn_hud(mut commands: Commands) {
    let panel = commands
        .spawn((
            Node {
                position_type: PositionType::Absolute,
                left: px(0),
                top: px(0),
                width: px(PANEL),
                height: percent(100),
                flex_direction: FlexDirection::Column,
                padding: UiRect::all(px(16)),
                row_gap: px(3),
                ..default()
            },
            BackgroundColor(Color::srgb(0.055, 0.06, 0.085)),
        ))
        .id();
    let text = |s: &str, size: f32, colour: Color| {
        (
            Text::new(s),
            TextFont::from_font_size(size),
            TextColor(colour),
        )
    };
    let heading = |commands: &mut Commands, s: &str| {
        commands.spawn((
            text(s, 12.0, HEADING),
            Node {
                margin: UiRect::top(px(12)),
                ..default()
            },
            ChildOf(panel),
        ));
    };
    let row = |commands: &mut Commands, label: &str, field: Field| {
        let row = commands
            .spawn((
                Node {
                    flex_direction: FlexDirection::Row,
                    ..default()
                },
                ChildOf(panel),
            ))
            .id();
        commands.spawn((
            text(label, 14.0, LABEL),
            Node {
                width: px(92),
                flex_shrink: 0.0,
                ..default()
            },
            ChildOf(row),
        ));
        commands.spawn((text("-", 14.0, VALUE), field, ChildOf(row)));
        row
    };
    commands.spawn((text("LEITMOTIF", 26.0, VALUE), ChildOf(panel)));
    commands.spawn((
        text("adaptive music, composed as you play", 13.0, LABEL),
        ChildOf(panel),
    ));
    heading(&mut commands, "MUSIC");
    row(&mut commands, "state", Field::State);
    row(&mut commands, "target", Field::Target);
    row(&mut commands, "bar:beat", Field::Position);
    row(&mut commands, "tempo", Field::Tempo);
    row(&mut commands, "key", Field::Key);
    row(&mut commands, "phrase", Field::Phrase);
    row(&mut commands, "next", Field::Next);
    let layers = commands
        .spawn((
            Node {
                flex_direction: FlexDirection::Row,
                ..default()
            },
            ChildOf(panel),
        ))
        .id();
    commands.spawn((
        text("layers", 14.0, LABEL),
        Node {
            width: px(92),
            flex_shrink: 0.0,
            ..default()
        },
        ChildOf(layers),
    ));
    let spans = commands
        .spawn((text("", 14.0, VALUE), ChildOf(layers)))
        .id();
    for (i, (name, _, _)) in LEGEND.iter().enumerate() {
        commands.spawn((
            TextSpan::new(format!("{name} ")),
            TextFont::from_font_size(14.0),
            TextColor(LABEL),
            LayerSpan(i),
            ChildOf(spans),
        ));
    }
    row(&mut commands, "intensity", Field::Intensity);
    // The intensity bar: the smoothed value filled, the target as a tick.
    let bar = commands
        .spawn((
            Node {
                width: px(PANEL - 32.0 - 92.0),
                height: px(8),
                margin: UiRect::left(px(92)),
                ..default()
            },
            BackgroundColor(Color::srgb(0.14, 0.15, 0.2)),
            ChildOf(panel),
        ))
        .id();
    commands.spawn((
        IntensityFill,
        Node {
            width: percent(0),
            height: percent(100),
            ..default()
        },
        BackgroundColor(Color::srgb(0.93, 0.36, 0.36)),
        ChildOf(bar),
    ));
    commands.spawn((
        IntensityTarget,
        Node {
            position_type: PositionType::Absolute,
            left: percent(0),
            width: px(2),
            height: px(14),
            top: px(-3),
            ..default()
        },
        BackgroundColor(Color::WHITE),
        ChildOf(bar),
    ));
    heading(&mut commands, "ENGINE");
    row(&mut commands, "model", Field::Model);
    row(&mut commands, "runs on", Field::Backend);
    row(&mut commands, "audio", Field::Audio);
    row(&mut commands, "plugin", Field::Cost);
    heading(&mut commands, "EVENTS  (bar, what happened)");
    commands.spawn((text("", 12.0, VALUE), Field::Events, ChildOf(panel)));
    commands.spawn((
        text(
            "arrows/WASD move    space stinger\nM mute    P pause",
            12.0,
            LABEL,
        ),
        Node {
            margin: UiRect::top(Val::Auto),
            ..default()
        },
        ChildOf(panel),
    ));
}

/// The mood a state name resolves to in the director's table.
fn mood_of<'a>(d: &'a Director, state: &str) -> &'a str {
    d.table().lookup(state).map_or("?", |(mood, _)| mood)
}

#[expect(clippy::too_many_arguments, reason = "a system's parameters")]
fn update_hud(
    director: Option<Res<MusicDirector>>,
    status: Res<LeitmotifStatus>,
    timings: Res<LeitmotifTimings>,
    game: Res<Game>,
    roll: Res<Roll>,
    mut fields: Query<(&Field, &mut Text)>,
    mut spans: Query<(&LayerSpan, &mut TextColor)>,
    mut fill: Single<&mut Node, (With<IntensityFill>, Without<IntensityTarget>)>,
    mut target: Single<&mut Node, (With<IntensityTarget>, Without<IntensityFill>)>,
) {
    let Some(director) = director else {
        return;
    };
    let d = director.director();
    let current = d.current_phrase();
    let next = d.next_phrase();
    let started = d.is_started();
    let segment = d.clock().segment_at(d.tick());
    for (field, mut text) in &mut fields {
        let value = match field {
            Field::State => format!("{} ({})", d.state(), mood_of(d, d.state())),
            Field::Target if d.target_state() == d.state() => "(playing)".to_owned(),
            Field::Target => match d.pending_job() {
                Some((_, due)) => format!(
                    "{} -> bar {}",
                    d.target_state(),
                    d.clock().position(due).bar
                ),
                None => format!("{} (waiting)", d.target_state()),
            },
            Field::Position if started => {
                let p = d.position();
                format!("{}:{}", p.bar, p.beat)
            }
            Field::Position => "waiting for the first phrase".to_owned(),
            Field::Tempo => format!("{:.0} bpm  {}", segment.bpm, segment.meter),
            Field::Key => current
                .as_ref()
                .map_or_else(|| "-".to_owned(), |p| p.key.to_string()),
            Field::Phrase => current.as_ref().map_or_else(
                || "-".to_owned(),
                |p| {
                    let last = d.clock().position(p.end_tick.saturating_sub(1)).bar;
                    let repeat = if p.repeat > 0 { "  (repeat)" } else { "" };
                    format!("#{} bars {}-{last}{repeat}", p.id, p.bar)
                },
            ),
            Field::Next => match (&next, d.pending_job()) {
                (Some(p), _) => format!("#{} \"{}\" at bar {}", p.id, p.state, p.bar),
                (None, Some((_, due))) => {
                    format!("composing, due bar {}", d.clock().position(due).bar)
                }
                (None, None) => "-".to_owned(),
            },
            Field::Intensity => format!("{:.2} -> {:.2}", d.intensity(), d.target_intensity()),
            Field::Model => match &status.model {
                ModelStatus::Ready { model, .. } => model.clone(),
                ModelStatus::Failed { message } => format!("failed: {message}"),
                _ => "loading...".to_owned(),
            },
            Field::Backend => match &status.model {
                ModelStatus::Ready { backend, .. } => backend.clone(),
                _ => "-".to_owned(),
            },
            Field::Audio => {
                let sound = match &status.audio {
                    AudioStatus::Playing if game.muted => "muted",
                    AudioStatus::Playing => "playing",
                    AudioStatus::NoDevice { .. } => "no device: silent",
                    _ => "off",
                };
                if game.paused {
                    format!("{sound}, paused")
                } else {
                    sound.to_owned()
                }
            }
            Field::Cost => format!(
                "{:.3} ms/frame, {} composing",
                timings.mean().as_secs_f64() * 1e3,
                timings.composing
            ),
            Field::Events => game.log.iter().cloned().collect::<Vec<_>>().join("\n"),
        };
        if text.0 != value {
            text.0 = value;
        }
    }
    let active = d.active_layers();
    let now = d.tick();
    let stinger_sounding = roll
        .notes
        .iter()
        .any(|n| n.part == Part::Stinger && n.start <= now && now < n.end);
    for (span, mut colour) in &mut spans {
        let (_, part, role) = LEGEND[span.0];
        let lit = role.map_or(stinger_sounding, |r| active.iter().any(|l| l.role() == r));
        let c: Color = if lit {
            part.colour().into()
        } else {
            Color::srgb(0.3, 0.32, 0.38)
        };
        colour.set_if_neq(TextColor(c));
    }
    fill.width = percent(d.intensity() * 100.0);
    target.left = percent(d.target_intensity() * 100.0);
}

// --- The scripted walk for the screenshot --------------------------------------------------

/// Steps of the scripted walk.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Stage {
    /// The first phrase is composed and plays in the village.
    Overture,
    /// Walk into the forest and wait for its music.
    ToForest,
    /// Walk into the dungeon and wait for its music.
    ToDungeon,
    /// An enemy hunts the player down: intensity rises, then danger.
    Ambush,
    /// A stinger is fired and heard.
    Stinger,
    /// The screenshot is being taken.
    Capture,
}

/// The scripted walk and the screenshot it ends with.
#[derive(Resource)]
struct Script {
    path: PathBuf,
    timeout: f64,
    stage: Stage,
    /// The bar on which the stage's awaited state was first heard.
    landed_bar: Option<u64>,
    /// Whether the stinger was fired, and the tick it began on.
    stinger_fired: bool,
    stinger_at: Option<u64>,
    /// The walk stalled before the timeout; the screenshot shows where.
    failed: bool,
    /// Set when the screenshot was captured (and written).
    captured: bool,
}

impl Script {
    /// Where the player walks to now.
    fn walk_to(&self) -> Option<Vec2> {
        let spot = |zone: Zone, dx: f32| zone.rect().center() + Vec2::new(dx, -20.0);
        match self.stage {
            Stage::Overture => None,
            Stage::ToForest => Some(spot(Zone::Forest, 0.0)),
            _ => Some(spot(Zone::Dungeon, -30.0)),
        }
    }

    /// Whether `state` has played for a whole bar.
    fn heard(&mut self, d: &Director, state: &str) -> bool {
        if !d.is_started() || d.state() != state {
            return false;
        }
        let bar = d.position().bar;
        bar > *self.landed_bar.get_or_insert(bar)
    }

    fn advance(&mut self, stage: Stage) {
        info!("demo script: {stage:?}");
        self.stage = stage;
        self.landed_bar = None;
    }
}

/// Moves the scripted walk on, takes the screenshot, and exits once it is written.
#[expect(clippy::too_many_arguments, reason = "a system's parameters")]
fn run_script(
    mut commands: Commands,
    time: Res<Time>,
    director: Option<Res<MusicDirector>>,
    mut stingers: MessageReader<StingerStarted>,
    mut script: ResMut<Script>,
    mut enemies: Query<(&mut Enemy, &Transform)>,
    player: Single<&Transform, With<Player>>,
    mut exit: MessageWriter<AppExit>,
) {
    let Some(director) = director else {
        return;
    };
    let d = director.director();
    if script.stage != Stage::Capture && time.elapsed_secs_f64() > script.timeout {
        warn!(
            "demo script: stalled at {:?} after {:.0} s; taking the screenshot anyway",
            script.stage, script.timeout
        );
        script.failed = true;
        script.advance(Stage::Capture);
        take_screenshot(&mut commands, &script.path);
        return;
    }
    match script.stage {
        Stage::Overture => {
            if script.heard(d, Zone::Village.state()) {
                script.advance(Stage::ToForest);
            }
        }
        Stage::ToForest => {
            if script.heard(d, Zone::Forest.state()) {
                script.advance(Stage::ToDungeon);
            }
        }
        Stage::ToDungeon => {
            if script.heard(d, Zone::Dungeon.state()) {
                // The enemy nearest the player comes for it.
                let at = player.translation.truncate();
                if let Some((mut enemy, _)) = enemies
                    .iter_mut()
                    .filter(|(e, _)| e.zone == Zone::Dungeon)
                    .min_by(|(_, a), (_, b)| {
                        let da = a.translation.truncate().distance(at);
                        da.total_cmp(&b.translation.truncate().distance(at))
                    })
                {
                    enemy.hunter = true;
                }
                script.advance(Stage::Ambush);
            }
        }
        Stage::Ambush => {
            if d.state() == DANGER_STATE && d.intensity() > 0.6 {
                script.advance(Stage::Stinger);
            }
        }
        Stage::Stinger => {
            // `steer_music` fired it this frame; wait until it has sounded for a beat and
            // a half.
            if !script.stinger_fired {
                script.stinger_fired = true;
                return;
            }
            if let Some(started) = stingers.read().last() {
                script.stinger_at = Some(started.tick);
            }
            let now = d.tick();
            let beat = d.clock().segment_at(now).beat_ticks();
            if script.stinger_at.is_some_and(|at| now >= at + 3 * beat / 2) {
                script.advance(Stage::Capture);
                take_screenshot(&mut commands, &script.path);
            }
        }
        Stage::Capture => {
            if script.captured {
                exit.write(if script.failed {
                    AppExit::from_code(1)
                } else {
                    AppExit::Success
                });
            }
        }
    }
}

/// The file the screenshot is written to first (renamed to `path` once complete).
fn partial_path(path: &std::path::Path) -> PathBuf {
    let mut name = path.file_stem().unwrap_or_default().to_os_string();
    name.push(".partial.png");
    path.with_file_name(name)
}

fn take_screenshot(commands: &mut Commands, path: &std::path::Path) {
    let mut save = save_to_disk(partial_path(path));
    commands.spawn(Screenshot::primary_window()).observe(
        move |captured: On<ScreenshotCaptured>, mut script: ResMut<Script>| {
            // Write the whole image under a temporary name, then move it into place.
            save(captured);
            let partial = partial_path(&script.path);
            match std::fs::rename(&partial, &script.path) {
                Ok(()) => info!(
                    "demo script: screenshot written to {}",
                    script.path.display()
                ),
                Err(e) => {
                    error!("demo script: cannot write {}: {e}", script.path.display());
                    script.failed = true;
                }
            }
            script.captured = true;
        },
    );
}
