//! Frames: a u32 little-endian length, then that many bytes of one
//! postcard-encoded [`Message`].
//!
//! The length is checked against the caller's limit before a single byte of
//! the body is read or any buffer grows; the body is read into one buffer
//! per connection, reused, and given back after a large frame. Growth past
//! the first [`CHUNK`] is charged to a [`FrameBudget`] shared by every
//! connection of a node, so many half-sent large frames cannot add up to
//! more than the budget. [`parse`] is the pure form (for tests and
//! fuzzing): `Ok(None)` means "incomplete, read more", an error means
//! "invalid, close the connection".

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::Message;
use crate::chain::codec::{self, encode, CodecError};

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The declared length is over the limit for this connection's state.
    #[error("frame of {len} bytes is over the limit of {limit} for this connection")]
    TooLarge {
        /// Declared length.
        len: u32,
        /// The limit.
        limit: u32,
    },
    /// The body is not a valid message.
    #[error("frame does not decode: {0}")]
    Invalid(#[from] CodecError),
    /// The peer closed the connection between frames.
    #[error("connection closed")]
    Closed,
    /// The peer closed the connection in the middle of a frame.
    #[error("connection closed in the middle of a frame ({got} of {expected} bytes)")]
    Truncated {
        /// Bytes received.
        got: usize,
        /// Bytes announced (with the length prefix).
        expected: usize,
    },
    /// A socket error.
    #[error("socket: {0}")]
    Io(#[from] io::Error),
    /// The node's budget for frame buffers (all connections together) is
    /// spent: the frame is not read (the sender may try again later).
    #[error("frame of {len} bytes refused: the node's frame buffers are full ({budget} bytes across connections)")]
    OverBudget {
        /// Declared length.
        len: u32,
        /// The node's budget.
        budget: usize,
    },
}

/// The bytes of frame buffers that all the connections of one node may hold
/// beyond their first [`CHUNK`] each: a frame that would need more is
/// refused ([`FrameError::OverBudget`]).
#[derive(Debug)]
pub struct FrameBudget {
    limit: usize,
    used: AtomicUsize,
}

impl FrameBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Arc<FrameBudget> {
        Arc::new(FrameBudget {
            limit,
            used: AtomicUsize::new(0),
        })
    }

    /// Takes `n` bytes if that many are left.
    fn take(&self, n: usize) -> bool {
        self.used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |u| {
                u.checked_add(n).filter(|t| *t <= self.limit)
            })
            .is_ok()
    }

    fn give(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::SeqCst);
    }

    /// Bytes held now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::SeqCst)
    }

    /// The limit.
    pub fn limit(&self) -> usize {
        self.limit
    }
}

/// The bytes of one frame carrying `msg`.
pub fn encode_frame(msg: &Message) -> Vec<u8> {
    let body = encode(msg);
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// Parses one frame from the front of `buf`: `Ok(Some((msg, used)))`, or
/// `Ok(None)` if `buf` does not hold a whole frame yet.
pub fn parse(buf: &[u8], limit: u32) -> Result<Option<(Message, usize)>, FrameError> {
    let Some(head) = buf.get(..4) else {
        return Ok(None);
    };
    let len = u32::from_le_bytes(head.try_into().expect("4 bytes"));
    if len > limit {
        return Err(FrameError::TooLarge { len, limit });
    }
    // On a 32-bit target 4 + u32::MAX does not fit a usize; no buffer
    // could hold such a frame, so it is incomplete, as on 64 bits.
    let Some(end) = (len as usize).checked_add(4) else {
        return Ok(None);
    };
    let Some(body) = buf.get(4..end) else {
        return Ok(None);
    };
    let msg = codec::decode("message", body, limit as usize)?;
    Ok(Some((msg, end)))
}

/// How much the read buffer grows by while a frame's body arrives; a
/// connection's buffer up to this size is its own, beyond it is charged to
/// the node's [`FrameBudget`] and given back after the frame.
pub const CHUNK: usize = 64 * 1024;

/// Reads frames from a stream into one reusable buffer.
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    buf: Vec<u8>,
    budget: Option<Arc<FrameBudget>>,
    /// Bytes of the buffer charged to the budget.
    charged: usize,
}

impl<R> Drop for FrameReader<R> {
    fn drop(&mut self) {
        if let Some(b) = &self.budget {
            b.give(self.charged);
        }
    }
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// Wraps a stream.
    pub fn new(inner: R) -> Self {
        FrameReader {
            inner,
            buf: Vec::new(),
            budget: None,
            charged: 0,
        }
    }

    /// Wraps a stream whose buffer growth past [`CHUNK`] is charged to `budget`.
    pub fn with_budget(inner: R, budget: Arc<FrameBudget>) -> Self {
        FrameReader {
            inner,
            buf: Vec::new(),
            budget: Some(budget),
            charged: 0,
        }
    }

    /// Reads one message whose frame is at most `limit` bytes.
    pub async fn read(&mut self, limit: u32) -> Result<Message, FrameError> {
        let len = self.read_head(limit).await?;
        self.read_body(len).await
    }

    /// Reads a frame's length (waiting as long as it takes for its first
    /// byte) and checks it against `limit`; [`FrameReader::read_body`]
    /// reads the rest. A caller may put a deadline on the body alone.
    pub async fn read_head(&mut self, limit: u32) -> Result<u32, FrameError> {
        let mut head = [0u8; 4];
        let mut got = 0;
        while got < 4 {
            let n = self.inner.read(&mut head[got..]).await?;
            if n == 0 {
                return Err(if got == 0 {
                    FrameError::Closed
                } else {
                    FrameError::Truncated { got, expected: 4 }
                });
            }
            got += n;
        }
        let len = u32::from_le_bytes(head);
        if len > limit {
            return Err(FrameError::TooLarge { len, limit });
        }
        Ok(len)
    }

    /// Reads the body of a frame of `len` bytes (from [`FrameReader::read_head`]).
    pub async fn read_body(&mut self, len: u32) -> Result<Message, FrameError> {
        let r = self.fill(len).await;
        let msg = r.and_then(|()| Ok(codec::decode("message", &self.buf, (len as usize).max(1))?));
        // After a large frame the buffer is given back: a connection that
        // once carried a block does not keep megabytes while it idles.
        if self.buf.capacity() > CHUNK {
            self.buf = Vec::new();
            if let Some(b) = &self.budget {
                b.give(std::mem::take(&mut self.charged));
            }
        }
        msg
    }

    async fn fill(&mut self, len: u32) -> Result<(), FrameError> {
        let total = len as usize;
        // The buffer grows with the bytes that actually arrive (a chunk at a
        // time), never to a declared length alone, and is reused.
        self.buf.clear();
        let mut got = 0;
        while got < total {
            let want = (got + CHUNK).min(total);
            if self.buf.len() < want {
                if want > self.buf.capacity() {
                    // Past the first chunk, growth is charged to the budget.
                    let extra = want.saturating_sub(CHUNK).saturating_sub(self.charged);
                    if extra > 0 {
                        if let Some(b) = &self.budget {
                            if !b.take(extra) {
                                return Err(FrameError::OverBudget {
                                    len,
                                    budget: b.limit(),
                                });
                            }
                            self.charged += extra;
                        }
                    }
                    self.buf.reserve_exact(want - self.buf.len());
                }
                self.buf.resize(want, 0);
            }
            let n = self.inner.read(&mut self.buf[got..want]).await?;
            if n == 0 {
                return Err(FrameError::Truncated {
                    got: got.saturating_add(4),
                    expected: total.saturating_add(4),
                });
            }
            got += n;
        }
        Ok(())
    }

    /// The stream.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }
}

/// Writes one message as a frame and flushes.
pub async fn write<W: AsyncWrite + Unpin>(w: &mut W, msg: &Message) -> Result<(), io::Error> {
    w.write_all(&encode_frame(msg)).await?;
    w.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::crypto::Hash;
    use crate::wire::{ErrorCode, TipInfo};

    #[test]
    fn the_largest_declared_length_is_incomplete_not_an_overflow() {
        // 4 + u32::MAX overflows a 32-bit usize (armv7): found by the
        // mutation fuzzer under qemu.
        let mut buf = u32::MAX.to_le_bytes().to_vec();
        buf.extend_from_slice(&[0; 16]);
        assert!(matches!(parse(&buf, u32::MAX), Ok(None)));
        assert!(matches!(
            parse(&buf, u32::MAX - 1),
            Err(FrameError::TooLarge { .. })
        ));
    }

    #[test]
    fn incomplete_and_invalid_are_told_apart() {
        let msg = Message::Tip(TipInfo {
            height: 5,
            hash: Hash([1; 32]),
            slot: 9,
        });
        let f = encode_frame(&msg);
        for cut in 0..f.len() {
            assert!(parse(&f[..cut], 1000).unwrap().is_none(), "cut {cut}");
        }
        let (m, used) = parse(&f, 1000).unwrap().unwrap();
        assert_eq!((m, used), (msg, f.len()));
        // Declared 4 GiB: refused before the body is even there.
        assert!(matches!(
            parse(&[0xff, 0xff, 0xff, 0xff], 1000),
            Err(FrameError::TooLarge { .. })
        ));
        // Garbage body.
        assert!(matches!(
            parse(&[2, 0, 0, 0, 0xff, 0xff], 1000),
            Err(FrameError::Invalid(_))
        ));
        let e = Message::error(ErrorCode::Other, &"é".repeat(1000));
        assert!(parse(&encode_frame(&e), 2000).unwrap().is_some());
    }

    #[test]
    fn reader_reuses_and_bounds() {
        smol::block_on(async {
            let a = encode_frame(&Message::GetPeers);
            let mut bytes = a.clone();
            bytes.extend_from_slice(&[0xff, 0xff, 0xff, 0x7f]);
            let mut r = FrameReader::new(futures_lite::io::Cursor::new(bytes));
            assert_eq!(r.read(100).await.unwrap(), Message::GetPeers);
            assert!(matches!(
                r.read(100).await,
                Err(FrameError::TooLarge { .. })
            ));
            assert!(r.buf.capacity() < 100);
            let mut r = FrameReader::new(futures_lite::io::Cursor::new(a[..3].to_vec()));
            assert!(matches!(
                r.read(100).await,
                Err(FrameError::Truncated { .. })
            ));
            let mut r = FrameReader::new(futures_lite::io::Cursor::new(Vec::new()));
            assert!(matches!(r.read(100).await, Err(FrameError::Closed)));
        });
    }

    #[test]
    fn large_frames_are_charged_to_the_budget_and_given_back() {
        smol::block_on(async {
            let big = Message::error(ErrorCode::Other, "x");
            let mut body = encode_frame(&big);
            // A frame of 300 KiB whose body is padding after the message
            // would not decode; a Blocks message of that size is simpler to
            // fake as a declared length with too few bytes behind it.
            let len = (300 * 1024u32).to_le_bytes();
            let budget = FrameBudget::new(400 * 1024);
            // Two readers each take 300 KiB − 64 KiB: the second is refused.
            let mut half = len.to_vec();
            half.extend(std::iter::repeat_n(0u8, 300 * 1024 - 1));
            let mut a = FrameReader::with_budget(
                futures_lite::io::Cursor::new(half.clone()),
                budget.clone(),
            );
            assert!(matches!(
                a.read(1 << 20).await,
                Err(FrameError::Truncated { .. })
            ));
            assert_eq!(budget.used(), 0, "a large frame's buffer is given back");
            // Hold a charge: a reader stopped in the middle of a frame.
            let mut held = FrameReader::with_budget(
                futures_lite::io::Cursor::new(half.clone()),
                budget.clone(),
            );
            held.charged = 0;
            let head = held.read_head(1 << 20).await.unwrap();
            assert_eq!(head, 300 * 1024);
            assert!(budget.take(236 * 1024));
            let mut b =
                FrameReader::with_budget(futures_lite::io::Cursor::new(half), budget.clone());
            assert!(matches!(
                b.read(1 << 20).await,
                Err(FrameError::OverBudget { .. })
            ));
            budget.give(236 * 1024);
            drop(held);
            assert_eq!(budget.used(), 0);
            // A small frame after a large one: read from a fresh buffer.
            body.splice(0..0, encode_frame(&Message::GetPeers));
            let mut c =
                FrameReader::with_budget(futures_lite::io::Cursor::new(body), budget.clone());
            assert_eq!(c.read(100).await.unwrap(), Message::GetPeers);
            assert_eq!(c.read(100).await.unwrap(), big);
            assert!(c.buf.capacity() <= CHUNK);
        });
    }
}
