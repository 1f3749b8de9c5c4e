//! A forger fetching a new release from its main nodes (every
//! `update.poll_s`, when it trusts a release key): it asks each main node
//! in turn for the newest release for its target
//! ([`crate::wire::Query::Release`]), checks the manifest (trusted key,
//! signature, product, target, expiry, counter above the running one, not
//! marked bad), and only then downloads the binary in chunks
//! ([`crate::wire::Query::ReleaseBytes`]) through the `ota` traits —
//! bounded by the manifest's size, hashed as it comes, checked, selfchecked
//! and taken on trial as `goodwill update apply` does. The restart into it
//! is the watch's ([`super::watch`]).
//!
//! The session is a client's, signed with the forger's own key: main nodes
//! answer these queries to live forgers' keys only.

use std::path::PathBuf;
use std::time::Duration;

use embedded_svc::io::Write as _;
use embedded_svc::ota::{Ota, OtaUpdate};

use super::linux::{LinuxOta, SlotStore, UpdateError};
use super::{ManifestError, Policy, SignedManifest, THIS_TARGET};
use crate::chain::crypto::{Hash, Keypair, PublicKey};
use crate::runtime::client::Client;
use crate::wire::{limits, Answer, Query, Role};

/// How long one question to a main node may take.
pub const ASK_MS: u64 = 20_000;
/// The least time between two chunk questions: 250 a second at most
/// (16 MB/s: a 6 MB release in under half a second), half a main node's
/// flood limit on one session (500 messages a second by default).
pub const CHUNK_GAP_MS: u64 = 4;

/// What a fetch needs.
#[derive(Debug, Clone)]
pub struct Fetch {
    /// The update directory.
    pub dir: PathBuf,
    /// The release keys trusted.
    pub keys: Vec<PublicKey>,
    /// This process's release counter.
    pub running: u64,
    /// The main nodes.
    pub mains: Vec<String>,
    /// The forger's key (the session's).
    pub key: Keypair,
    /// The chain.
    pub chain_id: Hash,
}

/// What one fetch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// Nothing new offered (or one on trial already).
    Nothing,
    /// A release taken on trial.
    Taken {
        /// Its version.
        version: String,
        /// Its counter.
        counter: u64,
        /// From which main node.
        from: String,
    },
    /// An offered release refused (the reason), the same each time until
    /// the offer changes.
    Refused(String),
}

async fn ask(c: &mut Client, q: Query) -> Result<Answer, String> {
    futures_lite::future::or(
        async { c.query(q).await.map_err(|e| e.to_string()) },
        async {
            smol::Timer::after(Duration::from_millis(ASK_MS)).await;
            Err(format!("no answer within {ASK_MS} ms"))
        },
    )
    .await
}

/// Asks the main nodes, in turn, for a release, and takes the first one
/// the trusted keys sign that is newer than what runs.
pub async fn fetch_once(f: &Fetch, now_ms: u64) -> Result<Fetched, String> {
    let store = SlotStore::open(&f.dir).map_err(|e| e.to_string())?;
    let slots = store.load().map_err(|e| e.to_string())?;
    if slots.trial.is_some() || slots.running() != f.running {
        return Ok(Fetched::Nothing);
    }
    let target = crate::chain::codec::Bytes::new(THIS_TARGET.as_bytes())
        .map_err(|_| "this target's name is too long".to_string())?;
    let mut failures = Vec::new();
    for addr in &f.mains {
        let mut c = match futures_lite::future::or(
            async {
                Client::connect_as(addr, &f.key, Role::Client, f.chain_id, None)
                    .await
                    .map_err(|e| e.to_string())
            },
            async {
                smol::Timer::after(Duration::from_millis(ASK_MS)).await;
                Err(format!("no session within {ASK_MS} ms"))
            },
        )
        .await
        {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{addr}: {e}"));
                continue;
            }
        };
        let text = match ask(
            &mut c,
            Query::Release {
                target: target.clone(),
            },
        )
        .await
        {
            Ok(Answer::Release(Some(t))) => t,
            Ok(Answer::Release(None)) => continue,
            Ok(Answer::Error(e)) => {
                failures.push(format!("{addr}: {e}"));
                continue;
            }
            Ok(other) => {
                failures.push(format!("{addr}: answered {other:?}"));
                continue;
            }
            Err(e) => {
                failures.push(format!("{addr}: {e}"));
                continue;
            }
        };
        let signed = SignedManifest::from_text(&String::from_utf8_lossy(text.as_slice()))
            .map_err(|e| format!("{addr} offers {e}"))?;
        let policy = Policy {
            keys: &f.keys,
            target: THIS_TARGET,
            running: slots.running(),
            bad: &slots.bad,
        };
        match signed.check(&policy, now_ms) {
            Ok(()) => {}
            // What runs, or older, or failed here: nothing to do.
            Err(ManifestError::NotNewer { .. } | ManifestError::MarkedBad(_)) => continue,
            Err(e) => return Ok(Fetched::Refused(format!("{addr} offers a release: {e}"))),
        }
        let m = signed.manifest.clone();
        let sha = Hash(m.sha256);
        let mut ota = LinuxOta::new(store.clone(), f.running, now_ms);
        ota.expect(signed);
        let mut incoming = ota.initiate_update().map_err(|e| e.to_string())?;
        let mut offset = 0u64;
        // Bounded: one chunk per RELEASE_CHUNK bytes, and a short one ends it.
        let most = m.size / limits::RELEASE_CHUNK as u64 + 2;
        let mut got: Result<(), String> = Ok(());
        for _ in 0..most {
            if offset >= m.size {
                break;
            }
            let paced = smol::Timer::after(Duration::from_millis(CHUNK_GAP_MS));
            match ask(
                &mut c,
                Query::ReleaseBytes {
                    sha256: sha,
                    offset,
                },
            )
            .await
            {
                Ok(Answer::ReleaseBytes(b)) if !b.as_slice().is_empty() => {
                    if let Err(e) = incoming.write_all(b.as_slice()) {
                        got = Err(e.to_string());
                        break;
                    }
                    offset += b.as_slice().len() as u64;
                    paced.await;
                }
                Ok(Answer::ReleaseBytes(_)) => {
                    got = Err(format!(
                        "{addr} ended the binary at {offset} bytes of {}",
                        m.size
                    ));
                    break;
                }
                Ok(other) => {
                    got = Err(format!("{addr}: answered {other:?}"));
                    break;
                }
                Err(e) => {
                    got = Err(format!("{addr}: {e}"));
                    break;
                }
            }
        }
        if let Err(e) = got {
            let _ = incoming.abort();
            return Err(format!(
                "fetching release {} (counter {}): {e}",
                m.version, m.counter
            ));
        }
        // The checks (size, hash, selfcheck) and the durable steps block:
        // the caller runs this on a thread of its own ([`fetch_blocking`]).
        return match incoming.complete() {
            Ok(()) => Ok(Fetched::Taken {
                version: m.version,
                counter: m.counter,
                from: addr.clone(),
            }),
            Err(
                e @ (UpdateError::Manifest(_)
                | UpdateError::SelfCheck(_)
                | UpdateError::Install(_)
                | UpdateError::Busy(_)),
            ) => Ok(Fetched::Refused(format!(
                "release {} (counter {}) from {addr}: {e}",
                m.version, m.counter
            ))),
            Err(e) => Err(e.to_string()),
        };
    }
    if failures.len() == f.mains.len() && !failures.is_empty() {
        return Err(failures.join("; "));
    }
    Ok(Fetched::Nothing)
}

/// [`fetch_once`] on a thread of smol's blocking pool: its file steps
/// (fsyncs, the selfcheck) never hold up the appliance's executor.
pub async fn fetch_blocking(f: Fetch, now_ms: u64) -> Result<Fetched, String> {
    smol::unblock(move || smol::block_on(fetch_once(&f, now_ms))).await
}
