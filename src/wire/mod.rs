//! The wire protocol: length-prefixed postcard frames over TCP, a mutual
//! signed handshake, then messages. `docs/protocol.md` is the contract for
//! implementations in other languages; this module is the reference.
//!
//! - [`frame`]: the frame codec (bounded before allocation, one reusable
//!   buffer per connection, "incomplete" told apart from "invalid").
//! - [`handshake`]: the Hello/Auth exchange as pure functions.
//! - this file: every message and every limit.

pub mod frame;
pub mod handshake;

use serde::{Deserialize, Serialize};

use crate::chain::block::Block;
use crate::chain::codec::Bytes;
use crate::chain::crypto::{Hash, PublicKey, Signature};
use crate::chain::merkle::Proof;
use crate::chain::tx::SignedTransaction;
use crate::ledger::state::{Account, Proposal, Record};

/// The protocol version this code speaks.
pub const PROTOCOL_VERSION: u16 = 1;

/// Frame limits, by connection state. A frame's declared length is checked
/// against the limit of the connection's state before anything is read.
pub mod limits {
    /// Before the handshake completes: a Hello, an Auth or an Error.
    pub const HANDSHAKE_FRAME: u32 = 1024;
    /// From a client, after the handshake: transactions and queries. A
    /// contract deploy is the largest (`chain::limits::DEPLOY_TX_BYTES`,
    /// 68 KiB), with room for its message's framing.
    pub const CLIENT_FRAME: u32 = 72 * 1024;
    /// The largest frame a client accepts from a node (a sync answer full
    /// of blocks is the largest message there is).
    pub const CLIENT_READ_LIMIT: u32 = 64 << 20;
    /// Slack over the chain's block limit for a block message's header and
    /// framing.
    pub const BLOCK_OVERHEAD: u32 = 64 * 1024;
    /// Blocks in one sync answer.
    pub const MAX_BLOCKS_PER_REQUEST: u32 = 256;
    /// Addresses in one peer list.
    pub const MAX_PEERS_LISTED: usize = 64;
    /// A peer's listen address, as text.
    pub const ADDR: usize = 64;
    /// An error's text.
    pub const ERROR_TEXT: usize = 512;
    /// Transaction ids in one account-history answer.
    pub const MAX_HISTORY: u32 = 256;
    /// Events in one contract-events answer.
    pub const MAX_EVENTS: u32 = 256;
    /// The most fuel a read-only contract query runs with (HTTP and this
    /// protocol alike): a stranger's request must not cost a node a
    /// block's worth of execution. A paywall's `paid` uses ~43,000.
    pub const QUERY_FUEL: u64 = 2_000_000;
    /// Forgers in one forger-table answer.
    pub const MAX_FORGERS_LISTED: usize = 4096;
    /// A session silent this long (nothing received) is sent a
    /// [`Ping`](super::Message::Ping).
    pub const PING_AFTER_MS: u64 = 15_000;
    /// A session silent this long is closed: the peer is gone (a board that
    /// lost power sends no FIN).
    pub const SILENT_CLOSE_MS: u64 = 45_000;
    /// A frame whose length has arrived must be complete within this long.
    pub const FRAME_BODY_MS: u64 = 30_000;
    /// The handshake (both Hellos and Auths) must be over within this long.
    pub const HANDSHAKE_MS: u64 = 10_000;
    /// The most bytes of a release binary in one [`super::Answer::ReleaseBytes`].
    pub const RELEASE_CHUNK: usize = 64 * 1024;
    /// A release manifest file's most bytes (`runtime::update::MAX_FILE`).
    pub const RELEASE_MANIFEST: usize = 4096;
    /// A target triple's most bytes in [`super::Query::Release`].
    pub const RELEASE_TARGET: usize = 64;
}

/// Who is on the other end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    /// A main node: full ledger, relay, sync, queries.
    MainNode,
    /// A forging appliance.
    Forger,
    /// A temporary client: wallets, applications, `goodwill chain …`.
    Client,
}

impl Role {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Role::MainNode => "main-node",
            Role::Forger => "forger",
            Role::Client => "client",
        }
    }
}

/// A chain position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TipInfo {
    /// Height.
    pub height: u64,
    /// Tip hash.
    pub hash: Hash,
    /// Tip slot.
    pub slot: u64,
}

/// The first message each side sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// [`PROTOCOL_VERSION`].
    pub version: u16,
    /// The chain the sender is on.
    pub chain_id: Hash,
    /// What the sender is.
    pub role: Role,
    /// The sender's tip.
    pub tip: TipInfo,
    /// The sender's key (a client may use a fresh one per connection).
    pub key: PublicKey,
    /// Fresh random bytes: the other side signs them.
    pub nonce: [u8; 32],
    /// The sender's clock, ms since the Unix epoch.
    pub clock_ms: u64,
    /// A main node's listen address, for peer lists.
    pub listen: Option<Bytes<{ limits::ADDR }>>,
    /// The sender's software version, for status tables.
    pub software: Bytes<32>,
}

/// This build's [`Hello::software`]: `goodwill/VERSION`, cut to its 32 bytes.
pub fn software() -> Bytes<32> {
    format!("goodwill/{}", crate::version()).as_str().into()
}

/// Why a connection is being closed (sent in [`Message::Error`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorCode {
    /// Another protocol version.
    Version,
    /// Another chain.
    WrongChain,
    /// The handshake signature does not verify.
    BadSignature,
    /// A message that does not decode, or is over its limit.
    Malformed,
    /// A message not allowed now or from this role.
    OutOfTurn,
    /// Too many invalid transactions or blocks.
    Misbehaving,
    /// This address is banned for a while.
    Banned,
    /// Too many connections.
    Busy,
    /// Another session with the same forger key is connected.
    Doppelganger,
    /// The node is shutting down.
    ShuttingDown,
    /// Anything else.
    Other,
}

/// The outcome of a submitted transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxVerdict {
    /// In the mempool (or already known there or on chain).
    Accepted,
    /// Refused; the reason names what was wrong.
    Rejected(String),
}

/// A forger's health, as it reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ForgerStatus {
    /// Software version.
    pub version: Bytes<32>,
    /// Its chain height.
    pub height: u64,
    /// Its tip hash.
    pub tip: Hash,
    /// Its clock offset to this main node, ms (positive: ahead).
    pub clock_offset_ms: i64,
    /// Whether it trusts its clock enough to forge.
    pub clock_trusted: bool,
    /// Its LED state, as text ("green:heartbeat amber:on red:off").
    pub leds: Bytes<64>,
    /// Blocks forged this epoch.
    pub forged: u64,
    /// Slots led but missed this epoch.
    pub missed: u64,
    /// Weight held this epoch.
    pub weight: u64,
    /// CPU seconds used since start (×1000: ms).
    pub cpu_ms: u64,
    /// Resident memory, bytes.
    pub rss_bytes: u64,
    /// Bytes written per imported block (last).
    pub bytes_per_block: u64,
    /// Estimated energy since start, joules.
    pub energy_joules: u64,
    /// The board's throttling flags as its firmware reports them (a
    /// Raspberry Pi's `get_throttled`: bit 0 under-voltage now, 1 frequency
    /// capped, 2 throttled, 3 soft temperature limit, bits 16–19 the same
    /// since boot); None: unknown (not a Pi, or not readable).
    pub throttled: Option<u32>,
    /// The SoC temperature, millidegrees Celsius; None: unknown.
    pub soc_temp_mc: Option<i32>,
}

/// A chain's parameters, as a client needs them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainInfo {
    /// The chain id.
    pub chain_id: Hash,
    /// Its name.
    pub chain_name: String,
    /// When slot 0 starts, ms since the Unix epoch.
    pub start_ms: u64,
    /// Slot length, ms.
    pub slot_ms: u64,
    /// Slots per epoch.
    pub epoch_slots: u64,
    /// Block reward, units.
    pub block_reward: u64,
    /// The smallest fee, units.
    pub min_fee: u64,
    /// No reorganisation deeper than this: a transaction this many blocks
    /// deep is final.
    pub finality_depth: u64,
    /// Encoded bytes of one block's transactions.
    pub max_block_bytes: u32,
    /// Epochs a proposal (or a removal round) stays open for votes.
    pub proposal_ttl_epochs: u64,
    /// How many epochs ahead of the current one weight may be bought.
    pub max_weight_epochs_ahead: u64,
}

impl ChainInfo {
    /// The slot in progress at `now_ms` (slot 0 before the start).
    pub fn slot_at(&self, now_ms: u64) -> u64 {
        crate::chain::genesis::slot_at(self.start_ms, self.slot_ms, now_ms)
    }

    /// The epoch `slot` belongs to.
    pub fn epoch_of(&self, slot: u64) -> u64 {
        crate::chain::genesis::epoch_of(self.epoch_slots, slot)
    }
}

/// What a forging appliance says about itself (`goodwill status` on the Pi).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplianceStatus {
    /// Its forging key.
    pub key: PublicKey,
    /// Following the tip with a main node connected.
    pub synced: bool,
    /// Its tip.
    pub tip: TipInfo,
    /// Main nodes connected.
    pub main_nodes: u32,
    /// This clock minus the main nodes' (median), ms.
    pub clock_offset_ms: Option<i64>,
    /// How the clock is checked (`kernel+peers`, `peers`, `off`).
    pub clock_check: String,
    /// Whether the clock is trusted to forge.
    pub clock_trusted: bool,
    /// Why not, if not.
    pub clock_problem: Option<String>,
    /// The current epoch.
    pub epoch: u64,
    /// Weight held in it.
    pub weight: u64,
    /// Slots this key leads in it (from the tip on).
    pub slots_led: u64,
    /// Blocks forged in it.
    pub forged_epoch: u64,
    /// Slots led but missed in it.
    pub missed_epoch: u64,
    /// Blocks forged since start.
    pub forged_total: u64,
    /// Why the last led slot was missed.
    pub last_miss: Option<String>,
    /// The highest slot in the signing record.
    pub last_signed_slot: Option<u64>,
    /// CPU time per forged block (the slot's whole handling), microseconds.
    pub cpu_us_per_block: Option<u64>,
    /// Voluntary wake-ups per second, over the last minute.
    pub wakeups_per_s: f64,
    /// Resident memory, bytes.
    pub rss_bytes: u64,
    /// Bytes written to the store by the last imported block.
    pub bytes_per_block: u64,
    /// Bytes the last forged block wrote: its signing record and its import.
    pub bytes_per_forged_block: Option<u64>,
    /// CPU seconds since start.
    pub cpu_s: f64,
    /// Seconds since start.
    pub uptime_s: u64,
    /// Board profile name.
    pub board: String,
    /// Its idle and full-load watts.
    pub idle_w: f64,
    /// Its full-load watts.
    pub load_w: f64,
    /// Estimated energy since start, joules (see `Board::energy_joules`).
    pub energy_j: f64,
    /// The LEDs, as text.
    pub leds: String,
    /// The board's throttling flags (as in [`ForgerStatus::throttled`]);
    /// None: unknown.
    pub throttled: Option<u32>,
    /// The SoC temperature, millidegrees Celsius; None: unknown.
    pub soc_temp_mc: Option<i32>,
}

/// A forger's entry in a main node's table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForgerEntry {
    /// The forger's key.
    pub key: PublicKey,
    /// Connected now?
    pub connected: bool,
    /// When the last report arrived (ms since the Unix epoch, node's clock).
    pub reported_ms: u64,
    /// The last report.
    pub status: ForgerStatus,
}

/// What a node says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// Its role.
    pub role: Role,
    /// Its key.
    pub key: PublicKey,
    /// Software version.
    pub version: String,
    /// The chain id.
    pub chain_id: Hash,
    /// Its tip.
    pub tip: TipInfo,
    /// Connected main-node peers' addresses.
    pub peers: Vec<String>,
    /// Connected forgers.
    pub forgers: u32,
    /// Connected clients.
    pub clients: u32,
    /// Transactions in its mempool.
    pub mempool: u32,
    /// Seconds since it started.
    pub uptime_s: u64,
    /// Whether it is still catching up with a peer.
    pub syncing: bool,
}

/// A question to a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Query {
    /// The node's status.
    Status,
    /// The chain tip.
    Tip,
    /// An account's balance and nonce.
    Account(PublicKey),
    /// A canonical block by height.
    BlockAt(u64),
    /// A block by hash.
    Block(Hash),
    /// A transaction with its block header and inclusion proof.
    Tx(Hash),
    /// A data record's latest value, with the PutData transaction's proof.
    Record {
        /// Owner.
        owner: PublicKey,
        /// Key.
        key: Bytes<{ crate::chain::limits::DATA_KEY }>,
    },
    /// Every write to a record: (height, tx id), oldest first.
    RecordHistory {
        /// Owner.
        owner: PublicKey,
        /// Key.
        key: Bytes<{ crate::chain::limits::DATA_KEY }>,
    },
    /// An account's transaction ids, newest first.
    History {
        /// The account.
        account: PublicKey,
        /// At most this many (≤ [`limits::MAX_HISTORY`]).
        limit: u32,
    },
    /// The forger table.
    Forgers,
    /// Every association proposal.
    Associations,
    /// The next nonce a sender should use, counting its mempool transactions.
    NextNonce(PublicKey),
    /// A forging appliance's own figures (answered by forgers only).
    Appliance,
    /// The chain's parameters (from its genesis).
    Params,
    /// The live forgers of an epoch (who may vote on associations): the
    /// holders of weight in it, or the bootstrap forgers if nobody holds
    /// any, minus the voided; as the node's tip state knows them.
    LiveForgers(u64),
    /// The same live forgers with the weight their association votes weigh
    /// (bought, plus a bootstrap forger's notional weight while it counts).
    LiveWeights(u64),
    /// The chain's contract parameters (fuel price, block fuel, storage
    /// price), or None on a chain without contracts.
    ContractParams,
    /// A contract's account.
    Contract(Hash),
    /// A contract transaction's receipt, by transaction id.
    Receipt(Hash),
    /// A read-only run of a contract's `call` at the tip: nothing is
    /// written or charged.
    RunContract {
        /// The contract.
        contract: Hash,
        /// Who the run sees as its caller.
        caller: PublicKey,
        /// The input `call` reads.
        input: Bytes<{ crate::chain::limits::CONTRACT_INPUT }>,
        /// The value the run sees as received (nothing moves).
        value: u64,
        /// The most fuel it may use (≤ [`limits::QUERY_FUEL`]).
        fuel: u64,
    },
    /// A contract's events, newest first.
    ContractEvents {
        /// The contract.
        contract: Hash,
        /// At most this many (≤ [`limits::MAX_EVENTS`]).
        limit: u32,
    },
    /// A contract transaction's receipt with what proves it against the
    /// block's signed header: kept for the newest `finality_depth` blocks.
    ReceiptProof(Hash),
    /// The newest release a main node offers for a target triple: its
    /// manifest file (answered to live forgers' keys only, by a main node
    /// configured with a releases directory).
    Release {
        /// The target triple.
        target: Bytes<{ limits::RELEASE_TARGET }>,
    },
    /// Bytes of an offered release's binary, from `offset` (at most
    /// [`limits::RELEASE_CHUNK`]; none past its end).
    ReleaseBytes {
        /// The binary's SHA-256, as its manifest names it.
        sha256: Hash,
        /// Where to start.
        offset: u64,
    },
}

/// A receipt, provable from a signed header alone: the transaction's
/// inclusion proof, and every (key, value after) pair its block changed
/// in the state with the parent's state digest — which hash to the
/// header's `state_digest` — among them the receipt's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptProof {
    /// The transaction, its block's signed header and its inclusion proof.
    pub tx: TxProof,
    /// The state digest of the block's parent.
    pub parent_digest: Hash,
    /// The block's state changes as the digest takes them: (key, value
    /// after; None: removed), sorted by key, the tip left out.
    pub changes: Vec<(
        crate::ledger::state::StateKey,
        Option<crate::ledger::state::StateValue>,
    )>,
}

/// A contract's account, as a query answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractInfo {
    /// Its address.
    pub address: Hash,
    /// Its account: code hash, deployer, balance, stored bytes, height.
    pub account: crate::ledger::state::ContractAccount,
    /// The size of its code.
    pub code_bytes: u32,
}

/// What a read-only contract run did (nothing of it was applied).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractRun {
    /// How it ended.
    pub status: crate::ledger::state::ReceiptStatus,
    /// Fuel used, loading included.
    pub fuel_used: u64,
    /// Its return data.
    pub return_data: Bytes<1024>,
    /// The events it emitted.
    pub events: Vec<Bytes<256>>,
    /// The transfers it made out of the contract's balance.
    pub transfers: Vec<(PublicKey, u64)>,
    /// Storage keys it wrote or removed.
    pub writes: u32,
    /// The tip it ran on (it saw height `at_height + 1`).
    pub at_height: u64,
}

/// One event a contract emitted in a transaction that is on chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractEvent {
    /// The block's height.
    pub height: u64,
    /// The transaction.
    pub tx: Hash,
    /// The event's position among the transaction's events.
    pub index: u32,
    /// The event's bytes.
    pub data: Bytes<256>,
}

/// A transaction found on chain, with what a client needs to check it
/// against a header alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxProof {
    /// The transaction.
    pub tx: SignedTransaction,
    /// Its block's signed header.
    pub header: crate::chain::block::SignedHeader,
    /// Its inclusion proof under `header.tx_root`.
    pub proof: Proof,
}

/// An answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Answer {
    /// For [`Query::Status`].
    Status(NodeStatus),
    /// For [`Query::Tip`].
    Tip(TipInfo),
    /// For [`Query::Account`].
    Account(Account),
    /// For block queries.
    Block(Option<Block>),
    /// For [`Query::Tx`].
    Tx(Option<TxProof>),
    /// For [`Query::Record`].
    Record(Option<(Record, TxProof)>),
    /// For [`Query::RecordHistory`].
    RecordHistory(Vec<(u64, Hash)>),
    /// For [`Query::History`].
    History(Vec<Hash>),
    /// For [`Query::Forgers`].
    Forgers(Vec<ForgerEntry>),
    /// For [`Query::Associations`].
    Associations(Vec<(Hash, Proposal)>),
    /// For [`Query::NextNonce`].
    NextNonce(u64),
    /// For [`Query::Appliance`].
    Appliance(Box<ApplianceStatus>),
    /// For [`Query::Params`].
    Params(Box<ChainInfo>),
    /// The query could not be answered.
    Error(String),
    /// For [`Query::LiveForgers`]: sorted.
    LiveForgers(Vec<PublicKey>),
    /// For [`Query::LiveWeights`]: sorted by account.
    LiveWeights(Vec<(PublicKey, u64)>),
    /// For [`Query::ContractParams`].
    ContractParams(Option<crate::chain::genesis::ContractParams>),
    /// For [`Query::Contract`].
    Contract(Option<Box<ContractInfo>>),
    /// For [`Query::Receipt`]: None when the transaction is not on chain
    /// or is not a contract transaction.
    Receipt(Option<Box<crate::ledger::state::Receipt>>),
    /// For [`Query::RunContract`]: None when there is no such contract.
    ContractRun(Option<Box<ContractRun>>),
    /// For [`Query::ContractEvents`]: newest first.
    ContractEvents(Vec<ContractEvent>),
    /// For [`Query::ReceiptProof`]: None when the transaction is not on
    /// chain or is not a contract transaction; an [`Answer::Error`] when
    /// its block is older than the changes the node keeps.
    ReceiptProof(Option<Box<ReceiptProof>>),
    /// For [`Query::Release`]: the manifest file's text, None when nothing
    /// is offered for that target. The forger checks it (signature, key,
    /// counter, expiry): the main node is only its transport.
    Release(Option<Bytes<{ limits::RELEASE_MANIFEST }>>),
    /// For [`Query::ReleaseBytes`]: the bytes; empty at or past the end.
    ReleaseBytes(Bytes<{ limits::RELEASE_CHUNK }>),
}

/// What a watcher receives for an address it subscribed to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxEvent {
    /// The block's height.
    pub height: u64,
    /// The block's hash.
    pub block: Hash,
    /// The transaction.
    pub tx: SignedTransaction,
}

/// Every message after the handshake (and the handshake's own).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Message {
    /// Handshake, first message.
    Hello(Box<Hello>),
    /// Handshake, second message: the signature over the other side's nonce.
    Auth {
        /// See [`handshake`].
        signature: Signature,
    },
    /// Closing with a reason the other side can print.
    Error {
        /// Machine-readable.
        code: ErrorCode,
        /// For people.
        text: Bytes<{ limits::ERROR_TEXT }>,
    },
    /// A transaction submitted for inclusion; answered by [`Message::TxResult`].
    SubmitTx {
        /// Matches the answer.
        id: u32,
        /// The transaction.
        tx: SignedTransaction,
    },
    /// The answer to [`Message::SubmitTx`].
    TxResult {
        /// The request's id.
        id: u32,
        /// The verdict.
        verdict: TxVerdict,
    },
    /// A transaction relayed between nodes (no answer).
    NewTx(SignedTransaction),
    /// A block: relayed, or sent by its forger.
    NewBlock(Box<Block>),
    /// The sender's tip changed.
    Tip(TipInfo),
    /// Asks for canonical blocks `from..from+count` (count ≤ 256).
    GetBlocks {
        /// Matches the answer.
        id: u32,
        /// First height.
        from: u64,
        /// How many.
        count: u32,
    },
    /// Blocks for [`Message::GetBlocks`], lowest first (fewer than asked if
    /// the chain is shorter or the frame would be too large).
    Blocks {
        /// The request's id.
        id: u32,
        /// The blocks.
        blocks: Vec<Block>,
    },
    /// Asks for the known main nodes.
    GetPeers,
    /// Known main nodes' listen addresses.
    Peers(Vec<Bytes<{ limits::ADDR }>>),
    /// A forger's status report.
    Status(Box<ForgerStatus>),
    /// A question; answered by [`Message::Answer`] with the same id.
    Query {
        /// Matches the answer.
        id: u32,
        /// The question.
        query: Query,
    },
    /// An answer.
    Answer {
        /// The query's id.
        id: u32,
        /// The answer.
        answer: Box<Answer>,
    },
    /// Asks for every transaction touching `address` as it lands (and,
    /// with `since`, those from that height on first).
    Subscribe {
        /// The address.
        address: PublicKey,
        /// Replay from this height (inclusive) before live events.
        since: Option<u64>,
    },
    /// A transaction touching a subscribed address landed.
    Event(Box<TxEvent>),
    /// Are you there? Answered at once by [`Message::Pong`] with the same
    /// number. Sent by either side of a session after
    /// [`limits::PING_AFTER_MS`] of silence, and by a main node to probe an
    /// older session of a forger key when a second one arrives.
    Ping(u64),
    /// The answer to [`Message::Ping`].
    Pong(u64),
}

impl Message {
    /// A short name for logs and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Message::Hello(_) => "hello",
            Message::Auth { .. } => "auth",
            Message::Error { .. } => "error",
            Message::SubmitTx { .. } => "submit-tx",
            Message::TxResult { .. } => "tx-result",
            Message::NewTx(_) => "new-tx",
            Message::NewBlock(_) => "new-block",
            Message::Tip(_) => "tip",
            Message::GetBlocks { .. } => "get-blocks",
            Message::Blocks { .. } => "blocks",
            Message::GetPeers => "get-peers",
            Message::Peers(_) => "peers",
            Message::Status(_) => "status",
            Message::Query { .. } => "query",
            Message::Answer { .. } => "answer",
            Message::Subscribe { .. } => "subscribe",
            Message::Event(_) => "event",
            Message::Ping(_) => "ping",
            Message::Pong(_) => "pong",
        }
    }

    /// An error message with text (cut to the limit).
    pub fn error(code: ErrorCode, text: &str) -> Message {
        let mut t = text.as_bytes().to_vec();
        t.truncate(limits::ERROR_TEXT);
        while std::str::from_utf8(&t).is_err() {
            t.pop();
        }
        Message::Error {
            code,
            text: Bytes::new(t).expect("truncated to the limit"),
        }
    }
}

/// The largest frame a connection in full session with a peer of `role`
/// may send, given the chain's block limit.
pub fn frame_limit(role: Role, max_block_bytes: u32) -> u32 {
    match role {
        Role::Client => limits::CLIENT_FRAME,
        Role::Forger | Role::MainNode => max_block_bytes.saturating_add(limits::BLOCK_OVERHEAD),
    }
}

/// The largest frame a node reads from a session: block-sized only from
/// those who may send blocks — a main-node peer, and a forger whose key is
/// a live forger of the chain (`may_forge`: it may send its own block) —
/// and [`limits::CLIENT_FRAME`] from everyone else (clients, and a session
/// that claims to be a forger with a key that leads no slot).
pub fn read_limit(role: Role, may_forge: bool, max_block_bytes: u32) -> u32 {
    match role {
        Role::Forger if !may_forge => limits::CLIENT_FRAME,
        r => frame_limit(r, max_block_bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::frame::encode_frame;
    use super::*;
    use crate::chain::crypto::Keypair;

    /// The contract query of docs/protocol.md, section 14, byte for byte:
    /// what an app asks ("what did this address pay?") and the answer.
    #[test]
    fn the_worked_contract_query_is_what_the_docs_print() {
        let caller = Keypair::from_seed([1; 32]).unwrap().public();
        let mut input = vec![2u8];
        input.extend_from_slice(&caller.0);
        let q = Message::Query {
            id: 4,
            query: Query::RunContract {
                contract: Hash([0x55; 32]),
                caller,
                input: Bytes::new(input).unwrap(),
                value: 0,
                fuel: 1_000_000,
            },
        };
        assert_eq!(
            hex::encode(encode_frame(&q)),
            "690000000d0413\
             5555555555555555555555555555555555555555555555555555555555555555\
             8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c\
             2102\
             8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c\
             00c0843d"
        );
        let a = Message::Answer {
            id: 4,
            answer: Box::new(Answer::ContractRun(Some(Box::new(ContractRun {
                status: crate::ledger::state::ReceiptStatus::Ok,
                fuel_used: 43_219,
                return_data: Bytes::new(600u64.to_le_bytes().to_vec()).unwrap(),
                events: vec![],
                transfers: vec![],
                writes: 0,
                at_height: 12,
            })))),
        };
        assert_eq!(
            hex::encode(encode_frame(&a)),
            "150000000e041301 00 d3d102 08 5802000000000000 00 00 00 0c".replace(' ', "")
        );
    }
}
