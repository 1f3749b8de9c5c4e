//! A client of a main node: connects, does the handshake, asks and submits.
//! The command line's network verbs use it; applications can too.

use std::collections::VecDeque;

use smol::net::TcpStream;

use crate::block::Block;
use crate::codec::Bytes;
use crate::crypto::{Hash, Keypair, PublicKey};
use crate::state::Account;
use crate::tx::SignedTransaction;
use crate::wire::frame::{self, FrameError, FrameReader};
use crate::wire::handshake::{self, HandshakeError};
use crate::wire::{
    Answer, ForgerEntry, Hello, Message, NodeStatus, Query, Role, TipInfo, TxEvent, TxProof,
    TxVerdict, PROTOCOL_VERSION,
};

/// The largest frame a client accepts from a node (a sync answer full of
/// blocks is the largest message there is).
pub const CLIENT_READ_LIMIT: u32 = 64 << 20;

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
        Client::connect_as(addr, &Keypair::generate(), Role::Client, Hash::ZERO, None).await
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
            nonce: crate::os::random_bytes(),
            clock_ms: crate::os::now_ms(),
            listen: None,
            software: Bytes::new(concat!("goodwill/", env!("CARGO_PKG_VERSION")).as_bytes())
                .expect("short"),
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
            match self.next_reply().await? {
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
