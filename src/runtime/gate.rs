//! How many of one costly kind of work run at once, process-wide: a
//! counting gate for blocking threads (the binary protocol's queries run on
//! smol's blocking pool, the HTTP reads too). A contract query is up to
//! [`crate::wire::limits::QUERY_FUEL`] of WebAssembly, anyone's to ask:
//! [`CONTRACT_QUERIES`] keeps them to two cores' worth, whoever asks and
//! over however many connections, so queries never starve the core thread
//! that imports and forges blocks.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// At most this many contract queries run at once in this process.
pub const CONTRACT_QUERY_SLOTS: usize = 2;

/// How long a contract query waits for a slot before it is refused.
pub const CONTRACT_QUERY_WAIT: Duration = Duration::from_secs(2);

/// The contract queries' gate.
pub static CONTRACT_QUERIES: Gate = Gate::new(CONTRACT_QUERY_SLOTS);

/// A counting gate: [`Gate::enter`] takes a slot, the [`Slot`] gives it
/// back when dropped.
#[derive(Debug)]
pub struct Gate {
    free: Mutex<usize>,
    freed: Condvar,
}

/// A slot taken in a [`Gate`].
#[derive(Debug)]
pub struct Slot<'a>(&'a Gate);

impl Gate {
    /// A gate with `slots` slots.
    pub const fn new(slots: usize) -> Gate {
        Gate {
            free: Mutex::new(slots),
            freed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, usize> {
        // A panic elsewhere while holding it leaves a plain count behind.
        self.free.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a slot, waiting at most `wait` for one (blocking the thread);
    /// None if none came free.
    pub fn enter(&self, wait: Duration) -> Option<Slot<'_>> {
        let (mut free, _) = self
            .freed
            .wait_timeout_while(self.lock(), wait, |free| *free == 0)
            .unwrap_or_else(|e| e.into_inner());
        if *free == 0 {
            return None;
        }
        *free -= 1;
        Some(Slot(self))
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *self.0.lock() += 1;
        self.0.freed.notify_one();
    }
}

/// Why a contract query was not run: every slot stayed busy.
pub fn contract_queries_busy() -> String {
    format!(
        "busy: {CONTRACT_QUERY_SLOTS} contract queries are running on this node and none ended within {} s; try again",
        CONTRACT_QUERY_WAIT.as_secs()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_gate_refuses_after_the_wait_and_a_freed_slot_is_taken_again() {
        let g = Gate::new(2);
        let a = g.enter(Duration::ZERO).expect("a first slot");
        let b = g.enter(Duration::ZERO).expect("a second slot");
        assert!(g.enter(Duration::from_millis(20)).is_none(), "full");
        drop(a);
        let c = g.enter(Duration::ZERO).expect("a slot freed");
        drop((b, c));
        // A waiter is woken by a slot freed on another thread.
        let held = g.enter(Duration::ZERO).unwrap();
        let held2 = g.enter(Duration::ZERO).unwrap();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| g.enter(Duration::from_secs(30)).is_some());
            std::thread::sleep(Duration::from_millis(20));
            drop(held);
            assert!(waiter.join().unwrap());
        });
        drop(held2);
    }
}
