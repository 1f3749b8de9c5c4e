//! Nodes talking: main nodes on loopback relaying and syncing (`network`),
//! weak-subjectivity checkpoints between nodes (`checkpoint`), the main
//! node's HTTP/JSON API and /metrics (`http`, its transactions `http_tx`)
//! and its OpenAPI document against the live answers (`openapi`), the sync and
//! clock findings of issue 13 against the production core (`sync_clock`), and
//! the wire decoder fuzzed (`wire_fuzz`). The raw-bytes protocol tests stay
//! their own binary (`tests/protocol.rs`): one of them measures this
//! process's memory, which other tests running beside it would disturb.
//!
//! A new behaviour of `src/wire/`, `src/peer/` or the node's networking is
//! tested here. Run this group with `cargo test --test net`, one file of it
//! with `cargo test --test net checkpoint::`.
//!
//! Where a test goes: tests/README.md.

#[path = "../common/mod.rs"]
mod common;

mod checkpoint;
mod http;
mod http_tx;
mod mesh;
mod network;
mod openapi;
mod sse;
mod sync_clock;
mod wire_fuzz;
