//! The appliance's runtime pieces around the node core: the slot timer, the
//! kernel clock poll, the LEDs, systemd notifications, the figures that
//! `goodwill status`, the status reports and `/metrics` show.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::chain::crypto::PublicKey;
use crate::chain::genesis::ChainParams;
use crate::peer::core::{Core, MachineFigures};
use crate::runtime::board::{Board, Health, Sensors};
use crate::runtime::led::{self, ApplianceState, BoardLeds};
use crate::wire::ApplianceStatus;

use crate::peer::forging::ClockCheck;

/// How often a forger reports its health to its main nodes, in slots.
pub const REPORT_EVERY_SLOTS: u64 = 10;
/// How often the appliance's core ticks (and pets the systemd watchdog):
/// [`crate::peer::policy::FORGER_TICK_S`], under the name the runtime's
/// watchdog code and tests use.
pub const TICK_S: u64 = crate::peer::policy::FORGER_TICK_S;
/// How often the kernel's clock status is read.
pub const CLOCK_POLL_S: u64 = 16;

/// How the storage-error state ended (see [`storage_error_state`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageWait {
    /// The store opens and the disk has room: start again.
    Usable,
    /// Asked to stop (SIGTERM) while waiting.
    Shutdown,
    /// The store itself is unusable: refuse (exit 2).
    Refuse(String),
}

/// The appliance's storage-error state, entered when its store failed
/// (`why`): the node is stopped (nothing held in memory survives, nothing
/// is signed or forged), the red LED is steady, systemd's STATUS says so and
/// its watchdog is still fed every [`TICK_S`]; every `retry` the store is
/// opened again and the disk probed for room ([`super::check_store`]).
/// Returns when it is usable, refused, or `shutdown` yields.
pub async fn storage_error_state(
    board: &Board,
    data: &std::path::Path,
    params: &ChainParams,
    why: &str,
    retry: Duration,
    shutdown: &mut (impl futures_lite::Stream + Unpin),
) -> StorageWait {
    use futures_lite::StreamExt;
    let state = ApplianceState {
        storage_error: true,
        ..ApplianceState::default()
    };
    let now = crate::runtime::os::now_ms();
    let shown = led::describe(&state, now);
    // Held until the state ends: dropping the driver releases the pins.
    let _leds = match board.leds {
        crate::runtime::board::LedSource::None => {
            log(&format!("LEDs: {shown}"));
            None
        }
        _ => match board.open_leds() {
            Ok(mut d) => {
                if let Err(e) = d.apply(led::pattern(&state, now)) {
                    log_at(log::Level::Warn, &format!("LEDs: {e}"));
                }
                Some(d)
            }
            Err(e) => {
                log_at(log::Level::Warn, &format!("LEDs: {e}"));
                None
            }
        },
    };
    let retry_s = retry.as_secs_f64();
    log_at(
        log::Level::Error,
        &format!(
            "storage error: {why}; not forging; the store is tried again every {retry_s} s \
         (free space on {}'s file system, or see docs/operate.md)",
            data.display()
        ),
    );
    let mut reason = why.to_string();
    let mut next_try = now.saturating_add(retry.as_millis() as u64);
    loop {
        let line = format!("storage error, not forging: {reason}");
        if let Err(e) = crate::runtime::os::notify_systemd(&[
            sd_notify::NotifyState::Status(&line),
            sd_notify::NotifyState::Watchdog,
        ]) {
            log_at(log::Level::Warn, &format!("systemd notify: {e}"));
        }
        let now = crate::runtime::os::now_ms();
        let wait =
            Duration::from_millis(next_try.saturating_sub(now)).min(Duration::from_secs(TICK_S));
        let stop = futures_lite::future::or(
            async {
                shutdown.next().await;
                true
            },
            async {
                smol::Timer::after(wait).await;
                false
            },
        )
        .await;
        if stop {
            log("stopping while the store fails");
            return StorageWait::Shutdown;
        }
        if crate::runtime::os::now_ms() < next_try {
            continue;
        }
        match super::check_store(data, params, true) {
            super::StoreCheck::Usable => {
                log("storage: the store works again; starting the appliance again");
                return StorageWait::Usable;
            }
            super::StoreCheck::Refuse(why) => return StorageWait::Refuse(why),
            super::StoreCheck::Wait(why) => {
                log_at(
                    log::Level::Error,
                    &format!("storage: still failing: {why}; next try in {retry_s} s"),
                );
                reason = why;
                next_try = crate::runtime::os::now_ms().saturating_add(retry.as_millis() as u64);
            }
        }
    }
}

/// The appliance's settings beyond a node's.
#[derive(Debug, Clone)]
pub struct ForgeConfig {
    /// How the clock is checked before forging.
    pub clock_check: ClockCheck,
    /// The board profile (LEDs, watts).
    pub board: Board,
    /// Where to serve Prometheus text metrics (`GET /metrics`, on the
    /// main node's HTTP server: [`crate::runtime::http::appliance`]).
    pub metrics_listen: Option<SocketAddr>,
    /// Status reports to the main nodes every this many slots.
    pub report_every_slots: u64,
    /// LED pins to use instead of the board's (tests pass recording pins).
    pub leds: Option<Arc<Mutex<BoardLeds>>>,
    /// Where the kernel's clock status comes from: the kernel (`None`), or a
    /// fixed answer (tests inject a synchronised or an unsynchronised clock).
    pub kernel_clock: Option<Option<bool>>,
    /// How long doppelganger refusals are retried before the appliance
    /// stops (`peer::core::DOPPELGANGER_RETRY_MS`; tests shorten it).
    pub doppelganger_retry_ms: u64,
    /// Every how many block commits the store makes one durable
    /// (`--durable-blocks`; `peer::policy::FORGER_DURABLE_BLOCKS`).
    pub durable_blocks: u64,
    /// ... and at least this often while it holds some (`--durable-s`;
    /// `peer::policy::FORGER_DURABLE_MS`).
    pub durable_ms: u64,
    /// Keep every block body (`--keep-blocks all`) instead of pruning those
    /// below the finality depth.
    pub keep_all_blocks: bool,
    /// The self-update: where the releases are, what runs, how to ask for
    /// a restart (None: not watched, as in tests of other parts).
    pub update: Option<crate::runtime::update::watch::UpdateHook>,
}

#[derive(Debug, Default)]
struct Figures {
    start_ms: u64,
    start_cpu_ns: u64,
    forging_cpu_ns: u64,
    forged: u64,
    last_forged_bytes: u64,
    switches: VecDeque<(u64, u64)>,
    ready_sent: bool,
    last_status_line: String,
    /// What the board last reported (None before the first reading).
    health: Option<Health>,
}

/// What the runtime shares with the appliance's tasks.
pub struct ForgeShared {
    /// The settings.
    pub config: ForgeConfig,
    key: PublicKey,
    params: ChainParams,
    status: Mutex<Option<ApplianceStatus>>,
    leds: Mutex<Option<ApplianceState>>,
    led_wake: (smol::channel::Sender<()>, smol::channel::Receiver<()>),
    figures: Mutex<Figures>,
    sensors: Sensors,
    update: Mutex<Option<crate::runtime::update::watch::Watch>>,
}

impl std::fmt::Debug for ForgeShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ForgeShared({})", self.key)
    }
}

fn log(line: &str) {
    log_at(log::Level::Info, line);
}

/// Logs `line` at `level`, as `goodwill forge: …`.
fn log_at(level: log::Level, line: &str) {
    log::log!(level, "goodwill forge: {line}");
}

impl ForgeShared {
    /// The appliance's shared state, at start.
    pub fn new(config: ForgeConfig, key: PublicKey, params: ChainParams) -> ForgeShared {
        let sensors = Sensors::find(&config.board.sysfs);
        let update = config
            .update
            .clone()
            .map(crate::runtime::update::watch::Watch::new);
        ForgeShared {
            update: Mutex::new(update),
            sensors,
            config,
            key,
            params,
            status: Mutex::new(None),
            leds: Mutex::new(None),
            led_wake: smol::channel::bounded(1),
            figures: Mutex::new(Figures {
                start_ms: crate::runtime::os::now_ms(),
                start_cpu_ns: crate::runtime::os::cpu_time_ns().unwrap_or(0),
                ..Figures::default()
            }),
        }
    }

    /// The latest figures (None before the first refresh).
    pub fn status(&self) -> Option<ApplianceStatus> {
        self.status.lock().expect("status lock").clone()
    }

    /// Counts a forged block and the CPU time its slot took.
    /// Counts a forged block, the CPU time its slot took and the bytes it
    /// wrote (the signing record's commit and the block's).
    pub fn forged(&self, cpu_ns: u64, bytes: u64) {
        let mut f = self.figures.lock().expect("figures lock");
        f.forged += 1;
        f.forging_cpu_ns += cpu_ns;
        f.last_forged_bytes = bytes;
    }

    /// Reads what the board reports about its power and heat on a tick (every
    /// [`TICK_S`]: no wake-up of its own) or when nothing was read yet; logs
    /// the flags once per change.
    fn health(&self, fig: &mut Figures, tick: bool) -> Health {
        if let (Some(h), false) = (fig.health, tick) {
            return h;
        }
        let h = self.sensors.read();
        let before = fig.health.map(|b| b.throttled);
        if before != Some(h.throttled) {
            let hint = if h.under_voltage() {
                ": the power supply is too weak (under-voltage corrupts SD cards; \
                 use a supply rated for this board, a short thick cable)"
            } else if before.is_none() && h.throttled.is_none() {
                " (this board reports no firmware throttling flags)"
            } else {
                ""
            };
            let level = if h.under_voltage() {
                log::Level::Warn
            } else {
                log::Level::Info
            };
            log_at(level, &format!("{}{hint}", h.describe()));
        }
        fig.health = Some(h);
        h
    }

    /// One look at the releases (see [`crate::runtime::update::watch`]).
    fn watch_update(
        w: &mut crate::runtime::update::watch::Watch,
        core: &Core,
        synced: bool,
        height: u64,
        now_ms: u64,
    ) {
        // A store that cannot say whether this key leads soon: wait.
        let leads_soon = core.leads_soon(now_ms).unwrap_or(true);
        let seen = w.tick(synced, height, leads_soon, now_ms);
        for n in seen.notes {
            log(&n);
        }
        for n in seen.warnings {
            log_at(log::Level::Warn, &n);
        }
    }

    /// Called right after each slot's work: a restart that waits for a
    /// moment outside the slots this key leads takes this one if it can
    /// (the watch's own look is every tick, [`TICK_S`]).
    pub fn update_moment(&self, core: &Core, now_ms: u64) {
        let mut w = self.update.lock().expect("update lock");
        let Some(w) = w
            .as_mut()
            .filter(|w| w.waits_for_moment() || w.state_changed())
        else {
            return;
        };
        let (synced, height) = match (core.synced(now_ms), core.status(now_ms)) {
            (Ok(synced), Ok(s)) => (synced, s.tip.height),
            _ => return,
        };
        Self::watch_update(w, core, synced, height, now_ms);
    }

    /// Recomputes the figures and LED state from the core; tells systemd.
    /// `tick`: a call every [`TICK_S`], which also pets the watchdog (so a
    /// stuck core thread stops the pets and systemd restarts the appliance)
    /// and reads the board's power and heat.
    pub fn refresh(&self, core: &Core, bytes_per_block: u64, now_ms: u64, tick: bool) {
        let mut view = match core.appliance(now_ms) {
            Ok(Some(v)) => v,
            Ok(None) => return,
            Err(e) => {
                log_at(log::Level::Warn, &format!("status: {e}"));
                return;
            }
        };
        if let Some(w) = self.update.lock().expect("update lock").as_mut() {
            if tick {
                Self::watch_update(w, core, view.synced, view.tip.height, now_ms);
            }
            view.leds.update = w.led();
        }
        let mut fig = self.figures.lock().expect("figures lock");
        let health = self.health(&mut fig, tick);
        view.leds.under_voltage = health.under_voltage();
        let cpu_ns = crate::runtime::os::cpu_time_ns()
            .unwrap_or(0)
            .saturating_sub(fig.start_cpu_ns);
        if let Some(sw) = crate::runtime::os::voluntary_switches() {
            // The count sums the live threads: it drops when one ends (smol's
            // blocking pool lets idle threads go). Start the window again
            // then, rather than count backwards.
            if fig.switches.back().is_some_and(|(_, last)| sw < *last) {
                fig.switches.clear();
            }
            fig.switches.push_back((now_ms, sw));
            while fig
                .switches
                .front()
                .is_some_and(|(t, _)| now_ms.saturating_sub(*t) > 60_000)
            {
                fig.switches.pop_front();
            }
        }
        let wakeups_per_s = match (fig.switches.front(), fig.switches.back()) {
            (Some((t0, s0)), Some((t1, s1))) if t1 > t0 => {
                (s1 - s0) as f64 * 1000.0 / (t1 - t0) as f64
            }
            _ => 0.0,
        };
        let uptime_ms = now_ms.saturating_sub(fig.start_ms);
        let board = &self.config.board;
        let status = ApplianceStatus {
            key: self.key,
            synced: view.synced,
            tip: view.tip,
            main_nodes: view.mains as u32,
            clock_offset_ms: view.clock_offset_ms,
            clock_check: self.config.clock_check.name().into(),
            clock_trusted: view.clock.is_ok(),
            clock_problem: view.clock.as_ref().err().map(|e| e.to_string()),
            epoch: view.stats.epoch,
            weight: view.weight,
            slots_led: view.slots_led,
            forged_epoch: view.stats.forged_epoch,
            missed_epoch: view.stats.missed_epoch,
            forged_total: view.stats.forged_total,
            last_miss: view.stats.last_miss.clone(),
            last_signed_slot: view.stats.last_signed_slot,
            cpu_us_per_block: (fig.forged > 0).then(|| fig.forging_cpu_ns / fig.forged / 1000),
            wakeups_per_s,
            rss_bytes: crate::runtime::os::rss_bytes().unwrap_or(0),
            bytes_per_block,
            bytes_per_forged_block: (fig.forged > 0).then_some(fig.last_forged_bytes),
            cpu_s: cpu_ns as f64 / 1e9,
            uptime_s: uptime_ms / 1000,
            board: board.name.clone(),
            idle_w: board.idle_watts,
            load_w: board.load_watts,
            energy_j: board.energy_joules(cpu_ns as f64 / 1e9, uptime_ms as f64 / 1000.0),
            leds: led::describe(&view.leds, now_ms),
            throttled: health.throttled,
            soc_temp_mc: health.temp_mc,
        };
        // systemd: ready once synced, a one-line status, the watchdog.
        let line = format!(
            "{} h={}, slots still to lead this epoch: {}, {}",
            if view.synced { "synced" } else { "syncing" },
            view.tip.height,
            view.slots_led,
            match (view.stats.last_signed_slot, &view.clock) {
                (_, Err(why)) => format!("not forging: {why}"),
                (Some(s), _) => format!("last forged {s}"),
                (None, _) => "nothing forged yet".into(),
            }
        ) + if health.under_voltage() {
            "; under-voltage (weak power supply)"
        } else {
            ""
        };
        let mut states = Vec::new();
        if view.synced && !fig.ready_sent {
            fig.ready_sent = true;
            states.push(sd_notify::NotifyState::Ready);
        }
        if line != fig.last_status_line {
            states.push(sd_notify::NotifyState::Status(&line));
        }
        if tick {
            states.push(sd_notify::NotifyState::Watchdog);
        }
        // A notice the service manager had no room for is sent again at
        // the next refresh (its status line is not taken as told).
        let told = states.is_empty()
            || match crate::runtime::os::notify_systemd(&states) {
                Ok(sent) => sent,
                Err(e) => {
                    log_at(log::Level::Warn, &format!("systemd notify: {e}"));
                    true
                }
            };
        if told {
            fig.last_status_line = line;
        } else if states
            .iter()
            .any(|s| matches!(s, sd_notify::NotifyState::Ready))
        {
            fig.ready_sent = false;
        }
        drop(fig);
        *self.status.lock().expect("status lock") = Some(status);
        let mut leds = self.leds.lock().expect("leds lock");
        if leds.as_ref() != Some(&view.leds) {
            // Without LEDs (board none), the log says what they would show,
            // once per change of state — not per blink, and not per forged
            // block's flash (the forge logs each block itself).
            let lasting = |s: &ApplianceState| {
                let mut s = *s;
                s.last_forged_ms = None;
                led::describe(&s, now_ms)
            };
            if self.config.board.leds == crate::runtime::board::LedSource::None
                && leds.as_ref().map(lasting) != Some(lasting(&view.leds))
            {
                log(&format!("LEDs: {}", lasting(&view.leds)));
            }
            *leds = Some(view.leds);
            let _ = self.led_wake.0.try_send(());
        }
    }

    /// What this machine measured at the last refresh, for the reports to
    /// the main nodes ([`Core::status_reports`] adds the core's figures).
    pub fn machine(&self) -> MachineFigures {
        let under_voltage = self
            .figures
            .lock()
            .expect("figures lock")
            .health
            .is_some_and(|h| h.under_voltage());
        match self.status() {
            Some(s) => MachineFigures {
                cpu_ms: (s.cpu_s * 1000.0) as u64,
                rss_bytes: s.rss_bytes,
                bytes_per_block: s.bytes_per_block,
                energy_joules: s.energy_j as u64,
                throttled: s.throttled,
                soc_temp_mc: s.soc_temp_mc,
                under_voltage,
            },
            None => MachineFigures {
                under_voltage,
                ..MachineFigures::default()
            },
        }
    }

    /// Drives the LEDs: sleeps until the pattern next changes by itself or
    /// the state changes — never polls.
    pub async fn led_task(self: Arc<Self>, driver: Arc<Mutex<BoardLeds>>) {
        loop {
            let state = *self.leds.lock().expect("leds lock");
            let now = crate::runtime::os::now_ms();
            let next = match state {
                Some(st) => {
                    if let Err(e) = driver
                        .lock()
                        .expect("led lock")
                        .apply(led::pattern(&st, now))
                    {
                        log_at(log::Level::Warn, &format!("LEDs: {e}"));
                    }
                    led::next_change_ms(&st, now)
                }
                None => None,
            };
            let wake = self.led_wake.1.recv();
            match next {
                Some(at) => {
                    let timer = async {
                        smol::Timer::after(Duration::from_millis(at.saturating_sub(now))).await;
                        Ok(())
                    };
                    if futures_lite::future::or(wake, timer).await.is_err() {
                        return;
                    }
                }
                None => {
                    if wake.await.is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Prometheus text for the latest figures.
    pub fn metrics(&self) -> String {
        let Some(s) = self.status() else {
            return "# goodwill: no figures yet\n".into();
        };
        let mut m = String::new();
        let mut put = |name: &str, help: &str, kind: &str, v: f64| {
            m.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"
            ));
        };
        put(
            "goodwill_synced",
            "1 when following the chain tip",
            "gauge",
            s.synced as u8 as f64,
        );
        put(
            "goodwill_height",
            "Height of the local chain tip",
            "gauge",
            s.tip.height as f64,
        );
        put(
            "goodwill_main_nodes",
            "Main nodes connected",
            "gauge",
            s.main_nodes as f64,
        );
        put(
            "goodwill_clock_offset_seconds",
            "This clock minus the main nodes' (median)",
            "gauge",
            s.clock_offset_ms.unwrap_or(0) as f64 / 1000.0,
        );
        put(
            "goodwill_clock_trusted",
            "1 when the clock is trusted to forge",
            "gauge",
            s.clock_trusted as u8 as f64,
        );
        put(
            "goodwill_weight",
            "Forging weight held this epoch",
            "gauge",
            s.weight as f64,
        );
        put(
            "goodwill_slots_led",
            "Slots this key leads this epoch",
            "gauge",
            s.slots_led as f64,
        );
        put(
            "goodwill_blocks_forged_total",
            "Blocks forged since start",
            "counter",
            s.forged_total as f64,
        );
        put(
            "goodwill_slots_missed_epoch",
            "Led slots missed this epoch",
            "gauge",
            s.missed_epoch as f64,
        );
        put(
            "goodwill_cpu_seconds_total",
            "CPU time used since start",
            "counter",
            s.cpu_s,
        );
        put(
            "goodwill_forge_cpu_seconds_per_block",
            "CPU time per forged block",
            "gauge",
            s.cpu_us_per_block.unwrap_or(0) as f64 / 1e6,
        );
        put(
            "goodwill_wakeups_per_second",
            "Voluntary wake-ups per second (last minute)",
            "gauge",
            s.wakeups_per_s,
        );
        put(
            "goodwill_resident_memory_bytes",
            "Resident memory",
            "gauge",
            s.rss_bytes as f64,
        );
        put(
            "goodwill_store_bytes_per_block",
            "Bytes written for the last imported block",
            "gauge",
            s.bytes_per_block as f64,
        );
        put(
            "goodwill_energy_joules_total",
            "Estimated energy since start (board profile)",
            "counter",
            s.energy_j,
        );
        put(
            "goodwill_uptime_seconds",
            "Seconds since start",
            "gauge",
            s.uptime_s as f64,
        );
        // What the board reports: absent when unknown (not a Pi).
        let health = Health {
            throttled: s.throttled,
            temp_mc: s.soc_temp_mc,
        };
        if let Some(word) = health.throttled {
            use crate::runtime::board::throttled as t;
            let flags = [
                (
                    "goodwill_under_voltage",
                    "1 when the board reports under-voltage now",
                    t::UNDER_VOLTAGE,
                ),
                (
                    "goodwill_under_voltage_since_boot",
                    "1 when the board has reported under-voltage since boot",
                    t::UNDER_VOLTAGE << t::SINCE_BOOT_SHIFT,
                ),
                (
                    "goodwill_frequency_capped",
                    "1 when the board's ARM frequency is capped now",
                    t::FREQ_CAPPED,
                ),
                (
                    "goodwill_throttled",
                    "1 when the board is throttled now",
                    t::THROTTLED,
                ),
                (
                    "goodwill_soft_temp_limit",
                    "1 when the board's soft temperature limit is active now",
                    t::SOFT_TEMP_LIMIT,
                ),
            ];
            for (name, help, bit) in flags {
                put(name, help, "gauge", u8::from(word & bit != 0) as f64);
            }
            put(
                "goodwill_throttled_flags",
                "The firmware's get_throttled word (bits 0-3 now, 16-19 since boot)",
                "gauge",
                word as f64,
            );
        }
        if let Some(mc) = health.temp_mc {
            put(
                "goodwill_soc_temperature_celsius",
                "SoC temperature (thermal_zone0)",
                "gauge",
                f64::from(mc) / 1000.0,
            );
        }
        m
    }

    /// The slot timer: sleeps until each slot boundary (no polling) and
    /// sends the slot number.
    pub async fn slot_timer(self: Arc<Self>, slots: smol::channel::Sender<u64>) {
        loop {
            let now = crate::runtime::os::now_ms();
            let (next, at) = crate::peer::forging::next_slot(&self.params, now);
            smol::Timer::after(Duration::from_millis(at.saturating_sub(now))).await;
            if slots.send(next).await.is_err() {
                return;
            }
        }
    }

    /// Reads the kernel's clock status now and then.
    pub async fn clock_poll(self: Arc<Self>, out: smol::channel::Sender<Option<bool>>) {
        loop {
            let status = match self.config.kernel_clock {
                Some(fixed) => fixed,
                None => crate::runtime::os::kernel_clock_synced(),
            };
            if out.send(status).await.is_err() {
                return;
            }
            smol::Timer::after(Duration::from_secs(CLOCK_POLL_S)).await;
        }
    }
}
