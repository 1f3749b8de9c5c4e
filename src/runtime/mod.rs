//! Where goodwill meets the machine: smol, TCP, files, the clock, GPIO.
//!
//! | module | owns |
//! |---|---|
//! | [`os`] | the wall clock and the OS random source; the one bounded file reader; writes to stdout/stderr that never panic |
//! | [`logger`] | the process's logger behind the `log` macros: journald priorities, `GOODWILL_LOG` |
//! | [`config`] | files the roles read at start: the genesis |
//! | [`node`] | `goodwill node`: runs [`crate::peer::core::Core`] on smol: listening, dialling, the handshake, the core thread |
//! | [`http`] | a main node's HTTP/JSON API, explorer and `/metrics`, and the appliance's `/metrics` (hyper on the node's smol executor; reads from store snapshots, submissions and the core's own state through a bounded link to the core thread) |
//! | [`forge`] | `goodwill forge`: the appliance around the same core: LEDs, status port, watchdog, storage retry |
//! | [`led`] | the status LEDs: their pattern (pure) and the pins that show it (GPIO line, LED class, log) |
//! | [`board`] | board profiles (`board/*.toml`): LED pins and polarity, idle and load watts, the energy estimate |
//! | [`keyfile`] | key files: 0600, never overwritten, sealed with a passphrase |
//! | [`client`] | a connection to a main node: handshake, queries, submissions, subscriptions |
//! | [`gate`] | how many costly queries (contract runs) run at once, process-wide |
//! | [`update`] | release manifests: signed by a release key, checked before a new binary runs |

pub mod board;
pub mod client;
pub mod config;
pub mod forge;
pub mod gate;
pub mod http;
pub mod keyfile;
pub mod led;
pub mod logger;
pub mod node;
pub mod os;
pub mod update;
