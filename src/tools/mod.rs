//! Tools around the chain, each a verb of the binary.
//!
//! | module | owns |
//! |---|---|
//! | [`provision`] | `goodwill provision`: the appliance into a mounted Raspberry Pi OS root filesystem |
//! | [`demo`] | `goodwill ledger-demo`: a chain forged in memory |
//! | [`devnet`] | `goodwill devnet`: main nodes and forgers as child processes on 127.0.0.1, a live view ([`devnet::view`] and [`devnet::plan`] are pure) |

pub mod demo;
pub mod devnet;
pub mod provision;
