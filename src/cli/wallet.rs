//! The command line's wallet, association, data and payment verbs: they
//! sign and submit transactions through a main node, and read back.
//!
//! Every verb that submits checks what it can locally first — addresses,
//! amounts against the balance, the fee against the chain's minimum, the
//! nonce, the buy-weight epoch rule, the voter's right to vote — and sends
//! nothing when a check fails. `--wait` then follows the transaction until
//! it is in a block, resubmitting it now and then: a node that has dropped
//! it answers with the reason it no longer applies, which is reported.
//!
//! Every read verb prints text, or with `--json` one JSON object per result
//! on its own line (the README lists the fields). Amounts on the command line
//! are coins (`chain::amount::parse_coins`); in JSON they are units, with a
//! `…_coins` text beside them.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::chain::address;
use crate::chain::amount::{format_coins, parse_coins};
use crate::chain::codec::Bytes;
use crate::chain::crypto::{Hash, Keypair, PublicKey};
use crate::chain::limits;
use crate::chain::tx::{Memo, SignedTransaction, Transaction, TxKind};
use crate::ledger::state::{Proposal, ProposalStatus};
use crate::runtime::client::{verify_tx_proof, Client, Watcher};
use crate::runtime::keyfile;
use crate::wire::{ChainInfo, TxProof, TxVerdict};

/// `goodwill wallet …`
#[derive(Debug, Subcommand)]
pub enum WalletCommand {
    /// An address's balance and nonce.
    Balance {
        /// The address (gw1…).
        address: String,
        /// The node's address.
        #[arg(long)]
        node: String,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Send coins: fetches the nonce, signs, submits.
    Send {
        /// Who receives (gw1…).
        #[arg(long)]
        to: String,
        /// How much, in coins (12, 0.5; at most 6 decimals).
        #[arg(long, allow_hyphen_values = true)]
        amount: String,
        /// Free text or a payment reference, at most 64 bytes.
        #[arg(long)]
        memo: Option<String>,
        /// How to sign and submit.
        #[command(flatten)]
        submit: Submit,
    },
    /// The transactions touching an address, newest first.
    History {
        /// The address (gw1…).
        address: String,
        /// The node's address.
        #[arg(long)]
        node: String,
        /// At most this many (the node lists at most 256).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// One JSON object per transaction, one per line.
        #[arg(long)]
        json: bool,
    },
    /// Print each transaction touching an address as it lands, until
    /// interrupted; reconnects by itself, never repeating or skipping one.
    Watch {
        /// The address (gw1…).
        address: String,
        /// The node's address.
        #[arg(long)]
        node: String,
        /// Start at this height (default: the next block).
        #[arg(long)]
        since: Option<u64>,
        /// Stop after this many transactions.
        #[arg(long)]
        count: Option<u64>,
        /// One JSON object per transaction, one per line.
        #[arg(long)]
        json: bool,
    },
    /// Buy forging weight for a future epoch: the amount is donated to an
    /// approved association.
    BuyWeight {
        /// The epoch the weight is for (at least the current one + 2).
        #[arg(long)]
        epoch: u64,
        /// How much, in coins: donated, and the weight it buys.
        #[arg(long, allow_hyphen_values = true)]
        amount: String,
        /// The approved association's account (gw1…).
        #[arg(long)]
        association: String,
        /// How to sign and submit.
        #[command(flatten)]
        submit: Submit,
    },
}

/// `goodwill association …`
#[derive(Debug, Subcommand)]
pub enum AssociationCommand {
    /// Propose an association as a recipient of donations, with a proof
    /// signed by its own key.
    Propose {
        /// The association's key file: it signs the proof that the
        /// proposer controls the receiving account.
        #[arg(long)]
        association_key: PathBuf,
        /// Its name (at most 64 bytes).
        #[arg(long)]
        name: String,
        /// Where to read about it (at most 256 bytes).
        #[arg(long, default_value = "")]
        url: String,
        /// How to sign and submit.
        #[command(flatten)]
        submit: Submit,
    },
    /// Vote on a proposal (only live forgers' votes count).
    Vote {
        /// The proposal's id (64 hex digits; `association list` shows them).
        #[arg(long)]
        proposal: String,
        /// Approve a pending proposal (or withdraw a vote for removal).
        #[arg(long, conflicts_with = "no", required_unless_present = "no")]
        yes: bool,
        /// Ask for an approved association's removal.
        #[arg(long)]
        no: bool,
        /// How to sign and submit.
        #[command(flatten)]
        submit: Submit,
    },
    /// Approved and pending associations, with their votes and donations.
    List {
        /// The node's address.
        #[arg(long)]
        node: String,
        /// One JSON object per association, one per line.
        #[arg(long)]
        json: bool,
    },
}

/// `goodwill data …`
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Store a record under (your address, KEY); the latest write wins.
    Put {
        /// The record's key (1 to 64 bytes).
        #[arg(long, value_name = "NAME")]
        name: String,
        /// The value, as text (at most 1,024 bytes).
        #[arg(long, conflicts_with = "file", required_unless_present = "file")]
        value: Option<String>,
        /// Read the value from this file instead (at most 1,024 bytes).
        #[arg(long)]
        file: Option<PathBuf>,
        /// How to sign and submit.
        #[command(flatten)]
        submit: Submit,
    },
    /// A record's latest value, with its inclusion proof checked here.
    Get {
        /// The owner's address (gw1…).
        owner: String,
        /// The record's key.
        #[arg(value_name = "NAME")]
        name: String,
        /// The node's address.
        #[arg(long)]
        node: String,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Every write to a record, newest first.
    History {
        /// The owner's address (gw1…).
        owner: String,
        /// The record's key.
        #[arg(value_name = "NAME")]
        name: String,
        /// The node's address.
        #[arg(long)]
        node: String,
        /// One JSON object per write, one per line.
        #[arg(long)]
        json: bool,
    },
}

/// `goodwill pay …`
#[derive(Debug, Subcommand)]
pub enum PayCommand {
    /// Exit 0 (and print it) when a final payment from --from to --to of at
    /// least --min-amount exists; exit 1 when not; 2 on an error.
    Check {
        /// Who pays (gw1…).
        #[arg(long)]
        from: String,
        /// Who is paid (gw1…).
        #[arg(long)]
        to: String,
        /// At least this much, in coins.
        #[arg(long, allow_hyphen_values = true)]
        min_amount: String,
        /// The payment's memo must be exactly this (an order number…).
        #[arg(long)]
        memo: Option<String>,
        /// Only payments in blocks at this height or above.
        #[arg(long, default_value_t = 0)]
        since: u64,
        /// The node's address.
        #[arg(long)]
        node: String,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// What every submitting verb takes.
#[derive(Debug, Args)]
pub struct Submit {
    /// The signer's key file.
    #[arg(long)]
    key: PathBuf,
    /// The node's address.
    #[arg(long)]
    pub(crate) node: String,
    /// The fee, in coins (default: the chain's minimum).
    #[arg(long, allow_hyphen_values = true)]
    fee: Option<String>,
    /// The nonce (default: the account's next one, counting its
    /// transactions waiting in the node's mempool).
    #[arg(long)]
    nonce: Option<u64>,
    /// Return once the transaction is in a block, or fail with the reason
    /// it was dropped.
    #[arg(long)]
    pub(crate) wait: bool,
    /// How long --wait waits, in seconds.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// One JSON object instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Runs a wallet verb.
pub fn wallet(cmd: WalletCommand) -> Result<(), String> {
    match cmd {
        WalletCommand::Balance {
            address,
            node,
            json,
        } => {
            let pk = parse_address("address", &address)?;
            smol::block_on(async {
                let mut c = connect(&node).await?;
                let a = c.balance(pk).await.map_err(|e| e.to_string())?;
                if json {
                    println!(
                        "{}",
                        json!({
                            "address": pk.to_string(),
                            "balance": a.balance,
                            "balance_coins": format_coins(a.balance),
                            "nonce": a.nonce,
                        })
                    );
                } else {
                    println!("address  {pk}");
                    println!(
                        "balance  {} GWL ({} units)",
                        format_coins(a.balance),
                        a.balance
                    );
                    println!("nonce    {}", a.nonce);
                }
                Ok(())
            })
        }
        WalletCommand::Send {
            to,
            amount,
            memo,
            submit,
        } => {
            let to = parse_address("--to", &to)?;
            to.validate().map_err(|_| {
                format!("--to {to} is not a valid public key: coins sent there could never be spent — check the address")
            })?;
            let amount = parse_amount("--amount", &amount)?;
            let memo = memo.unwrap_or_default();
            smol::block_on(async {
                let mut s = Session::open(&submit).await?;
                let tx = s
                    .submit(TxKind::Transfer { to, amount }, memo.as_bytes(), amount)
                    .await?;
                if !submit.json {
                    println!(
                        "sending {} GWL to {to} (fee {} GWL, nonce {})",
                        format_coins(amount),
                        format_coins(tx.tx.fee),
                        tx.tx.nonce
                    );
                }
                s.finish(&tx).await
            })
        }
        WalletCommand::History {
            address,
            node,
            limit,
            json,
        } => {
            let pk = parse_address("address", &address)?;
            smol::block_on(async {
                let mut c = connect(&node).await?;
                let ids = c
                    .history(pk, limit.min(crate::wire::limits::MAX_HISTORY))
                    .await
                    .map_err(|e| e.to_string())?;
                for id in &ids {
                    let Some(p) = c.tx(*id).await.map_err(|e| e.to_string())? else {
                        // Reorganised away since the index was read.
                        continue;
                    };
                    let mut v = tx_fields(&p.tx, Some(&pk));
                    let h = &p.header.header;
                    v["height"] = json!(h.height);
                    v["block"] = json!(h.hash().to_hex());
                    v["verified"] = json!(verify_tx_proof(&p).is_ok());
                    if json {
                        println!("{v}");
                    } else {
                        println!("{}", tx_line(&v));
                    }
                }
                if ids.is_empty() && !json {
                    println!("(no transactions touch {pk})");
                }
                Ok(())
            })
        }
        WalletCommand::Watch {
            address,
            node,
            since,
            count,
            json,
        } => {
            let pk = parse_address("address", &address)?;
            smol::block_on(async {
                let since = match since {
                    Some(h) => h,
                    None => {
                        let mut c = connect(&node).await?;
                        c.tip().await.map_err(|e| e.to_string())?.height + 1
                    }
                };
                eprintln!("watching {pk} on {node} from height {since} (Ctrl-C stops)");
                let mut w = Watcher::new(&node, pk, Some(since));
                let mut seen = 0u64;
                while count.is_none_or(|n| seen < n) {
                    let e = w.next().await.map_err(|e| e.to_string())?;
                    seen += 1;
                    let mut v = tx_fields(&e.tx, Some(&pk));
                    v["height"] = json!(e.height);
                    v["block"] = json!(e.block.to_hex());
                    let line = if json { v.to_string() } else { tx_line(&v) };
                    let mut out = std::io::stdout().lock();
                    if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
                        return Ok(()); // whoever read our output is gone
                    }
                }
                Ok(())
            })
        }
        WalletCommand::BuyWeight {
            epoch,
            amount,
            association,
            submit,
        } => {
            let assoc = parse_address("--association", &association)?;
            let amount = parse_amount("--amount", &amount)?;
            smol::block_on(async {
                let mut s = Session::open(&submit).await?;
                let current = s
                    .info
                    .epoch_of(s.info.slot_at(crate::runtime::os::now_ms()));
                check_weight_epoch(epoch, current, s.info.max_weight_epochs_ahead)?;
                let all = s.c.associations().await.map_err(|e| e.to_string())?;
                let name = match all.iter().find(|(_, p)| p.account == assoc) {
                    Some((_, p)) if p.listed(current) => {
                        p.name.lossy()
                    }
                    Some((id, p)) => {
                        return Err(format!(
                            "{assoc} is not an approved association: its proposal {id} is {} — weight is bought only with a donation to an approved one (`goodwill association list --node {}` shows them)",
                            status_name(p, current, s.info.proposal_ttl_epochs),
                            submit.node
                        ))
                    }
                    None => {
                        return Err(format!(
                            "{assoc} is not an approved association — weight is bought only with a donation to an approved one (`goodwill association list --node {}` shows them)",
                            submit.node
                        ))
                    }
                };
                let kind = TxKind::BuyWeight {
                    epoch,
                    amount,
                    association: assoc,
                };
                let tx = s.submit(kind, &[], amount).await?;
                if !submit.json {
                    println!(
                        "buying weight {} for epoch {epoch}: {} GWL donated to {name} ({assoc}) (fee {} GWL)",
                        amount,
                        format_coins(amount),
                        format_coins(tx.tx.fee)
                    );
                }
                s.finish(&tx).await
            })
        }
    }
}

/// Runs an association verb.
pub fn association(cmd: AssociationCommand) -> Result<(), String> {
    match cmd {
        AssociationCommand::Propose {
            association_key,
            name,
            url,
            submit,
        } => {
            let assoc = keyfile::read(&association_key).map_err(|e| e.to_string())?;
            if name.is_empty() {
                return Err("--name is empty: an association needs a name".into());
            }
            let name_b = Bytes::<{ limits::ASSOCIATION_NAME }>::new(name.as_bytes().to_vec())
                .map_err(|_| {
                    format!(
                        "--name is {} bytes; a name holds at most {}",
                        name.len(),
                        limits::ASSOCIATION_NAME
                    )
                })?;
            let url_b = Bytes::<{ limits::ASSOCIATION_URL }>::new(url.as_bytes().to_vec())
                .map_err(|_| {
                    format!(
                        "--url is {} bytes; a URL holds at most {}",
                        url.len(),
                        limits::ASSOCIATION_URL
                    )
                })?;
            smol::block_on(async {
                let mut s = Session::open(&submit).await?;
                let epoch = s
                    .info
                    .epoch_of(s.info.slot_at(crate::runtime::os::now_ms()));
                let ttl = s.info.proposal_ttl_epochs;
                let all = s.c.associations().await.map_err(|e| e.to_string())?;
                for (id, p) in &all {
                    let live = matches!(p.status, ProposalStatus::Approved { .. })
                        || (p.status == ProposalStatus::Pending && !p.lapsed(epoch, ttl));
                    if p.account == assoc.public() && live {
                        return Err(format!(
                            "{} is already {} under proposal {id}: `goodwill association list --node {}` shows it",
                            p.account,
                            status_name(p, epoch, ttl),
                            submit.node
                        ));
                    }
                }
                let proof = crate::chain::tx::association_proof(
                    &assoc,
                    &s.c.chain_id(),
                    name.as_bytes(),
                    url.as_bytes(),
                );
                let kind = TxKind::ProposeAssociation {
                    name: name_b,
                    url: url_b,
                    account: assoc.public(),
                    proof,
                };
                let tx = s.submit(kind, &[], 0).await?;
                if !submit.json {
                    println!(
                        "proposing {name} ({}) as an association: proposal {}",
                        assoc.public(),
                        tx.id()
                    );
                    println!(
                        "live forgers vote with `goodwill association vote --proposal {} --yes`",
                        tx.id()
                    );
                }
                s.finish(&tx).await
            })
        }
        AssociationCommand::Vote {
            proposal,
            yes,
            no,
            submit,
        } => {
            debug_assert!(yes != no, "clap makes them exclusive and one required");
            let approve = yes && !no;
            let id = Hash::from_hex(proposal.trim()).map_err(|e| {
                format!("--proposal {proposal}: {e} (a proposal id is 64 hex digits: `goodwill association list` shows them)")
            })?;
            smol::block_on(async {
                let mut s = Session::open(&submit).await?;
                let voter = s.key.public();
                let epoch = s
                    .info
                    .epoch_of(s.info.slot_at(crate::runtime::os::now_ms()));
                let ttl = s.info.proposal_ttl_epochs;
                let all = s.c.associations().await.map_err(|e| e.to_string())?;
                let Some((_, p)) = all.iter().find(|(i, _)| *i == id) else {
                    return Err(format!(
                        "no proposal {id} on {}: `goodwill association list --node {}` shows them",
                        submit.node, submit.node
                    ));
                };
                match p.status {
                    ProposalStatus::Removed { at_epoch } => {
                        return Err(format!(
                            "the association of proposal {id} was removed in epoch {at_epoch}: propose it again"
                        ))
                    }
                    ProposalStatus::Pending if p.lapsed(epoch, ttl) => {
                        return Err(format!(
                            "proposal {id} lapsed after epoch {} without reaching 75 % of the live forgers: propose it again",
                            p.proposed_epoch.saturating_add(ttl)
                        ))
                    }
                    _ => {}
                }
                let live = s.c.live_forgers(epoch).await.map_err(|e| e.to_string())?;
                if live.binary_search(&voter).is_err() {
                    return Err(format!(
                        "{voter} is not a live forger in epoch {epoch}: only accounts holding weight in the current epoch (or, while nobody holds any, the bootstrap forgers) may vote; {} may vote now",
                        plural(live.len() as u64, "forger")
                    ));
                }
                if p.votes.iter().any(|(k, v)| *k == voter && *v == approve) {
                    return Err(format!(
                        "{voter} already voted {} on proposal {id}",
                        if approve { "yes" } else { "no" }
                    ));
                }
                let tx = s
                    .submit(
                        TxKind::VoteAssociation {
                            proposal: id,
                            approve,
                        },
                        &[],
                        0,
                    )
                    .await?;
                if !submit.json {
                    println!(
                        "voting {} on {} ({}), proposal {id}",
                        if approve { "yes" } else { "no" },
                        p.name.lossy(),
                        p.account
                    );
                }
                s.finish(&tx).await?;
                if submit.wait && !submit.json {
                    let all = s.c.associations().await.map_err(|e| e.to_string())?;
                    if let Some((_, p)) = all.iter().find(|(i, _)| *i == id) {
                        let now = s
                            .info
                            .epoch_of(s.info.slot_at(crate::runtime::os::now_ms()));
                        println!(
                            "proposal {id} is now {}",
                            status_name(p, now, s.info.proposal_ttl_epochs)
                        );
                    }
                }
                Ok(())
            })
        }
        AssociationCommand::List { node, json } => smol::block_on(async {
            let mut c = connect(&node).await?;
            let info = c.params().await.map_err(|e| e.to_string())?;
            let epoch = info.epoch_of(info.slot_at(crate::runtime::os::now_ms()));
            let live = c.live_weights(epoch).await.map_err(|e| e.to_string())?;
            let live_weight: u128 = live.iter().map(|(_, w)| *w as u128).sum();
            let needed = weight_needed(live_weight);
            let weight_of = |k: &crate::chain::crypto::PublicKey| {
                live.binary_search_by_key(k, |(k, _)| *k)
                    .ok()
                    .map(|i| live[i].1 as u128)
            };
            let mut all = c.associations().await.map_err(|e| e.to_string())?;
            let ttl = info.proposal_ttl_epochs;
            let rank = |p: &Proposal| match status_name(p, epoch, ttl) {
                "approved" => 0,
                "pending" => 1,
                "lapsed" => 2,
                _ => 3,
            };
            all.sort_by(|(_, a), (_, b)| {
                rank(a)
                    .cmp(&rank(b))
                    .then_with(|| a.name.as_slice().cmp(b.name.as_slice()))
            });
            if !json {
                println!(
                    "epoch {epoch}: {} live, {} GWL of weight; a decision takes {} GWL of it (75 %)",
                    plural(live.len() as u64, "forger"),
                    format_units(live_weight),
                    format_units(needed)
                );
            }
            for (id, p) in &all {
                let count = |side: bool| {
                    p.votes
                        .iter()
                        .filter(|(k, v)| *v == side && weight_of(k).is_some())
                        .count() as u64
                };
                let weigh = |side: bool| -> u128 {
                    p.votes
                        .iter()
                        .filter(|(_, v)| *v == side)
                        .filter_map(|(k, _)| weight_of(k))
                        .sum()
                };
                let (yes, no) = (count(true), count(false));
                let (yes_weight, no_weight) = (weigh(true), weigh(false));
                let status = status_name(p, epoch, ttl);
                if json {
                    let (approved_epoch, removed_epoch) = match p.status {
                        ProposalStatus::Approved { since_epoch } => (Some(since_epoch), None),
                        ProposalStatus::Removed { at_epoch } => (None, Some(at_epoch)),
                        ProposalStatus::Pending => (None, None),
                    };
                    println!(
                        "{}",
                        json!({
                            "id": id.to_hex(),
                            "name": p.name,
                            "url": p.url,
                            "account": p.account.to_string(),
                            "proposer": p.proposer.to_string(),
                            "status": status,
                            "proposed_epoch": p.proposed_epoch,
                            "approved_epoch": approved_epoch,
                            "removed_epoch": removed_epoch,
                            "round_epoch": p.round_epoch,
                            "deadline_epoch": p.round_epoch.saturating_add(ttl),
                            "yes_votes": yes,
                            "no_votes": no,
                            "yes_weight": u128_json(yes_weight),
                            "no_weight": u128_json(no_weight),
                            "weight_needed": u128_json(needed),
                            "live_weight": u128_json(live_weight),
                            "live_forgers": live.len(),
                            "epoch": epoch,
                            // A number; a string in the (practically
                            // impossible) case it is above 2^64 - 1.
                            "donations": u64::try_from(p.donations)
                                .map(Value::from)
                                .unwrap_or_else(|_| Value::from(p.donations.to_string())),
                            "donations_coins": format_units(p.donations),
                        })
                    );
                    continue;
                }
                let votes = match status {
                    "pending" => format!(
                        "{yes} yes-votes, {} of {} GWL, open until epoch {}",
                        format_units(yes_weight),
                        format_units(needed),
                        p.round_epoch.saturating_add(ttl)
                    ),
                    "approved" | "approved-later" if no > 0 => format!(
                        "{no} votes for its removal, {} of {} GWL",
                        format_units(no_weight),
                        format_units(needed)
                    ),
                    _ => String::new(),
                };
                let line = format!(
                    "{status:<9} {:<24} {}  donations {} GWL  {votes}",
                    p.name.lossy(),
                    p.account,
                    format_units(p.donations)
                );
                println!("{}", line.trim_end());
                println!("          proposal {id}");
            }
            if all.is_empty() && !json {
                println!("(no associations)");
            }
            Ok(())
        }),
    }
}

/// Runs a data verb.
pub fn data(cmd: DataCommand) -> Result<(), String> {
    match cmd {
        DataCommand::Put {
            name,
            value,
            file,
            submit,
        } => {
            let key = record_key(&name)?;
            let value = match (value, file) {
                (Some(v), _) => v.into_bytes(),
                (None, Some(f)) => {
                    let len = std::fs::metadata(&f)
                        .map_err(|e| format!("--file {}: {e}", f.display()))?
                        .len();
                    if len > limits::DATA_VALUE as u64 {
                        return Err(format!(
                            "--file {} is {len} bytes; a record holds at most {} — store a hash or a link instead",
                            f.display(),
                            limits::DATA_VALUE
                        ));
                    }
                    crate::runtime::os::read_bounded(&f, limits::DATA_VALUE as u64)
                        .map_err(|e| format!("--file {}: {e}", f.display()))?
                }
                (None, None) => return Err("give --value TEXT or --file FILE".into()),
            };
            let len = value.len();
            let value = Bytes::<{ limits::DATA_VALUE }>::new(value).map_err(|_| {
                format!(
                    "the value is {len} bytes; a record holds at most {} — store a hash or a link instead",
                    limits::DATA_VALUE
                )
            })?;
            smol::block_on(async {
                let mut s = Session::open(&submit).await?;
                let kind = TxKind::PutData {
                    key: key.clone(),
                    value,
                };
                let tx = s.submit(kind, &[], 0).await?;
                if !submit.json {
                    println!(
                        "writing record {:?} of {} ({len} bytes; fee {} GWL)",
                        name,
                        s.key.public(),
                        format_coins(tx.tx.fee)
                    );
                }
                s.finish(&tx).await
            })
        }
        DataCommand::Get {
            owner,
            name,
            node,
            json,
        } => {
            let owner = parse_address("owner", &owner)?;
            record_key(&name)?;
            smol::block_on(async {
                let mut c = connect(&node).await?;
                let r = c
                    .get_data(owner, name.as_bytes())
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("no record {name:?} of {owner} on {node}"))?;
                if json {
                    let mut v = value_fields(&r.value);
                    v["owner"] = json!(owner.to_string());
                    v["key"] = json!(name);
                    v["height"] = json!(r.height);
                    v["tx"] = json!(r.tx.to_hex());
                    v["verified"] = json!(r.verified);
                    v["problem"] = json!(r.problem);
                    println!("{v}");
                } else {
                    println!("value     {}", value_text(&r.value));
                    println!("height    {}", r.height);
                    println!("tx        {}", r.tx);
                    match &r.problem {
                        None => println!(
                            "verified  yes: the inclusion proof checks against the block's signed header"
                        ),
                        Some(p) => println!("verified  NO: {p}"),
                    }
                }
                match r.problem {
                    None => Ok(()),
                    Some(p) => Err(format!(
                        "the node's proof of this record does not verify: {p}"
                    )),
                }
            })
        }
        DataCommand::History {
            owner,
            name,
            node,
            json,
        } => {
            let owner = parse_address("owner", &owner)?;
            record_key(&name)?;
            smol::block_on(async {
                let mut c = connect(&node).await?;
                let writes = c
                    .record_history(owner, name.as_bytes())
                    .await
                    .map_err(|e| e.to_string())?;
                if writes.is_empty() {
                    return Err(format!("no record {name:?} of {owner} on {node}"));
                }
                for (height, id) in writes.iter().rev() {
                    let p = c.tx(*id).await.map_err(|e| e.to_string())?;
                    let (value, verified) = match &p {
                        Some(p) => match &p.tx.tx.kind {
                            TxKind::PutData { value, .. } => (
                                value.as_slice().to_vec(),
                                verify_tx_proof(p).is_ok() && p.header.header.height == *height,
                            ),
                            _ => (Vec::new(), false),
                        },
                        None => (Vec::new(), false),
                    };
                    if json {
                        let mut v = value_fields(&value);
                        v["height"] = json!(height);
                        v["tx"] = json!(id.to_hex());
                        v["verified"] = json!(verified);
                        println!("{v}");
                    } else {
                        println!(
                            "height {height:<8} {}  tx {id}{}",
                            value_text(&value),
                            if verified {
                                ""
                            } else {
                                "  (proof NOT verified)"
                            }
                        );
                    }
                }
                Ok(())
            })
        }
    }
}

/// Runs a payment verb; `Ok(false)` is "no such payment" (exit status 1).
pub fn pay(cmd: PayCommand) -> Result<bool, String> {
    match cmd {
        PayCommand::Check {
            from,
            to,
            min_amount,
            memo,
            since,
            node,
            json,
        } => {
            let from = parse_address("--from", &from)?;
            let to = parse_address("--to", &to)?;
            let min = parse_amount("--min-amount", &min_amount)?;
            if let Some(m) = &memo {
                Memo::new(m.as_bytes().to_vec()).map_err(|_| {
                    format!(
                        "--memo is {} bytes; a memo holds at most {}, so no payment can carry it",
                        m.len(),
                        limits::MEMO
                    )
                })?;
            }
            let memo_b = memo.as_deref().map(str::as_bytes);
            smol::block_on(async {
                let mut c = connect(&node).await?;
                // Read before the check: a payment the check finds not final
                // yet is not final at this tip either.
                let tip = c.tip().await.map_err(|e| e.to_string())?;
                let found = c
                    .payment_received(from, to, min, memo_b, since)
                    .await
                    .map_err(|e| e.to_string())?;
                if let Some(p) = found {
                    let tip = c.tip().await.map_err(|e| e.to_string())?;
                    let mut v = tx_fields(&p.tx, Some(&to));
                    let h = &p.header.header;
                    v["paid"] = json!(true);
                    v["height"] = json!(h.height);
                    v["block"] = json!(h.hash().to_hex());
                    v["depth"] = json!(tip.height.saturating_sub(h.height));
                    v["verified"] = json!(true);
                    if json {
                        println!("{v}");
                    } else {
                        println!(
                            "paid: {} GWL from {from} to {to} in block {} at height {} ({} deep: final)",
                            v["amount_coins"].as_str().unwrap_or_default(),
                            h.hash(),
                            h.height,
                            plural(tip.height.saturating_sub(h.height), "block")
                        );
                        println!("tx {}", p.tx.id());
                    }
                    return Ok(true);
                }
                let info = c.params().await.map_err(|e| e.to_string())?;
                let pending = not_final_payment(
                    &mut c,
                    (from, to, min, memo_b, since),
                    tip.height,
                    info.finality_depth,
                )
                .await?;
                if json {
                    let mut v = json!({"paid": false});
                    if let Some((id, h)) = pending {
                        v["pending"] = json!({
                            "id": id.to_hex(),
                            "height": h,
                            "depth": tip.height.saturating_sub(h),
                            "finality_depth": info.finality_depth,
                        });
                    }
                    println!("{v}");
                } else {
                    println!(
                        "not paid: no final payment of at least {} GWL from {from} to {to}{}{}",
                        format_coins(min),
                        memo.as_ref()
                            .map(|m| format!(" with memo {m:?}"))
                            .unwrap_or_default(),
                        if since > 0 {
                            format!(" since height {since}")
                        } else {
                            String::new()
                        }
                    );
                    if let Some((id, h)) = pending {
                        println!(
                            "transaction {id} pays it at height {h}, {} deep: it is final once {} deep — check again then",
                            plural(tip.height.saturating_sub(h), "block"),
                            plural(info.finality_depth, "block")
                        );
                    }
                }
                Ok(false)
            })
        }
    }
}

/// What `pay check` looks for: from, to, at least this amount, this memo,
/// at this height or above.
type Wanted<'a> = (PublicKey, PublicKey, u64, Option<&'a [u8]>, u64);

/// A matching payment on chain but not final at height `tip`, as (id,
/// height).
async fn not_final_payment(
    c: &mut Client,
    (from, to, min, memo, since): Wanted<'_>,
    tip: u64,
    finality: u64,
) -> Result<Option<(Hash, u64)>, String> {
    let ids = c
        .history(to, crate::wire::limits::MAX_HISTORY)
        .await
        .map_err(|e| e.to_string())?;
    for id in ids {
        let Some(p) = c.tx(id).await.map_err(|e| e.to_string())? else {
            continue;
        };
        let h = p.header.header.height;
        if h < since || tip >= h + finality {
            // Older than asked, or final (and so already refused above).
            break;
        }
        let t = &p.tx.tx;
        let pays = matches!(t.kind, TxKind::Transfer { to: r, amount } if r == to && amount >= min);
        if t.sender == from && pays && memo.is_none_or(|m| t.memo.as_slice() == m) {
            return Ok(Some((id, h)));
        }
    }
    Ok(None)
}

/// A connection for one submitting verb: the node, the chain's parameters
/// and the signer.
/// A submitting verb's connection, chain parameters and key.
pub(crate) struct Session<'a> {
    pub(crate) c: Client,
    pub(crate) info: ChainInfo,
    pub(crate) key: Keypair,
    args: &'a Submit,
}

impl<'a> Session<'a> {
    pub(crate) async fn open(args: &'a Submit) -> Result<Session<'a>, String> {
        let key = keyfile::read(&args.key).map_err(|e| e.to_string())?;
        let mut c = connect(&args.node).await?;
        let info = c.params().await.map_err(|e| e.to_string())?;
        Ok(Session { c, info, key, args })
    }

    /// Checks the fee, nonce, memo and balance (`spend` + fee) locally,
    /// then signs and submits. Nothing is sent when a check fails.
    async fn submit(
        &mut self,
        kind: TxKind,
        memo: &[u8],
        spend: u64,
    ) -> Result<SignedTransaction, String> {
        let min = self.info.min_fee;
        self.submit_with_least_fee(kind, memo, spend, min).await
    }

    /// [`Session::submit`] for a transaction whose fee must be at least
    /// `min` (a contract transaction's: `min_fee + fuel_limit ×
    /// fuel_price`), the fee when --fee is not given.
    pub(crate) async fn submit_with_least_fee(
        &mut self,
        kind: TxKind,
        memo: &[u8],
        spend: u64,
        min: u64,
    ) -> Result<SignedTransaction, String> {
        let me = self.key.public();
        let fee = match &self.args.fee {
            Some(f) => parse_amount_or_zero("--fee", f)?,
            None => min,
        };
        if fee < min {
            return Err(format!(
                "fee {fee} below the minimum {min} (units; 1 GWL = 1,000,000 units): pass --fee {} or more, or leave --fee out to pay the minimum",
                format_coins(min)
            ));
        }
        let memo = Memo::new(memo.to_vec()).map_err(|_| {
            format!(
                "--memo is {} bytes; a memo holds at most {}",
                memo.len(),
                limits::MEMO
            )
        })?;
        let account = self.c.balance(me).await.map_err(|e| e.to_string())?;
        let nonce = match self.args.nonce {
            Some(n) if n < account.nonce => {
                return Err(format!(
                    "nonce {n} already used by {me} (its next nonce is {}): leave out --nonce to use the next one",
                    account.nonce
                ))
            }
            Some(n) => n,
            None => self.c.next_nonce(me).await.map_err(|e| e.to_string())?,
        };
        let needed = spend as u128 + fee as u128;
        if needed > account.balance as u128 {
            let what = if spend > 0 {
                format!(
                    "amount {} GWL + fee {} GWL",
                    format_coins(spend),
                    format_coins(fee)
                )
            } else {
                format!("fee {} GWL", format_coins(fee))
            };
            let todo = if spend > 0 && account.balance > fee {
                format!(
                    "send at most {} GWL, or fund it first",
                    format_coins(account.balance - fee)
                )
            } else {
                "fund it first".into()
            };
            return Err(format!(
                "{what} is more than the balance {} GWL of {me}: {todo}",
                format_coins(account.balance)
            ));
        }
        let tx = Transaction {
            chain_id: self.c.chain_id(),
            sender: me,
            nonce,
            fee,
            kind,
            memo,
        }
        .sign(&self.key);
        tx.check().map_err(|e| e.to_string())?;
        let id = tx.id();
        match self.c.submit(tx.clone()).await.map_err(|e| e.to_string())? {
            TxVerdict::Accepted => Ok(tx),
            TxVerdict::Rejected(why) => Err(format!(
                "the node {} refused transaction {id}: {why}",
                self.args.node
            )),
        }
    }

    /// Reports a submitted transaction; with --wait, once it is in a block.
    pub(crate) async fn finish(&mut self, tx: &SignedTransaction) -> Result<(), String> {
        if let Some(p) = self.wait_if_asked(tx, Value::Null).await? {
            self.print_included(tx, &p, Value::Null, &[]);
        }
        Ok(())
    }

    /// Without --wait, prints that `tx` is in the mempool (in JSON with
    /// `extra`'s fields) and gives None; with it, waits until `tx` is in a
    /// block and gives its checked proof, to be printed with
    /// [`Session::print_included`].
    pub(crate) async fn wait_if_asked(
        &mut self,
        tx: &SignedTransaction,
        extra: Value,
    ) -> Result<Option<TxProof>, String> {
        let id = tx.id();
        let node = &self.args.node;
        if self.args.wait {
            return self.wait_included(tx).await.map(Some);
        }
        if self.args.json {
            let mut v = json!({"id": id.to_hex(), "status": "submitted"});
            merge(&mut v, extra);
            println!("{v}");
        } else {
            println!("transaction {id} is in the mempool of {node}; `goodwill chain tx {id} --node {node}` shows it once it is in a block (or use --wait)");
        }
        Ok(None)
    }

    /// Prints that `tx` is in the block of proof `p`: in JSON with
    /// `extra`'s fields, in text with `lines` after the two it prints.
    pub(crate) fn print_included(
        &self,
        tx: &SignedTransaction,
        p: &TxProof,
        extra: Value,
        lines: &[String],
    ) {
        let id = tx.id();
        let h = &p.header.header;
        if self.args.json {
            let mut v = json!({
                "id": id.to_hex(),
                "status": "included",
                "height": h.height,
                "block": h.hash().to_hex(),
                "verified": true,
            });
            merge(&mut v, extra);
            println!("{v}");
        } else {
            println!("transaction {id}");
            println!("is in block {} at height {}", h.hash(), h.height);
            for l in lines {
                println!("{l}");
            }
        }
    }

    /// Waits until `tx` is in a block (its proof checked). Every two slots
    /// it is submitted again: a node that dropped it (its nonce taken, its
    /// epoch passed…) answers why, and that is the error.
    pub(crate) async fn wait_included(
        &mut self,
        tx: &SignedTransaction,
    ) -> Result<TxProof, String> {
        let id = tx.id();
        let node = self.args.node.clone();
        let timeout_ms = self.args.timeout.saturating_mul(1000);
        let step = (self.info.slot_ms / 3).clamp(20, 1_000);
        let resubmit_ms = self.info.slot_ms.saturating_mul(2).max(200);
        let started = crate::runtime::os::now_ms();
        let mut submitted = started;
        for _ in 0..=timeout_ms / step + 1 {
            if let Some(p) = self.c.tx(id).await.map_err(|e| e.to_string())? {
                verify_tx_proof(&p).map_err(|e| {
                    format!("transaction {id}: the node's inclusion proof does not verify: {e}")
                })?;
                return Ok(p);
            }
            let now = crate::runtime::os::now_ms();
            if now.saturating_sub(started) >= timeout_ms {
                break;
            }
            if now.saturating_sub(submitted) >= resubmit_ms {
                submitted = now;
                if let TxVerdict::Rejected(why) =
                    self.c.submit(tx.clone()).await.map_err(|e| e.to_string())?
                {
                    // It may have landed just now, which also spends its nonce.
                    if let Some(p) = self.c.tx(id).await.map_err(|e| e.to_string())? {
                        verify_tx_proof(&p).map_err(|e| {
                            format!(
                                "transaction {id}: the node's inclusion proof does not verify: {e}"
                            )
                        })?;
                        return Ok(p);
                    }
                    return Err(format!(
                        "transaction {id} was dropped and will not be included: {why}"
                    ));
                }
            }
            smol::Timer::after(Duration::from_millis(step)).await;
        }
        Err(format!(
            "transaction {id} is not in a block after {} s; it may still be: `goodwill chain tx {id} --node {node}` tells",
            self.args.timeout
        ))
    }
}

use crate::cli::net::connect;

/// Adds `extra`'s fields (an object, or null for none) to the object `v`.
fn merge(v: &mut Value, extra: Value) {
    if let (Some(v), Value::Object(extra)) = (v.as_object_mut(), extra) {
        v.extend(extra);
    }
}

pub(crate) fn parse_address(what: &str, s: &str) -> Result<PublicKey, String> {
    address::parse(s).map_err(|e| format!("{what}: {e}"))
}

fn parse_amount(what: &str, s: &str) -> Result<u64, String> {
    match parse_amount_or_zero(what, s)? {
        0 => Err(format!("{what} {s}: must be more than 0")),
        n => Ok(n),
    }
}

pub(crate) fn parse_amount_or_zero(what: &str, s: &str) -> Result<u64, String> {
    parse_coins(s).map_err(|e| format!("{what}: {e}"))
}

fn record_key(name: &str) -> Result<Bytes<{ limits::DATA_KEY }>, String> {
    if name.is_empty() {
        return Err("the record key is empty: give 1 to 64 bytes".into());
    }
    Bytes::new(name.as_bytes().to_vec()).map_err(|_| {
        format!(
            "the record key is {} bytes; a key holds at most {}",
            name.len(),
            limits::DATA_KEY
        )
    })
}

/// Refuses an epoch whose weight is no longer (or not yet) on sale, with
/// the rule's explanation.
fn check_weight_epoch(epoch: u64, current: u64, max_ahead: u64) -> Result<(), String> {
    let earliest = current + 2;
    if epoch < earliest {
        return Err(format!(
            "weight for epoch {epoch} can no longer be bought: the current epoch is {current} and weight is sold only for epoch {earliest} or later (the table is fixed when the epoch before it starts)"
        ));
    }
    let latest = current.saturating_add(max_ahead);
    if epoch > latest {
        return Err(format!(
            "weight for epoch {epoch} is not on sale yet: the current epoch is {current} and weight is sold at most {max_ahead} epochs ahead, up to epoch {latest}"
        ));
    }
    Ok(())
}

/// The weight of yes-votes (or removal votes) a decision takes: 75 % of
/// the live weight, rounded up (the ledger's `4 · yes ≥ 3 · live`).
fn weight_needed(live: u128) -> u128 {
    (live * 3).div_ceil(4)
}

/// A number in JSON; a string in the (practically impossible) case it is
/// above 2^64 - 1.
fn u128_json(x: u128) -> Value {
    u64::try_from(x)
        .map(Value::from)
        .unwrap_or_else(|_| Value::from(x.to_string()))
}

fn status_name(p: &Proposal, epoch: u64, ttl: u64) -> &'static str {
    match p.status {
        ProposalStatus::Pending if p.lapsed(epoch, ttl) => "lapsed",
        ProposalStatus::Pending => "pending",
        // Approved by a vote whose effect is still to come
        // (`association_delay_epochs`): no donations yet.
        ProposalStatus::Approved { since_epoch } if since_epoch > epoch => "approved-later",
        ProposalStatus::Approved { .. } => "approved",
        ProposalStatus::Removed { .. } => "removed",
    }
}

fn plural(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// Units (possibly above u64, as donations sum) as coins.
fn format_units(units: u128) -> String {
    match u64::try_from(units) {
        Ok(u) => format_coins(u),
        Err(_) => {
            let coin = crate::chain::genesis::COIN as u128;
            let frac = format!("{:06}", units % coin);
            let frac = frac.trim_end_matches('0');
            if frac.is_empty() {
                (units / coin).to_string()
            } else {
                format!("{}.{frac}", units / coin)
            }
        }
    }
}

/// A value as text when it is UTF-8, else as `0x…` hex.
fn value_text(v: &[u8]) -> String {
    match std::str::from_utf8(v) {
        Ok(t) => t.to_string(),
        Err(_) => format!("0x{}", hex::encode(v)),
    }
}

fn value_fields(v: &[u8]) -> Value {
    json!({"value": value_text(v), "value_hex": hex::encode(v)})
}

/// A transaction as JSON fields: `id`, `kind`, `from`, `nonce`, `fee`,
/// `fee_coins`, `memo`, and by kind `to`, `amount`, `amount_coins`,
/// `epoch`, `name`, `url`, `proposal`, `approve`, `key`, `value`; with
/// `me`, `direction` (`out` when `me` sent it, else `in`).
fn tx_fields(tx: &SignedTransaction, me: Option<&PublicKey>) -> Value {
    let t = &tx.tx;
    let mut v = json!({
        "id": tx.id().to_hex(),
        "kind": t.kind.name(),
        "from": t.sender.to_string(),
        "nonce": t.nonce,
        "fee": t.fee,
        "fee_coins": format_coins(t.fee),
        "memo": t.memo,
    });
    match &t.kind {
        TxKind::Transfer { to, amount } => {
            v["to"] = json!(to.to_string());
            v["amount"] = json!(amount);
            v["amount_coins"] = json!(format_coins(*amount));
        }
        TxKind::BuyWeight {
            epoch,
            amount,
            association,
        } => {
            v["to"] = json!(association.to_string());
            v["amount"] = json!(amount);
            v["amount_coins"] = json!(format_coins(*amount));
            v["epoch"] = json!(epoch);
        }
        TxKind::ProposeAssociation {
            name, url, account, ..
        } => {
            v["to"] = json!(account.to_string());
            v["name"] = json!(name);
            v["url"] = json!(url);
        }
        TxKind::VoteAssociation { proposal, approve } => {
            v["proposal"] = json!(proposal.to_hex());
            v["approve"] = json!(approve);
        }
        TxKind::PutData { key, value } => {
            v["key"] = json!(key);
            v["value"] = json!(value);
        }
        TxKind::ReportEquivocation { header_a, .. } => {
            v["to"] = json!(header_a.header.forger.to_string());
        }
        TxKind::DeployContract {
            code, fuel_limit, ..
        } => {
            v["code_bytes"] = json!(code.len());
            v["fuel_limit"] = json!(fuel_limit);
        }
        TxKind::CallContract {
            contract,
            value,
            fuel_limit,
            ..
        } => {
            v["contract"] = json!(contract.to_hex());
            v["amount"] = json!(value);
            v["amount_coins"] = json!(format_coins(*value));
            v["fuel_limit"] = json!(fuel_limit);
        }
    }
    if let Some(me) = me {
        v["direction"] = json!(if t.sender == *me { "out" } else { "in" });
    }
    v
}

/// One line of text for a transaction object from [`tx_fields`] (with
/// `height`).
fn tx_line(v: &Value) -> String {
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    let mut line = format!(
        "height {:<7} {:<3} {:<19}",
        v["height"].as_u64().unwrap_or_default(),
        s("direction"),
        s("kind")
    );
    if v.get("amount_coins").is_some() {
        line += &format!(" {} GWL", s("amount_coins"));
    }
    let dir = s("direction");
    if dir == "in" {
        line += &format!(" from {}", s("from"));
    }
    if v.get("to").is_some() && dir != "in" {
        line += &format!(" to {}", s("to"));
    }
    if let Some(e) = v.get("epoch") {
        line += &format!(" for epoch {e}");
    }
    if let Some(p) = v.get("proposal") {
        let yes = v["approve"].as_bool().unwrap_or_default();
        line += &format!(
            " {} on {}",
            if yes { "yes" } else { "no" },
            p.as_str().unwrap_or_default()
        );
    }
    if v.get("key").is_some() {
        line += &format!(" {:?}", s("key"));
    }
    line += &format!("  fee {} GWL", s("fee_coins"));
    let memo = s("memo");
    if !memo.is_empty() {
        line += &format!("  memo {memo:?}");
    }
    line += &format!("  tx {}", s("id"));
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_needed_is_the_ledgers_75_percent() {
        for live in 1..400u128 {
            let n = weight_needed(live);
            assert!(n * 4 >= live * 3, "{live}: {n} is not enough");
            assert!((n - 1) * 4 < live * 3, "{live}: {n} is more than needed");
        }
        assert_eq!(weight_needed(1), 1);
        assert_eq!(weight_needed(3), 3);
        assert_eq!(weight_needed(4), 3);
    }

    #[test]
    fn weight_epoch_rule() {
        let e = check_weight_epoch(5, 4, 1000).unwrap_err();
        assert_eq!(
            e,
            "weight for epoch 5 can no longer be bought: the current epoch is 4 and weight is sold only for epoch 6 or later (the table is fixed when the epoch before it starts)"
        );
        assert!(check_weight_epoch(6, 4, 1000).is_ok());
        assert!(check_weight_epoch(1004, 4, 1000).is_ok());
        assert!(check_weight_epoch(1005, 4, 1000)
            .unwrap_err()
            .contains("not on sale yet"));
    }

    #[test]
    fn large_donations_format() {
        assert_eq!(format_units(5_000_000), "5");
        assert_eq!(format_units(u64::MAX as u128 + 1), "18446744073709.551616");
        assert_eq!(
            format_units(u64::MAX as u128 * 2 + 2),
            "36893488147419.103232"
        );
    }
}
