//! The rooms suites again — joining, relaying, presence, bad input, limits, resume, ordering and
//! load — on the Redis engine: the same test bodies, each server on a fresh `redis-server` of its
//! own. One interface, two implementations, the same behaviour.

// Each suite brings its own copy of the test support modules, exactly as when it is a test binary
// of its own; sharing one copy would mean editing the suites for this binary's sake.
#![allow(clippy::duplicate_mod)]

/// Read by the rooms support module: every server of these suites runs on Redis.
const ENGINE: &str = "redis";

#[path = "rooms.rs"]
mod rooms;
#[path = "rooms_load.rs"]
mod rooms_load;
#[path = "rooms_per_address.rs"]
mod rooms_per_address;
#[path = "rooms_resume.rs"]
mod rooms_resume;
#[path = "rooms_slow_readers.rs"]
mod rooms_slow_readers;
