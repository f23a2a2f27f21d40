//! Where the per-peer log lines go: a target of their own, off by default (see [`PEER_LOG`]).

/// The log target of the per-peer lines (`joined`, `left`, `connection ended`), logged at debug:
/// log formatting on the runtime thread was ~24 % of a join's instructions (callgrind, 1,000
/// joins). Bursts of 10,000 joins, p99 (median of 5, release, pinned): ~117 ms with these lines,
/// ~106 ms without; ~85 ms with no logging at all (the rest was the connection's span, now made
/// only for a line that needs it: `SeatedAs::span`). Operators who want them:
/// `RUST_LOG=info,signaling::peers=debug`.
pub const PEER_LOG: &str = "signaling::peers";
