//! What the devnet shows: the live terminal view and the plain or JSON
//! event lines. Pure: what was observed and the time in, text out.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde_json::json;

use crate::amount::format_coins;
use crate::crypto::Hash;

/// Whether a child process runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Life {
    /// Running (or starting).
    Running,
    /// Exited: how (`exit status 1`, `killed by signal 9`).
    Exited(String),
}

/// What a node answered when last asked.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    /// Its height.
    pub height: u64,
    /// Its tip.
    pub tip: Hash,
    /// Connected main-node peers.
    pub peers: usize,
    /// Connected forgers (main nodes).
    pub forgers: u32,
    /// Transactions in its mempool.
    pub mempool: u32,
    /// A forger's own figures.
    pub appliance: Option<ApplianceSeen>,
}

/// A forger's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplianceSeen {
    /// Its LEDs as the appliance describes them (`green:heartbeat amber:on red:off`).
    pub leds: String,
    /// Blocks forged since it started.
    pub forged: u64,
    /// Weight held in the current epoch, units.
    pub weight: u64,
    /// Synced with its main nodes.
    pub synced: bool,
    /// Why its last led slot was missed.
    pub last_miss: Option<String>,
}

/// One child of the devnet, as last seen.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// `main-1`, `forger-2`.
    pub name: String,
    /// A forger?
    pub forger: bool,
    /// Where it answers.
    pub addr: SocketAddr,
    /// Running or not.
    pub life: Life,
    /// Its last answer; None if it did not answer.
    pub seen: Option<Seen>,
    /// Its log file.
    pub log: PathBuf,
}

/// Everything one frame of the view shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// The devnet's directory.
    pub dir: PathBuf,
    /// The chain id.
    pub chain_id: Hash,
    /// Slot length, ms.
    pub slot_ms: u64,
    /// Slots per epoch.
    pub epoch_slots: u64,
    /// The slot in progress.
    pub slot: u64,
    /// Its epoch.
    pub epoch: u64,
    /// Every child: main nodes, then forgers.
    pub rows: Vec<Row>,
    /// The forger of the first main node's tip.
    pub last_forger: Option<String>,
    /// Donations received by the associations so far, units.
    pub donations: u128,
    /// Commands to paste.
    pub play: Vec<String>,
    /// The newest event lines, oldest first.
    pub recent: Vec<String>,
}

/// How leaders are drawn in the current epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Nobody holds weight: the bootstrap forgers take turns.
    Bootstrap,
    /// Drawn by the weight the forgers bought (units, all forgers seen).
    Weighted(u64),
}

impl Schedule {
    /// From the weight each forger says it holds this epoch.
    pub fn of(rows: &[Row]) -> Schedule {
        let total: u64 = rows
            .iter()
            .filter_map(|r| r.seen.as_ref()?.appliance.as_ref())
            .map(|a| a.weight)
            .sum();
        if total == 0 {
            Schedule::Bootstrap
        } else {
            Schedule::Weighted(total)
        }
    }

    /// Drawn by weight (not the bootstrap turns)?
    pub fn weighted(self) -> bool {
        matches!(self, Schedule::Weighted(_))
    }

    fn text(self) -> String {
        match self {
            Schedule::Bootstrap => "bootstrap: the forgers take turns".into(),
            Schedule::Weighted(w) => format!("donated weight ({} GWL bought)", format_coins(w)),
        }
    }
}

/// How many running nodes answered with the most common tip, of how many
/// run, and that tip.
pub fn agreement(rows: &[Row]) -> (usize, usize, Option<(u64, Hash)>) {
    let tips: Vec<(u64, Hash)> = rows
        .iter()
        .filter_map(|r| r.seen.as_ref().map(|s| (s.height, s.tip)))
        .collect();
    let running = rows.iter().filter(|r| r.life == Life::Running).count();
    let best = tips
        .iter()
        .max_by_key(|t| (tips.iter().filter(|u| u == t).count(), t.0))
        .copied();
    let agree = best.map_or(0, |b| tips.iter().filter(|t| **t == b).count());
    (agree, running, best)
}

/// The three LEDs' modes from an appliance's description
/// (`green:heartbeat amber:off red:slow(no main node)`).
pub fn parse_leds(text: &str) -> Option<[&str; 3]> {
    let mode = |led: &str| {
        let rest = &text[text.find(led)? + led.len()..];
        let end = rest.find([' ', '(']).unwrap_or(rest.len());
        Some(&rest[..end])
    };
    Some([mode("green:")?, mode("amber:")?, mode("red:")?])
}

/// Whether an LED in `mode` is lit at `now_ms`, for a view redrawn a few
/// times a second: short blinks are drawn longer than they are, so that
/// they are seen at all.
pub fn lit(mode: &str, now_ms: u64) -> bool {
    match mode {
        "on" => true,
        "heartbeat" => now_ms % 2_000 < 500,
        "slow" => now_ms % 1_000 < 500,
        "fast" | "flash" => now_ms % 500 < 250,
        _ => false,
    }
}

const RESET: &str = "\x1b[0m";

fn dot(colour: &str, on: bool, colours: bool) -> String {
    match (on, colours) {
        (true, true) => format!("{colour}●{RESET}"),
        (false, true) => format!("\x1b[90m○{RESET}"),
        (true, false) => "●".into(),
        (false, false) => "○".into(),
    }
}

/// A forger's LEDs as three dots (green, amber, red) and their modes.
pub fn led_dots(leds: &str, now_ms: u64, colours: bool) -> String {
    match parse_leds(leds) {
        Some([g, a, r]) => format!(
            "{} {} {}  {:<9} {:<5} {:<5}",
            dot("\x1b[32m", lit(g, now_ms), colours),
            dot("\x1b[33m", lit(a, now_ms), colours),
            dot("\x1b[31m", lit(r, now_ms), colours),
            g,
            a,
            r
        ),
        None => leds.to_string(),
    }
}

fn short(h: &Hash) -> String {
    h.to_hex()[..8].to_string()
}

/// The live view: one screen of text (no cursor movement; the caller
/// redraws it in place).
pub fn render(f: &Frame, now_ms: u64, colours: bool) -> String {
    let bold = |s: &str| {
        if colours {
            format!("\x1b[1m{s}{RESET}")
        } else {
            s.to_string()
        }
    };
    let mut o = String::new();
    let forgers = f.rows.iter().filter(|r| r.forger).count();
    let mains = f.rows.len() - forgers;
    let _ = writeln!(
        o,
        "{} — {forgers} forgers, {mains} main node{} — {}   (Ctrl-C stops it)",
        bold("goodwill devnet"),
        if mains == 1 { "" } else { "s" },
        f.dir.display()
    );
    let _ = writeln!(
        o,
        "chain {}  slot {} ({} ms)  epoch {} ({} slots)  schedule: {}",
        short(&f.chain_id),
        f.slot,
        f.slot_ms,
        f.epoch,
        f.epoch_slots,
        Schedule::of(&f.rows).text()
    );
    let (agree, running, best) = agreement(&f.rows);
    let _ = writeln!(
        o,
        "height {}  tip {}  last forger {}  donations {} GWL  {agree}/{running} nodes on this tip",
        best.map_or("-".into(), |b| b.0.to_string()),
        best.map_or("-".into(), |b| short(&b.1)),
        f.last_forger.as_deref().unwrap_or("-"),
        format_coins(u64::try_from(f.donations).unwrap_or(u64::MAX)),
    );
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "  {:<10} {:<21} {:>7}  {:<8}  {:<25} {:>6} {:>10}  state",
        "node", "address", "height", "tip", "LEDs (green amber red)", "forged", "weight"
    );
    for r in &f.rows {
        let (height, tip) = match &r.seen {
            Some(s) => (s.height.to_string(), short(&s.tip)),
            None => ("-".into(), "-".into()),
        };
        let app = r.seen.as_ref().and_then(|s| s.appliance.as_ref());
        let leds = match (app, r.forger) {
            (Some(a), _) => led_dots(&a.leds, now_ms, colours),
            (None, true) => format!(
                "{} {} {}",
                dot("", false, colours),
                dot("", false, colours),
                dot("", false, colours)
            ),
            (None, false) => String::new(),
        };
        let pad = 25 + leds.len() - visible_len(&leds);
        let state = match (&r.life, &r.seen) {
            (Life::Exited(how), _) => {
                let s = format!("EXITED ({how}) — see {}", r.log.display());
                if colours {
                    format!("\x1b[31m{s}{RESET}")
                } else {
                    s
                }
            }
            (Life::Running, None) => "not answering (starting?)".into(),
            (Life::Running, Some(s)) => match app {
                Some(a) if !a.synced => "catching up".into(),
                Some(a) => match &a.last_miss {
                    Some(m) => format!("forging; last miss: {m}"),
                    None => "forging".into(),
                },
                None => format!(
                    "{} peers, {} forgers, mempool {}",
                    s.peers, s.forgers, s.mempool
                ),
            },
        };
        let _ = writeln!(
            o,
            "  {:<10} {:<21} {:>7}  {:<8}  {:<pad$} {:>6} {:>10}  {state}",
            r.name,
            r.addr.to_string(),
            height,
            tip,
            leds,
            app.map_or("-".into(), |a| a.forged.to_string()),
            app.map_or("-".into(), |a| format!("{} GWL", format_coins(a.weight))),
        );
    }
    let _ = writeln!(o);
    for line in &f.play {
        let _ = writeln!(o, "{line}");
    }
    if !f.recent.is_empty() {
        let _ = writeln!(o);
        let _ = writeln!(o, "recent:");
        for line in &f.recent {
            let _ = writeln!(o, "  {line}");
        }
    }
    o
}

/// Characters a terminal shows (colour escapes take no room).
fn visible_len(s: &str) -> usize {
    strip_colours(s).chars().count()
}

/// `s` without its colour escapes.
pub fn strip_colours(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut escape = false;
    for c in s.chars() {
        match (escape, c) {
            (false, '\x1b') => escape = true,
            (true, 'm') => escape = false,
            (true, _) => {}
            (false, c) => out.push(c),
        }
    }
    out
}

/// Something worth a line of its own.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The devnet is up: where everything is.
    Ready {
        /// Its directory.
        dir: PathBuf,
        /// Created by this run (else resumed).
        created: bool,
        /// The chain id.
        chain_id: Hash,
        /// Main nodes: (name, address, process id).
        main_nodes: Vec<(String, SocketAddr, u32)>,
        /// Forgers: (name, status address, process id).
        forgers: Vec<(String, SocketAddr, u32)>,
        /// Demo users: (name, key file, address).
        users: Vec<(String, PathBuf, String)>,
        /// Commands to paste.
        commands: Vec<String>,
    },
    /// A block joined the first main node's chain.
    Block {
        /// Height.
        height: u64,
        /// Hash.
        hash: Hash,
        /// Slot.
        slot: u64,
        /// Epoch.
        epoch: u64,
        /// Who forged it.
        forger: String,
        /// Transactions in it.
        txs: usize,
    },
    /// The schedule changed, seen at the start of `epoch`.
    Schedule {
        /// The epoch.
        epoch: u64,
        /// The new schedule.
        schedule: Schedule,
    },
    /// A forger bought weight (a donation).
    Bought {
        /// Which forger.
        forger: String,
        /// For which epoch.
        epoch: u64,
        /// Units.
        amount: u64,
        /// The transaction.
        id: Hash,
    },
    /// Demo traffic sent a transaction.
    Sent {
        /// What it was.
        what: String,
        /// The transaction.
        id: Hash,
    },
    /// A node refused something the devnet sent, or could not be reached.
    Problem {
        /// What happened.
        what: String,
    },
    /// A child process exited.
    Exited {
        /// Which.
        name: String,
        /// How.
        how: String,
        /// Its log.
        log: PathBuf,
    },
    /// Stopping every child.
    Stopping {
        /// Why.
        why: String,
    },
    /// Everything stopped.
    Stopped {
        /// Children that exited cleanly (status 0).
        clean: usize,
        /// Of how many.
        of: usize,
    },
}

impl Event {
    /// One line of text.
    pub fn plain(&self) -> String {
        match self {
            Event::Ready {
                dir,
                created,
                chain_id,
                main_nodes,
                forgers,
                users,
                commands,
            } => {
                let mut s = format!(
                    "devnet {} in {}: chain {chain_id}",
                    if *created { "created" } else { "resumed" },
                    dir.display()
                );
                for (n, a, pid) in main_nodes {
                    let _ = write!(s, "\n{n}: main node on {a} (pid {pid})");
                }
                for (n, a, pid) in forgers {
                    let _ = write!(s, "\n{n}: forger, status on {a} (pid {pid})");
                }
                for (n, k, a) in users {
                    let _ = write!(s, "\n{n}: {a}, key {}", k.display());
                }
                for c in commands {
                    let _ = write!(s, "\n{c}");
                }
                s
            }
            Event::Block {
                height,
                hash,
                slot,
                epoch,
                forger,
                txs,
            } => format!(
                "height {height} {} slot {slot} epoch {epoch} forged by {forger}, {txs} transaction{}",
                short(hash),
                if *txs == 1 { "" } else { "s" }
            ),
            Event::Schedule { epoch, schedule } => {
                format!("epoch {epoch}: schedule is {}", schedule.text())
            }
            Event::Bought {
                forger,
                epoch,
                amount,
                id,
            } => format!(
                "{forger} buys {} GWL of weight for epoch {epoch}, donated to {} ({})",
                format_coins(*amount),
                super::layout::ASSOCIATION,
                short(id)
            ),
            Event::Sent { what, id } => format!("sent {what} ({})", short(id)),
            Event::Problem { what } => format!("problem: {what}"),
            Event::Exited { name, how, log } => {
                format!("{name} exited ({how}); its log: {}", log.display())
            }
            Event::Stopping { why } => format!("stopping every node ({why})"),
            Event::Stopped { clean, of } => {
                format!("stopped: {clean} of {of} nodes exited cleanly")
            }
        }
    }

    /// One JSON object; `event` names the kind.
    pub fn json(&self) -> serde_json::Value {
        let nodes = |v: &[(String, SocketAddr, u32)]| {
            v.iter()
                .map(|(n, a, pid)| json!({"name": n, "addr": a.to_string(), "pid": pid}))
                .collect::<Vec<_>>()
        };
        match self {
            Event::Ready {
                dir,
                created,
                chain_id,
                main_nodes,
                forgers,
                users,
                commands,
            } => json!({
                "event": "ready",
                "dir": dir.display().to_string(),
                "created": created,
                "chain_id": chain_id.to_hex(),
                "main_nodes": nodes(main_nodes),
                "forgers": nodes(forgers),
                "commands": commands,
                "users": users.iter().map(|(n, k, a)| json!({"name": n, "key": k.display().to_string(), "address": a})).collect::<Vec<_>>(),
            }),
            Event::Block {
                height,
                hash,
                slot,
                epoch,
                forger,
                txs,
            } => json!({
                "event": "block", "height": height, "hash": hash.to_hex(), "slot": slot,
                "epoch": epoch, "forger": forger, "txs": txs,
            }),
            Event::Schedule { epoch, schedule } => json!({
                "event": "schedule",
                "epoch": epoch,
                "schedule": match schedule { Schedule::Bootstrap => "bootstrap", Schedule::Weighted(_) => "weighted" },
                "weight": match schedule { Schedule::Bootstrap => 0, Schedule::Weighted(w) => *w },
            }),
            Event::Bought {
                forger,
                epoch,
                amount,
                id,
            } => json!({
                "event": "bought", "forger": forger, "epoch": epoch, "amount": amount, "id": id.to_hex(),
            }),
            Event::Sent { what, id } => json!({"event": "sent", "what": what, "id": id.to_hex()}),
            Event::Problem { what } => json!({"event": "problem", "what": what}),
            Event::Exited { name, how, log } => json!({
                "event": "exited", "name": name, "how": how, "log": log.display().to_string(),
            }),
            Event::Stopping { why } => json!({"event": "stopping", "why": why}),
            Event::Stopped { clean, of } => json!({"event": "stopped", "clean": clean, "of": of}),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, height: u64, tip: u8, weight: Option<u64>) -> Row {
        Row {
            name: name.into(),
            forger: weight.is_some(),
            addr: "127.0.0.1:7000".parse().unwrap(),
            life: Life::Running,
            seen: Some(Seen {
                height,
                tip: Hash([tip; 32]),
                peers: 0,
                forgers: 0,
                mempool: 0,
                appliance: weight.map(|weight| ApplianceSeen {
                    leds: "green:heartbeat amber:on red:slow(no main node)".into(),
                    forged: 1,
                    weight,
                    synced: true,
                    last_miss: None,
                }),
            }),
            log: "/tmp/log".into(),
        }
    }

    #[test]
    fn leds_are_read_from_the_appliance_description() {
        assert_eq!(
            parse_leds("green:heartbeat amber:off red:slow(no main node)"),
            Some(["heartbeat", "off", "slow"])
        );
        assert_eq!(
            parse_leds("green:off amber:flash red:on(storage error)"),
            Some(["off", "flash", "on"])
        );
        assert_eq!(parse_leds("nonsense"), None);
    }

    #[test]
    fn blinking_leds_are_lit_part_of_the_time_and_steady_ones_always() {
        let lit_share = |mode: &str| (0..4_000).step_by(50).filter(|t| lit(mode, *t)).count();
        assert_eq!(lit_share("on"), 80);
        assert_eq!(lit_share("off"), 0);
        for mode in ["heartbeat", "slow", "fast", "flash"] {
            let n = lit_share(mode);
            assert!(n > 0 && n < 80, "{mode}: {n}");
        }
    }

    #[test]
    fn agreement_counts_the_most_common_tip() {
        let rows = vec![
            row("main-1", 5, 1, None),
            row("forger-1", 5, 1, Some(0)),
            row("forger-2", 4, 2, Some(0)),
        ];
        let (agree, running, best) = agreement(&rows);
        assert_eq!((agree, running), (2, 3));
        assert_eq!(best, Some((5, Hash([1; 32]))));
    }

    #[test]
    fn the_schedule_is_weighted_once_a_forger_holds_weight() {
        let boot = vec![
            row("forger-1", 1, 1, Some(0)),
            row("forger-2", 1, 1, Some(0)),
        ];
        assert_eq!(Schedule::of(&boot), Schedule::Bootstrap);
        let weighted = vec![
            row("forger-1", 1, 1, Some(0)),
            row("forger-2", 1, 1, Some(20)),
        ];
        assert_eq!(Schedule::of(&weighted), Schedule::Weighted(20));
    }

    #[test]
    fn the_view_shows_every_node_its_leds_and_a_dead_child() {
        let mut dead = row("forger-2", 0, 0, Some(0));
        dead.life = Life::Exited("killed by signal 9".into());
        dead.seen = None;
        let f = Frame {
            dir: "/tmp/net".into(),
            chain_id: Hash([9; 32]),
            slot_ms: 1_000,
            epoch_slots: 20,
            slot: 42,
            epoch: 2,
            rows: vec![
                row("main-1", 7, 1, None),
                row("forger-1", 7, 1, Some(10_000_000)),
                dead,
            ],
            last_forger: Some("forger-1".into()),
            donations: 30_000_000,
            play: vec!["goodwill wallet send …".into()],
            recent: vec!["height 7 …".into()],
        };
        let text = render(&f, 0, false);
        assert!(text.contains("donated weight (10 GWL bought)"), "{text}");
        assert!(text.contains("donations 30 GWL"), "{text}");
        assert!(text.contains("2/2 nodes on this tip"), "{text}");
        assert!(text.contains("● ● ●  heartbeat"), "{text}");
        assert!(
            text.contains("EXITED (killed by signal 9) — see /tmp/log"),
            "{text}"
        );
        assert!(text.contains("goodwill wallet send"), "{text}");
        let coloured = render(&f, 0, true);
        assert!(coloured.contains("\x1b[32m●"), "green dot");
        // Colours add escapes only: the columns stay where they were.
        assert_eq!(strip_colours(&coloured), text);
    }

    #[test]
    fn events_have_a_line_and_a_json_object() {
        let e = Event::Bought {
            forger: "forger-2".into(),
            epoch: 2,
            amount: 20_000_000,
            id: Hash([3; 32]),
        };
        assert_eq!(
            e.plain(),
            "forger-2 buys 20 GWL of weight for epoch 2, donated to Demo Charity (03030303)"
        );
        assert_eq!(e.json()["event"], "bought");
        assert_eq!(e.json()["amount"], 20_000_000);
    }
}
