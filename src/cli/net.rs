//! The command line's network verbs: `node`, and the read-only client verbs
//! (`status`, `forgers`, `chain tip|block|tx`). Every `--json` prints one
//! JSON object.

use futures_lite::StreamExt;
use serde_json::json;

use crate::chain::amount::format_coins;
use crate::chain::crypto::Hash;
use crate::chain::genesis::{ChainParams, Checkpoint};
use crate::cli::exit::Exit;
use crate::runtime::client::Client;
use crate::runtime::config::{ForgeSettings, Forger, NodeSettings};
use crate::runtime::node::{self, NodeConfig};
use crate::wire::ForgerEntry;

/// The exit status of a node or forger refused at start: a bad setting, or
/// a store it will not use (damaged, another chain's).
pub const EXIT_REFUSED: u8 = crate::runtime::forge::EXIT_REFUSED;

/// A binary built by `cargo test` carries the crash tests' hooks (the
/// `fault-injection` feature): say so at start, so that one copied out of
/// target/release by mistake is noticed in the journal.
fn warn_if_test_build() {
    #[cfg(feature = "fault-injection")]
    log::warn!(
        "this is a test build with fault-injection hooks: do not run it in production (`cargo build --release` makes the one to ship)"
    );
}

/// Runs a main node until SIGINT or SIGTERM. Errors carry the exit status:
/// [`EXIT_REFUSED`] when it refused to start, 1 when it stopped on a failure.
pub fn node(s: NodeSettings) -> Result<(), Exit> {
    warn_if_test_build();
    let refused = |e: String| Exit::refused(e);
    let config = s
        .over_file()
        .and_then(NodeSettings::resolve)
        .map_err(Exit::refused)?;
    // The store is checked before anything listens: a damaged one or
    // another chain's is a refusal (exit 2), not a failure to retry.
    crate::store::Store::open(&config.data, &config.params).map_err(|e| refused(e.to_string()))?;
    // See node::serve on why not smol::block_on.
    futures_lite::future::block_on(async {
        let mut signals = stop_signals()?;
        // An HTTP address that cannot be bound is a refusal, like --listen's.
        bind_and_serve(config, "listen", &mut signals, None)
            .await?
            .map(drop)
            .map_err(|e| match e {
                node::NodeError::Listen { .. } | node::NodeError::Http(_) => {
                    Exit::refused(e.to_string())
                }
                e => Exit::failed(e),
            })
    })
}

/// The factory binary's first step as `goodwill forge`: counts the start of
/// a release on trial, rolls back one out of starts, and execs the release
/// the update state names (this function then never returns). A release
/// that cannot be exec'd is given up and the next one tried. Returns the
/// release counter that runs in this process: 0, the factory binary.
fn launch_release(update: &crate::runtime::config::UpdateConfig) -> Result<u64, String> {
    use crate::runtime::update::linux as slots;
    let Some(store) = slots::SlotStore::existing(&update.dir) else {
        return Ok(0);
    };
    // Each failed exec gives one release up: bounded by the two a store holds.
    for _ in 0..3 {
        let mut notes = Vec::new();
        let launch = slots::launch(
            &store,
            &update.rules,
            crate::runtime::os::now_ms(),
            &mut notes,
        )
        .map_err(|e| format!("update: {e}"))?;
        for n in notes {
            log::warn!("goodwill forge: {n}");
        }
        let slots::Launch::Release { release, path } = launch else {
            return Ok(0);
        };
        log::info!(
            "goodwill forge: running release {} (counter {}): {}",
            release.version,
            release.counter,
            path.display()
        );
        let e = slots::exec(&path, Some(release.counter));
        log::error!(
            "goodwill forge: release {} (counter {}) does not start ({}: {e}): rolled back and marked bad",
            release.version,
            release.counter,
            path.display()
        );
        store
            .change(|s| {
                if s.running() == release.counter {
                    s.give_up();
                }
            })
            .map_err(|e| format!("update: {e}"))?;
    }
    Ok(0)
}

/// SIGTERM and SIGINT: how a node or a forger is told to stop.
fn stop_signals() -> Result<async_signal::Signals, Exit> {
    async_signal::Signals::new([async_signal::Signal::Term, async_signal::Signal::Int])
        .map_err(|e| Exit::failed(format!("signal handlers: {e}")))
}

/// Listens on the config's address (`what` names it in the refusal when
/// it cannot) and serves until one of `signals` comes, or a restart is
/// asked for on `restart` (a forger's self-update); the inner result is how
/// the node stopped: Some(reason) when it stopped to restart.
async fn bind_and_serve(
    config: NodeConfig,
    what: &str,
    signals: &mut async_signal::Signals,
    restart: Option<&smol::channel::Receiver<String>>,
) -> Result<Result<Option<String>, node::NodeError>, Exit> {
    let listen = config.listen;
    let listener = smol::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Exit::refused(format!("{what} on {listen}: {e}")))?;
    let reason = std::cell::RefCell::new(None);
    let stopped = node::serve(config, listener, async {
        let signal = async {
            let _ = signals.next().await;
        };
        match restart {
            None => signal.await,
            Some(r) => {
                futures_lite::future::or(signal, async {
                    if let Ok(why) = r.recv().await {
                        *reason.borrow_mut() = Some(why);
                    }
                })
                .await
            }
        }
    })
    .await;
    Ok(stopped.map(|()| reason.into_inner()))
}

/// Connects as a client; the error as text for the command line.
pub(crate) async fn connect(addr: &str) -> Result<Client, String> {
    check_node_addr(addr)?;
    Client::connect(addr).await.map_err(|e| e.to_string())
}

/// Refuses a `--node` without a port before dialling, with the form it
/// takes (the socket library's own "invalid socket address" says neither).
pub(crate) fn check_node_addr(addr: &str) -> Result<(), String> {
    let port = addr
        .rsplit_once(':')
        .filter(|(host, _)| !host.is_empty() && (!host.contains(':') || host.ends_with(']')))
        .map(|(_, port)| port);
    match port {
        Some(p) if p.parse::<u16>().is_ok_and(|p| p > 0) => Ok(()),
        Some(p) => Err(format!(
            "--node {addr}: {p:?} is not a port; give HOST:PORT, e.g. 127.0.0.1:7070"
        )),
        None => {
            Err(format!(
            "--node {addr}: no port; give HOST:PORT, e.g. {}:7070 (a main node's --listen address)",
            if addr.contains(':') { format!("[{addr}]") } else { addr.to_string() }
        ))
        }
    }
}

/// `goodwill status`: any node's status; an appliance's figures too.
pub fn status(addr: &str, as_json: bool) -> Result<(), String> {
    smol::block_on(async {
        let mut c = connect(addr).await?;
        let s = c.status().await.map_err(|e| e.to_string())?;
        let appliance = if s.role == crate::wire::Role::Forger {
            match c.query(crate::wire::Query::Appliance).await {
                Ok(crate::wire::Answer::Appliance(a)) => Some(*a),
                _ => None,
            }
        } else {
            None
        };
        if as_json {
            let mut v = json!({
                "role": s.role.name(),
                "key": s.key.to_string(),
                "version": s.version,
                "chain_id": s.chain_id.to_hex(),
                "height": s.tip.height,
                "tip": s.tip.hash.to_hex(),
                "slot": s.tip.slot,
                "peers": s.peers,
                "forgers": s.forgers,
                "clients": s.clients,
                "mempool": s.mempool,
                "uptime_s": s.uptime_s,
                "syncing": s.syncing,
            });
            if let Some(a) = &appliance {
                v["appliance"] = json!({
                    "synced": a.synced,
                    "main_nodes": a.main_nodes,
                    "clock_offset_ms": a.clock_offset_ms,
                    "clock_check": a.clock_check,
                    "clock_trusted": a.clock_trusted,
                    "clock_problem": a.clock_problem,
                    "epoch": a.epoch,
                    "weight": a.weight,
                    "slots_led": a.slots_led,
                    "forged_epoch": a.forged_epoch,
                    "missed_epoch": a.missed_epoch,
                    "forged_total": a.forged_total,
                    "last_miss": a.last_miss,
                    "last_signed_slot": a.last_signed_slot,
                    "cpu_us_per_block": a.cpu_us_per_block,
                    "wakeups_per_s": a.wakeups_per_s,
                    "rss_bytes": a.rss_bytes,
                    "bytes_per_block": a.bytes_per_block,
                    "bytes_per_forged_block": a.bytes_per_forged_block,
                    "cpu_s": a.cpu_s,
                    "board": a.board,
                    "idle_w": a.idle_w,
                    "load_w": a.load_w,
                    "energy_j": a.energy_j,
                    "leds": a.leds,
                    "throttled": a.throttled,
                    "under_voltage": health_of(a.throttled, a.soc_temp_mc).under_voltage_now(),
                    "under_voltage_since_boot":
                        health_of(a.throttled, a.soc_temp_mc).under_voltage_since_boot(),
                    "power": health_of(a.throttled, a.soc_temp_mc).flags(),
                    "soc_temp_c": a.soc_temp_mc.map(|mc| f64::from(mc) / 1000.0),
                });
            }
            println!("{v}");
            return Ok(());
        }
        println!("role      {}", s.role.name());
        println!("key       {}", s.key);
        println!("version   {}", s.version);
        println!("chain     {}", s.chain_id);
        println!("height    {}", s.tip.height);
        println!("tip       {}", s.tip.hash);
        println!("syncing   {}", if s.syncing { "yes" } else { "no" });
        println!(
            "peers     {}",
            if s.peers.is_empty() {
                "-".into()
            } else {
                s.peers.join(", ")
            }
        );
        println!("forgers   {}", s.forgers);
        println!("clients   {}", s.clients);
        println!("mempool   {}", s.mempool);
        println!("uptime    {} s", s.uptime_s);
        if let Some(a) = appliance {
            println!("synced    {}", if a.synced { "yes" } else { "no" });
            println!("mains     {} connected", a.main_nodes);
            println!(
                "clock     {} (offset {}, check {})",
                match &a.clock_problem {
                    None => "trusted".to_string(),
                    Some(p) => format!("NOT trusted: {p}"),
                },
                a.clock_offset_ms
                    .map(|o| format!("{o} ms"))
                    .unwrap_or_else(|| "unknown".into()),
                a.clock_check
            );
            println!(
                "epoch     {}: weight {}; this epoch forged {}, missed {}, slots still to lead {}",
                a.epoch,
                format_coins(a.weight),
                a.forged_epoch,
                a.missed_epoch,
                a.slots_led,
            );
            println!(
                "signed    last slot {}",
                a.last_signed_slot
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "none".into())
            );
            if let Some(m) = &a.last_miss {
                println!("missed    last because {m}");
            }
            println!(
                "cpu       {} per forged block, {:.1} s in all",
                a.cpu_us_per_block
                    .map(|u| format!("{:.2} ms", u as f64 / 1000.0))
                    .unwrap_or_else(|| "-".into()),
                a.cpu_s
            );
            println!("wake-ups  {:.1}/s", a.wakeups_per_s);
            println!(
                "memory    {:.1} MiB resident",
                a.rss_bytes as f64 / (1 << 20) as f64
            );
            println!(
                "disk      {} bytes written per imported block{}",
                a.bytes_per_block,
                a.bytes_per_forged_block
                    .map(|b| format!(", {b} per forged block (with its signing record)"))
                    .unwrap_or_default()
            );
            println!(
                "energy    {:.0} J ≈ {:.2} Wh since start (board {}: {} W idle, {} W load)",
                a.energy_j,
                a.energy_j / 3600.0,
                a.board,
                a.idle_w,
                a.load_w
            );
            println!("leds      {}", a.leds);
            let h = health_of(a.throttled, a.soc_temp_mc);
            println!(
                "power     {}{}",
                h.flags(),
                a.throttled
                    .map(|w| format!(" (firmware flags {w:#x})"))
                    .unwrap_or_else(|| " (this board reports no throttling flags)".into())
            );
            println!("soc temp  {}", h.temperature());
        }
        Ok(())
    })
}

/// The board's report, from the wire's fields.
fn health_of(throttled: Option<u32>, soc_temp_mc: Option<i32>) -> crate::runtime::board::Health {
    crate::runtime::board::Health {
        throttled,
        temp_mc: soc_temp_mc,
    }
}

/// The power column of the forger table: the worst condition, short.
fn power_word(h: &crate::runtime::board::Health) -> &'static str {
    use crate::runtime::board::throttled as t;
    let Some(w) = h.throttled else {
        return "-";
    };
    let any = t::FREQ_CAPPED | t::THROTTLED | t::SOFT_TEMP_LIMIT;
    if w & t::UNDER_VOLTAGE != 0 {
        "UNDERVOLT"
    } else if w & (t::UNDER_VOLTAGE << t::SINCE_BOOT_SHIFT) != 0 {
        "undervolt-boot"
    } else if w & any != 0 {
        "THROTTLED"
    } else if w & (any << t::SINCE_BOOT_SHIFT) != 0 {
        "throttled-boot"
    } else {
        "ok"
    }
}

fn forger_json(f: &ForgerEntry) -> serde_json::Value {
    let s = &f.status;
    let h = health_of(s.throttled, s.soc_temp_mc);
    json!({
        "key": f.key.to_string(),
        "connected": f.connected,
        "reported_ms": f.reported_ms,
        "version": s.version.lossy(),
        "height": s.height,
        "tip": s.tip.to_hex(),
        "clock_offset_ms": s.clock_offset_ms,
        "clock_trusted": s.clock_trusted,
        "leds": s.leds.lossy(),
        "forged": s.forged,
        "missed": s.missed,
        "weight": s.weight,
        "cpu_ms": s.cpu_ms,
        "rss_bytes": s.rss_bytes,
        "bytes_per_block": s.bytes_per_block,
        "energy_joules": s.energy_joules,
        "throttled": s.throttled,
        "under_voltage": h.under_voltage_now(),
        "under_voltage_since_boot": h.under_voltage_since_boot(),
        "power": h.flags(),
        "soc_temp_c": s.soc_temp_mc.map(|mc| f64::from(mc) / 1000.0),
    })
}

/// `goodwill forgers`.
pub fn forgers(addr: &str, as_json: bool) -> Result<(), String> {
    smol::block_on(async {
        let mut c = connect(addr).await?;
        let list = c.forgers().await.map_err(|e| e.to_string())?;
        if as_json {
            println!(
                "{}",
                json!({ "forgers": list.iter().map(forger_json).collect::<Vec<_>>() })
            );
            return Ok(());
        }
        println!(
            "{:<20} {:<12} {:>5} {:>8} {:>7} {:>6} {:>6} {:>8} {:>9} {:>14} {:>6}  leds",
            "forger",
            "version",
            "conn",
            "height",
            "offset",
            "forged",
            "missed",
            "rss MiB",
            "B/block",
            "power",
            "°C"
        );
        for f in &list {
            let k = f.key.to_string();
            let s = &f.status;
            if f.reported_ms == 0 {
                // Connected, but its first report (every few seconds) has
                // not come: zeros here would read as a broken forger.
                println!(
                    "{:<20} {:<12} {:>5}  (no report yet)",
                    format!("{}…{}", &k[..10], &k[k.len() - 6..]),
                    "-",
                    if f.connected { "yes" } else { "no" },
                );
                continue;
            }
            let h = health_of(s.throttled, s.soc_temp_mc);
            println!(
                "{:<20} {:<12} {:>5} {:>8} {:>6}ms {:>6} {:>6} {:>8.1} {:>9} {:>14} {:>6}  {}",
                format!("{}…{}", &k[..10], &k[k.len() - 6..]),
                s.version.lossy(),
                if f.connected { "yes" } else { "no" },
                s.height,
                s.clock_offset_ms,
                s.forged,
                s.missed,
                s.rss_bytes as f64 / (1 << 20) as f64,
                s.bytes_per_block,
                power_word(&h),
                s.soc_temp_mc
                    .map(|mc| format!("{:.1}", f64::from(mc) / 1000.0))
                    .unwrap_or_else(|| "-".into()),
                s.leds.lossy()
            );
        }
        if list.is_empty() {
            println!("(no forger has connected to this node)");
        }
        Ok(())
    })
}

/// `goodwill chain tip`.
pub fn tip(addr: &str, as_json: bool) -> Result<(), String> {
    smol::block_on(async {
        let mut c = connect(addr).await?;
        let t = c.tip().await.map_err(|e| e.to_string())?;
        if as_json {
            println!(
                "{}",
                json!({"height": t.height, "tip": t.hash.to_hex(), "slot": t.slot, "chain_id": c.chain_id().to_hex()})
            );
        } else {
            println!("height {}  tip {}  slot {}", t.height, t.hash, t.slot);
        }
        Ok(())
    })
}

fn tx_json(tx: &crate::chain::tx::SignedTransaction) -> serde_json::Value {
    json!({
        "id": tx.id().to_hex(),
        "sender": tx.tx.sender.to_string(),
        "nonce": tx.tx.nonce,
        "fee": tx.tx.fee,
        "kind": tx.tx.kind.name(),
        "body": serde_json::to_value(&tx.tx.kind).unwrap_or(serde_json::Value::Null),
        "memo": tx.tx.memo.lossy(),
    })
}

/// `goodwill chain checkpoint`: prints `HEIGHT:HASH` of the highest final
/// block on `addr` (its tip's height minus the finality depth).
pub fn checkpoint(addr: &str, params: &ChainParams) -> Result<(), String> {
    smol::block_on(async {
        let mut c = connect(addr).await?;
        if c.chain_id() != params.chain_id() {
            return Err(format!(
                "{addr} is on chain {}, not the genesis's {}",
                c.chain_id(),
                params.chain_id()
            ));
        }
        let t = c.tip().await.map_err(|e| e.to_string())?;
        let depth = params.genesis().finality_depth;
        let height = crate::ledger::fork::finalized_height(t.height, depth);
        if height == 0 {
            return Err(format!(
                "{addr} is at height {}: no block is final yet (the finality depth is {depth})",
                t.height
            ));
        }
        let b = c
            .block_at(height)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{addr} has no block at height {height}"))?;
        if b.height() != height {
            return Err(format!(
                "{addr} answered block {} for height {height}",
                b.height()
            ));
        }
        let cp = Checkpoint {
            height,
            hash: b.hash(),
        };
        eprintln!(
            "block {height} is final on {addr} (tip {}, finality depth {depth}); give it to a new node or forger with --checkpoint {cp}",
            t.height
        );
        println!("{cp}");
        Ok(())
    })
}

/// `goodwill chain block HEIGHT`.
pub fn block(addr: &str, height: u64, as_json: bool) -> Result<(), String> {
    smol::block_on(async {
        let mut c = connect(addr).await?;
        let b = c
            .block_at(height)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                if height == 0 {
                    "height 0 is the genesis, which is not a block: the first block is at height 1"
                        .to_string()
                } else {
                    format!("no block at height {height} on {addr} (`goodwill chain tip --node {addr}` shows the highest)")
                }
            })?;
        let h = &b.header.header;
        if as_json {
            println!(
                "{}",
                json!({
                    "height": h.height,
                    "hash": b.hash().to_hex(),
                    "slot": h.slot,
                    "parent": h.parent.to_hex(),
                    "forger": h.forger.to_string(),
                    "tx_root": h.tx_root.to_hex(),
                    "state_digest": h.state_digest.to_hex(),
                    "txs": b.txs.iter().map(tx_json).collect::<Vec<_>>(),
                })
            );
        } else {
            println!("block {} at height {}, slot {}", b.hash(), h.height, h.slot);
            println!("forger  {}", h.forger);
            println!("parent  {}", h.parent);
            for t in &b.txs {
                println!(
                    "  {} {} from {} fee {}",
                    t.id().short(),
                    t.tx.kind.name(),
                    t.tx.sender,
                    format_coins(t.tx.fee)
                );
            }
        }
        Ok(())
    })
}

/// `goodwill chain tx ID`.
pub fn tx(addr: &str, id: &str, as_json: bool) -> Result<(), String> {
    let id = Hash::from_hex(id).map_err(|e| e.to_string())?;
    smol::block_on(async {
        let mut c = connect(addr).await?;
        let p = c
            .tx(id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("transaction {id} is not on the chain of {addr}"))?;
        let h = &p.header.header;
        let verified = p.tx.id() == id && crate::runtime::client::verify_tx_proof(&p).is_ok();
        if as_json {
            let mut v = tx_json(&p.tx);
            v["height"] = json!(h.height);
            v["block"] = json!(h.hash().to_hex());
            v["index"] = json!(p.proof.index);
            v["verified"] = json!(verified);
            println!("{v}");
        } else {
            println!("transaction {id}");
            println!(
                "in block {} at height {} (position {})",
                h.hash(),
                h.height,
                p.proof.index
            );
            println!(
                "{} from {} nonce {} fee {}",
                p.tx.tx.kind.name(),
                p.tx.tx.sender,
                p.tx.tx.nonce,
                format_coins(p.tx.tx.fee)
            );
            println!(
                "inclusion proof {}",
                if verified {
                    "verified against the signed header"
                } else {
                    "DOES NOT VERIFY"
                }
            );
        }
        if verified {
            Ok(())
        } else {
            Err("the node's inclusion proof does not verify".into())
        }
    })
}

/// Runs the appliance until SIGINT/SIGTERM, a fatal error or a doppelganger.
/// Errors carry the exit status.
pub fn forge(s: ForgeSettings) -> Result<(), Exit> {
    use crate::runtime::forge as f;
    use crate::runtime::update::linux as slots;
    node::log_as_forger();
    warn_if_test_build();
    crate::runtime::os::big_allocations_apart();
    #[cfg(feature = "fault-injection")]
    if crate::runtime::update::marks::get().crash_at_start {
        log::error!("goodwill forge: this test release crashes at start (test mark)");
        std::process::abort();
    }
    let refused = |e: String| Exit::refused(e);
    let s = s.over_file().map_err(Exit::refused)?;
    let update = s.update_config().map_err(Exit::refused)?;
    // Which release runs: the factory binary (the unit's) counts the start
    // and execs the one the update state names; a release runs on.
    let running = match std::env::var(slots::RELEASE_ENV) {
        Ok(c) => Some(c.parse::<u64>().map_err(|_| {
            Exit::refused(format!(
                "{}={c:?} is not a release counter",
                slots::RELEASE_ENV
            ))
        })?),
        // The releases' files failing (a damaged state, a disk that
        // refuses the start count) must not keep the board from forging:
        // the factory binary runs, and releases are left alone until the
        // next start (a watch that cannot write would restart for ever).
        Err(_) => match launch_release(&update) {
            Ok(running) => Some(running),
            Err(e) => {
                log::error!(
                    "goodwill forge: {e}; the factory binary runs, and releases are neither watched nor fetched until the next start"
                );
                None
            }
        },
    };
    let (restart_tx, restart_rx) = smol::channel::bounded::<String>(1);
    let Forger {
        mut config,
        storage_retry: retry,
        key_is_new,
    } = ForgeSettings::resolve(s).map_err(Exit::refused)?;
    if let (Some(fc), Some(running)) = (config.forge.as_mut(), running) {
        fc.update = Some(crate::runtime::update::watch::UpdateHook {
            dir: update.dir.clone(),
            rules: update.rules,
            running,
            restart: restart_tx,
            keys: update.keys.clone(),
            poll_ms: update.poll_ms,
        });
    }
    let key = config.key.clone();
    let forging = config
        .forge
        .clone()
        .expect("a forger's config has its forging part");
    let (board, clock_check) = (forging.board, forging.clock_check);
    futures_lite::future::block_on(async {
        let mut signals = stop_signals()?;
        // A file-size limit reached (LimitFSIZE=, ulimit -f) is a storage
        // error like a full disk: the write fails (EFBIG) and the appliance
        // shows it, rather than dying of SIGXFSZ. Held for the whole run.
        let _xfsz = async_signal::Signals::new([async_signal::Signal::Xfsz])
            .map_err(|e| Exit::failed(format!("signal handlers: {e}")))?;
        // Why the store failed, when it did: the storage-error state first.
        let mut failed: Option<String> = None;
        loop {
            if let Some(why) = failed.take() {
                use crate::runtime::forge::run::StorageWait;
                match f::run::storage_error_state(
                    &board,
                    &config.data,
                    &config.params,
                    &why,
                    retry,
                    &mut signals,
                )
                .await
                {
                    StorageWait::Usable => {}
                    StorageWait::Shutdown => return Ok(()),
                    StorageWait::Refuse(why) => return Err(refused(why)),
                }
            }
            // A disk that fails at start waits like one that fails later;
            // a store that is itself unusable is refused.
            match f::check_store(&config.data, &config.params, false) {
                f::StoreCheck::Usable => {}
                f::StoreCheck::Wait(why) => {
                    failed = Some(why);
                    continue;
                }
                f::StoreCheck::Refuse(why) => {
                    f::show_storage_error(&board);
                    return Err(refused(why));
                }
            }
            let note = f::preflight(
                &config.data,
                &config.params,
                &key,
                key_is_new,
                crate::runtime::os::now_ms(),
            )
            .map_err(|e| {
                if e.storage {
                    f::show_storage_error(&board);
                }
                refused(e.message)
            })?;
            eprintln!(
                "goodwill forge: key {}; board {} ({}); clock check {}; {note}",
                key.public(),
                board.name,
                board.source(),
                clock_check.name()
            );
            match bind_and_serve(
                config.clone(),
                "status listen",
                &mut signals,
                Some(&restart_rx),
            )
            .await?
            {
                Ok(None) => return Ok(()),
                Ok(Some(why)) => {
                    // Stopped as on SIGTERM (the store closed): the factory
                    // binary starts again on this process id and runs what
                    // the update state names.
                    log::info!("goodwill forge: {why}: starting again through the factory binary");
                    let factory = std::env::var_os(slots::FACTORY_ENV)
                        .map(std::path::PathBuf::from)
                        .or_else(|| std::env::current_exe().ok())
                        .ok_or_else(|| Exit::failed("cannot name the factory binary to restart"))?;
                    let e = slots::exec(&factory, None);
                    return Err(Exit::failed(format!(
                        "restarting through {}: {e}",
                        factory.display()
                    )));
                }
                Err(e) if e.is_storage() => failed = Some(e.to_string()),
                Err(node::NodeError::Doppelganger(t)) => return Err(Exit::Doppelganger(t)),
                Err(node::NodeError::Setup(t)) => return Err(Exit::refused(t)),
                Err(e @ node::NodeError::Listen { .. }) => return Err(Exit::refused(e)),
                Err(other) => return Err(Exit::failed(other)),
            }
        }
    })
}
