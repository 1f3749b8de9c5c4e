//! A client of a main node: connects, does the handshake, asks and submits.
//! The command line's network verbs use it; applications can too.

use std::collections::VecDeque;

use smol::net::TcpStream;

use crate::chain::block::Block;
use crate::chain::codec::Bytes;
use crate::chain::crypto::{Hash, Keypair, PublicKey};
use crate::chain::tx::SignedTransaction;
use crate::ledger::state::Account;
use crate::wire::frame::{self, FrameError, FrameReader};
use crate::wire::handshake::{self, HandshakeError};
use crate::wire::{
    Answer, ForgerEntry, Hello, Message, NodeStatus, Query, Role, TipInfo, TxEvent, TxProof,
    TxVerdict, PROTOCOL_VERSION,
};

/// The largest frame a client accepts from a node.
pub use crate::wire::limits::CLIENT_READ_LIMIT;

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Could not reach the node.
    #[error("cannot reach {addr}: {source}")]
    Connect {
        /// The address.
        addr: String,
        /// The error.
        source: std::io::Error,
    },
    /// The handshake failed.
    #[error("handshake with {addr}: {source}")]
    Handshake {
        /// The address.
        addr: String,
        /// The error.
        source: HandshakeError,
    },
    /// The connection failed.
    #[error("connection to the node: {0}")]
    Frame(#[from] FrameError),
    /// The node closed the connection with a reason.
    #[error("the node closed the connection ({code:?}): {text}")]
    Closed {
        /// Its code.
        code: crate::wire::ErrorCode,
        /// Its reason.
        text: String,
    },
    /// The node answered something unexpected.
    #[error("unexpected answer from the node: {0}")]
    Unexpected(String),
    /// The node could not answer.
    #[error("the node says: {0}")]
    Node(String),
}

/// A connection to a main node.
#[derive(Debug)]
pub struct Client {
    reader: FrameReader<TcpStream>,
    writer: TcpStream,
    node: Hello,
    next_id: u32,
    events: VecDeque<TxEvent>,
}

impl Client {
    /// Connects as a client with a fresh key, to whatever chain the node is on.
    pub async fn connect(addr: &str) -> Result<Client, ClientError> {
        Client::connect_as(
            addr,
            &crate::runtime::os::new_keypair(),
            Role::Client,
            Hash::ZERO,
            None,
        )
        .await
    }

    /// Connects with a given key, role and chain (zero: any), announcing `tip`.
    pub async fn connect_as(
        addr: &str,
        key: &Keypair,
        role: Role,
        chain_id: Hash,
        tip: Option<TipInfo>,
    ) -> Result<Client, ClientError> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|source| ClientError::Connect {
                addr: addr.to_string(),
                source,
            })?;
        let _ = stream.set_nodelay(true);
        let mut writer = stream.clone();
        let mut reader = FrameReader::new(stream);
        let hello = Hello {
            version: PROTOCOL_VERSION,
            chain_id,
            role,
            tip: tip.unwrap_or(TipInfo {
                height: 0,
                hash: chain_id,
                slot: 0,
            }),
            key: key.public(),
            nonce: crate::runtime::os::random_bytes(),
            clock_ms: crate::runtime::os::now_ms(),
            listen: None,
            software: crate::wire::software(),
        };
        let node = handshake::run(&mut reader, &mut writer, key, &hello)
            .await
            .map_err(|source| ClientError::Handshake {
                addr: addr.to_string(),
                source,
            })?;
        Ok(Client {
            reader,
            writer,
            node,
            next_id: 0,
            events: VecDeque::new(),
        })
    }

    /// The node's Hello (its chain id, key, tip and clock at connection).
    pub fn node(&self) -> &Hello {
        &self.node
    }

    /// The chain the node is on.
    pub fn chain_id(&self) -> Hash {
        self.node.chain_id
    }

    fn id(&mut self) -> u32 {
        self.next_id = self.next_id.wrapping_add(1);
        self.next_id
    }

    /// Sends a raw message.
    pub async fn send(&mut self, msg: &Message) -> Result<(), ClientError> {
        frame::write(&mut self.writer, msg)
            .await
            .map_err(|e| ClientError::Frame(FrameError::Io(e)))
    }

    /// Reads the next message that is not an event (events are queued).
    async fn next_reply(&mut self) -> Result<Message, ClientError> {
        loop {
            match self.reader.read(CLIENT_READ_LIMIT).await? {
                Message::Event(e) => self.events.push_back(*e),
                // The node checks that the session is alive.
                Message::Ping(n) => self.send(&Message::Pong(n)).await?,
                Message::Pong(_) => {}
                Message::Error { code, text } => {
                    return Err(ClientError::Closed {
                        code,
                        text: text.lossy(),
                    })
                }
                other => return Ok(other),
            }
        }
    }

    /// Asks one question.
    pub async fn query(&mut self, query: Query) -> Result<Answer, ClientError> {
        let id = self.id();
        self.send(&Message::Query { id, query }).await?;
        loop {
            match self.next_reply().await? {
                Message::Answer { id: got, answer } if got == id => {
                    return match *answer {
                        Answer::Error(e) => Err(ClientError::Node(e)),
                        a => Ok(a),
                    }
                }
                Message::Answer { .. } | Message::TxResult { .. } | Message::Tip(_) => {}
                other => return Err(ClientError::Unexpected(other.name().into())),
            }
        }
    }

    /// Submits a transaction; returns the node's verdict.
    pub async fn submit(&mut self, tx: SignedTransaction) -> Result<TxVerdict, ClientError> {
        let id = self.id();
        self.send(&Message::SubmitTx { id, tx }).await?;
        loop {
            match self.next_reply().await? {
                Message::TxResult { id: got, verdict } if got == id => return Ok(verdict),
                Message::Answer { .. } | Message::TxResult { .. } | Message::Tip(_) => {}
                other => return Err(ClientError::Unexpected(other.name().into())),
            }
        }
    }

    /// Subscribes to transactions touching `address`, replaying from `since`.
    pub async fn subscribe(
        &mut self,
        address: PublicKey,
        since: Option<u64>,
    ) -> Result<(), ClientError> {
        self.send(&Message::Subscribe { address, since }).await
    }

    /// The next event of a subscription.
    pub async fn next_event(&mut self) -> Result<TxEvent, ClientError> {
        loop {
            if let Some(e) = self.events.pop_front() {
                return Ok(e);
            }
            // Not `next_reply`, which queues events while it waits for a
            // reply: a watcher asks nothing, so it would wait for ever with
            // its events in the queue.
            match self.reader.read(CLIENT_READ_LIMIT).await? {
                Message::Event(e) => return Ok(*e),
                Message::Ping(n) => self.send(&Message::Pong(n)).await?,
                Message::Pong(_) => {}
                Message::Error { code, text } => {
                    return Err(ClientError::Closed {
                        code,
                        text: text.lossy(),
                    })
                }
                Message::Answer { .. } | Message::TxResult { .. } | Message::Tip(_) => {}
                other => return Err(ClientError::Unexpected(other.name().into())),
            }
        }
    }

    /// The chain tip.
    pub async fn tip(&mut self) -> Result<TipInfo, ClientError> {
        match self.query(Query::Tip).await? {
            Answer::Tip(t) => Ok(t),
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    /// The node's status.
    pub async fn status(&mut self) -> Result<NodeStatus, ClientError> {
        match self.query(Query::Status).await? {
            Answer::Status(s) => Ok(s),
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    /// An account.
    pub async fn account(&mut self, pk: PublicKey) -> Result<Account, ClientError> {
        match self.query(Query::Account(pk)).await? {
            Answer::Account(a) => Ok(a),
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    /// A canonical block by height.
    pub async fn block_at(&mut self, height: u64) -> Result<Option<Block>, ClientError> {
        match self.query(Query::BlockAt(height)).await? {
            Answer::Block(b) => Ok(b),
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    /// A transaction with its header and proof.
    pub async fn tx(&mut self, id: Hash) -> Result<Option<TxProof>, ClientError> {
        match self.query(Query::Tx(id)).await? {
            Answer::Tx(t) => Ok(t),
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    /// The forger table.
    pub async fn forgers(&mut self) -> Result<Vec<ForgerEntry>, ClientError> {
        match self.query(Query::Forgers).await? {
            Answer::Forgers(f) => Ok(f),
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }
}

/// Checks a transaction's inclusion proof against its signed header alone:
/// the header's signature, and the Merkle path from the transaction's id to
/// the header's root. `Ok` names nothing; `Err` says what does not hold.
pub fn verify_tx_proof(p: &TxProof) -> Result<(), ProofError> {
    p.header.verify().map_err(ProofError::HeaderSignature)?;
    let id = p.tx.id();
    if !crate::chain::merkle::verify(&p.header.header.tx_root, &id, &p.proof) {
        return Err(ProofError::NotUnderRoot(id));
    }
    Ok(())
}

/// Why an inclusion proof ([`verify_tx_proof`]) or a record's proof
/// ([`verify_record`]) does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The header's signature does not verify.
    #[error("the block header's signature: {0}")]
    HeaderSignature(crate::chain::crypto::SignatureError),
    /// The Merkle path does not lead to the header's root.
    #[error("transaction {0} is not under the header's transaction root")]
    NotUnderRoot(Hash),
    /// The proof is for another transaction than the record's.
    #[error("the proof is for transaction {proof}, the record names {record}")]
    OtherTransaction {
        /// The proof's.
        proof: Hash,
        /// The record's.
        record: Hash,
    },
    /// The transaction was sent by another account than the record's owner.
    #[error("the transaction was sent by {sender}, not {owner}")]
    OtherSender {
        /// Its sender.
        sender: PublicKey,
        /// The record's owner.
        owner: PublicKey,
    },
    /// The transaction writes another key or value.
    #[error("the transaction does not write this key and value")]
    OtherData,
    /// The proof's block is at another height than the record says.
    #[error("the proof's block is at height {proof}, the record says {record}")]
    OtherHeight {
        /// The proof's.
        proof: u64,
        /// The record's.
        record: u64,
    },
    /// A receipt's state changes do not hash to the header's state digest.
    #[error("the block's state changes do not hash to its header's state digest")]
    StateDigest,
    /// The block's state changes hold no receipt for the transaction.
    #[error("the block's state changes hold no receipt for transaction {0}")]
    NoReceipt(Hash),
}

/// Checks a receipt's proof ([`crate::wire::ReceiptProof`]) against the
/// block's signed header alone: the transaction is under the header's
/// transaction root, the changes hash (with the parent's digest) to the
/// header's state digest, and they hold the transaction's receipt, which
/// is returned. The header's signature is the trust: as with a
/// transaction's proof, check who forged it (and that its block is on the
/// chain you follow) when it matters.
pub fn verify_receipt_proof(
    p: &crate::wire::ReceiptProof,
) -> Result<crate::ledger::state::Receipt, ProofError> {
    use crate::ledger::state::{StateKey, StateValue};
    verify_tx_proof(&p.tx)?;
    let digest = crate::ledger::state::digest_of_pairs(&p.parent_digest, &p.changes);
    if digest != p.tx.header.header.state_digest {
        return Err(ProofError::StateDigest);
    }
    let id = p.tx.tx.id();
    p.changes
        .iter()
        .find_map(|(k, v)| match (k, v) {
            (StateKey::Receipt(t), Some(StateValue::Receipt(r))) if *t == id => Some(r.clone()),
            _ => None,
        })
        .ok_or(ProofError::NoReceipt(id))
}

/// A contract transaction's receipt as read from a node, with the
/// client's own check of its proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenReceipt {
    /// The receipt.
    pub receipt: crate::ledger::state::Receipt,
    /// The transaction with its block's signed header and inclusion proof.
    pub tx: TxProof,
    /// Whether [`verify_receipt_proof`] held.
    pub verified: bool,
    /// Why not, if not: a proof that did not hold, or the node keeping no
    /// proof for a block that old (then `receipt` is the node's word).
    pub problem: Option<String>,
}

/// A data record as read from a node, with the client's own check of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRecord {
    /// The value.
    pub value: Vec<u8>,
    /// The height of the block that wrote it.
    pub height: u64,
    /// The PutData transaction's id.
    pub tx: Hash,
    /// Whether the inclusion proof checked out against the signed header.
    pub verified: bool,
    /// What did not check out, if anything.
    pub problem: Option<String>,
}

/// Checks that `p` proves the record `r` of `owner` under `key`.
pub fn verify_record(
    owner: &PublicKey,
    key: &[u8],
    r: &crate::ledger::state::Record,
    p: &TxProof,
) -> Result<(), ProofError> {
    if p.tx.id() != r.tx {
        return Err(ProofError::OtherTransaction {
            proof: p.tx.id(),
            record: r.tx,
        });
    }
    if p.tx.tx.sender != *owner {
        return Err(ProofError::OtherSender {
            sender: p.tx.tx.sender,
            owner: *owner,
        });
    }
    match &p.tx.tx.kind {
        crate::chain::tx::TxKind::PutData { key: k, value }
            if k.as_slice() == key && *value == r.value => {}
        _ => return Err(ProofError::OtherData),
    }
    if p.header.header.height != r.height {
        return Err(ProofError::OtherHeight {
            proof: p.header.header.height,
            record: r.height,
        });
    }
    verify_tx_proof(p)
}

impl Client {
    /// The chain's parameters.
    pub async fn params(&mut self) -> Result<crate::wire::ChainInfo, ClientError> {
        match self.query(Query::Params).await? {
            Answer::Params(p) => Ok(*p),
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    /// The live forgers of `epoch` (who may vote on associations), sorted.
    pub async fn live_forgers(&mut self, epoch: u64) -> Result<Vec<PublicKey>, ClientError> {
        match self.query(Query::LiveForgers(epoch)).await? {
            Answer::LiveForgers(l) => Ok(l),
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    /// The live forgers of `epoch` with their voting weight, sorted by
    /// account.
    pub async fn live_weights(&mut self, epoch: u64) -> Result<Vec<(PublicKey, u64)>, ClientError> {
        match self.query(Query::LiveWeights(epoch)).await? {
            Answer::LiveWeights(l) => Ok(l),
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Every association proposal by id: pending, approved, removed, and
    /// the genesis associations.
    pub async fn associations(
        &mut self,
    ) -> Result<Vec<(Hash, crate::ledger::state::Proposal)>, ClientError> {
        match self.query(Query::Associations).await? {
            Answer::Associations(a) => Ok(a),
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Every write to a record, as (height, transaction id), oldest first.
    pub async fn record_history(
        &mut self,
        owner: PublicKey,
        name: &[u8],
    ) -> Result<Vec<(u64, Hash)>, ClientError> {
        let key = Bytes::new(name.to_vec())
            .map_err(|e| ClientError::Node(format!("record name: {e}")))?;
        match self.query(Query::RecordHistory { owner, key }).await? {
            Answer::RecordHistory(h) => Ok(h),
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    /// An account's balance and nonce.
    pub async fn balance(&mut self, pk: PublicKey) -> Result<Account, ClientError> {
        self.account(pk).await
    }

    /// The nonce `pk`'s next transaction should carry (counting its
    /// transactions waiting in the node's mempool).
    pub async fn next_nonce(&mut self, pk: PublicKey) -> Result<u64, ClientError> {
        match self.query(Query::NextNonce(pk)).await? {
            Answer::NextNonce(n) => Ok(n),
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Signs and submits a transaction of `kind` from `key` with the next
    /// nonce and `fee` (default: the chain's minimum). Returns its id once the
    /// node has accepted it into its mempool; a refusal is
    /// [`ClientError::Node`] with the node's reason.
    pub async fn send_tx(
        &mut self,
        key: &Keypair,
        kind: crate::chain::tx::TxKind,
        fee: Option<u64>,
        memo: &[u8],
    ) -> Result<Hash, ClientError> {
        let fee = match fee {
            Some(f) => f,
            None => self.params().await?.min_fee,
        };
        let nonce = self.next_nonce(key.public()).await?;
        let tx = self.sign(key, nonce, fee, kind, memo)?;
        self.submit_signed(tx).await
    }

    fn sign(
        &self,
        key: &Keypair,
        nonce: u64,
        fee: u64,
        kind: crate::chain::tx::TxKind,
        memo: &[u8],
    ) -> Result<SignedTransaction, ClientError> {
        let memo = crate::chain::tx::Memo::new(memo.to_vec())
            .map_err(|e| ClientError::Node(format!("memo: {e}")))?;
        Ok(crate::chain::tx::Transaction {
            chain_id: self.chain_id(),
            sender: key.public(),
            nonce,
            fee,
            kind,
            memo,
        }
        .sign(key))
    }

    /// Submits a signed transaction; its id once the node accepted it.
    async fn submit_signed(&mut self, tx: SignedTransaction) -> Result<Hash, ClientError> {
        let id = tx.id();
        match self.submit(tx).await? {
            TxVerdict::Accepted => Ok(id),
            TxVerdict::Rejected(why) => Err(ClientError::Node(why)),
        }
    }

    /// The chain's contract parameters, or None on a chain without
    /// contracts.
    pub async fn contract_params(
        &mut self,
    ) -> Result<Option<crate::chain::genesis::ContractParams>, ClientError> {
        match self.query(Query::ContractParams).await? {
            Answer::ContractParams(p) => Ok(p),
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    /// The fee a contract transaction with `fuel_limit` must offer at
    /// least: `min_fee + fuel_limit × fuel_price`.
    pub async fn contract_fee(&mut self, fuel_limit: u64) -> Result<u64, ClientError> {
        let min_fee = self.params().await?.min_fee;
        let price = self
            .contract_params()
            .await?
            .ok_or_else(|| ClientError::Node("this chain has no contracts".into()))?
            .fuel_price;
        fuel_limit
            .checked_mul(price)
            .and_then(|f| f.checked_add(min_fee))
            .ok_or_else(|| ClientError::Node(format!("fuel limit {fuel_limit} is too large")))
    }

    /// Deploys `code` from `key`, its `deploy` reading `init`, with at most
    /// `fuel_limit` fuel and the smallest fee that allows (`fee` None).
    /// Returns the transaction's id and the contract's address (known
    /// before it lands: it is derived from the sender and its nonce).
    pub async fn deploy_contract(
        &mut self,
        key: &Keypair,
        code: &[u8],
        init: &[u8],
        fuel_limit: u64,
        fee: Option<u64>,
    ) -> Result<(Hash, Hash), ClientError> {
        let kind = crate::chain::tx::TxKind::DeployContract {
            code: Bytes::new(code.to_vec())
                .map_err(|e| ClientError::Node(format!("contract code: {e}")))?,
            init: Bytes::new(init.to_vec())
                .map_err(|e| ClientError::Node(format!("init input: {e}")))?,
            fuel_limit,
        };
        let fee = match fee {
            Some(f) => f,
            None => self.contract_fee(fuel_limit).await?,
        };
        let nonce = self.next_nonce(key.public()).await?;
        let tx = self.sign(key, nonce, fee, kind, &[])?;
        let address = crate::ledger::contract::address(&self.chain_id(), &key.public(), nonce);
        Ok((self.submit_signed(tx).await?, address))
    }

    /// Calls `contract` from `key` with `input`, sending it `value`, with at
    /// most `fuel_limit` fuel and the smallest fee that allows (`fee`
    /// None). Returns the transaction's id; its outcome is its receipt
    /// ([`Client::wait_for_receipt`]).
    pub async fn call_contract(
        &mut self,
        key: &Keypair,
        contract: Hash,
        input: &[u8],
        value: u64,
        fuel_limit: u64,
        fee: Option<u64>,
    ) -> Result<Hash, ClientError> {
        let kind = crate::chain::tx::TxKind::CallContract {
            contract,
            input: Bytes::new(input.to_vec())
                .map_err(|e| ClientError::Node(format!("call input: {e}")))?,
            value,
            fuel_limit,
        };
        let fee = match fee {
            Some(f) => f,
            None => self.contract_fee(fuel_limit).await?,
        };
        self.send_tx(key, kind, Some(fee), &[]).await
    }

    /// A contract's account, or None if nothing is deployed there.
    pub async fn contract(
        &mut self,
        address: Hash,
    ) -> Result<Option<crate::wire::ContractInfo>, ClientError> {
        match self.query(Query::Contract(address)).await? {
            Answer::Contract(c) => Ok(c.map(|c| *c)),
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    /// A contract transaction's receipt, once it is on chain.
    pub async fn receipt(
        &mut self,
        tx: Hash,
    ) -> Result<Option<crate::ledger::state::Receipt>, ClientError> {
        match self.query(Query::Receipt(tx)).await? {
            Answer::Receipt(r) => Ok(r.map(|r| *r)),
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    /// A contract transaction's receipt with its proof checked here, on
    /// the client ([`verify_receipt_proof`]). A node keeps what proves a
    /// receipt for the newest `finality_depth` blocks; for an older one the
    /// receipt is the node's word (`verified` false, and `problem` says
    /// so). None if the transaction is not on chain or is not a contract
    /// transaction.
    pub async fn proven_receipt(&mut self, id: Hash) -> Result<Option<ProvenReceipt>, ClientError> {
        match self.query(Query::ReceiptProof(id)).await {
            Ok(Answer::ReceiptProof(None)) => Ok(None),
            Ok(Answer::ReceiptProof(Some(p))) => {
                let checked = verify_receipt_proof(&p);
                let receipt = match &checked {
                    Ok(r) => r.clone(),
                    Err(_) => match self.receipt(id).await? {
                        Some(r) => r,
                        None => return Ok(None),
                    },
                };
                Ok(Some(ProvenReceipt {
                    receipt,
                    tx: p.tx,
                    verified: checked.is_ok(),
                    problem: checked.err().map(|e| e.to_string()),
                }))
            }
            // No proof kept for a block that old (or a node that cannot
            // give one): the receipt, as the node's word.
            Err(ClientError::Node(why)) => {
                let (Some(tx), Some(receipt)) = (self.tx(id).await?, self.receipt(id).await?)
                else {
                    return Ok(None);
                };
                verify_tx_proof(&tx).map_err(|e| ClientError::Node(e.to_string()))?;
                Ok(Some(ProvenReceipt {
                    receipt,
                    tx,
                    verified: false,
                    problem: Some(why),
                }))
            }
            Ok(other) => Err(ClientError::Unexpected(format!("{other:?}"))),
            Err(e) => Err(e),
        }
    }

    /// Waits until contract transaction `id` is in a block (its inclusion
    /// proof verified); returns its receipt, proven when the node still
    /// keeps the proof (it does for the newest `finality_depth` blocks).
    pub async fn wait_for_receipt(
        &mut self,
        id: Hash,
        timeout_ms: u64,
    ) -> Result<ProvenReceipt, ClientError> {
        self.wait_for_tx(id, timeout_ms).await?;
        self.proven_receipt(id).await?.ok_or_else(|| {
            // Reorganised away between the two questions, or not a contract
            // transaction.
            ClientError::Node(format!(
                "transaction {id} has no receipt: not a contract transaction, or no longer on chain"
            ))
        })
    }

    /// Runs `contract`'s `call` read-only at the tip, as `caller` sending
    /// `value` (nothing moves), with at most `fuel` fuel (the node caps it
    /// at [`crate::wire::limits::QUERY_FUEL`]). None if there is no such
    /// contract.
    pub async fn query_contract(
        &mut self,
        contract: Hash,
        caller: PublicKey,
        input: &[u8],
        value: u64,
        fuel: u64,
    ) -> Result<Option<crate::wire::ContractRun>, ClientError> {
        let input = Bytes::new(input.to_vec())
            .map_err(|e| ClientError::Node(format!("query input: {e}")))?;
        let q = Query::RunContract {
            contract,
            caller,
            input,
            value,
            fuel,
        };
        match self.query(q).await? {
            Answer::ContractRun(r) => Ok(r.map(|r| *r)),
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    /// A contract's events, newest first (at most `limit`, and 256).
    pub async fn contract_events(
        &mut self,
        contract: Hash,
        limit: u32,
    ) -> Result<Vec<crate::wire::ContractEvent>, ClientError> {
        match self
            .query(Query::ContractEvents { contract, limit })
            .await?
        {
            Answer::ContractEvents(e) => Ok(e),
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Sends `amount` from `key` to `to`.
    pub async fn transfer(
        &mut self,
        key: &Keypair,
        to: PublicKey,
        amount: u64,
        fee: Option<u64>,
        memo: &[u8],
    ) -> Result<Hash, ClientError> {
        self.send_tx(
            key,
            crate::chain::tx::TxKind::Transfer { to, amount },
            fee,
            memo,
        )
        .await
    }

    /// Stores `value` under (`key`'s account, `name`).
    pub async fn put_data(
        &mut self,
        key: &Keypair,
        name: &[u8],
        value: &[u8],
    ) -> Result<Hash, ClientError> {
        let kind = crate::chain::tx::TxKind::PutData {
            key: Bytes::new(name.to_vec())
                .map_err(|e| ClientError::Node(format!("record name: {e}")))?,
            value: Bytes::new(value.to_vec())
                .map_err(|e| ClientError::Node(format!("record value: {e}")))?,
        };
        self.send_tx(key, kind, None, &[]).await
    }

    /// The latest value of (`owner`, `name`), checked against its block's
    /// signed header here, on the client.
    pub async fn get_data(
        &mut self,
        owner: PublicKey,
        name: &[u8],
    ) -> Result<Option<VerifiedRecord>, ClientError> {
        let key = Bytes::new(name.to_vec())
            .map_err(|e| ClientError::Node(format!("record name: {e}")))?;
        match self.query(Query::Record { owner, key }).await? {
            Answer::Record(None) => Ok(None),
            Answer::Record(Some((r, p))) => {
                let check = verify_record(&owner, name, &r, &p);
                Ok(Some(VerifiedRecord {
                    value: r.value.as_slice().to_vec(),
                    height: r.height,
                    tx: r.tx,
                    verified: check.is_ok(),
                    problem: check.err().map(|e| e.to_string()),
                }))
            }
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Waits until transaction `id` is in a block (checking every half slot,
    /// at most `timeout_ms`); returns it with its verified proof.
    pub async fn wait_for_tx(&mut self, id: Hash, timeout_ms: u64) -> Result<TxProof, ClientError> {
        let slot_ms = self.params().await?.slot_ms.max(2);
        let deadline = crate::runtime::os::now_ms() + timeout_ms;
        loop {
            if let Some(p) = self.tx(id).await? {
                verify_tx_proof(&p).map_err(|e| ClientError::Node(e.to_string()))?;
                return Ok(p);
            }
            if crate::runtime::os::now_ms() >= deadline {
                return Err(ClientError::Node(format!(
                    "transaction {id} is not in a block after {} s",
                    timeout_ms / 1000
                )));
            }
            smol::Timer::after(std::time::Duration::from_millis(slot_ms / 2)).await;
        }
    }

    /// The ids of an account's transactions, newest first.
    pub async fn history(
        &mut self,
        account: PublicKey,
        limit: u32,
    ) -> Result<Vec<Hash>, ClientError> {
        match self.query(Query::History { account, limit }).await? {
            Answer::History(h) => Ok(h),
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    /// A final payment from `from` to `to` of at least `min_amount` (with
    /// `memo`, if given) in a block at `since` or above: the "did this user
    /// pay" check. Final means at least `finality_depth` blocks deep, so it
    /// can no longer be undone. Returns the transaction with its verified
    /// proof, or None.
    pub async fn payment_received(
        &mut self,
        from: PublicKey,
        to: PublicKey,
        min_amount: u64,
        memo: Option<&[u8]>,
        since: u64,
    ) -> Result<Option<TxProof>, ClientError> {
        let finality = self.params().await?.finality_depth;
        let tip = self.tip().await?;
        for id in self.history(to, crate::wire::limits::MAX_HISTORY).await? {
            let Some(p) = self.tx(id).await? else {
                continue;
            };
            let h = p.header.header.height;
            if h < since {
                break; // newest first: the rest are older
            }
            let t = &p.tx.tx;
            let pays = matches!(t.kind, crate::chain::tx::TxKind::Transfer { to: rcv, amount } if rcv == to && amount >= min_amount);
            let memo_ok = memo.is_none_or(|m| t.memo.as_slice() == m);
            let is_final = tip.height >= h + finality;
            if t.sender == from && pays && memo_ok && is_final && verify_tx_proof(&p).is_ok() {
                return Ok(Some(p));
            }
        }
        Ok(None)
    }
}

/// Follows every transaction touching an address as it lands, across
/// reconnects, never repeating one and never skipping one it was shown
/// (it resubscribes from the last height it delivered and skips what it
/// already delivered there).
#[derive(Debug)]
pub struct Watcher {
    addr: String,
    address: PublicKey,
    client: Option<Client>,
    height: u64,
    delivered_here: std::collections::BTreeSet<Hash>,
    backoff_ms: u64,
}

impl Watcher {
    /// Watches `address` on the node at `addr`, from height `since` (None:
    /// from now on).
    pub fn new(addr: &str, address: PublicKey, since: Option<u64>) -> Watcher {
        Watcher {
            addr: addr.to_string(),
            address,
            client: None,
            height: since.unwrap_or(u64::MAX),
            delivered_here: Default::default(),
            backoff_ms: 500,
        }
    }

    /// The next transaction touching the address. Reconnects (with backoff)
    /// when the node goes away; returns an error only for a handshake the
    /// node refuses.
    pub async fn next(&mut self) -> Result<TxEvent, ClientError> {
        loop {
            if self.client.is_none() {
                match Client::connect(&self.addr).await {
                    Ok(mut c) => {
                        if self.height == u64::MAX {
                            // From now on: the next block. Replaying from it
                            // (usually nothing) also catches a block applied
                            // between this query and the subscription.
                            match c.tip().await {
                                Ok(tip) => self.height = tip.height + 1,
                                Err(_) => {
                                    self.pause().await;
                                    continue;
                                }
                            }
                        }
                        if c.subscribe(self.address, Some(self.height)).await.is_err() {
                            self.pause().await;
                            continue;
                        }
                        self.client = Some(c);
                        self.backoff_ms = 500;
                    }
                    Err(e @ ClientError::Handshake { .. }) => return Err(e),
                    Err(_) => {
                        self.pause().await;
                        continue;
                    }
                }
            }
            let c = self.client.as_mut().expect("connected above");
            match c.next_event().await {
                Ok(e) => {
                    let id = e.tx.id();
                    if e.height < self.height {
                        continue;
                    }
                    if e.height > self.height {
                        self.height = e.height;
                        self.delivered_here.clear();
                    }
                    if !self.delivered_here.insert(id) {
                        continue;
                    }
                    return Ok(e);
                }
                Err(_) => {
                    self.client = None;
                }
            }
        }
    }

    /// Waits before the next connection attempt (500 ms, doubling to 10 s).
    async fn pause(&mut self) {
        smol::Timer::after(std::time::Duration::from_millis(self.backoff_ms)).await;
        self.backoff_ms = (self.backoff_ms * 2).min(10_000);
    }
}

/// Every transaction touching `address` on the node at `addr`, as a stream:
/// a [`Watcher`] (from height `since`, None: from the next block on) that
/// reconnects by itself. The stream ends after its first error (a handshake
/// the node refuses: another chain or protocol version, a ban); make a new
/// one to try again.
///
/// Events are not retracted after a reorganisation: before relying on a
/// payment, confirm it with [`Client::payment_received`] or [`Client::tx`]
/// once it is final.
///
/// ```no_run
/// use futures_lite::StreamExt;
/// # async fn f(me: goodwill::chain::crypto::PublicKey) -> Result<(), goodwill::runtime::client::ClientError> {
/// let mut events = std::pin::pin!(goodwill::runtime::client::watch("127.0.0.1:7070", me, None));
/// while let Some(event) = events.next().await {
///     let event = event?;
///     println!("{} at height {}", event.tx.id(), event.height);
/// }
/// # Ok(()) }
/// ```
pub fn watch(
    addr: &str,
    address: PublicKey,
    since: Option<u64>,
) -> impl futures_lite::Stream<Item = Result<TxEvent, ClientError>> {
    futures_lite::stream::unfold(
        Some(Watcher::new(addr, address, since)),
        |watcher| async move {
            let mut w = watcher?;
            match w.next().await {
                Ok(e) => Some((Ok(e), Some(w))),
                Err(e) => Some((Err(e), None)),
            }
        },
    )
}
