//! The command line's network verbs: `node`, and the read-only client verbs
//! (`status`, `forgers`, `chain tip|block|tx`). Every `--json` prints one
//! JSON object.

use std::net::SocketAddr;
use std::path::PathBuf;

use futures_lite::StreamExt;
use serde_json::json;

use crate::amount::format_coins;
use crate::client::Client;
use crate::crypto::{Hash, Keypair};
use crate::genesis::Genesis;
use crate::keyfile;
use crate::merkle;
use crate::node::{self, NodeConfig, NodeLimits};
use crate::wire::ForgerEntry;

/// `goodwill node`'s settings after merging the config file and flags.
#[derive(Debug)]
pub struct NodeSettings {
    /// Data directory.
    pub data: PathBuf,
    /// Genesis file.
    pub genesis: PathBuf,
    /// Listen address.
    pub listen: String,
    /// Advertised address.
    pub advertise: Option<String>,
    /// Peers.
    pub peers: Vec<String>,
    /// Key file.
    pub key: Option<PathBuf>,
}

/// Runs a main node until SIGINT or SIGTERM.
pub fn node(s: NodeSettings) -> Result<(), String> {
    let params = Genesis::load(&s.genesis).map_err(|e| e.to_string())?;
    let key = match &s.key {
        Some(k) => keyfile::read(k).map_err(|e| e.to_string())?,
        None => Keypair::generate(),
    };
    let listen: SocketAddr = s.listen.parse().map_err(|e| {
        format!(
            "--listen {}: {e} (write host:port, e.g. 127.0.0.1:7070)",
            s.listen
        )
    })?;
    let config = NodeConfig {
        data: s.data,
        params,
        listen,
        advertise: s.advertise,
        peers: s.peers,
        key,
        limits: NodeLimits::default(),
        forge: None,
    };
    smol::block_on(async {
        let mut signals =
            async_signal::Signals::new([async_signal::Signal::Term, async_signal::Signal::Int])
                .map_err(|e| format!("signal handlers: {e}"))?;
        let listener = smol::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("listen on {listen}: {e}"))?;
        node::serve(config, listener, async move {
            let _ = signals.next().await;
        })
        .await
        .map_err(|e| e.to_string())
    })
}

async fn connect(addr: &str) -> Result<Client, String> {
    Client::connect(addr).await.map_err(|e| e.to_string())
}

/// `goodwill status`.
pub fn status(addr: &str, as_json: bool) -> Result<(), String> {
    smol::block_on(async {
        let mut c = connect(addr).await?;
        let s = c.status().await.map_err(|e| e.to_string())?;
        if as_json {
            println!(
                "{}",
                json!({
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
                })
            );
        } else {
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
        }
        Ok(())
    })
}

fn forger_json(f: &ForgerEntry) -> serde_json::Value {
    let s = &f.status;
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
            "{:<20} {:>5} {:>8} {:>7} {:>6} {:>6} {:>8} {:>9}  leds",
            "forger", "conn", "height", "offset", "forged", "missed", "rss MiB", "B/block"
        );
        for f in &list {
            let k = f.key.to_string();
            let s = &f.status;
            println!(
                "{:<20} {:>5} {:>8} {:>6}ms {:>6} {:>6} {:>8.1} {:>9}  {}",
                format!("{}…{}", &k[..10], &k[k.len() - 6..]),
                if f.connected { "yes" } else { "no" },
                s.height,
                s.clock_offset_ms,
                s.forged,
                s.missed,
                s.rss_bytes as f64 / (1 << 20) as f64,
                s.bytes_per_block,
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

fn tx_json(tx: &crate::tx::SignedTransaction) -> serde_json::Value {
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

/// `goodwill chain block HEIGHT`.
pub fn block(addr: &str, height: u64, as_json: bool) -> Result<(), String> {
    smol::block_on(async {
        let mut c = connect(addr).await?;
        let b = c
            .block_at(height)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no block at height {height} on {addr}"))?;
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
        let verified = p.tx.id() == id
            && p.header.verify().is_ok()
            && merkle::verify(&h.tx_root, &id, &p.proof);
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
