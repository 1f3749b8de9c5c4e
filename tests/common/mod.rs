//! What the integration tests share.
//!
//! - A chain driven in memory for the ledger tests: genesis, known keys, and
//!   blocks forged with `prepare_block` + `sign` and accepted with
//!   `apply_block` + `MemState::apply`, the way a node does it.
//! - For the tests on loopback: bounded waits (`within`, `wait_for`), free
//!   ports, `goodwill` run to completion within a bound (`run`), child
//!   processes that are killed (their logs shown, if the test failed) when
//!   the test ends (`Procs`), keys and a genesis made by the binary, the
//!   arguments of `goodwill node` and `goodwill forge`, and the config of an
//!   in-process main node.
//!
//! Each test crate uses a different part of this module, so the parts one
//! crate does not use would each be a dead-code warning there.
#![allow(dead_code)]
// Mirrors `apply_block`, whose error carries its context by value (as the
// library allows crate-wide).
#![allow(clippy::result_large_err)]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::Duration;

use futures_lite::future;
use goodwill::chain::block::{Block, Header, SignedHeader, VERSION};
use goodwill::chain::codec::Bytes;
use goodwill::chain::crypto::{Hash, Keypair, PublicKey};
use goodwill::chain::genesis::{Balance, ChainParams, Genesis, GenesisAssociation, Limits};
use goodwill::chain::merkle;
use goodwill::chain::tx::{association_proof, SignedTransaction, Transaction, TxKind};
use goodwill::ledger::schedule;
use goodwill::ledger::state::{Account, MemState, StateChanges, StateReadExt, Tip};
use goodwill::ledger::{self, BlockError, Parallelism, TxError, UnsignedBlock};
use goodwill::runtime::node::{NodeConfig, NodeLimits};

/// The block reward of the test chains.
pub const REWARD: u64 = 1_000;
/// The minimum fee of the test chains.
pub const MIN_FEE: u64 = 10;
/// Slots per epoch.
pub const EPOCH_SLOTS: u64 = 4;
/// Epochs a proposal stays open.
pub const TTL: u64 = 2;
/// How far ahead weight is sold.
pub const AHEAD: u64 = 5;
/// The equivocation bounty.
pub const BOUNTY: u64 = 500;
/// Every initial balance.
pub const START: u64 = 1_000_000;
/// Each bootstrap forger's notional weight, and the bought weight from
/// which it no longer counts.
pub const BOOTSTRAP_WEIGHT: u64 = 1_000;
/// Epochs between an association vote and its effect.
pub const DELAY: u64 = 1;
/// The reporter's share of the equivocation bounty (percent).
pub const SHARE: u64 = 10;

/// The key pair of seed `[i; 32]` (i > 0).
pub fn kp(i: u8) -> Keypair {
    Keypair::from_seed([i; 32]).expect("a non-zero seed")
}

/// The three bootstrap forgers, in turn order.
pub fn forgers() -> Vec<Keypair> {
    (1..=3).map(kp).collect()
}

/// Users (no weight, not forgers): A, B, C, D.
pub fn users() -> Vec<Keypair> {
    (10..=13).map(kp).collect()
}

/// The association approved at genesis.
pub fn assoc_x() -> Keypair {
    kp(100)
}

/// An association that is not listed yet.
pub fn assoc_y() -> Keypair {
    kp(101)
}

/// The base genesis: three bootstrap forgers and four users with
/// [`START`] each, association X approved.
pub fn base_genesis() -> Genesis {
    let x = assoc_x();
    Genesis {
        chain_name: "ledger-tests".into(),
        contracts: Some(goodwill::chain::genesis::ContractParams::for_slot(1_000)),
        start_ms: 0,
        slot_ms: 1_000,
        epoch_slots: EPOCH_SLOTS,
        block_reward: REWARD,
        min_fee: MIN_FEE,
        finality_depth: 8,
        bootstrap_forgers: forgers().iter().map(|k| k.public()).collect(),
        limits: Limits {
            proposal_ttl_epochs: TTL,
            equivocation_bounty: BOUNTY,
            max_weight_epochs_ahead: AHEAD,
            bootstrap_weight: BOOTSTRAP_WEIGHT,
            bootstrap_until_weight: BOOTSTRAP_WEIGHT,
            association_delay_epochs: DELAY,
            reporter_share_percent: SHARE,
            ..Limits::default()
        },
        balances: forgers()
            .iter()
            .chain(&users())
            .map(|k| Balance {
                address: k.public(),
                amount: START,
            })
            .collect(),
        associations: vec![GenesisAssociation {
            name: Bytes::new(*b"X food bank").unwrap(),
            url: Bytes::new(*b"https://x.example").unwrap(),
            account: x.public(),
        }],
    }
}

/// What forging one block produced.
#[derive(Debug)]
pub struct Forged {
    /// The block, as accepted.
    pub block: Block,
    /// What it changed.
    pub changes: StateChanges,
    /// Candidates `prepare_block` left out, and why.
    pub rejected: Vec<(Hash, TxError)>,
}

/// A chain in memory with every key that may lead or sign in it.
#[derive(Debug, Clone)]
pub struct Chain {
    /// The parameters.
    pub params: ChainParams,
    /// The state at the tip.
    pub state: MemState,
    /// Every key the test knows.
    pub keys: Vec<Keypair>,
}

impl Chain {
    /// The base chain (see [`base_genesis`]).
    pub fn new() -> Chain {
        Chain::with(base_genesis())
    }

    /// A chain from `genesis`.
    pub fn with(genesis: Genesis) -> Chain {
        let params = ChainParams::new(genesis).expect("a valid test genesis");
        let mut state = MemState::new();
        state.apply(&ledger::genesis_changes(&params));
        let keys = forgers()
            .into_iter()
            .chain(users())
            .chain([assoc_x(), assoc_y()])
            .chain((200..=203).map(kp))
            .collect();
        Chain {
            params,
            state,
            keys,
        }
    }

    /// The chain id.
    pub fn id(&self) -> Hash {
        self.params.chain_id()
    }

    /// The tip.
    pub fn tip(&self) -> Tip {
        self.state.tip().unwrap()
    }

    /// The epoch of the tip's slot.
    pub fn epoch(&self) -> u64 {
        self.params.epoch_of(self.tip().slot)
    }

    /// The epoch the next block will be in.
    pub fn next_epoch(&self) -> u64 {
        self.params.epoch_of(self.next_led_slot().0)
    }

    /// An account.
    pub fn account(&self, pk: &PublicKey) -> Account {
        self.state.account(pk).unwrap()
    }

    /// A balance.
    pub fn balance(&self, pk: &PublicKey) -> u64 {
        self.account(pk).balance
    }

    /// The known key pair of `pk`.
    pub fn key(&self, pk: &PublicKey) -> &Keypair {
        self.keys
            .iter()
            .find(|k| k.public() == *pk)
            .unwrap_or_else(|| panic!("{pk} is not a key the test knows"))
    }

    /// The leader of `slot` on top of the tip.
    pub fn leader(&self, slot: u64) -> Option<PublicKey> {
        schedule::leader(&self.params, &self.state, &self.tip(), slot).unwrap()
    }

    /// The first slot at or after `from` (and after the tip) that has a
    /// leader, and that leader.
    pub fn led_slot_from(&self, from: u64) -> (u64, PublicKey) {
        let start = from.max(self.tip().slot + 1);
        (start..start + 10_000)
            .find_map(|s| self.leader(s).map(|l| (s, l)))
            .expect("a led slot within 10 000 slots")
    }

    /// The next slot with a leader, and the leader.
    pub fn next_led_slot(&self) -> (u64, PublicKey) {
        self.led_slot_from(0)
    }

    /// `prepare_block` at `slot` by its leader.
    pub fn prepare_at(&self, slot: u64, txs: Vec<SignedTransaction>) -> (UnsignedBlock, PublicKey) {
        let leader = self.leader(slot).expect("the slot has a leader");
        let u = ledger::prepare_block(&self.params, &self.state, self.key(&leader), slot, txs)
            .expect("the leader can build a block");
        (u, leader)
    }

    /// Forges a block at `slot` from `txs`, checks it as a receiving node
    /// would (and that it agrees with the builder), and moves to it.
    pub fn forge_at(&mut self, slot: u64, txs: Vec<SignedTransaction>) -> Forged {
        let (u, leader) = self.prepare_at(slot, txs);
        let rejected = u.rejected.clone();
        let built = u.changes.clone();
        let block = u.sign(self.key(&leader));
        let changes = ledger::apply_block(&self.params, &self.state, &block, Parallelism::Single)
            .unwrap_or_else(|e| panic!("a block built by prepare_block is refused: {e}"));
        assert_eq!(changes, built, "builder and checker disagree");
        assert_eq!(changes.tip().unwrap().hash, block.hash());
        self.state.apply(&changes);
        Forged {
            block,
            changes,
            rejected,
        }
    }

    /// Forges the next block (first led slot) from `txs`.
    pub fn forge(&mut self, txs: Vec<SignedTransaction>) -> Forged {
        let (slot, _) = self.next_led_slot();
        self.forge_at(slot, txs)
    }

    /// Forges from `txs` and asserts every one went in.
    pub fn forge_ok(&mut self, txs: Vec<SignedTransaction>) -> Forged {
        let n = txs.len();
        let f = self.forge(txs);
        assert!(f.rejected.is_empty(), "rejected: {:?}", f.rejected);
        assert_eq!(f.block.txs.len(), n);
        f
    }

    /// Forges one empty block in the first led slot of `epoch` or later.
    pub fn advance_to_epoch(&mut self, epoch: u64) -> Forged {
        let (slot, _) = self.led_slot_from(self.params.first_slot(epoch));
        self.forge_at(slot, vec![])
    }

    /// A signed transaction with an explicit nonce and fee.
    pub fn tx_full(&self, key: &Keypair, nonce: u64, fee: u64, kind: TxKind) -> SignedTransaction {
        Transaction {
            chain_id: self.id(),
            sender: key.public(),
            nonce,
            fee,
            kind,
            memo: Bytes::empty(),
        }
        .sign(key)
    }

    /// A signed transaction with an explicit nonce and the minimum fee.
    pub fn tx_n(&self, key: &Keypair, nonce: u64, kind: TxKind) -> SignedTransaction {
        self.tx_full(key, nonce, MIN_FEE, kind)
    }

    /// A signed transaction with the sender's next nonce and the minimum fee.
    pub fn tx(&self, key: &Keypair, kind: TxKind) -> SignedTransaction {
        self.tx_n(key, self.account(&key.public()).nonce, kind)
    }

    /// A valid empty block for the next led slot, then given `txs` (and the
    /// matching transaction root) and re-signed by its forger: a block that
    /// passes every header check and fails (if at all) on its transactions.
    pub fn forced_block(&self, txs: Vec<SignedTransaction>) -> Block {
        let (slot, leader) = self.next_led_slot();
        let (u, _) = self.prepare_at(slot, vec![]);
        let mut header = u.header;
        let ids: Vec<Hash> = txs.iter().map(|t| t.id()).collect();
        header.tx_root = merkle::root(&ids);
        Block {
            header: header.sign(self.key(&leader)),
            txs,
        }
    }

    /// `apply_block` on top of the tip.
    pub fn check(&self, block: &Block) -> Result<StateChanges, BlockError> {
        ledger::apply_block(&self.params, &self.state, block, Parallelism::Single)
    }

    /// Asserts that `tx`, after `prefix` (which must all apply), is refused
    /// both by the builder (`prepare_block` leaves it out) and by the checker
    /// (`apply_block` on a block holding it), with the same error; returns it.
    pub fn reject_after(&self, prefix: Vec<SignedTransaction>, tx: SignedTransaction) -> TxError {
        let index = prefix.len();
        let id = tx.id();
        let mut all = prefix;
        all.push(tx);
        let (slot, _) = self.next_led_slot();
        let (u, _) = self.prepare_at(slot, all.clone());
        assert_eq!(
            u.txs.len(),
            index,
            "the prefix must apply: {:?}",
            u.rejected
        );
        assert_eq!(u.rejected.len(), 1, "{:?}", u.rejected);
        let (rid, built) = u.rejected[0].clone();
        assert_eq!(rid, id);
        match self.check(&self.forced_block(all)) {
            Err(BlockError::Tx {
                height,
                index: i,
                id: bid,
                error,
            }) => {
                assert_eq!(height, self.tip().height + 1);
                assert_eq!(i, index);
                assert_eq!(bid, id);
                assert_eq!(error, built, "builder and checker give different reasons");
            }
            other => panic!("expected a transaction error, got {other:?}"),
        }
        built
    }

    /// [`Chain::reject_after`] with no prefix.
    pub fn reject(&self, tx: SignedTransaction) -> TxError {
        self.reject_after(vec![], tx)
    }

    /// A ProposeAssociation for `assoc` with a valid proof.
    pub fn propose_kind(&self, assoc: &Keypair, name: &[u8]) -> TxKind {
        let url = b"https://assoc.example";
        TxKind::ProposeAssociation {
            name: Bytes::new(name.to_vec()).unwrap(),
            url: Bytes::new(url.to_vec()).unwrap(),
            account: assoc.public(),
            proof: association_proof(assoc, &self.id(), name, url),
        }
    }

    /// Two different headers signed by `forger` for `slot` (evidence).
    pub fn equivocation(&self, forger: &Keypair, slot: u64) -> (SignedHeader, SignedHeader) {
        let header = |root: u8| Header {
            version: VERSION,
            chain_id: self.id(),
            height: 7,
            slot,
            parent: Hash([1; 32]),
            tx_root: Hash([root; 32]),
            state_digest: Hash([3; 32]),
            forger: forger.public(),
            vrf: goodwill::chain::crypto::vrf_prove(
                forger,
                &goodwill::chain::block::vrf_input(&self.id(), &Hash([4; 32]), slot),
            )
            .0,
        };
        (header(1).sign(forger), header(2).sign(forger))
    }

    /// A ReportEquivocation of two headers.
    pub fn report_kind(a: SignedHeader, b: SignedHeader) -> TxKind {
        TxKind::ReportEquivocation {
            header_a: Box::new(a),
            header_b: Box::new(b),
        }
    }
}

impl Default for Chain {
    fn default() -> Self {
        Chain::new()
    }
}

/// A Transfer.
pub fn transfer(to: &PublicKey, amount: u64) -> TxKind {
    TxKind::Transfer { to: *to, amount }
}

/// A BuyWeight.
pub fn buy(epoch: u64, amount: u64, association: &PublicKey) -> TxKind {
    TxKind::BuyWeight {
        epoch,
        amount,
        association: *association,
    }
}

/// A PutData.
pub fn put(key: &[u8], value: &[u8]) -> TxKind {
    TxKind::PutData {
        key: Bytes::new(key.to_vec()).unwrap(),
        value: Bytes::new(value.to_vec()).unwrap(),
    }
}

/// A VoteAssociation.
pub fn vote(proposal: Hash, approve: bool) -> TxKind {
    TxKind::VoteAssociation { proposal, approve }
}

/// Asserts that `error`'s message contains every one of `needles`.
pub fn says(error: &impl std::fmt::Display, needles: &[&str]) {
    let msg = error.to_string();
    for n in needles {
        assert!(msg.contains(n), "{msg:?} should mention {n:?}");
    }
}

// ---------------------------------------------------------------------------
// On loopback: bounded waits, ports, the binary and its child processes.

/// How often a wait polls unless told otherwise.
pub const POLL: Duration = Duration::from_millis(20);

/// The wall clock in milliseconds.
pub fn now_ms() -> u64 {
    goodwill::runtime::os::now_ms()
}

/// Runs `f` to completion, or panics after `ms` milliseconds.
pub fn within<T>(ms: u64, what: &str, f: impl std::future::Future<Output = T>) -> T {
    smol::block_on(future::or(async { Some(f.await) }, async {
        smol::Timer::after(Duration::from_millis(ms)).await;
        None
    }))
    .unwrap_or_else(|| panic!("{what}: no answer in {ms} ms"))
}

/// Polls `f` every [`POLL`] until it gives `Some`, for at most `ms` ms.
pub fn wait_for<T>(ms: u64, what: &str, f: impl FnMut() -> Option<T>) -> T {
    wait_for_every(POLL, ms, what, f)
}

/// Polls `f` every `poll` until it gives `Some`, for at most `ms` ms (a
/// bounded count of polls and a deadline); then once more.
pub fn wait_for_every<T>(
    poll: Duration,
    ms: u64,
    what: &str,
    mut f: impl FnMut() -> Option<T>,
) -> T {
    let deadline = now_ms() + ms;
    let max_polls = ms / poll.as_millis() as u64 + 1;
    for _ in 0..max_polls {
        if let Some(v) = f() {
            return v;
        }
        if now_ms() > deadline {
            break;
        }
        std::thread::sleep(poll);
    }
    f().unwrap_or_else(|| panic!("{what}: not true after {ms} ms"))
}

/// A port on 127.0.0.1 that was free a moment ago, for a child process to
/// listen on: below the ephemeral range (`goodwill::runtime::os::free_ports`),
/// so no test's outgoing connection takes it before the child binds it.
pub fn free_addr() -> SocketAddr {
    let port = goodwill::runtime::os::free_ports(1, &[]).expect("a free port")[0];
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// The `goodwill` binary Cargo built for the tests.
pub fn goodwill_bin() -> &'static str {
    env!("CARGO_BIN_EXE_goodwill")
}

/// The variable that names the program running this build's executables
/// when they are for another architecture, its words split on whitespace:
/// `qemu-aarch64-static -L /` when the tests were cross-built for the Pi
/// (docs/arm.md; `.ci/arm` sets it). Unset or empty: they run directly.
/// Cargo's own runner setting reaches only the test binary, not the
/// programs a test starts.
pub const RUNNER_VAR: &str = "GOODWILL_TEST_RUNNER";

/// The runner's words; empty when executables run directly.
pub fn runner() -> Vec<String> {
    std::env::var(RUNNER_VAR)
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// A command that runs `exe`, a program this build made (the `goodwill`
/// binary, an example, a test binary), through the runner if there is one.
/// Under qemu-user the child's pid is the emulated program's own: signals
/// sent to it reach the program.
pub fn exe_command(exe: impl AsRef<OsStr>) -> Command {
    match runner().split_first() {
        None => {
            runs_directly();
            Command::new(exe)
        }
        Some((program, args)) => {
            let mut cmd = Command::new(program);
            cmd.args(args).arg(exe);
            cmd
        }
    }
}

/// Panics with a hint if this build's executables do not run here without
/// a runner (a cross-built suite run without [`RUNNER_VAR`]), instead of
/// letting each test fail on an unexplained exit code. Checked once.
fn runs_directly() {
    static CHECK: OnceLock<Result<(), String>> = OnceLock::new();
    let check =
        CHECK.get_or_init(
            || match Command::new(goodwill_bin()).arg("--version").output() {
                Ok(out) if out.status.success() => Ok(()),
                Ok(out) => Err(format!(
                    "{}: {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                )),
                Err(e) => Err(e.to_string()),
            },
        );
    if let Err(e) = check {
        panic!(
            "{} --version does not run here ({e}); for a cross-built suite, name \
             the runner in {RUNNER_VAR}, e.g. {RUNNER_VAR}='qemu-aarch64-static -L /'",
            goodwill_bin()
        );
    }
}

/// `goodwill`, to be given its arguments (through the runner if there is one).
pub fn goodwill_command() -> Command {
    exe_command(goodwill_bin())
}

/// A directory whose `goodwill` runs this build's binary, for a shell's
/// PATH: the binary's own directory, or, with a runner, a wrapper script
/// written into `scratch` that execs the binary through the runner (so a
/// shell's `$!` and `kill` reach the program itself).
pub fn goodwill_path_dir(scratch: &Path) -> PathBuf {
    let bin = Path::new(goodwill_bin());
    let runner = runner();
    if runner.is_empty() {
        runs_directly();
        return bin.parent().expect("the binary's directory").to_path_buf();
    }
    let quote = |w: &str| format!("'{}'", w.replace('\'', r"'\''"));
    let words: Vec<String> = runner
        .iter()
        .map(|w| quote(w))
        .chain([quote(goodwill_bin())])
        .collect();
    let script = scratch.join("goodwill");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nexec {} \"$@\"\n", words.join(" ")),
    )
    .expect("write the goodwill wrapper");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
        .expect("chmod the goodwill wrapper");
    scratch.to_path_buf()
}

/// What a finished command printed.
#[derive(Debug)]
pub struct Out {
    pub status: ExitStatus,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Its stdout as one JSON value.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("not one JSON object ({e}): {self:?}"))
    }

    /// Its stdout as JSON lines.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
            .collect()
    }
}

/// Runs `cmd` (stdin empty) to completion within `ms`, killing it after;
/// both pipes are drained on threads, so a chatty child never blocks.
pub fn run_within(mut cmd: Command, ms: u64) -> Out {
    // Under an emulator (a cross-built suite) a command takes several
    // times as long, more on a loaded machine: a bound, not a figure.
    let ms = if runner().is_empty() { ms } else { ms * 4 };
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let drain = |r: Option<Box<dyn Read + Send>>| {
        let mut r = r.expect("piped");
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out = drain(child.stdout.take().map(|s| Box::new(s) as _));
    let err = drain(child.stderr.take().map(|s| Box::new(s) as _));
    let status = wait_within(&mut child, ms, &what);
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    Out {
        status,
        code: status.code(),
        stdout: text(out.join().expect("stdout")),
        stderr: text(err.join().expect("stderr")),
    }
}

/// Runs `goodwill args…` to completion within `ms`.
pub fn run(args: &[&str], ms: u64) -> Out {
    let mut cmd = goodwill_command();
    cmd.args(args);
    run_within(cmd, ms)
}

/// Runs `goodwill args…` within `ms`; it must succeed.
pub fn run_ok(args: &[&str], ms: u64) -> Out {
    let out = run(args, ms);
    assert!(out.status.success(), "goodwill {args:?}: {out:?}");
    out
}

/// `&[String]` as `&[&str]`, for argument lists.
pub fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The address in a `… listening on ADDR; …` log line.
pub fn listening_on(line: &str) -> Option<String> {
    let rest = line.split("listening on ").nth(1)?;
    Some(rest.split(';').next()?.trim().to_string())
}

/// A key file written by `goodwill keygen`, and its address.
#[derive(Debug, Clone)]
pub struct Key {
    pub file: String,
    pub addr: String,
}

impl Key {
    pub fn pk(&self) -> PublicKey {
        goodwill::chain::address::parse(&self.addr).expect("an address")
    }
}

/// `goodwill keygen --out <dir>/<name>.key` (within `ms`).
pub fn keygen(dir: &Path, name: &str, ms: u64) -> Key {
    let file = dir
        .join(format!("{name}.key"))
        .to_str()
        .expect("utf-8")
        .to_string();
    let addr = run_ok(&["keygen", "--out", &file], ms)
        .stdout
        .trim()
        .to_string();
    assert!(addr.starts_with("gw1"), "{addr}");
    Key { file, addr }
}

/// A `goodwill genesis new` starting now.
pub struct NewGenesis<'a> {
    /// The file to write.
    pub out: &'a str,
    pub chain_name: Option<&'a str>,
    /// Bootstrap forgers' addresses, in turn order.
    pub forgers: Vec<&'a str>,
    /// `ADDRESS=COINS` each.
    pub funds: Vec<String>,
    pub slot_ms: u64,
    pub epoch_slots: u64,
    pub finality_depth: Option<u64>,
}

impl NewGenesis<'_> {
    /// Writes it with the binary (within `ms`), its start the time now.
    pub fn write(&self, ms: u64) {
        let (slot, epoch, start) = (
            self.slot_ms.to_string(),
            self.epoch_slots.to_string(),
            now_ms().to_string(),
        );
        let finality = self.finality_depth.map(|f| f.to_string());
        let mut args = vec!["genesis", "new", "--out", self.out];
        if let Some(name) = self.chain_name {
            args.extend(["--chain-name", name]);
        }
        for f in &self.forgers {
            args.extend(["--forger", f]);
        }
        for f in &self.funds {
            args.extend(["--fund", f]);
        }
        args.extend(["--slot-ms", &slot, "--epoch-slots", &epoch]);
        if let Some(f) = &finality {
            args.extend(["--finality-depth", f]);
        }
        args.extend(["--start-ms", &start]);
        run_ok(&args, ms);
    }
}

/// The arguments of `goodwill node` (HTTP off: tests run many nodes at
/// once, and the default port is one).
pub fn node_args(data: &str, genesis: &str, listen: &str) -> Vec<String> {
    [
        "node",
        "--data",
        data,
        "--genesis",
        genesis,
        "--listen",
        listen,
        "--http",
        "off",
    ]
    .map(String::from)
    .to_vec()
}

/// [`node_args`] with HTTP on a free port of 127.0.0.1 (its address in
/// the log line [`http_on`] reads), closing silent connections after
/// `idle_s` seconds.
pub fn node_args_http(data: &str, genesis: &str, listen: &str, idle_s: u64) -> Vec<String> {
    let mut args = node_args(data, genesis, listen);
    args.truncate(args.len() - 2);
    let idle = idle_s.to_string();
    args.extend(["--http", "127.0.0.1:0", "--http-idle-s", &idle].map(String::from));
    args
}

/// The HTTP address (`127.0.0.1:PORT`) a node's `http on http://…/` log
/// line names.
pub fn http_on(line: &str) -> Option<String> {
    let rest = line.split("http on http://").nth(1)?;
    Some(rest.trim_end().trim_end_matches('/').to_string())
}

/// The arguments of `goodwill forge` following the main node `main`, its
/// status on `status`, trusting its peers' clocks, on no board.
pub fn forge_args(data: &str, genesis: &str, key: &str, main: &str, status: &str) -> Vec<String> {
    [
        "forge",
        "--data",
        data,
        "--genesis",
        genesis,
        "--key",
        key,
        "--main",
        main,
        "--status-listen",
        status,
        "--clock-check",
        "peers",
        "--board",
        "none",
    ]
    .map(String::from)
    .to_vec()
}

/// A main node on `data`, listening on 127.0.0.1 (any port), registering
/// with `peers`, with default limits and no forging.
pub fn node_config(
    data: &Path,
    params: &ChainParams,
    key: Keypair,
    peers: Vec<String>,
) -> NodeConfig {
    NodeConfig {
        data: data.to_path_buf(),
        params: params.clone(),
        listen: "127.0.0.1:0".parse().expect("an address"),
        advertise: None,
        peers,
        key,
        limits: NodeLimits::default(),
        forge: None,
        http: None,
        releases: None,
    }
}

/// One child process: its stderr (and, if asked, stdout) line by line.
struct Proc {
    name: String,
    child: Child,
    stderr: mpsc::Receiver<String>,
    stdout: Option<mpsc::Receiver<String>>,
}

/// Child processes of one test: killed (and the end of their logs shown,
/// if the test failed) when it ends. Each one's stderr is also written to
/// `<dir>/<name>.stderr.log` (its stdout, if piped, to `<name>.stdout.log`).
pub struct Procs {
    dir: PathBuf,
    poll: Duration,
    list: Vec<Proc>,
}

/// The lines `r` gives, on a thread, each also appended to `log`.
fn lines_of(r: impl Read + Send + 'static, log: PathBuf) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .ok();
        // Ends at EOF: when the child exits or is killed.
        for line in BufReader::new(r).lines().map_while(Result::ok) {
            if let Some(l) = &mut log {
                let _ = writeln!(l, "{line}");
            }
            let _ = tx.send(line);
        }
    });
    rx
}

impl Procs {
    /// No children yet; their logs go to `dir`; exits are polled every `poll`.
    pub fn new(dir: &Path, poll: Duration) -> Procs {
        Procs {
            dir: dir.to_path_buf(),
            poll,
            list: Vec::new(),
        }
    }

    /// Starts `goodwill args…` (stdout to nowhere); returns its index.
    pub fn start(&mut self, name: &str, args: &[&str]) -> usize {
        self.start_with(name, args, &[], false)
    }

    /// Starts `goodwill args…` with `env` added, its stdout piped if
    /// `stdout`; returns its index.
    pub fn start_with(
        &mut self,
        name: &str,
        args: &[&str],
        env: &[(&str, &str)],
        stdout: bool,
    ) -> usize {
        let mut cmd = goodwill_command();
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(if stdout {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start goodwill {args:?}: {e}"));
        let log = |what: &str| self.dir.join(format!("{name}.{what}.log"));
        let stderr = lines_of(child.stderr.take().expect("piped"), log("stderr"));
        let stdout = child.stdout.take().map(|s| lines_of(s, log("stdout")));
        self.list.push(Proc {
            name: name.into(),
            child,
            stderr,
            stdout,
        });
        self.list.len() - 1
    }

    pub fn pid(&self, i: usize) -> u32 {
        self.list[i].child.id()
    }

    /// Reads the child's stderr until a line satisfies `f`, for at most `ms`.
    pub fn wait_line<T>(&mut self, i: usize, ms: u64, f: impl Fn(&str) -> Option<T>) -> T {
        let deadline = now_ms() + ms;
        let mut seen = Vec::new();
        for _ in 0..10_000 {
            let left = deadline.saturating_sub(now_ms()).max(1);
            match self.list[i]
                .stderr
                .recv_timeout(Duration::from_millis(left))
            {
                Ok(line) => {
                    if let Some(v) = f(&line) {
                        return v;
                    }
                    seen.push(line);
                }
                Err(_) => break,
            }
            if now_ms() > deadline {
                break;
            }
        }
        panic!(
            "{}: the line looked for did not come in {ms} ms; stderr: {seen:#?}",
            self.list[i].name
        );
    }

    /// The stdout lines the child printed within `ms` ms from now, until
    /// `done` says the ones so far are enough.
    pub fn read_stdout(
        &mut self,
        i: usize,
        ms: u64,
        done: impl Fn(&[String]) -> bool,
    ) -> Vec<String> {
        let rx = self.list[i].stdout.as_ref().expect("stdout piped");
        let deadline = now_ms() + ms;
        let mut got = Vec::new();
        for _ in 0..10_000 {
            if done(&got) {
                break;
            }
            let left = deadline.saturating_sub(now_ms()).max(1);
            match rx.recv_timeout(Duration::from_millis(left)) {
                Ok(line) => got.push(line),
                Err(_) => break,
            }
            if now_ms() > deadline {
                break;
            }
        }
        got
    }

    /// Waits for the child to exit, for at most `ms` ms.
    pub fn wait_exit(&mut self, i: usize, ms: u64) -> Option<ExitStatus> {
        let poll = self.poll;
        let child = &mut self.list[i].child;
        let deadline = now_ms() + ms;
        for _ in 0..ms / poll.as_millis() as u64 + 1 {
            if let Some(s) = child.try_wait().expect("try_wait") {
                return Some(s);
            }
            if now_ms() > deadline {
                break;
            }
            std::thread::sleep(poll);
        }
        child.try_wait().expect("try_wait")
    }

    /// Waits for the child to exit, for at most `ms` ms (else panics);
    /// returns its exit code.
    pub fn exit_code(&mut self, i: usize, ms: u64) -> Option<i32> {
        let status = self.wait_exit(i, ms);
        let name = &self.list[i].name;
        status
            .unwrap_or_else(|| panic!("{name} did not exit within {ms} ms"))
            .code()
    }

    /// Sends SIGTERM; returns the exit status (it must come within `ms`)
    /// and how long it took (ms).
    pub fn terminate(&mut self, i: usize, ms: u64) -> (ExitStatus, u64) {
        let started = now_ms();
        let ok = Command::new("kill")
            .args(["-TERM", &self.pid(i).to_string()])
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -TERM {}", self.pid(i));
        let status = self.wait_exit(i, ms).unwrap_or_else(|| {
            let name = &self.list[i].name;
            panic!("{name} did not exit within {ms} ms of SIGTERM")
        });
        (status, now_ms() - started)
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self, i: usize) {
        let c = &mut self.list[i].child;
        let _ = c.kill();
        let _ = c.wait();
    }

    /// The last `n` lines of each child's stderr log, each under its name.
    pub fn logs(&self, n: usize) -> String {
        self.list
            .iter()
            .map(|p| format!("--- {} ---\n{}\n", p.name, self.tail(p, n).join("\n")))
            .collect()
    }

    fn tail(&self, p: &Proc, n: usize) -> Vec<String> {
        let log = std::fs::read_to_string(self.dir.join(format!("{}.stderr.log", p.name)))
            .unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..]
            .iter()
            .map(|l| l.to_string())
            .collect()
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        for p in &mut self.list {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
        if std::thread::panicking() {
            for p in &self.list {
                let tail = self.tail(p, 40);
                eprintln!("--- {} (last {} lines of stderr) ---", p.name, tail.len());
                for l in tail {
                    eprintln!("{l}");
                }
            }
        }
    }
}

/// The path of the external tool `name` (found on PATH), for tests of the
/// delivery files (systemd units, the Debian package), which `what` says.
/// A test that calls this is marked `#[cfg_attr(not(has_TOOL), ignore = …)]`
/// (build.rs sets `has_TOOL` when PATH has it at build time, and always
/// under CI, since `.ci/run` installs it): so here the tool must be there,
/// and its absence fails the test.
pub fn tool(name: &str, what: &str) -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not installed, so {what} cannot be tested \
                 (CI is set, or it was on PATH when the tests were built; .ci/run installs it)"
            )
        })
}

/// Runs `cmd` to completion (within `ms`); it must succeed.
pub fn run_cmd_ok(cmd: Command, ms: u64) -> Out {
    let what = format!("{cmd:?}");
    let out = run_within(cmd, ms);
    assert!(out.status.success(), "{what}: {out:#?}");
    out
}

/// Waits for `child` to exit; kills it and panics naming `what` after `ms`.
fn wait_within(child: &mut std::process::Child, ms: u64, what: &str) -> ExitStatus {
    let deadline = now_ms() + ms;
    loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            return s;
        }
        if now_ms() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish in {ms} ms");
        }
        std::thread::sleep(POLL);
    }
}

/// Runs `goodwill args…` within `ms` with its stdout a pipe whose reader
/// is already gone (`goodwill … | head -0`): every write to it fails with a
/// broken pipe. Returns its exit status and stderr.
pub fn run_with_closed_stdout(args: &[&str], ms: u64) -> (ExitStatus, String) {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let mut cmd = goodwill_command();
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped());
    let what = format!("{cmd:?}");
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{what}: {e}"));
    drop(cmd);
    let mut err = child.stderr.take().expect("piped");
    let drain = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    });
    let status = wait_within(&mut child, ms, &what);
    (status, drain.join().expect("stderr"))
}

/// How many of `n` cases (seeds, fault points, generated inputs) a
/// CPU-bound test runs: all of them natively, a quarter (at least one)
/// under the ARM emulators of .ci/arm (`goodwill_emulated`), where every
/// instruction costs 5–10 times as much and two targets' whole suites must
/// fit in CI's time. The emulated suites are there for what differs by
/// target (32-bit `usize`, alignment, the binary running at all), which a
/// quarter of the cases still reaches; the host runs every case.
pub const fn emulated_share(n: u32) -> u32 {
    if cfg!(goodwill_emulated) {
        let q = n / 4;
        if q == 0 {
            1
        } else {
            q
        }
    } else {
        n
    }
}

/// Fault points 1..=`total` a sweep visits: every one natively; under the
/// ARM emulators a share of them ([`emulated_share`]) spread over the
/// whole run.
pub fn fault_points(total: u64) -> impl Iterator<Item = u64> {
    let share = u64::from(emulated_share(u32::try_from(total).unwrap_or(u32::MAX)).max(1));
    (1..=total).step_by((total / share).max(1) as usize)
}

/// proptest's settings for `cases` cases (a share of them under emulation:
/// [`emulated_share`]), with the seeds of past failures
/// kept beside the test's source file (`led.rs` → `led.proptest-regressions`)
/// and read back before any new case. (proptest's default would look for a
/// `main.rs` above the file and use `tests/proptest-regressions/led.txt`.)
pub fn proptest_cases(cases: u32) -> proptest::test_runner::Config {
    let cases = emulated_share(cases);
    proptest::test_runner::Config {
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..proptest::test_runner::Config::with_cases(cases)
    }
}
