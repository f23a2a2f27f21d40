//! Benchmarks of Connect's signaling server against reference servers that speak exactly the
//! same wire protocol (the `shared` types), measured in the same run: `cargo xtask bench`.
//! Nothing here is linked into the product.
//!
//! Layout:
//! - the reference servers are the binaries `ref-tungstenite`, `ref-fastwebsockets` and
//!   `ref-rawtcp` (`src/bin/`); what they share: [`rooms`] (the room rules) and [`serve`]
//!   (command line, bind, accept); [`frame`]: the length-prefixed frames of the relay floor
//!   (`ref-rawtcp --frames`);
//! - [`load`]: the load generator's scenarios (relay, join, idle memory, echo) and its client
//!   connections; [`wire`]: the messages it builds and checks, sans-IO;
//! - [`server`]: the servers under test as processes (limits, ports), each a [`process`]
//!   started through the [`launcher`] (binaries, logs, pinning); [`redis`]: the fresh
//!   `redis-server` behind ours through Redis; [`procfs`]: CPU, memory and descriptors from `/proc`;
//! - [`plan`]: quick and full sizes; [`orchestrate`]: the measuring loop; [`results`]: samples,
//!   medians and ratios; [`targets`]: the musts and goals;
//! - [`browser`]: the e2e call timing and the bundle size; [`machine`]: what the run ran on;
//! - [`report`], [`plots`]: the Markdown report and its SVGs;
//! - [`run`]: one whole run (the `bench` binary); [`attach`]: one scenario against a server
//!   started by hand, for profiling (`bench load`).
#![forbid(unsafe_code)]

pub mod attach;
pub mod browser;
pub mod error;
pub mod frame;
pub mod launcher;
pub mod load;
pub mod machine;
pub mod orchestrate;
pub mod plan;
pub mod plots;
pub mod process;
pub mod procfs;
pub mod redis;
pub mod report;
pub mod results;
pub mod rooms;
pub mod run;
pub mod serve;
pub mod server;
pub mod soak;
pub mod targets;
pub mod wire;
