//! The HTTP API's line to the core thread: a request ([`Ask`]) goes in
//! with a one-place reply channel, the core thread answers ([`Told`]) when
//! it comes to it. Bounded both ways, so that HTTP never blocks the core
//! and a busy core never holds an HTTP request for ever: at most
//! [`CoreLink::max_queued`] requests wait for the core at once (one more is
//! refused at once), and a request waits at most [`CoreLink::wait_ms`] for
//! its answer. Either refusal is a [`Busy`], which the API answers 503.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use crate::peer::core::{Ask, Told};

/// Requests waiting for the core at once, by default.
pub const MAX_QUEUED: usize = 32;
/// How long a request waits for the core's answer, by default (ms).
pub const WAIT_MS: u64 = 5_000;

/// Why the core did not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Busy(pub String);

/// One request on its way to the core thread; answer it with
/// [`Envelope::answer`]. Dropped unanswered (the node stopping), the
/// waiting side hears so at once.
#[derive(Debug)]
pub struct Envelope {
    /// What is asked.
    pub ask: Ask,
    reply: smol::channel::Sender<Told>,
    _queued: Queued,
}

impl Envelope {
    /// Sends the core's answer back (nothing if the asker gave up).
    pub fn answer(self, told: Told) {
        let _ = self.reply.try_send(told);
    }
}

/// A place among the queued requests, given back on drop.
#[derive(Debug)]
struct Queued(Arc<AtomicUsize>);

impl Drop for Queued {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

type Send = dyn Fn(Envelope) -> Result<(), Envelope> + std::marker::Send + Sync;

/// The API's line to the core thread.
pub struct CoreLink {
    send: Box<Send>,
    queued: Arc<AtomicUsize>,
    max_queued: usize,
    wait_ms: u64,
}

impl std::fmt::Debug for CoreLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreLink")
            .field("queued", &self.queued.load(Ordering::Relaxed))
            .field("max_queued", &self.max_queued)
            .field("wait_ms", &self.wait_ms)
            .finish()
    }
}

impl CoreLink {
    /// A link that hands each request to `send`, which must not block: it
    /// gives the envelope back when the core's queue is full.
    pub fn new(
        send: impl Fn(Envelope) -> Result<(), Envelope> + std::marker::Send + Sync + 'static,
    ) -> CoreLink {
        CoreLink {
            send: Box::new(send),
            queued: Arc::default(),
            max_queued: MAX_QUEUED,
            wait_ms: WAIT_MS,
        }
    }

    /// At most `n` requests wait for the core at once.
    pub fn max_queued(mut self, n: usize) -> CoreLink {
        self.max_queued = n;
        self
    }

    /// A request waits at most `ms` for its answer.
    pub fn wait_ms(mut self, ms: u64) -> CoreLink {
        self.wait_ms = ms;
        self
    }

    /// Asks the core and waits (bounded) for its answer.
    pub async fn ask(&self, ask: Ask) -> Result<Told, Busy> {
        if self.queued.fetch_add(1, Ordering::SeqCst) >= self.max_queued {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            return Err(Busy(format!(
                "the node's core already has {} API requests waiting; try again shortly",
                self.max_queued
            )));
        }
        let queued = Queued(self.queued.clone());
        let (reply, answer) = smol::channel::bounded(1);
        let envelope = Envelope {
            ask,
            reply,
            _queued: queued,
        };
        if (self.send)(envelope).is_err() {
            return Err(Busy(
                "the node's core is busy (its queue is full); try again shortly".into(),
            ));
        }
        let wait_ms = self.wait_ms;
        futures_lite::future::or(
            async {
                answer
                    .recv()
                    .await
                    .map_err(|_| Busy("the node is stopping".into()))
            },
            async {
                smol::Timer::after(Duration::from_millis(wait_ms)).await;
                Err(Busy(format!(
                    "the node's core did not answer within {wait_ms} ms (busy importing?); try again shortly"
                )))
            },
        )
        .await
    }

    /// [`CoreLink::ask`], from a thread that may block (the API's handlers
    /// run on smol's blocking pool).
    pub fn ask_blocking(&self, ask: Ask) -> Result<Told, Busy> {
        futures_lite::future::block_on(self.ask(ask))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn an_answer_comes_back_and_a_silent_or_full_core_is_busy_not_a_hang() {
        // A core that answers at once.
        let link = CoreLink::new(|e: Envelope| {
            e.answer(Told::NextNonce(7));
            Ok(())
        });
        assert_eq!(
            link.ask_blocking(Ask::Mempool { limit: 0 }),
            Ok(Told::NextNonce(7))
        );
        assert_eq!(link.queued.load(Ordering::SeqCst), 0);

        // A core that takes requests and never answers: each waits its
        // bound, and the queue stays bounded.
        let held: Arc<Mutex<Vec<Envelope>>> = Arc::default();
        let h = held.clone();
        let link = CoreLink::new(move |e| {
            h.lock().unwrap().push(e);
            Ok(())
        })
        .max_queued(2)
        .wait_ms(50);
        let t = crate::runtime::os::now_ms();
        let e = link.ask_blocking(Ask::Mempool { limit: 0 }).unwrap_err();
        assert!(e.0.contains("did not answer within 50 ms"), "{e}");
        assert!(crate::runtime::os::now_ms() - t >= 49);
        // Still queued (the core holds it): one more place, then refused at once.
        assert!(link.ask_blocking(Ask::Mempool { limit: 0 }).is_err());
        let e = link.ask_blocking(Ask::Mempool { limit: 0 }).unwrap_err();
        assert!(e.0.contains("2 API requests waiting"), "{e}");
        // The core drains its queue: places come back.
        held.lock().unwrap().clear();
        assert_eq!(link.queued.load(Ordering::SeqCst), 0);

        // A full queue gives the envelope back: busy at once.
        let link = CoreLink::new(Err);
        let e = link.ask_blocking(Ask::Mempool { limit: 0 }).unwrap_err();
        assert!(e.0.contains("queue is full"), "{e}");
        assert_eq!(link.queued.load(Ordering::SeqCst), 0);

        // A core that drops the request (stopping): told at once.
        let link = CoreLink::new(|e: Envelope| {
            drop(e);
            Ok(())
        });
        let e = link.ask_blocking(Ask::Mempool { limit: 0 }).unwrap_err();
        assert!(e.0.contains("stopping"), "{e}");
    }
}
