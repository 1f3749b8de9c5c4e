//! The sans-io peer: what a main node and a forger decide, given messages,
//! ticks and the time, as actions for a runtime to carry out. No `.await`,
//! no clock, no socket, no file: [`crate::runtime`] runs it on smol and TCP,
//! [`crate::sim`] in a simulated world.
//!
//! | module | owns |
//! |---|---|
//! | [`core`] | [`core::Core`]: sessions, sync, relay, evidence, forging a slot, queries |
//! | [`driver`] | the loop around a core, written once for the TCP runtime and the simulation: events in, actions out through an [`driver::Outside`] |
//! | [`policy`] | the runtime's own choices: redial, flood limits, bans, plausible claims |
//! | [`queries`] | what a peer answers from its store alone: queries, its Hello, blocks for a syncing peer |
//! | [`led`] | what the status LEDs show: a pure function of the appliance's state and the time |
//! | [`forging`] | the appliance's decisions: clock trust, may it forge, what it counts, what its LEDs and status say |

pub mod core;
pub mod driver;
pub mod forging;
pub mod led;
pub mod policy;
pub mod queries;
