//! The loop around a [`Core`], written once: what a runtime does with each
//! event (a session connected, a message, a violation, a close, a tick, a
//! slot) and with each [`Action`] the core answers. The TCP runtime
//! (`runtime::node`) and the simulation (`sim`) both run their cores
//! through a [`Driver`]; what differs between them — sockets and channels,
//! or simulated links with their latencies and random draws — sits behind
//! the [`Outside`] trait.
//!
//! Pure, like the core: no `.await`, no clock, no socket, no file; the time
//! comes in as `now_ms`.
//!
//! The rules kept here, once for both:
//! - a peer that does not read its messages is dropped: when its outbox is
//!   full ([`Outside::send`] says [`Full`]) it is closed with
//!   [`ErrorCode::Busy`] and the core is told at once;
//! - a session the core holds for a probe (an older session of its forger
//!   key is asked whether it is alive) gets its verdict once the probe is
//!   settled ([`Outside::verdict`]);
//! - a forger's health reports follow each slot's own actions;
//! - [`Action::Doppelganger`] stops the node: nothing after it is done.

use std::collections::BTreeSet;
use std::net::IpAddr;

use log::Level;

use crate::chain::crypto::PublicKey;
use crate::chain::genesis::ChainParams;
use crate::peer::core::{Action, Ask, ConnId, Core, Fatal, MachineFigures, Told};
use crate::wire::handshake::ClockSample;
use crate::wire::{ErrorCode, Hello, Message};

/// What [`Outside::send`] says when a connection's outbox is full: the peer
/// does not read what it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

/// What [`Outside::close`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// The connection is gone at once: the driver tells the core now.
    Now,
    /// The runtime tells the driver when it is gone ([`Driver::closed`]),
    /// or it was gone already.
    Later,
}

/// What a forger's health reports need from the machine.
#[derive(Debug, Clone)]
pub struct Reports {
    /// Every how many slots a report goes out.
    pub every_slots: u64,
    /// What only the machine measures.
    pub machine: MachineFigures,
}

/// What to do with a slot's work, once the core has done it.
#[derive(Debug, Clone)]
pub enum AfterSlot {
    /// Carry out its actions, then send the health reports if any.
    Go(Option<Reports>),
    /// Carry out nothing (the simulation's crash after forging, before
    /// sending).
    Drop,
}

/// Why a driver stopped its node.
#[derive(Debug, thiserror::Error)]
pub enum Stop {
    /// The core failed (its store): the node stops without writing more.
    #[error(transparent)]
    Fatal(#[from] Fatal),
    /// A main node says another session uses this forger's key: the node
    /// stops (what it says).
    #[error("a main node says: {0}")]
    Doppelganger(String),
}

/// The world around a core: how a runtime carries out the core's actions.
pub trait Outside {
    /// Queues `msg` on `conn` (nothing if `conn` is gone); [`Full`] if its
    /// outbox is full.
    fn send(&mut self, conn: ConnId, msg: Message) -> Result<(), Full>;
    /// Sends `msg` as the last word on `conn` and closes it (nothing if
    /// `conn` is gone).
    fn close(&mut self, conn: ConnId, msg: Message) -> Closed;
    /// Refuses connections from `ip` until `until_ms`.
    fn ban(&mut self, ip: IpAddr, until_ms: u64);
    /// Dials the main node at `addr` (if not already connected or dialing).
    fn dial(&mut self, addr: String);
    /// A line for the log.
    fn log(&mut self, level: Level, line: String);
    /// The core's verdict on session `conn`: kept (true) or refused.
    fn verdict(&mut self, conn: ConnId, accepted: bool);
    /// The live forgers (this epoch's and the next's), refreshed once per
    /// epoch if the driver was made [`Driver::tracking_forger_keys`].
    fn forger_keys(&mut self, _keys: BTreeSet<PublicKey>) {}
    /// A slot begins: the core is about to do its work.
    fn slot_begins(&mut self, _core: &Core) {}
    /// The core did a slot's work (`result`); nothing of it went out yet.
    fn slot_ends(
        &mut self,
        _core: &Core,
        _slot: u64,
        _result: &Result<Vec<Action>, Fatal>,
        _now_ms: u64,
    ) -> AfterSlot {
        AfterSlot::Go(None)
    }
}

/// The bookkeeping around one core: which sessions wait for a probe's
/// verdict, when the live forgers were last refreshed.
#[derive(Debug, Default)]
pub struct Driver {
    /// Sessions waiting for the core's verdict (a probe of an older
    /// session of their forger key).
    waiting: BTreeSet<ConnId>,
    /// Set to refresh the live forgers once per epoch: the chain.
    keys_params: Option<ChainParams>,
    /// The epoch the live forgers were last refreshed for.
    keys_epoch: Option<u64>,
}

impl Driver {
    /// A driver.
    pub fn new() -> Driver {
        Driver::default()
    }

    /// Also refreshes the live forgers ([`Outside::forger_keys`]) once per
    /// epoch of `params`, on each tick (the TCP runtime's connection tasks
    /// trust them; the simulation reads them from the core when asked).
    pub fn tracking_forger_keys(mut self, params: ChainParams) -> Driver {
        self.keys_params = Some(params);
        self
    }

    /// Sessions waiting for a probe's verdict.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// A session finished its handshake. Its verdict is given at once
    /// (before the core's actions are carried out), unless the core holds
    /// it for a probe: then once the probe settles.
    #[allow(clippy::too_many_arguments)]
    pub fn connected(
        &mut self,
        core: &mut Core,
        out: &mut impl Outside,
        conn: ConnId,
        hello: &Hello,
        ip: IpAddr,
        clock: ClockSample,
        now_ms: u64,
    ) -> Result<(), Stop> {
        let actions = core.connected(conn, hello, ip, clock, now_ms)?;
        let refused = actions
            .iter()
            .any(|a| matches!(a, Action::Close(c, _) if *c == conn));
        if !refused && core.pending(conn) {
            self.waiting.insert(conn);
        } else {
            out.verdict(conn, !refused);
        }
        self.carry_out(core, out, actions)
    }

    /// Carries out the core's actions, then settles waiting verdicts.
    fn carry_out(
        &mut self,
        core: &mut Core,
        out: &mut impl Outside,
        actions: Vec<Action>,
    ) -> Result<(), Stop> {
        self.apply(core, out, actions)?;
        self.settle(core, out);
        Ok(())
    }

    /// A message arrived on `conn`.
    pub fn message(
        &mut self,
        core: &mut Core,
        out: &mut impl Outside,
        conn: ConnId,
        msg: Message,
        now_ms: u64,
    ) -> Result<(), Stop> {
        let actions = core.message(conn, msg, now_ms)?;
        self.carry_out(core, out, actions)
    }

    /// The node's own HTTP API asks the core ([`Core::ask`]); what it
    /// did (a new transaction relayed) is carried out before the answer.
    pub fn ask(
        &mut self,
        core: &mut Core,
        out: &mut impl Outside,
        ask: Ask,
        now_ms: u64,
    ) -> Result<Told, Stop> {
        let (told, actions) = core.ask(ask, now_ms)?;
        self.carry_out(core, out, actions)?;
        Ok(told)
    }

    /// The peer on `conn` broke the protocol (or flooded).
    pub fn violation(
        &mut self,
        core: &mut Core,
        out: &mut impl Outside,
        conn: ConnId,
        code: ErrorCode,
        why: &str,
        now_ms: u64,
    ) -> Result<(), Stop> {
        let actions = core.violation(conn, code, why, now_ms);
        self.carry_out(core, out, actions)
    }

    /// Connection `conn` is gone.
    pub fn closed(&mut self, core: &mut Core, conn: ConnId) {
        self.waiting.remove(&conn);
        core.closed(conn);
    }

    /// Time passes.
    pub fn tick(
        &mut self,
        core: &mut Core,
        out: &mut impl Outside,
        now_ms: u64,
    ) -> Result<(), Stop> {
        self.refresh_forger_keys(core, out, now_ms);
        let actions = core.tick(now_ms)?;
        self.carry_out(core, out, actions)
    }

    /// A slot began: the core forges it if it leads it; its actions go out,
    /// then the forger's health reports (if [`Outside::slot_ends`] asks).
    pub fn slot(
        &mut self,
        core: &mut Core,
        out: &mut impl Outside,
        slot: u64,
        now_ms: u64,
    ) -> Result<(), Stop> {
        out.slot_begins(core);
        let result = core.slot(slot, now_ms);
        let after = out.slot_ends(core, slot, &result, now_ms);
        let actions = result?;
        let reports = match after {
            AfterSlot::Drop => return Ok(()),
            AfterSlot::Go(r) => r,
        };
        self.apply(core, out, actions)?;
        if let Some(r) = reports {
            let actions = core.status_reports(slot, r.every_slots, now_ms, &r.machine)?;
            self.apply(core, out, actions)?;
        }
        self.settle(core, out);
        Ok(())
    }

    /// Refreshes the live forgers once per epoch (if tracked).
    pub fn refresh_forger_keys(&mut self, core: &Core, out: &mut impl Outside, now_ms: u64) {
        let Some(params) = &self.keys_params else {
            return;
        };
        let epoch = params.epoch_of(params.slot_at(now_ms));
        if self.keys_epoch == Some(epoch) {
            return;
        }
        match core.live_forgers_around(epoch) {
            Ok(keys) => {
                out.forger_keys(keys);
                self.keys_epoch = Some(epoch);
            }
            Err(e) => out.log(Level::Warn, format!("live forgers: {e}")),
        }
    }

    /// Carries out the core's actions, in order; stops at a doppelganger.
    pub fn apply(
        &mut self,
        core: &mut Core,
        out: &mut impl Outside,
        actions: Vec<Action>,
    ) -> Result<(), Stop> {
        for a in actions {
            match a {
                Action::Send(conn, msg) => {
                    if out.send(conn, msg).is_err() {
                        // A peer that does not read its messages is dropped.
                        out.close(
                            conn,
                            Message::error(ErrorCode::Busy, "too slow reading: outbox full"),
                        );
                        // A session still waiting for its verdict gets it
                        // (refused) when this event's verdicts are settled.
                        core.closed(conn);
                    }
                }
                Action::Close(conn, msg) => {
                    if out.close(conn, msg) == Closed::Now {
                        core.closed(conn);
                    }
                }
                Action::Ban(ip, until) => out.ban(ip, until),
                Action::Dial(addr) => out.dial(addr),
                Action::Log(level, line) => out.log(level, line),
                Action::Forged { slot, height } => {
                    out.log(Level::Info, format!("forged block {height} in slot {slot}"));
                }
                Action::Doppelganger(text) => return Err(Stop::Doppelganger(text)),
            }
        }
        Ok(())
    }

    /// Verdicts for the sessions whose probe settled.
    fn settle(&mut self, core: &Core, out: &mut impl Outside) {
        self.waiting.retain(|conn| {
            if core.pending(*conn) {
                return true;
            }
            out.verdict(*conn, core.has_conn(*conn));
            false
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::crypto::Keypair;
    use crate::ledger::mempool::MempoolLimits;
    use crate::peer::core::{CoreOptions, PROBE_MS};
    use crate::store::Store;
    use crate::testkit::{TestNet, TestNetConfig};
    use crate::wire::Role;
    use std::sync::Arc;

    /// What a driver did to the world, in order.
    #[derive(Debug, Clone, PartialEq)]
    enum Did {
        Send(ConnId, Message),
        Close(ConnId, Message),
        Verdict(ConnId, bool),
        Log(String),
        Other,
    }

    /// A world whose outboxes to `full` are full.
    #[derive(Default)]
    struct Fake {
        full: BTreeSet<ConnId>,
        closed: BTreeSet<ConnId>,
        did: Vec<Did>,
    }

    impl Outside for Fake {
        fn send(&mut self, conn: ConnId, msg: Message) -> Result<(), Full> {
            if self.closed.contains(&conn) {
                return Ok(());
            }
            if self.full.contains(&conn) {
                return Err(Full);
            }
            self.did.push(Did::Send(conn, msg));
            Ok(())
        }
        fn close(&mut self, conn: ConnId, msg: Message) -> Closed {
            if self.closed.insert(conn) {
                self.did.push(Did::Close(conn, msg));
            }
            Closed::Later
        }
        fn ban(&mut self, _ip: IpAddr, _until_ms: u64) {
            self.did.push(Did::Other);
        }
        fn dial(&mut self, _addr: String) {
            self.did.push(Did::Other);
        }
        fn log(&mut self, _level: Level, line: String) {
            self.did.push(Did::Log(line));
        }
        fn verdict(&mut self, conn: ConnId, accepted: bool) {
            self.did.push(Did::Verdict(conn, accepted));
        }
    }

    fn main_core(net: &TestNet, dir: &tempfile::TempDir) -> Core {
        let store = Arc::new(Store::open(dir.path(), &net.params).unwrap());
        Core::new(
            store,
            crate::testkit::key(9, 0).public(),
            None,
            MempoolLimits::default(),
            0,
            CoreOptions::main_node(),
        )
    }

    /// A session from 127.0.0.9 that passed its handshake.
    fn connect(
        driver: &mut Driver,
        core: &mut Core,
        out: &mut Fake,
        conn: ConnId,
        hello: &Hello,
        now_ms: u64,
    ) {
        let ip: IpAddr = "127.0.0.9".parse().unwrap();
        driver
            .connected(core, out, conn, hello, ip, ClockSample::default(), now_ms)
            .unwrap();
    }

    fn hello(key: &Keypair, role: Role, net: &TestNet) -> Hello {
        crate::peer::core::test_hello(key, role, &net.params)
    }

    /// The rule both runtimes share: a peer whose outbox is full is closed
    /// with Busy, and the core forgets it at once (the simulation's
    /// `a_peer_that_does_not_read_is_dropped_by_the_runtimes_own_loop`
    /// fails without it).
    #[test]
    fn a_full_outbox_closes_the_connection_and_tells_the_core() {
        let net = TestNet::new(&TestNetConfig::default());
        let dir = tempfile::tempdir().unwrap();
        let mut core = main_core(&net, &dir);
        let mut driver = Driver::new();
        let peer = hello(&crate::testkit::key(9, 1), Role::MainNode, &net);
        // A main node that connects is asked for its peers: its outbox is full.
        let mut out = Fake {
            full: [1].into(),
            ..Fake::default()
        };
        connect(&mut driver, &mut core, &mut out, 1, &peer, 1_000);
        assert_eq!(
            out.did,
            vec![
                Did::Verdict(1, true),
                Did::Close(
                    1,
                    Message::error(ErrorCode::Busy, "too slow reading: outbox full")
                ),
            ]
        );
        assert!(!core.has_conn(1), "the core was not told");
        // One that reads is kept, and asked.
        let mut out = Fake::default();
        connect(&mut driver, &mut core, &mut out, 2, &peer, 1_000);
        assert_eq!(out.did[0], Did::Verdict(2, true));
        assert!(
            out.did.contains(&Did::Send(2, Message::GetPeers)),
            "{:?}",
            out.did
        );
        assert!(core.has_conn(2));
    }

    /// A second session of a forger key waits for the probe of the first;
    /// its verdict comes when the probe settles (here: the first is silent
    /// and replaced).
    #[test]
    fn a_session_held_for_a_probe_gets_its_verdict_when_it_settles() {
        let net = TestNet::new(&TestNetConfig::default());
        let dir = tempfile::tempdir().unwrap();
        let mut core = main_core(&net, &dir);
        let mut driver = Driver::new();
        let forger = hello(&net.forgers[0], Role::Forger, &net);
        let mut out = Fake::default();
        let now = 1_000;
        connect(&mut driver, &mut core, &mut out, 1, &forger, now);
        connect(&mut driver, &mut core, &mut out, 2, &forger, now);
        assert_eq!(driver.waiting(), 1);
        assert!(!out.did.contains(&Did::Verdict(2, true)));
        assert!(!out.did.contains(&Did::Verdict(2, false)));
        driver
            .tick(&mut core, &mut out, now + PROBE_MS - 1)
            .unwrap();
        assert_eq!(driver.waiting(), 1);
        driver.tick(&mut core, &mut out, now + PROBE_MS).unwrap();
        assert_eq!(driver.waiting(), 0);
        assert_eq!(
            out.did.last(),
            Some(&Did::Verdict(2, true)),
            "{:?}",
            out.did
        );
        assert!(out.closed.contains(&1) && core.has_conn(2));
    }

    /// Actions are carried out in order; a doppelganger stops the node
    /// before anything after it; a forged block is logged in the one text
    /// both runtimes write.
    #[test]
    fn a_doppelganger_stops_before_the_actions_after_it() {
        let net = TestNet::new(&TestNetConfig::default());
        let dir = tempfile::tempdir().unwrap();
        let mut core = main_core(&net, &dir);
        let mut driver = Driver::new();
        let mut out = Fake::default();
        let r = driver.apply(
            &mut core,
            &mut out,
            vec![
                Action::Send(1, Message::GetPeers),
                Action::Forged { slot: 7, height: 3 },
                Action::Doppelganger("another board".into()),
                Action::Send(2, Message::GetPeers),
            ],
        );
        assert!(
            matches!(r, Err(Stop::Doppelganger(ref t)) if t == "another board"),
            "{r:?}"
        );
        assert_eq!(
            out.did,
            vec![
                Did::Send(1, Message::GetPeers),
                Did::Log("forged block 3 in slot 7".into()),
            ]
        );
    }

    /// A session that closes while held gets no verdict (its task ended).
    #[test]
    fn a_held_session_that_closes_is_forgotten() {
        let net = TestNet::new(&TestNetConfig::default());
        let dir = tempfile::tempdir().unwrap();
        let mut core = main_core(&net, &dir);
        let mut driver = Driver::new();
        let forger = hello(&net.forgers[0], Role::Forger, &net);
        let mut out = Fake::default();
        for conn in [1, 2] {
            connect(&mut driver, &mut core, &mut out, conn, &forger, 0);
        }
        driver.closed(&mut core, 2);
        assert_eq!(driver.waiting(), 0);
        assert!(!core.pending(2));
    }
}
