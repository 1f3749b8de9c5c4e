//! What the devnet shows: the live terminal view and the plain or JSON
//! event lines. Pure: what was observed and the time in, text out.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde_json::json;

use crate::chain::amount::format_coins;
use crate::chain::crypto::Hash;

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

/// The terminal the view is drawn on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    /// Columns.
    pub cols: usize,
    /// Rows.
    pub rows: usize,
}

impl Size {
    /// When the terminal does not say: the classic 80×24.
    pub const FALLBACK: Size = Size { cols: 80, rows: 24 };
    /// From this width on, the table also shows addresses and LED modes.
    const WIDE: usize = 132;
}

/// The file in the devnet's directory holding the commands to paste, for
/// a terminal too small to show them.
pub const COMMANDS_FILE: &str = "commands.txt";

/// The live view: one screen of text laid out for `size` (no cursor
/// movement; the caller redraws it in place). No line is wider than the
/// terminal and the view leaves the last row free, so nothing scrolls.
/// What matters most comes first — the tip, each node's height and LEDs,
/// the last blocks — and the commands to paste only when they fit whole
/// (else a line pointing at [`COMMANDS_FILE`]).
pub fn render(f: &Frame, now_ms: u64, colours: bool, size: Size) -> String {
    let bold = |s: &str| {
        if colours {
            format!("\x1b[1m{s}{RESET}")
        } else {
            s.to_string()
        }
    };
    let wide = size.cols >= Size::WIDE;
    let mut top: Vec<String> = Vec::new();
    let forgers = f.rows.iter().filter(|r| r.forger).count();
    let mains = f.rows.len() - forgers;
    top.push(format!(
        "{} — {forgers} forgers, {mains} main node{} — Ctrl-C stops it — {}",
        bold("goodwill devnet"),
        if mains == 1 { "" } else { "s" },
        f.dir.display()
    ));
    let (agree, running, best) = agreement(&f.rows);
    top.push(format!(
        "height {}  tip {}  {agree}/{running} nodes on this tip  last forger {}",
        best.map_or("-".into(), |b| b.0.to_string()),
        best.map_or("-".into(), |b| short(&b.1)),
        f.last_forger.as_deref().unwrap_or("-"),
    ));
    let donations = format_coins(u64::try_from(f.donations).unwrap_or(u64::MAX));
    let schedule = Schedule::of(&f.rows);
    top.push(if wide {
        format!(
            "slot {} ({} ms)  epoch {} ({} slots)  donations {donations} GWL  schedule: {}",
            f.slot,
            f.slot_ms,
            f.epoch,
            f.epoch_slots,
            schedule.text()
        )
    } else {
        format!(
            "slot {}  epoch {}  donations {donations} GWL  schedule: {}",
            f.slot,
            f.epoch,
            match schedule {
                Schedule::Bootstrap => "bootstrap turns".to_string(),
                Schedule::Weighted(w) => format!("by weight ({} GWL)", format_coins(w)),
            }
        )
    });
    top.push(String::new());
    if wide {
        top.push(format!(
            "  {:<10} {:<21} {:>7}  {:<8}  {:<25} {:>6} {:>10}  state",
            "node", "address", "height", "tip", "LEDs (green amber red)", "forged", "weight"
        ));
    } else {
        top.push(format!(
            "  {:<9} {:>6} {:<8} {:<5} {:>6} {:>8}  state",
            "node", "height", "tip", "LEDs", "forged", "weight"
        ));
    }
    for r in &f.rows {
        let (height, tip) = match &r.seen {
            Some(s) => (s.height.to_string(), short(&s.tip)),
            None => ("-".into(), "-".into()),
        };
        let app = r.seen.as_ref().and_then(|s| s.appliance.as_ref());
        let off = || {
            let o = dot("", false, colours);
            format!("{o} {o} {o}")
        };
        let leds = match (app, r.forger) {
            (Some(a), _) if wide => led_dots(&a.leds, now_ms, colours),
            (Some(a), _) => match parse_leds(&a.leds) {
                Some([g, am, red]) => format!(
                    "{} {} {}",
                    dot("\x1b[32m", lit(g, now_ms), colours),
                    dot("\x1b[33m", lit(am, now_ms), colours),
                    dot("\x1b[31m", lit(red, now_ms), colours)
                ),
                None => off(),
            },
            (None, true) => off(),
            (None, false) => String::new(),
        };
        let state = match (&r.life, &r.seen) {
            (Life::Exited(how), _) => {
                // Narrow: the log's path is in the "exited" line under recent.
                let s = if wide {
                    format!("EXITED ({how}) — see {}", r.log.display())
                } else {
                    format!("EXITED ({how})")
                };
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
        let forged = app.map_or("-".into(), |a| a.forged.to_string());
        let weight = app.map_or("-".into(), |a| format!("{} GWL", format_coins(a.weight)));
        if wide {
            let pad = 25 + leds.chars().count() - visible_len(&leds);
            top.push(format!(
                "  {:<10} {:<21} {:>7}  {:<8}  {:<pad$} {:>6} {:>10}  {state}",
                r.name,
                r.addr.to_string(),
                height,
                tip,
                leds,
                forged,
                weight,
            ));
        } else {
            let pad = 5 + leds.chars().count() - visible_len(&leds);
            top.push(format!(
                "  {:<9} {:>6} {:<8} {:<pad$} {:>6} {:>8}  {state}",
                r.name, height, tip, leds, forged, weight,
            ));
        }
    }

    // What is left below the essentials, the last row kept free.
    let left = size.rows.saturating_sub(1).saturating_sub(top.len());
    let play: Vec<String> = f.play.iter().flat_map(|l| fold(l, size.cols)).collect();
    let play_fits_across = play.iter().all(|l| visible_len(l) <= size.cols);
    let recent_need = if f.recent.is_empty() {
        0
    } else {
        f.recent.len() + 2
    };
    let mut below: Vec<String> = Vec::new();
    let recent = |below: &mut Vec<String>, room: usize| {
        if f.recent.is_empty() || room < 3 {
            return;
        }
        below.push(String::new());
        below.push("recent:".into());
        let n = f.recent.len().min(room - 2);
        for line in &f.recent[f.recent.len() - n..] {
            below.push(format!("  {line}"));
        }
    };
    if play_fits_across && left >= play.len() + 1 + recent_need.min(5) {
        below.push(String::new());
        below.extend(play.iter().cloned());
        recent(&mut below, left - play.len() - 1);
    } else {
        recent(&mut below, left.saturating_sub(2));
        if left >= 2 {
            below.push(String::new());
            below.push(format!(
                "commands to paste: {}",
                f.dir.join(COMMANDS_FILE).display()
            ));
        }
    }

    let mut o = String::new();
    for line in top.iter().chain(&below).take(size.rows.saturating_sub(1)) {
        o.push_str(&fit(line, size.cols, colours));
        o.push('\n');
    }
    o
}

/// A line folded to `cols`: a command (indented) with a shell line
/// continuation, so that the pieces still paste as one command; prose
/// without. A word longer than a line stays whole (and the caller sees the
/// piece does not fit).
fn fold(line: &str, cols: usize) -> Vec<String> {
    if visible_len(line) <= cols {
        return vec![line.to_string()];
    }
    let command = line.starts_with("  ");
    let indent = if command { "      " } else { "  " };
    let tail = if command { " \\" } else { "" };
    let room = cols.saturating_sub(tail.len());
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in line.split(' ').filter(|w| !w.is_empty()) {
        let lead = if out.is_empty() && cur.is_empty() {
            if command {
                "  "
            } else {
                ""
            }
        } else if cur.is_empty() {
            indent
        } else {
            " "
        };
        if !cur.is_empty() && visible_len(&cur) + lead.len() + visible_len(word) > room {
            out.push(format!("{cur}{tail}"));
            cur = format!("{indent}{word}");
        } else {
            cur.push_str(lead);
            cur.push_str(word);
        }
    }
    out.push(cur);
    out
}

/// One line a person reads after the view is gone: where the chain stood.
pub fn summary(f: &Frame) -> String {
    let (agree, running, best) = agreement(&f.rows);
    format!(
        "last seen: height {}, tip {}, {agree}/{running} nodes on it, epoch {}, schedule {}, last forger {}, donations {} GWL",
        best.map_or("-".into(), |b| b.0.to_string()),
        best.map_or("-".into(), |b| short(&b.1)),
        f.epoch,
        Schedule::of(&f.rows).text(),
        f.last_forger.as_deref().unwrap_or("-"),
        format_coins(u64::try_from(f.donations).unwrap_or(u64::MAX)),
    )
}

/// `line` cut to `cols` visible characters (an ellipsis says it was cut);
/// colour escapes are kept and take no room.
fn fit(line: &str, cols: usize, colours: bool) -> String {
    if visible_len(line) <= cols {
        return line.to_string();
    }
    let mut out = String::new();
    let mut shown = 0;
    let mut escape = false;
    for c in line.chars() {
        match (escape, c) {
            (false, '\x1b') => {
                escape = true;
                out.push(c);
            }
            (true, c) => {
                escape = c != 'm';
                out.push(c);
            }
            (false, c) => {
                if shown + 1 >= cols {
                    break;
                }
                out.push(c);
                shown += 1;
            }
        }
    }
    if cols > 0 {
        out.push('…');
    }
    if colours {
        out.push_str(RESET);
    }
    out
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
        /// Where the first main node serves HTTP (API and explorer).
        http: SocketAddr,
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
                http,
                main_nodes,
                forgers,
                users,
                commands,
            } => {
                let mut s = format!(
                    "devnet {} in {}: chain {chain_id}\nexplorer: http://{http}/",
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
                http,
                main_nodes,
                forgers,
                users,
                commands,
            } => json!({
                "event": "ready",
                "dir": dir.display().to_string(),
                "created": created,
                "chain_id": chain_id.to_hex(),
                "http": format!("http://{http}/"),
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
        let big = Size {
            cols: 160,
            rows: 60,
        };
        let text = render(&f, 0, false, big);
        assert!(text.contains("donated weight (10 GWL bought)"), "{text}");
        assert!(text.contains("donations 30 GWL"), "{text}");
        assert!(text.contains("2/2 nodes on this tip"), "{text}");
        assert!(text.contains("● ● ●  heartbeat"), "{text}");
        assert!(
            text.contains("EXITED (killed by signal 9) — see /tmp/log"),
            "{text}"
        );
        assert!(text.contains("goodwill wallet send"), "{text}");
        let coloured = render(&f, 0, true, big);
        assert!(coloured.contains("\x1b[32m●"), "green dot");
        // Colours add escapes only: the columns stay where they were.
        assert_eq!(strip_colours(&coloured), text);
    }

    /// A devnet as a person sees it: one main node, three forgers, a dead
    /// one among them, the commands with long temp-dir paths, recent blocks.
    fn busy_frame() -> Frame {
        let dir = PathBuf::from("/tmp/goodwill-devnet-5f0c1a2b");
        let key = dir.join("keys/alice.key");
        let to = crate::chain::address::encode(&crate::chain::crypto::PublicKey([7; 32]));
        let g = "/home/someone/src/goodwill/target/release/goodwill";
        let node = "127.0.0.1:41234";
        let mut dead = row("forger-3", 0, 0, Some(0));
        dead.life = Life::Exited("killed by signal 9".into());
        dead.seen = None;
        dead.log = dir.join("forger-3/log");
        Frame {
            dir: dir.clone(),
            chain_id: Hash([9; 32]),
            slot_ms: 1_000,
            epoch_slots: 20,
            slot: 4_242,
            epoch: 212,
            rows: vec![
                row("main-1", 4_240, 1, None),
                row("forger-1", 4_240, 1, Some(10_000_000)),
                row("forger-2", 4_240, 1, Some(20_000_000)),
                dead,
            ],
            last_forger: Some("forger-2".into()),
            donations: 1_230_000_000,
            play: vec![
                format!("play: alice's key is funded ({}); bob is {to}", key.display()),
                format!("  {g} wallet send --key {} --to {to} --amount 5 --memo hello --node {node} --wait", key.display()),
                format!("  {g} data put --key {} --name greeting --value \"hello goodwill\" --node {node} --wait", key.display()),
                format!("  {g} wallet balance {to} --node {node}"),
                format!("  {g} association list --node {node}"),
                format!("  {g} status --node 127.0.0.1:41240"),
            ],
            recent: (4_231..=4_240)
                .map(|h| format!("height {h} 0a0b0c0d slot {h} epoch 212 forged by forger-1, 0 transactions"))
                .collect(),
        }
    }

    fn check_fits(text: &str, size: Size) {
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines.len() < size.rows,
            "{} lines for {size:?}:\n{text}",
            lines.len()
        );
        for l in &lines {
            assert!(
                visible_len(l) <= size.cols,
                "{} columns for {size:?}: {l}",
                visible_len(l)
            );
        }
    }

    #[test]
    fn the_view_fits_80_by_24_with_the_essentials_first() {
        let f = busy_frame();
        let size = Size { cols: 80, rows: 24 };
        for colours in [false, true] {
            let text = render(&f, 0, colours, size);
            check_fits(&text, size);
            let plain = strip_colours(&text);
            assert!(
                plain.contains("height 4240  tip 01010101  3/3 nodes on this tip"),
                "{plain}"
            );
            for n in ["main-1", "forger-1", "forger-2", "forger-3"] {
                assert!(plain.contains(&format!("  {n} ")), "{n}:\n{plain}");
            }
            assert!(plain.contains("● ● ●"), "{plain}");
            assert!(plain.contains("EXITED (killed by signal 9)"), "{plain}");
            // The newest block is there; the commands are pointed at, not cut.
            assert!(plain.contains("height 4240 0a0b0c0d"), "{plain}");
            assert!(
                plain.contains("commands to paste: /tmp/goodwill-devnet-5f0c1a2b/commands.txt"),
                "{plain}"
            );
            assert!(!plain.contains("wallet send"), "{plain}");
        }
    }

    #[test]
    fn the_view_at_120_by_40_shows_the_commands_folded_whole() {
        let f = busy_frame();
        let size = Size {
            cols: 120,
            rows: 40,
        };
        let text = render(&f, 0, false, size);
        check_fits(&text, size);
        // Every command is there, folded with continuations that a shell
        // joins back into the line the devnet printed.
        let joined = text.replace(" \\\n      ", " ");
        for c in &f.play[1..] {
            assert!(joined.contains(c.trim_start()), "{c}:\n{text}");
        }
        assert!(text.contains("height 4240 0a0b0c0d"), "{text}");
        assert!(!text.contains("commands to paste:"), "{text}");
    }

    #[test]
    fn a_tiny_terminal_still_gets_no_scrolling() {
        let f = busy_frame();
        for (cols, rows) in [(40, 10), (20, 5), (1, 2)] {
            let size = Size { cols, rows };
            check_fits(&render(&f, 0, true, size), size);
        }
    }

    #[test]
    fn the_summary_says_where_the_chain_stood() {
        let s = summary(&busy_frame());
        assert!(
            s.starts_with("last seen: height 4240, tip 01010101, 3/3 nodes on it, epoch 212"),
            "{s}"
        );
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
