//! Frames: a u32 little-endian length, then that many bytes of one
//! postcard-encoded [`Message`].
//!
//! The length is checked against the caller's limit before a single byte of
//! the body is read or any buffer grows; the body is read into one buffer
//! per connection, reused. [`parse`] is the pure form (for tests and
//! fuzzing): `Ok(None)` means "incomplete, read more", an error means
//! "invalid, close the connection".

use std::io;

use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::Message;
use crate::codec::{self, encode, CodecError};

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
    let end = 4 + len as usize;
    let Some(body) = buf.get(4..end) else {
        return Ok(None);
    };
    let msg = codec::decode("message", body, limit as usize)?;
    Ok(Some((msg, end)))
}

/// How much the read buffer grows by while a frame's body arrives.
const CHUNK: usize = 64 * 1024;

/// Reads frames from a stream into one reusable buffer.
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    buf: Vec<u8>,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// Wraps a stream.
    pub fn new(inner: R) -> Self {
        FrameReader {
            inner,
            buf: Vec::new(),
        }
    }

    /// Reads one message whose frame is at most `limit` bytes.
    pub async fn read(&mut self, limit: u32) -> Result<Message, FrameError> {
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
        let len = len as usize;
        // The buffer grows with the bytes that actually arrive (a chunk at a
        // time), never to a declared length alone, and is reused.
        self.buf.clear();
        let mut got = 0;
        while got < len {
            let want = (got + CHUNK).min(len);
            if self.buf.len() < want {
                self.buf.resize(want, 0);
            }
            let n = self.inner.read(&mut self.buf[got..want]).await?;
            if n == 0 {
                return Err(FrameError::Truncated {
                    got: got + 4,
                    expected: len + 4,
                });
            }
            got += n;
        }
        Ok(codec::decode("message", &self.buf, len.max(1))?)
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
    use crate::crypto::Hash;
    use crate::wire::{ErrorCode, TipInfo};

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
}
