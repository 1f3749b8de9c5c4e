//! The handshake that opens every connection, in both directions.
//!
//! 1. Each side sends [`Hello`]: version, chain id, role, tip, its key, a
//!    fresh 32-byte nonce, its clock.
//! 2. Each side checks the other's Hello (version, chain) and sends `Auth`:
//!    its signature, tag `goodwill/handshake/v1`, over
//!    `encode((other side's nonce, H(encode(own Hello))))`. It proves the key
//!    and binds the whole Hello; as the nonce is fresh, a recorded handshake
//!    replayed on a new connection fails.
//! 3. Each side verifies the other's Auth. Any failure sends
//!    [`Message::Error`] with a reason and closes.

use futures_lite::{AsyncRead, AsyncWrite};

use super::frame::{self, FrameError, FrameReader};
use super::{limits, ErrorCode, Hello, Message, PROTOCOL_VERSION};
use crate::chain::codec::encode;
use crate::chain::crypto::{self, tag, Hash, Keypair, Signature};

/// Why a handshake failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The peer speaks another version.
    #[error("peer speaks protocol version {theirs}, this node speaks {PROTOCOL_VERSION}")]
    Version {
        /// Theirs.
        theirs: u16,
    },
    /// The peer is on another chain.
    #[error("peer is on chain {theirs}, this node is on {ours}")]
    WrongChain {
        /// Ours.
        ours: Hash,
        /// Theirs.
        theirs: Hash,
    },
    /// The peer's Auth does not verify.
    #[error("peer's handshake signature does not verify (a replayed or forged handshake)")]
    BadSignature,
    /// The peer sent something else than the handshake expects.
    #[error("peer sent {got} during the handshake, expected {expected}")]
    OutOfTurn {
        /// What was expected.
        expected: &'static str,
        /// What came.
        got: &'static str,
    },
    /// The peer closed with an error of its own.
    #[error("peer refused the connection ({code:?}): {text}")]
    Refused {
        /// Its code.
        code: ErrorCode,
        /// Its reason.
        text: String,
    },
    /// The frame layer failed.
    #[error(transparent)]
    Frame(#[from] FrameError),
}

impl HandshakeError {
    /// The code to send the peer for this failure.
    pub fn code(&self) -> ErrorCode {
        match self {
            HandshakeError::Version { .. } => ErrorCode::Version,
            HandshakeError::WrongChain { .. } => ErrorCode::WrongChain,
            HandshakeError::BadSignature => ErrorCode::BadSignature,
            HandshakeError::OutOfTurn { .. } => ErrorCode::OutOfTurn,
            HandshakeError::Frame(FrameError::TooLarge { .. })
            | HandshakeError::Frame(FrameError::Invalid(_)) => ErrorCode::Malformed,
            _ => ErrorCode::Other,
        }
    }
}

/// Checks the peer's Hello against our chain.
pub fn check_hello(chain_id: &Hash, theirs: &Hello) -> Result<(), HandshakeError> {
    if theirs.version != PROTOCOL_VERSION {
        return Err(HandshakeError::Version {
            theirs: theirs.version,
        });
    }
    // A client that does not know the chain yet says so with the zero id and
    // learns it from our Hello; everyone else must be on our chain.
    let any = theirs.role == super::Role::Client && theirs.chain_id == Hash::ZERO;
    if theirs.chain_id != *chain_id && !any && *chain_id != Hash::ZERO {
        return Err(HandshakeError::WrongChain {
            ours: *chain_id,
            theirs: theirs.chain_id,
        });
    }
    Ok(())
}

/// This clock minus the peer's: their Hello's clock is taken as read half-way
/// between `t0` (our clock when the handshake began) and `t1` (when it
/// ended), so the error is at most half the time between them.
pub fn clock_offset_ms(t0: u64, t1: u64, their_clock_ms: u64) -> i64 {
    (t0 / 2 + t1 / 2 + (t0 % 2 + t1 % 2) / 2) as i64 - their_clock_ms as i64
}

/// A peer's clock as one handshake measured it: this clock minus theirs,
/// and how far that figure may be from the truth.
///
/// The peer read its clock somewhere between `t0` and `t1`; taking the
/// middle, the true offset lies within `offset_ms ± error_ms`. On a busy
/// board (or under an emulator) the handshake can take hundreds of
/// milliseconds, so the error matters: a clock is only known to be off by
/// what lies beyond it ([`ClockSample::least_off_ms`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClockSample {
    /// This clock minus the peer's, ms.
    pub offset_ms: i64,
    /// The most the true offset can differ from `offset_ms`, ms.
    pub error_ms: u64,
}

impl ClockSample {
    /// The sample of a handshake that began at `t0` and ended at `t1` (this
    /// clock) and carried the peer's `their_clock_ms`.
    pub fn measure(t0: u64, t1: u64, their_clock_ms: u64) -> Self {
        Self {
            offset_ms: clock_offset_ms(t0, t1, their_clock_ms),
            error_ms: t1.saturating_sub(t0).div_ceil(2),
        }
    }

    /// A sample known exactly (tests, a simulation with no latency).
    pub const fn exact(offset_ms: i64) -> Self {
        Self {
            offset_ms,
            error_ms: 0,
        }
    }

    /// The least the two clocks can differ by: |offset| less the error.
    pub fn least_off_ms(&self) -> u64 {
        self.offset_ms.unsigned_abs().saturating_sub(self.error_ms)
    }
}

fn auth_body(their_nonce: &[u8; 32], own_hello: &Hello) -> Vec<u8> {
    encode(&(their_nonce, Hash::of(&[&encode(own_hello)])))
}

/// Our Auth signature for a peer whose nonce is `their_nonce`.
pub fn sign_auth(key: &Keypair, own_hello: &Hello, their_nonce: &[u8; 32]) -> Signature {
    key.sign(
        tag::HANDSHAKE,
        &own_hello.chain_id,
        &auth_body(their_nonce, own_hello),
    )
}

/// Verifies the peer's Auth: signed by the key in its Hello, over our nonce
/// and its Hello.
pub fn verify_auth(
    their_hello: &Hello,
    our_nonce: &[u8; 32],
    sig: &Signature,
) -> Result<(), HandshakeError> {
    crypto::verify(
        &their_hello.key,
        tag::HANDSHAKE,
        &their_hello.chain_id,
        &auth_body(our_nonce, their_hello),
        sig,
    )
    .map_err(|_| HandshakeError::BadSignature)
}

fn refused(msg: Message, expected: &'static str) -> HandshakeError {
    match msg {
        Message::Error { code, text } => HandshakeError::Refused {
            code,
            text: text.lossy(),
        },
        other => HandshakeError::OutOfTurn {
            expected,
            got: other.name(),
        },
    }
}

/// Runs the handshake on a connection: sends `ours`, checks and
/// authenticates the peer's, and returns the peer's Hello. On failure the
/// peer is sent an Error with the reason (best effort) before the error is
/// returned; the caller closes.
pub async fn run<R, W>(
    reader: &mut FrameReader<R>,
    writer: &mut W,
    key: &Keypair,
    ours: &Hello,
) -> Result<Hello, HandshakeError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    Ok(run_timed(reader, writer, key, ours, || 0).await?.0)
}

/// [`run`], also giving the time (`now()`) at which the peer's Hello was
/// read: the peer read its clock for that Hello just before sending it, so
/// a clock offset is measured between the start of the handshake and that
/// moment. The Auth step after it (a signature each way, another round
/// trip) is no part of it: counted in, it biased the offset by half its
/// duration, which on a slow or busy machine exceeded the tolerance.
pub async fn run_timed<R, W>(
    reader: &mut FrameReader<R>,
    writer: &mut W,
    key: &Keypair,
    ours: &Hello,
    now: impl Fn() -> u64,
) -> Result<(Hello, u64), HandshakeError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let result = exchange(reader, writer, key, ours, now).await;
    if let Err(e) = &result {
        if !matches!(
            e,
            HandshakeError::Refused { .. } | HandshakeError::Frame(FrameError::Io(_))
        ) {
            let _ = frame::write(writer, &Message::error(e.code(), &e.to_string())).await;
        }
    }
    result
}

async fn exchange<R, W>(
    reader: &mut FrameReader<R>,
    writer: &mut W,
    key: &Keypair,
    ours: &Hello,
    now: impl Fn() -> u64,
) -> Result<(Hello, u64), HandshakeError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    frame::write(writer, &Message::Hello(Box::new(ours.clone())))
        .await
        .map_err(FrameError::Io)?;
    let theirs = match reader.read(limits::HANDSHAKE_FRAME).await? {
        Message::Hello(h) => *h,
        other => return Err(refused(other, "hello")),
    };
    let hello_at = now();
    check_hello(&ours.chain_id, &theirs)?;
    let signature = sign_auth(key, ours, &theirs.nonce);
    frame::write(writer, &Message::Auth { signature })
        .await
        .map_err(FrameError::Io)?;
    match reader.read(limits::HANDSHAKE_FRAME).await? {
        Message::Auth { signature } => verify_auth(&theirs, &ours.nonce, &signature)?,
        other => return Err(refused(other, "auth")),
    }
    Ok((theirs, hello_at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::codec::Bytes;
    use crate::wire::{Role, TipInfo};

    fn hello(key: &Keypair, nonce: u8) -> Hello {
        Hello {
            version: PROTOCOL_VERSION,
            chain_id: Hash([9; 32]),
            role: Role::MainNode,
            tip: TipInfo {
                height: 0,
                hash: Hash([9; 32]),
                slot: 0,
            },
            key: key.public(),
            nonce: [nonce; 32],
            clock_ms: 1,
            listen: None,
            software: Bytes::new(*b"test").unwrap(),
        }
    }

    #[test]
    fn auth_binds_nonce_and_hello() {
        let a = Keypair::from_seed([1; 32]).unwrap();
        let ha = hello(&a, 1);
        let sig = sign_auth(&a, &ha, &[2; 32]);
        assert!(verify_auth(&ha, &[2; 32], &sig).is_ok());
        // Replayed on a connection with another nonce: refused.
        assert!(verify_auth(&ha, &[3; 32], &sig).is_err());
        // A Hello altered after signing: refused.
        let mut altered = ha.clone();
        altered.role = Role::Forger;
        assert!(verify_auth(&altered, &[2; 32], &sig).is_err());
    }

    /// Gives `inner`'s bytes, moving `clock` on by `delay` ms first: a
    /// peer whose message comes late.
    struct Late {
        clock: std::rc::Rc<std::cell::Cell<u64>>,
        delay: u64,
        inner: futures_lite::io::Cursor<Vec<u8>>,
    }

    impl AsyncRead for Late {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &mut [u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            let delay = std::mem::take(&mut self.delay);
            self.clock.set(self.clock.get() + delay);
            std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    #[test]
    fn the_peers_hello_is_timed_on_arrival_not_after_its_auth() {
        use futures_lite::AsyncReadExt;
        let (a, b) = (
            Keypair::from_seed([1; 32]).unwrap(),
            Keypair::from_seed([2; 32]).unwrap(),
        );
        let (ours, theirs) = (hello(&a, 1), hello(&b, 2));
        let auth = sign_auth(&b, &theirs, &ours.nonce);
        let clock = std::rc::Rc::new(std::cell::Cell::new(10_000));
        // The peer's Hello is there at once; its Auth comes 1 s later.
        let stream = futures_lite::io::Cursor::new(frame::encode_frame(&Message::Hello(Box::new(
            theirs.clone(),
        ))))
        .chain(Late {
            clock: clock.clone(),
            delay: 1_000,
            inner: futures_lite::io::Cursor::new(frame::encode_frame(&Message::Auth {
                signature: auth,
            })),
        });
        let mut reader = FrameReader::new(stream);
        let mut sent = Vec::new();
        let (got, hello_at) =
            smol::block_on(run_timed(&mut reader, &mut sent, &a, &ours, || clock.get()))
                .expect("the handshake completes");
        assert_eq!(got, theirs);
        assert_eq!(clock.get(), 11_000, "the Auth came late");
        assert_eq!(hello_at, 10_000, "timed when the Hello came");
    }

    #[test]
    fn hello_checks() {
        let a = Keypair::from_seed([1; 32]).unwrap();
        let mut h = hello(&a, 1);
        assert!(check_hello(&Hash([9; 32]), &h).is_ok());
        assert!(matches!(
            check_hello(&Hash([8; 32]), &h),
            Err(HandshakeError::WrongChain { .. })
        ));
        h.version = 99;
        assert!(matches!(
            check_hello(&Hash([9; 32]), &h),
            Err(HandshakeError::Version { theirs: 99 })
        ));
    }
}
