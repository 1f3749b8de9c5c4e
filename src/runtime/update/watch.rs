//! A running forger's side of the self-update: on each tick of the core
//! (every few seconds, one `stat` of the state file unless it changed), it
//! - proves a release on trial: healthy (synced) for [`Rules::healthy_ms`]
//!   and [`Rules::blocks`] blocks followed or forged since its start, then
//!   `mark_running_slot_valid`; not proven within [`Rules::trial_ms`] (or
//!   a test build marked `unhealthy`), `mark_running_slot_invalid_and_reboot`;
//! - sees a new release installed (`goodwill update apply`) or a rollback
//!   (`goodwill update rollback`, a failed health check): the release the
//!   state names is not the one running, so it asks the appliance to
//!   restart — in a slot it does not lead, never in the middle of one it
//!   does.
//!
//! The restart itself is the runtime's: it stops the node as on SIGTERM
//! (the current write finished, the store closed) and execs the factory
//! binary, whose [`super::linux::launch`] runs what the state names.

use std::path::PathBuf;

use embedded_svc::ota::Ota;

use super::linux::{LinuxOta, SlotStore, UpdateError};
use super::slots::{Rules, Slots, Verdict};
use crate::peer::led::UpdateLed;

/// A forger's update settings at run time.
#[derive(Debug, Clone)]
pub struct UpdateHook {
    /// The update directory.
    pub dir: PathBuf,
    /// When a release on trial commits or rolls back.
    pub rules: Rules,
    /// This process's release counter (0: the factory binary).
    pub running: u64,
    /// Where a restart is asked for (its reason).
    pub restart: smol::channel::Sender<String>,
    /// The release keys trusted (none: nothing is fetched).
    pub keys: Vec<crate::chain::crypto::PublicKey>,
    /// How often the main nodes are asked for a new release (ms; 0: never).
    pub poll_ms: u64,
}

/// What one look at the releases found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Seen {
    /// Lines for the log (info), each said once.
    pub notes: Vec<String>,
    /// Lines for the log (warnings).
    pub warnings: Vec<String>,
}

/// The forger's watch over its releases.
#[derive(Debug)]
pub struct Watch {
    hook: UpdateHook,
    ota: Option<LinuxOta>,
    stamp: Option<(std::time::SystemTime, u64)>,
    slots: Slots,
    start_height: Option<u64>,
    healthy_since: Option<u64>,
    restarting: bool,
    unreadable: bool,
    /// The health check failed; the rollback waits for a moment outside
    /// the slots this key leads.
    failed: bool,
}

impl Watch {
    /// A watch for `hook` (no file is touched until the first tick).
    pub fn new(hook: UpdateHook) -> Watch {
        Watch {
            hook,
            ota: None,
            stamp: None,
            slots: Slots::default(),
            start_height: None,
            healthy_since: None,
            restarting: false,
            unreadable: false,
            failed: false,
        }
    }

    /// Whether the state file changed since the last look (one `stat`): a
    /// release applied or a rollback asked for is seen at the next slot's
    /// end, not only at the next tick.
    pub fn state_changed(&self) -> bool {
        match &self.ota {
            Some(ota) => ota.store().stamp() != self.stamp,
            None => SlotStore::existing(&self.hook.dir).is_some(),
        }
    }

    /// Whether a restart or a rollback waits for a moment outside the
    /// slots this key leads (then every slot's end is worth a look).
    pub fn waits_for_moment(&self) -> bool {
        !self.restarting
            && self.ota.is_some()
            && (self.failed || self.slots.running() != self.hook.running)
    }

    /// What the LEDs show of the update.
    pub fn led(&self) -> UpdateLed {
        if self.slots.trial.is_some() && self.slots.running() == self.hook.running {
            UpdateLed::Trial
        } else if self.slots.rolled_back.is_some() {
            UpdateLed::RolledBack
        } else {
            UpdateLed::Settled
        }
    }

    /// This process's release counter.
    pub fn running(&self) -> u64 {
        self.hook.running
    }

    fn restart(&mut self, why: String, seen: &mut Seen) {
        if self.hook.restart.try_send(why.clone()).is_ok() {
            self.restarting = true;
            seen.notes.push(format!("restarting: {why}"));
        }
    }

    /// One tick: `synced` and the tip's `height` as the core sees them,
    /// `leads_soon` whether this key leads the slot now or the next.
    pub fn tick(&mut self, synced: bool, height: u64, leads_soon: bool, now_ms: u64) -> Seen {
        let mut seen = Seen::default();
        if self.restarting {
            return seen;
        }
        if self.ota.is_none() {
            // No update directory (no release ever installed): nothing to
            // watch until one appears.
            let Some(store) = SlotStore::existing(&self.hook.dir) else {
                return seen;
            };
            self.ota = Some(LinuxOta::new(store, self.hook.running, now_ms));
        }
        let ota = self.ota.as_ref().expect("just set");
        let stamp = ota.store().stamp();
        if stamp != self.stamp {
            match ota.store().load() {
                Ok(s) => {
                    self.slots = s;
                    self.stamp = stamp;
                    self.unreadable = false;
                }
                Err(e) => {
                    if !self.unreadable {
                        seen.warnings.push(format!("update: {e}"));
                    }
                    self.unreadable = true;
                    return seen;
                }
            }
        }
        let running = self.hook.running;
        if self.slots.running() != running {
            if leads_soon {
                return seen;
            }
            let to = match &self.slots.current {
                Some(r) => format!("release {} (counter {}) is to run", r.version, r.counter),
                None => "the factory binary is to run".into(),
            };
            self.restart(to, &mut seen);
            return seen;
        }
        let Some(trial) = self.slots.trial else {
            return seen;
        };
        let start = *self.start_height.get_or_insert(height);
        self.healthy_since = if synced {
            Some(self.healthy_since.unwrap_or(now_ms))
        } else {
            None
        };
        let blocks = height.saturating_sub(start);
        #[allow(unused_mut)]
        let mut verdict = self.slots.health(
            &self.hook.rules,
            now_ms,
            self.healthy_since.unwrap_or(now_ms),
            blocks,
        );
        #[cfg(feature = "fault-injection")]
        if super::marks::get().unhealthy {
            verdict = Verdict::Fail;
        }
        if self.failed {
            verdict = Verdict::Fail;
        }
        let version = self
            .slots
            .current
            .as_ref()
            .map(|r| r.version.clone())
            .unwrap_or_default();
        let ota = self.ota.as_mut().expect("set above");
        match verdict {
            Verdict::Wait => {}
            Verdict::Commit => match ota.mark_running_slot_valid() {
                Ok(()) => {
                    seen.notes.push(format!(
                        "release {version} (counter {running}) committed: healthy for {} s and {blocks} blocks since its start {} (its trial's {} starts)",
                        now_ms.saturating_sub(self.healthy_since.unwrap_or(now_ms)) / 1000,
                        trial.starts,
                        self.hook.rules.max_starts,
                    ));
                    // Read again at the next tick.
                    self.stamp = None;
                }
                Err(e) => seen.warnings.push(format!("update: committing: {e}")),
            },
            Verdict::Fail => {
                self.failed = true;
                if leads_soon {
                    return seen;
                }
                match ota.mark_running_slot_invalid_and_reboot() {
                    UpdateError::Restart(to) => {
                        seen.warnings.push(format!(
                            "release {version} (counter {running}) failed its health check (not synced with {} blocks within {} s of its start): rolled back and marked bad",
                            self.hook.rules.blocks,
                            self.hook.rules.trial_ms / 1000
                        ));
                        self.restart(format!("rolled back to {to}"), &mut seen);
                    }
                    e => seen.warnings.push(format!("update: rolling back: {e}")),
                }
            }
        }
        seen
    }
}
