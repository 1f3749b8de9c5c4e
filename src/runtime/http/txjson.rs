//! Transactions as JSON: the form the HTTP API shows (blocks, `/tx/{id}`,
//! histories, events) and the form a client in any language sends to
//! `POST /api/v1/tx/encode` and `POST /api/v1/tx` — so it signs with any
//! ed25519 library and never needs postcard.
//!
//! The JSON form (docs/http.md, "Transactions as JSON"):
//!
//! ```json
//! { "chain_id": "…64 hex…", "sender": "gw1…", "nonce": 0, "fee": "1000",
//!   "kind": { "type": "transfer", "to": "gw1…", "amount": "5000000" },
//!   "memo": "invoice 42" }
//! ```
//!
//! Amounts and fees are decimal strings of base units (a JSON number is
//! also taken on input when it is a whole number below 2^53); nonces and
//! epochs are numbers. A byte string (memo, record key and value,
//! association name and url) is text when it is UTF-8: it is shown both as
//! `name` (text, or `null` when it is not UTF-8) and `name_hex`, and is
//! given either way (both only if they agree, as the API shows them). Every field is checked: an unknown one, a
//! missing one, a value of the wrong kind or over its bound is refused with
//! a [`TxJsonError`] naming the field.
//!
//! Pure: no store, no clock, no I/O.

use serde_json::{json, Map, Value};

use crate::chain::codec::{encode, Bytes};
use crate::chain::crypto::{self, tag, Hash, PublicKey, Signature};
use crate::chain::header::SignedHeader;
use crate::chain::limits;
use crate::chain::tx::{SignedTransaction, Transaction, TxKind};

/// Why a JSON transaction was refused: the field (a dotted path such as
/// `kind.amount`) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}`: {why}")]
pub struct TxJsonError {
    /// Which field.
    pub field: String,
    /// What is wrong.
    pub why: String,
}

fn err(field: &str, why: impl Into<String>) -> TxJsonError {
    TxJsonError {
        field: field.to_string(),
        why: why.into(),
    }
}

/// What a client may leave out of a transaction: the node fills it in
/// (`POST /api/v1/tx/encode` answers with the transaction as filled).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Defaults {
    /// The chain's id (a given `chain_id` must equal it).
    pub chain_id: Hash,
    /// The fee when none is given (the chain's minimum).
    pub fee: u64,
    /// The nonce when none is given (the sender's next, counting its
    /// transactions in the mempool), if known.
    pub nonce: Option<u64>,
}

/// A byte string as two fields: `name` (text, or null) and `name_hex`.
fn put_bytes(m: &mut Map<String, Value>, name: &str, b: &[u8]) {
    let text = std::str::from_utf8(b).ok().map(str::to_string);
    m.insert(name.to_string(), json!(text));
    m.insert(format!("{name}_hex"), json!(hex::encode(b)));
}

fn header_json(h: &SignedHeader) -> Value {
    let hh = &h.header;
    json!({
        "height": hh.height,
        "slot": hh.slot,
        "forger": hh.forger.to_string(),
        "hash": h.header.hash().to_hex(),
        "bytes": hex::encode(encode(h)),
    })
}

/// The JSON form of `kind`.
pub fn kind_to_json(kind: &TxKind) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!(kind.name()));
    match kind {
        TxKind::Transfer { to, amount } => {
            m.insert("to".into(), json!(to.to_string()));
            m.insert("amount".into(), json!(amount.to_string()));
        }
        TxKind::BuyWeight {
            epoch,
            amount,
            association,
        } => {
            m.insert("epoch".into(), json!(epoch));
            m.insert("amount".into(), json!(amount.to_string()));
            m.insert("association".into(), json!(association.to_string()));
        }
        TxKind::ProposeAssociation {
            name,
            url,
            account,
            proof,
        } => {
            put_bytes(&mut m, "name", name.as_slice());
            put_bytes(&mut m, "url", url.as_slice());
            m.insert("account".into(), json!(account.to_string()));
            m.insert("proof".into(), json!(hex::encode(proof.0)));
        }
        TxKind::VoteAssociation { proposal, approve } => {
            m.insert("proposal".into(), json!(proposal.to_hex()));
            m.insert("approve".into(), json!(approve));
        }
        TxKind::PutData { key, value } => {
            put_bytes(&mut m, "key", key.as_slice());
            put_bytes(&mut m, "value", value.as_slice());
        }
        TxKind::ReportEquivocation { header_a, header_b } => {
            m.insert("header_a".into(), header_json(header_a));
            m.insert("header_b".into(), header_json(header_b));
        }
        TxKind::DeployContract {
            code,
            init,
            fuel_limit,
        } => {
            m.insert("code_hex".into(), json!(hex::encode(code.as_slice())));
            put_bytes(&mut m, "init", init.as_slice());
            m.insert("fuel_limit".into(), json!(fuel_limit.to_string()));
        }
        TxKind::CallContract {
            contract,
            input,
            value,
            fuel_limit,
        } => {
            m.insert("contract".into(), json!(contract.to_hex()));
            put_bytes(&mut m, "input", input.as_slice());
            m.insert("value".into(), json!(value.to_string()));
            m.insert("fuel_limit".into(), json!(fuel_limit.to_string()));
        }
    }
    Value::Object(m)
}

/// The JSON form of a contract transaction's receipt: the contract,
/// `status` (`ok`, `trapped` with `trap`, `out-of-fuel`), fuel used, the
/// fee charged, the storage charge (burned), return data and events (hex).
pub fn receipt_to_json(r: &crate::ledger::state::Receipt) -> Value {
    use crate::ledger::state::ReceiptStatus;
    let (status, trap) = match &r.status {
        ReceiptStatus::Ok => ("ok", None),
        ReceiptStatus::Trapped(t) => ("trapped", Some(t.lossy())),
        ReceiptStatus::OutOfFuel => ("out-of-fuel", None),
    };
    json!({
        "contract": r.contract.to_hex(),
        "status": status,
        "trap": trap,
        "fuel_used": r.fuel_used.to_string(),
        "fee": r.fee.to_string(),
        "storage_charge": r.storage_charge.to_string(),
        "return_hex": hex::encode(r.return_data.as_slice()),
        "events_hex": r.events.iter().map(|e| hex::encode(e.as_slice())).collect::<Vec<_>>(),
        "height": r.height,
    })
}

/// The JSON form of an unsigned transaction.
pub fn transaction_to_json(tx: &Transaction) -> Value {
    let mut m = Map::new();
    m.insert("chain_id".into(), json!(tx.chain_id.to_hex()));
    m.insert("sender".into(), json!(tx.sender.to_string()));
    m.insert("nonce".into(), json!(tx.nonce));
    m.insert("fee".into(), json!(tx.fee.to_string()));
    m.insert("kind".into(), kind_to_json(&tx.kind));
    put_bytes(&mut m, "memo", tx.memo.as_slice());
    Value::Object(m)
}

/// The JSON form of a signed transaction: its id, the transaction's
/// fields, its signature (hex) and its canonical bytes (hex).
pub fn signed_to_json(stx: &SignedTransaction) -> Value {
    let mut v = transaction_to_json(&stx.tx);
    let bytes = stx.to_bytes();
    v["id"] = json!(Hash::of(&[&bytes]).to_hex());
    v["signature"] = json!(hex::encode(stx.signature.0));
    v["bytes"] = json!(hex::encode(&bytes));
    v
}

/// The exact bytes the sender's key signs for `tx`:
/// `len(tag) ‖ "goodwill/tx/v1" ‖ chain id ‖ encode(tx)`.
pub fn signing_bytes(tx: &Transaction) -> Vec<u8> {
    crypto::signing_message(tag::TX, &tx.chain_id, &encode(tx))
}

/// Reads one object's fields, refusing any it does not know.
struct Fields<'a> {
    path: &'a str,
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    fn new(path: &'a str, v: &'a Value, known: &[&str]) -> Result<Fields<'a>, TxJsonError> {
        let name = if path.is_empty() { "transaction" } else { path };
        let Value::Object(map) = v else {
            return Err(err(
                name,
                format!("expected a JSON object, got {}", kind_of(v)),
            ));
        };
        if let Some(k) = map.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(err(
                &join(path, k),
                format!("unknown field (known here: {})", known.join(", ")),
            ));
        }
        Ok(Fields { path, map })
    }

    fn field(&self, name: &str) -> String {
        join(self.path, name)
    }

    fn opt(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    fn req(&self, name: &str) -> Result<&'a Value, TxJsonError> {
        self.opt(name)
            .ok_or_else(|| err(&self.field(name), "missing"))
    }

    fn str(&self, name: &str) -> Result<&'a str, TxJsonError> {
        let v = self.req(name)?;
        v.as_str().ok_or_else(|| {
            err(
                &self.field(name),
                format!("expected a string, got {}", kind_of(v)),
            )
        })
    }

    fn address(&self, name: &str) -> Result<PublicKey, TxJsonError> {
        crate::chain::address::parse(self.str(name)?)
            .map_err(|e| err(&self.field(name), e.to_string()))
    }

    fn hash(&self, name: &str) -> Result<Hash, TxJsonError> {
        Hash::from_hex(self.str(name)?).map_err(|e| err(&self.field(name), e.to_string()))
    }

    /// A u64: a decimal string, or a whole JSON number below 2^53.
    fn u64(&self, name: &str) -> Result<u64, TxJsonError> {
        let v = self.req(name)?;
        parse_u64(v).map_err(|why| err(&self.field(name), why))
    }

    fn bool(&self, name: &str) -> Result<bool, TxJsonError> {
        let v = self.req(name)?;
        v.as_bool().ok_or_else(|| {
            err(
                &self.field(name),
                format!("expected true or false, got {}", kind_of(v)),
            )
        })
    }

    /// A byte string given as `name` (text) or `name_hex` (both only if
    /// they agree);
    /// absent is empty when `optional`.
    fn bytes<const N: usize>(&self, name: &str, optional: bool) -> Result<Bytes<N>, TxJsonError> {
        let hex_name = format!("{name}_hex");
        let raw = match (self.opt(name), self.opt(&hex_name)) {
            (Some(_), Some(_)) => {
                let text = self.str(name)?.as_bytes().to_vec();
                let raw = hex::decode(self.str(&hex_name)?)
                    .map_err(|e| err(&self.field(&hex_name), format!("not hex: {e}")))?;
                if raw != text {
                    return Err(err(
                        &self.field(name),
                        format!("`{name}` and `{hex_name}` disagree; give one of them"),
                    ));
                }
                raw
            }
            (Some(_), None) => self.str(name)?.as_bytes().to_vec(),
            (None, Some(_)) => hex::decode(self.str(&hex_name)?)
                .map_err(|e| err(&self.field(&hex_name), format!("not hex: {e}")))?,
            (None, None) if optional => Vec::new(),
            (None, None) => {
                return Err(err(
                    &self.field(name),
                    format!("missing (give `{name}` as text or `{hex_name}` as hex)"),
                ))
            }
        };
        let field = if self.opt(name).is_some() {
            self.field(name)
        } else {
            self.field(&hex_name)
        };
        Bytes::new(raw).map_err(|e| {
            err(
                &field,
                format!("{} bytes, at most {} allowed", e.len, e.limit),
            )
        })
    }

    /// A signed header: its canonical bytes in hex, or the object the API
    /// shows (`bytes` and what they say — `height`, `slot`, `forger`,
    /// `hash` — which, when given, must agree with the bytes).
    fn header(&self, name: &str) -> Result<SignedHeader, TxJsonError> {
        let field = self.field(name);
        let v = self.req(name)?;
        let (text, shown) = match v {
            Value::String(s) => (s.as_str(), None),
            Value::Object(_) => {
                let f = Fields::new(&field, v, &["height", "slot", "forger", "hash", "bytes"])?;
                (f.str("bytes")?, Some(header_json_fields(f)))
            }
            other => {
                return Err(err(
                    &field,
                    format!(
                        "expected the signed header's bytes in hex, got {}",
                        kind_of(other)
                    ),
                ))
            }
        };
        let raw = hex::decode(text).map_err(|e| err(&field, format!("not hex: {e}")))?;
        let h = SignedHeader::from_bytes(&raw).map_err(|e| err(&field, e.to_string()))?;
        if let Some(shown) = shown {
            let said = header_json(&h);
            for (k, v) in shown {
                if said[k] != *v {
                    return Err(err(
                        &join(&field, k),
                        format!(
                            "{v} does not match the header's bytes, which say {}",
                            said[k]
                        ),
                    ));
                }
            }
        }
        Ok(h)
    }
}

/// The members of a shown header besides `bytes`.
fn header_json_fields<'a>(f: Fields<'a>) -> Vec<(&'a str, &'a Value)> {
    ["height", "slot", "forger", "hash"]
        .into_iter()
        .filter_map(|k| f.map.get_key_value(k).map(|(k, v)| (k.as_str(), v)))
        .collect()
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A u64 from a decimal string, or from a whole JSON number that is
/// exactly representable (below 2^53).
pub fn parse_u64(v: &Value) -> Result<u64, String> {
    match v {
        Value::String(s) => {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "{s:?} is not a whole number of base units (decimal digits only)"
                ));
            }
            s.parse::<u64>()
                .map_err(|_| format!("{s} is more than 18446744073709551615"))
        }
        Value::Number(n) => match n.as_u64() {
            Some(x) if x < (1 << 53) => Ok(x),
            Some(_) => Err(format!(
                "{n} is too large for a JSON number to carry exactly; give it as a string"
            )),
            None => Err(format!("{n} is not a whole number of at least 0")),
        },
        other => Err(format!("expected a decimal string, got {}", kind_of(other))),
    }
}

const TX_FIELDS: &[&str] = &[
    "chain_id",
    "sender",
    "nonce",
    "fee",
    "kind",
    "memo",
    "memo_hex",
    // Shown by the API; accepted back (and checked) so that a shown
    // transaction can be sent as it is.
    "id",
    "signature",
    "bytes",
];

/// Reads a transaction from its JSON form. `chain_id`, `nonce` and `fee`
/// may be left out and are taken from `defaults` (the nonce only if
/// `defaults.nonce` is known). Fields the API shows but a client need not
/// send (`id`, `signature`, `bytes`) are ignored here; see
/// [`signed_from_json`].
pub fn transaction_from_json(v: &Value, defaults: &Defaults) -> Result<Transaction, TxJsonError> {
    let f = Fields::new("", v, TX_FIELDS)?;
    let chain_id = match f.opt("chain_id") {
        None => defaults.chain_id,
        Some(_) => {
            let c = f.hash("chain_id")?;
            if c != defaults.chain_id {
                return Err(err(
                    "chain_id",
                    format!(
                        "{} is another chain; this node's chain is {}",
                        c.to_hex(),
                        defaults.chain_id.to_hex()
                    ),
                ));
            }
            c
        }
    };
    let sender = f.address("sender")?;
    let nonce = match (f.opt("nonce"), defaults.nonce) {
        (Some(_), _) => f.u64("nonce")?,
        (None, Some(n)) => n,
        (None, None) => return Err(err("nonce", "missing")),
    };
    let fee = match f.opt("fee") {
        Some(_) => f.u64("fee")?,
        None => defaults.fee,
    };
    let kind = kind_from_json(f.req("kind")?)?;
    let memo = f.bytes::<{ limits::MEMO }>("memo", true)?;
    Ok(Transaction {
        chain_id,
        sender,
        nonce,
        fee,
        kind,
        memo,
    })
}

/// Reads `kind` (an object with `type` and that type's fields).
pub fn kind_from_json(v: &Value) -> Result<TxKind, TxJsonError> {
    let Value::Object(ty) = v else {
        return Err(err(
            "kind",
            format!("expected a JSON object with a `type`, got {}", kind_of(v)),
        ));
    };
    let Some(t) = ty.get("type") else {
        return Err(err(
            "kind.type",
            format!("missing (one of: {})", KIND_TYPES.join(", ")),
        ));
    };
    let Some(t) = t.as_str() else {
        return Err(err(
            "kind.type",
            format!("expected a string, got {}", kind_of(t)),
        ));
    };
    Ok(match t {
        "transfer" => {
            let f = Fields::new("kind", v, &["type", "to", "amount"])?;
            TxKind::Transfer {
                to: f.address("to")?,
                amount: f.u64("amount")?,
            }
        }
        "buy-weight" => {
            let f = Fields::new("kind", v, &["type", "epoch", "amount", "association"])?;
            TxKind::BuyWeight {
                epoch: f.u64("epoch")?,
                amount: f.u64("amount")?,
                association: f.address("association")?,
            }
        }
        "propose-association" => {
            let f = Fields::new(
                "kind",
                v,
                &[
                    "type", "name", "name_hex", "url", "url_hex", "account", "proof",
                ],
            )?;
            let mut proof = [0u8; 64];
            hex::decode_to_slice(f.str("proof")?, &mut proof).map_err(|_| {
                err(
                    "kind.proof",
                    "expected the account's signature: 128 hex digits",
                )
            })?;
            TxKind::ProposeAssociation {
                name: f.bytes("name", false)?,
                url: f.bytes("url", false)?,
                account: f.address("account")?,
                proof: Signature(proof),
            }
        }
        "vote-association" => {
            let f = Fields::new("kind", v, &["type", "proposal", "approve"])?;
            TxKind::VoteAssociation {
                proposal: f.hash("proposal")?,
                approve: f.bool("approve")?,
            }
        }
        "put-data" => {
            let f = Fields::new("kind", v, &["type", "key", "key_hex", "value", "value_hex"])?;
            let key: Bytes<{ limits::DATA_KEY }> = f.bytes("key", false)?;
            if key.is_empty() {
                return Err(err("kind.key", "empty; a record key is 1 to 64 bytes"));
            }
            TxKind::PutData {
                key,
                value: f.bytes("value", true)?,
            }
        }
        "report-equivocation" => {
            let f = Fields::new("kind", v, &["type", "header_a", "header_b"])?;
            TxKind::ReportEquivocation {
                header_a: Box::new(f.header("header_a")?),
                header_b: Box::new(f.header("header_b")?),
            }
        }
        "deploy-contract" => {
            let f = Fields::new(
                "kind",
                v,
                &["type", "code_hex", "init", "init_hex", "fuel_limit"],
            )?;
            let code: Bytes<{ limits::CONTRACT_CODE }> = Bytes::new(
                hex::decode(f.str("code_hex")?)
                    .map_err(|e| err("kind.code_hex", format!("not hex: {e}")))?,
            )
            .map_err(|_| {
                err(
                    "kind.code_hex",
                    format!("over {} bytes of code", limits::CONTRACT_CODE),
                )
            })?;
            TxKind::DeployContract {
                code,
                init: f.bytes("init", true)?,
                fuel_limit: f.u64("fuel_limit")?,
            }
        }
        "call-contract" => {
            let f = Fields::new(
                "kind",
                v,
                &[
                    "type",
                    "contract",
                    "input",
                    "input_hex",
                    "value",
                    "fuel_limit",
                ],
            )?;
            TxKind::CallContract {
                contract: f.hash("contract")?,
                input: f.bytes("input", true)?,
                value: match f.opt("value") {
                    Some(_) => f.u64("value")?,
                    None => 0,
                },
                fuel_limit: f.u64("fuel_limit")?,
            }
        }
        other => {
            return Err(err(
                "kind.type",
                format!(
                    "{other:?} is not a transaction type (one of: {})",
                    KIND_TYPES.join(", ")
                ),
            ))
        }
    })
}

/// The values of `kind.type`.
pub const KIND_TYPES: &[&str] = &[
    "transfer",
    "buy-weight",
    "propose-association",
    "vote-association",
    "put-data",
    "report-equivocation",
    "deploy-contract",
    "call-contract",
];

/// Reads a signed transaction: the JSON form with `signature` (128 hex
/// digits). `nonce` and `fee` must be given (what was signed cannot be
/// guessed); `chain_id` defaults to this node's. If `id` or `bytes` are
/// given too (as the API shows them), they must match.
pub fn signed_from_json(v: &Value, chain_id: Hash) -> Result<SignedTransaction, TxJsonError> {
    let f = Fields::new("", v, TX_FIELDS)?;
    f.req("nonce")?;
    f.req("fee")?;
    let tx = transaction_from_json(
        v,
        &Defaults {
            chain_id,
            fee: 0,
            nonce: None,
        },
    )?;
    let mut sig = [0u8; 64];
    hex::decode_to_slice(f.str("signature")?, &mut sig)
        .map_err(|_| err("signature", "expected an ed25519 signature: 128 hex digits"))?;
    let stx = SignedTransaction {
        tx,
        signature: Signature(sig),
    };
    let bytes = stx.to_bytes();
    if f.opt("bytes").is_some() && f.str("bytes")? != hex::encode(&bytes) {
        return Err(err(
            "bytes",
            "do not match the transaction's other fields (leave `bytes` out, or send only `bytes`)",
        ));
    }
    if f.opt("id").is_some() {
        let id = f.hash("id")?;
        if id != Hash::of(&[&bytes]) {
            return Err(err(
                "id",
                format!(
                    "does not match the transaction: its id is {}",
                    Hash::of(&[&bytes]).to_hex()
                ),
            ));
        }
    }
    Ok(stx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::crypto::Keypair;

    fn key(n: u8) -> Keypair {
        Keypair::from_seed([n; 32]).expect("a seed")
    }

    fn defaults() -> Defaults {
        Defaults {
            chain_id: Hash([7; 32]),
            fee: 1000,
            nonce: Some(3),
        }
    }

    fn every_kind() -> Vec<TxKind> {
        let a = key(1);
        let h = crate::chain::header::Header {
            version: crate::chain::header::VERSION,
            chain_id: Hash([7; 32]),
            height: 5,
            slot: 6,
            parent: Hash([1; 32]),
            tx_root: Hash([2; 32]),
            state_digest: Hash([3; 32]),
            forger: a.public(),
            vrf: crate::chain::crypto::VrfProof([4; crate::chain::crypto::VRF_PROOF_BYTES]),
        }
        .sign(&a);
        vec![
            TxKind::Transfer {
                to: key(2).public(),
                amount: u64::MAX,
            },
            TxKind::BuyWeight {
                epoch: 9,
                amount: 10,
                association: key(3).public(),
            },
            TxKind::ProposeAssociation {
                name: Bytes::new(b"Caf\xc3\xa9 <b>".to_vec()).unwrap(),
                url: Bytes::new(vec![0xff, 0x00]).unwrap(),
                account: key(4).public(),
                proof: Signature([9; 64]),
            },
            TxKind::VoteAssociation {
                proposal: Hash([5; 32]),
                approve: false,
            },
            TxKind::PutData {
                key: Bytes::new(b"k".to_vec()).unwrap(),
                value: Bytes::new(vec![1, 2, 3]).unwrap(),
            },
            TxKind::ReportEquivocation {
                header_a: Box::new(h.clone()),
                header_b: Box::new(h),
            },
        ]
    }

    #[test]
    fn every_kind_round_trips_through_json_signed_and_unsigned() {
        let k = key(1);
        for (i, kind) in every_kind().into_iter().enumerate() {
            let tx = Transaction {
                chain_id: Hash([7; 32]),
                sender: k.public(),
                nonce: i as u64,
                fee: 1000 + i as u64,
                kind,
                memo: Bytes::new(vec![0xc3, 0x28]).unwrap(),
            };
            let v = transaction_to_json(&tx);
            assert_eq!(transaction_from_json(&v, &defaults()).unwrap(), tx);
            let stx = tx.sign(&k);
            let v = signed_to_json(&stx);
            assert_eq!(signed_from_json(&v, Hash([7; 32])).unwrap(), stx);
            assert_eq!(v["id"], json!(stx.id().to_hex()));
            // The signing bytes are what the key signed.
            let sig = k.sign_raw(&signing_bytes(&stx.tx));
            assert_eq!(sig, stx.signature);
        }
    }

    #[test]
    fn left_out_fields_come_from_the_defaults() {
        let v = json!({"sender": key(1).public().to_string(),
            "kind": {"type": "transfer", "to": key(2).public().to_string(), "amount": 5}});
        let tx = transaction_from_json(&v, &defaults()).unwrap();
        assert_eq!((tx.nonce, tx.fee, tx.chain_id), (3, 1000, Hash([7; 32])));
        assert!(tx.memo.is_empty());
    }

    fn refused(v: Value) -> TxJsonError {
        transaction_from_json(&v, &defaults()).unwrap_err()
    }

    #[test]
    fn each_bad_field_is_named() {
        let s = key(1).public().to_string();
        let to = key(2).public().to_string();
        let mut bad_sum = to.clone();
        let last = bad_sum.pop().unwrap();
        bad_sum.push(if last == 'q' { 'p' } else { 'q' });
        let cases = [
            (json!([]), "transaction", "object"),
            (
                json!({"sender": s, "kind": {"type": "transfer", "to": to, "amount": "1"}, "color": 1}),
                "color",
                "unknown field",
            ),
            (
                json!({"kind": {"type": "transfer", "to": to, "amount": "1"}}),
                "sender",
                "missing",
            ),
            (
                json!({"sender": s, "kind": {"type": "transfer", "to": bad_sum, "amount": "1"}}),
                "kind.to",
                "checksum",
            ),
            (
                json!({"sender": s, "kind": {"type": "transfer", "to": to, "amount": "-1"}}),
                "kind.amount",
                "decimal digits",
            ),
            (
                json!({"sender": s, "kind": {"type": "transfer", "to": to, "amount": 9007199254740993u64}}),
                "kind.amount",
                "as a string",
            ),
            (
                json!({"sender": s, "kind": {"type": "transfer", "to": to, "amount": "18446744073709551616"}}),
                "kind.amount",
                "more than",
            ),
            (
                json!({"sender": s, "kind": {"type": "mint", "amount": "1"}}),
                "kind.type",
                "not a transaction type",
            ),
            (
                json!({"sender": s, "kind": {"to": to}}),
                "kind.type",
                "missing",
            ),
            (
                json!({"sender": s, "kind": {"type": "transfer", "to": to, "amount": "1", "x": 1}}),
                "kind.x",
                "unknown field",
            ),
            (
                json!({"sender": s, "memo": "a", "memo_hex": "62", "kind": {"type": "transfer", "to": to, "amount": "1"}}),
                "memo",
                "disagree",
            ),
            (
                json!({"sender": s, "memo": "m".repeat(65), "kind": {"type": "transfer", "to": to, "amount": "1"}}),
                "memo",
                "at most 64",
            ),
            (
                json!({"sender": s, "memo_hex": "zz", "kind": {"type": "transfer", "to": to, "amount": "1"}}),
                "memo_hex",
                "not hex",
            ),
            (
                json!({"sender": s, "chain_id": "00".repeat(32), "kind": {"type": "transfer", "to": to, "amount": "1"}}),
                "chain_id",
                "another chain",
            ),
            (
                json!({"sender": s, "kind": {"type": "put-data", "key": ""}}),
                "kind.key",
                "empty",
            ),
            (
                json!({"sender": s, "kind": {"type": "vote-association", "proposal": "ab", "approve": true}}),
                "kind.proposal",
                "hash",
            ),
            (
                json!({"sender": s, "kind": {"type": "vote-association", "proposal": "ab".repeat(32), "approve": "yes"}}),
                "kind.approve",
                "true or false",
            ),
            (
                json!({"sender": s, "kind": {"type": "report-equivocation", "header_a": "00", "header_b": "00"}}),
                "kind.header_a",
                "",
            ),
        ];
        for (v, field, says) in cases {
            let e = refused(v.clone());
            assert_eq!(e.field, field, "{v}: {e}");
            assert!(e.why.contains(says), "{v}: {e}");
        }
    }

    #[test]
    fn a_shown_header_must_agree_with_its_bytes() {
        let kind = every_kind().pop().expect("the equivocation report");
        let mut v = kind_to_json(&kind);
        assert_eq!(kind_from_json(&v).unwrap(), kind);
        v["header_a"]["height"] = json!(6);
        let e = kind_from_json(&v).unwrap_err();
        assert_eq!(e.field, "kind.header_a.height", "{e}");
        assert!(e.why.contains("does not match"), "{e}");
        let mut v = kind_to_json(&kind);
        v["header_b"]["color"] = json!("red");
        assert_eq!(kind_from_json(&v).unwrap_err().field, "kind.header_b.color");
    }

    #[test]
    fn a_signed_transaction_whose_shown_fields_disagree_is_refused() {
        let k = key(1);
        let stx = Transaction {
            chain_id: Hash([7; 32]),
            sender: k.public(),
            nonce: 0,
            fee: 1,
            kind: TxKind::Transfer {
                to: key(2).public(),
                amount: 1,
            },
            memo: Bytes::empty(),
        }
        .sign(&k);
        let mut v = signed_to_json(&stx);
        v["nonce"] = json!(1);
        assert_eq!(
            signed_from_json(&v, Hash([7; 32])).unwrap_err().field,
            "bytes"
        );
        let mut v = signed_to_json(&stx);
        v.as_object_mut().unwrap().remove("bytes");
        v["id"] = json!("00".repeat(32));
        assert_eq!(signed_from_json(&v, Hash([7; 32])).unwrap_err().field, "id");
        let mut v = signed_to_json(&stx);
        v.as_object_mut().unwrap().remove("fee");
        assert_eq!(
            signed_from_json(&v, Hash([7; 32])).unwrap_err().field,
            "fee"
        );
        let mut v = signed_to_json(&stx);
        v["signature"] = json!("ab");
        assert_eq!(
            signed_from_json(&v, Hash([7; 32])).unwrap_err().field,
            "signature"
        );
    }
}
