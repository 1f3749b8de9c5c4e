//! Transactions: what they say, how they are signed, and their ids.
//!
//! The signature covers `tag::TX ‖ chain id ‖ encode(Transaction)`; the id is
//! the SHA-256 of the signed encoding (`encode(SignedTransaction)`, which is
//! `encode(Transaction) ‖ signature`).

use serde::{Deserialize, Serialize};

use crate::chain::codec::{self, encode, Bytes, CodecError};
use crate::chain::crypto::{self, tag, Hash, Keypair, PublicKey, Signature, SignatureError};
use crate::chain::header::SignedHeader;
use crate::chain::limits;

/// A memo: at most 64 bytes, free text or a payment reference.
pub type Memo = Bytes<{ limits::MEMO }>;

/// What a transaction does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxKind {
    /// Moves `amount` from the sender to `to`.
    Transfer {
        /// The receiver.
        to: PublicKey,
        /// How much, in the smallest unit.
        amount: u64,
    },
    /// Donates `amount` to an approved association and adds it to the
    /// sender's forging weight in `epoch` (at least two epochs ahead).
    BuyWeight {
        /// The epoch the weight is for.
        epoch: u64,
        /// How much is donated, and how much weight it buys.
        amount: u64,
        /// The approved association's account.
        association: PublicKey,
    },
    /// Asks for `account` to be listed as an association; `proof` is
    /// `account`'s signature (tag `goodwill/association/v1`) over
    /// `encode((name, url))`, showing the proposer controls the receiving key.
    ProposeAssociation {
        /// Its name.
        name: Bytes<{ limits::ASSOCIATION_NAME }>,
        /// Where to read about it.
        url: Bytes<{ limits::ASSOCIATION_URL }>,
        /// The account that would receive donations.
        account: PublicKey,
        /// The account's signature over (chain id, name, url).
        proof: Signature,
    },
    /// A live forger's vote: on a pending proposal, yes approves; on an
    /// approved association, no asks for its removal.
    VoteAssociation {
        /// The proposal's id (the id of the ProposeAssociation transaction).
        proposal: Hash,
        /// Yes or no.
        approve: bool,
    },
    /// Stores `value` under (sender, `key`); the latest write wins.
    PutData {
        /// 1 to 64 bytes.
        key: Bytes<{ limits::DATA_KEY }>,
        /// At most 1 KiB.
        value: Bytes<{ limits::DATA_VALUE }>,
    },
    /// Two different headers signed by one forger for one slot.
    ReportEquivocation {
        /// One header.
        header_a: Box<SignedHeader>,
        /// Another header for the same slot, by the same forger.
        header_b: Box<SignedHeader>,
    },
    /// Deploys a contract (docs/design.md, "Contracts"): its address is
    /// `ledger::contract::address(chain id, sender, nonce)`; its `deploy`
    /// export, if any, runs with `init` as input.
    DeployContract {
        /// The WebAssembly module, at most 64 KiB.
        code: Bytes<{ limits::CONTRACT_CODE }>,
        /// The input of its `deploy` run.
        init: Bytes<{ limits::CONTRACT_INPUT }>,
        /// The most fuel loading and deploying may use; the fee pays for it.
        fuel_limit: u64,
    },
    /// Calls a contract's `call` export with `input`, sending it `value`.
    CallContract {
        /// The contract's address.
        contract: Hash,
        /// The call's input.
        input: Bytes<{ limits::CONTRACT_INPUT }>,
        /// Coins sent to the contract (returned if the call fails).
        value: u64,
        /// The most fuel loading and the call may use; the fee pays for it.
        fuel_limit: u64,
    },
}

impl TxKind {
    /// A short name for logs and tables.
    pub fn name(&self) -> &'static str {
        match self {
            TxKind::Transfer { .. } => "transfer",
            TxKind::BuyWeight { .. } => "buy-weight",
            TxKind::ProposeAssociation { .. } => "propose-association",
            TxKind::VoteAssociation { .. } => "vote-association",
            TxKind::PutData { .. } => "put-data",
            TxKind::ReportEquivocation { .. } => "report-equivocation",
            TxKind::DeployContract { .. } => "deploy-contract",
            TxKind::CallContract { .. } => "call-contract",
        }
    }

    /// The fuel limit of a contract transaction; none for the other kinds.
    pub fn fuel_limit(&self) -> Option<u64> {
        match self {
            TxKind::DeployContract { fuel_limit, .. } | TxKind::CallContract { fuel_limit, .. } => {
                Some(*fuel_limit)
            }
            _ => None,
        }
    }

    /// The most bytes a signed transaction of this kind may encode to.
    pub fn size_limit(&self) -> usize {
        match self {
            TxKind::DeployContract { .. } => limits::DEPLOY_TX_BYTES,
            _ => limits::TX_BYTES,
        }
    }
}

/// An unsigned transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// The chain it is meant for.
    pub chain_id: Hash,
    /// Who pays and signs.
    pub sender: PublicKey,
    /// The sender's next nonce (0 for an account's first transaction).
    pub nonce: u64,
    /// Paid to the block's forger; at least the chain's minimum fee.
    pub fee: u64,
    /// What it does.
    pub kind: TxKind,
    /// At most 64 bytes.
    pub memo: Memo,
}

impl Transaction {
    /// Signs it with `key`, which must be the sender's.
    pub fn sign(self, key: &Keypair) -> SignedTransaction {
        debug_assert_eq!(
            key.public(),
            self.sender,
            "signing with another key than the sender's"
        );
        let signature = key.sign(tag::TX, &self.chain_id, &encode(&self));
        SignedTransaction {
            tx: self,
            signature,
        }
    }
}

/// A transaction with its signature: what travels and what blocks hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedTransaction {
    /// The transaction.
    pub tx: Transaction,
    /// The sender's signature.
    pub signature: Signature,
}

impl SignedTransaction {
    /// The canonical bytes (what the id hashes, what the wire carries).
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decodes one canonical signed transaction (at most
    /// [`crate::chain::limits::DEPLOY_TX_BYTES`]; [`Self::check`] holds
    /// every kind but a deploy to [`crate::chain::limits::TX_BYTES`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<SignedTransaction, CodecError> {
        codec::decode("transaction", bytes, limits::DEPLOY_TX_BYTES)
    }

    /// The id: SHA-256 of the signed encoding.
    pub fn id(&self) -> Hash {
        Hash::of(&[&encode(self)])
    }

    /// Checks everything that needs no ledger state: size, the signature, and
    /// that any key that will receive coins is a usable key. Returns the id and
    /// the encoded size. What a node asks of a transaction it is handed alone
    /// (a submission, the mempool).
    pub fn check(&self) -> Result<CheckedTx, StatelessError> {
        let checked = self.check_signature()?;
        if let TxKind::Transfer { to, .. } = &self.tx.kind {
            check_receiver(to)?;
        }
        Ok(checked)
    }

    /// Size and signature only: the expensive part of validation, and the
    /// part that runs in parallel. A block's transfers have their receiver
    /// checked by the ledger instead, and only when the receiver has no
    /// account yet (every key that holds one was checked when it got it).
    pub fn check_signature(&self) -> Result<CheckedTx, StatelessError> {
        let (body, checked) = self.body_within_limit()?;
        crypto::verify(
            &self.tx.sender,
            tag::TX,
            &self.tx.chain_id,
            &body,
            &self.signature,
        )
        .map_err(StatelessError::Signature)?;
        Ok(checked)
    }

    /// The signed body, if the whole is within its kind's size limit, and
    /// the id and size the checks return.
    fn body_within_limit(&self) -> Result<(Vec<u8>, CheckedTx), StatelessError> {
        let body = encode(&self.tx);
        let size = body.len() + 64;
        let limit = self.tx.kind.size_limit();
        if size > limit {
            return Err(StatelessError::TooLarge { size, limit });
        }
        let id = Hash::of(&[&body, &self.signature.0]);
        Ok((body, CheckedTx { id, size }))
    }
}

/// Fewer transactions than this are checked one by one: a batch's fixed
/// work (drawing its coefficients, the base point's term) is worth sharing
/// only among several.
const BATCH_FROM: usize = 4;

/// [`SignedTransaction::check_signature`] of each of `txs`, in order, with
/// the signatures checked as one [`crypto::SignatureBatch`]; the first
/// failure's index and error, or every id and size.
///
/// The answers are those of checking one by one: a batch accepts exactly
/// when every signature in it verifies (but for a chance of about 2⁻¹²⁷,
/// see [`crypto::SignatureBatch`]), and when anything fails (a size over
/// its limit, a key or signature that cannot decode, a batch that does not
/// verify), every transaction is checked alone, in order, so the index and
/// the error are exactly [`SignedTransaction::check_signature`]'s.
pub fn check_signatures(
    txs: &[SignedTransaction],
) -> Result<Vec<CheckedTx>, (usize, StatelessError)> {
    let one_by_one = || {
        txs.iter()
            .enumerate()
            .map(|(i, t)| t.check_signature().map_err(|e| (i, e)))
            .collect()
    };
    if txs.len() < BATCH_FROM {
        return one_by_one();
    }
    let mut batch = crypto::SignatureBatch::with_capacity(txs.len());
    let mut out = Vec::with_capacity(txs.len());
    for t in txs {
        let Ok((body, checked)) = t.body_within_limit() else {
            return one_by_one();
        };
        if !batch.push(&t.tx.sender, tag::TX, &t.tx.chain_id, &body, &t.signature) {
            return one_by_one();
        }
        out.push(checked);
    }
    if !batch.verify() {
        return one_by_one();
    }
    Ok(out)
}

/// Whether `to` may receive coins: a canonical point of large order, so that
/// a key pair for it can exist and the coins can be spent again.
pub fn check_receiver(to: &PublicKey) -> Result<(), StatelessError> {
    to.validate()
        .map_err(|_| StatelessError::BadReceiver { to: *to })
}

/// What [`SignedTransaction::check`] learns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckedTx {
    /// The transaction id.
    pub id: Hash,
    /// Its encoded size in bytes.
    pub size: usize,
}

/// A transaction that is wrong in itself, whatever the ledger holds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StatelessError {
    /// The sender's signature does not verify.
    #[error("signature by the sender: {0}")]
    Signature(SignatureError),
    /// Over the size limit.
    #[error("{size} bytes is over the limit of {limit} for its kind")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit for its kind.
        limit: usize,
    },
    /// A contract module the chain would not run (`reason` is
    /// `ledger::contract::CodeError::code`: `too-large`, `floats`, …).
    #[error("contract refused ({reason}): {message}")]
    BadContract {
        /// The stable code of the reason.
        reason: &'static str,
        /// What was wrong, for people.
        message: String,
    },
    /// A deploy whose fuel limit does not pay for loading its module
    /// (`ledger::contract::LOAD_FUEL_PER_BYTE` per code byte).
    #[error("fuel limit {fuel_limit} does not cover loading the module: {load} fuel")]
    FuelBelowLoad {
        /// The transaction's.
        fuel_limit: u64,
        /// What loading its module costs.
        load: u64,
    },
    /// A transfer to bytes that are no public key: coins sent there are lost.
    #[error("receiver {to} is not a valid public key: coins sent there could never be spent")]
    BadReceiver {
        /// The receiver.
        to: PublicKey,
    },
}

/// The proof an association gives when it is proposed: its signature over
/// the chain id, its name and its URL.
pub fn association_proof(
    association: &Keypair,
    chain_id: &Hash,
    name: &[u8],
    url: &[u8],
) -> Signature {
    association.sign(
        tag::ASSOCIATION,
        chain_id,
        &association_proof_body(name, url),
    )
}

/// The bytes an association's proof covers.
pub fn association_proof_body(name: &[u8], url: &[u8]) -> Vec<u8> {
    encode(&(name, url))
}
