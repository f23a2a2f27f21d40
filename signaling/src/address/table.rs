//! The per-address table, pure (the caller passes the time): for each client address, the
//! connections open, the seats held, a token bucket of joins and a slower one of new rooms (joins
//! that found the room empty: what scanning for short room names mostly does). Bounded in size,
//! and an entry is forgotten once it holds nothing and its buckets are full again.
//!
//! IPv6 addresses are counted by their /64: one subscriber gets a whole /64 (RFC 6177), so
//! counting single IPv6 addresses would give one home 2^64 separate allowances.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use tokio::time::Instant;

/// The limits per address.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Open connections (WebSockets and plain HTTP) per address.
    pub connections: u32,
    /// Sustained joins per second per address.
    pub joins_per_sec: f64,
    /// Joins at once after a quiet period.
    pub join_burst: f64,
    /// Seats held at once by the connections of one address.
    pub rooms: u32,
    /// Sustained rooms opened (joined while empty) per second per address.
    pub new_rooms_per_sec: f64,
    /// Rooms opened at once after a quiet period.
    pub new_room_burst: f64,
    /// Addresses remembered at most; beyond it, idle entries are forgotten early.
    pub max_tracked: usize,
}

/// Why an address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// It holds its limit of open connections.
    Connections,
    /// It joined too often; one more join is allowed after this long.
    Joins(Duration),
    /// Its connections hold their limit of seats.
    Rooms,
    /// It opened too many rooms (found them empty); one more join is allowed after this long.
    NewRooms(Duration),
}

impl Refusal {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::Connections => "connections",
            Refusal::Joins(_) => "joins",
            Refusal::Rooms => "rooms",
            Refusal::NewRooms(_) => "new_rooms",
        }
    }
}

/// The key an address is counted under: itself for IPv4, its /64 for IPv6.
pub fn key_of(addr: IpAddr) -> IpAddr {
    match super::proxies::canonical(addr) {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !((1u128 << 64) - 1))),
        v4 => v4,
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    connections: u32,
    seats: u32,
    tokens: f64,
    /// New-room tokens; below zero after joins that were let in before their rooms turned out new.
    new_rooms: f64,
    last: Instant,
}

impl Entry {
    fn refill(&mut self, limits: &Limits, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * limits.joins_per_sec).min(limits.join_burst);
        self.new_rooms = (self.new_rooms + elapsed * limits.new_rooms_per_sec).min(limits.new_room_burst);
        self.last = now;
    }

    /// Holds nothing and would be recreated identical: safe to forget.
    fn expired(&self, limits: &Limits, now: Instant) -> bool {
        let mut e = *self;
        e.refill(limits, now);
        e.idle() && e.tokens >= limits.join_burst && e.new_rooms >= limits.new_room_burst
    }

    fn idle(&self) -> bool {
        self.connections == 0 && self.seats == 0
    }
}

/// Every address the server currently counts.
#[derive(Debug)]
pub struct Table {
    limits: Limits,
    entries: HashMap<IpAddr, Entry>,
}

impl Table {
    pub fn new(limits: Limits) -> Table {
        Table { limits, entries: HashMap::new() }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Addresses remembered now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Connections open from `key` now.
    pub fn connections(&self, key: IpAddr) -> u32 {
        self.entries.get(&key).map_or(0, |e| e.connections)
    }

    /// A new connection from `key`, unless it holds its limit.
    pub fn connect(&mut self, key: IpAddr, now: Instant) -> Result<(), Refusal> {
        let limits = self.limits;
        let entry = self.entry(key, now);
        if entry.connections >= limits.connections {
            return Err(Refusal::Connections);
        }
        entry.connections += 1;
        Ok(())
    }

    pub fn disconnect(&mut self, key: IpAddr, now: Instant) {
        if let Some(entry) = self.entries.get_mut(&key) {
            entry.connections = entry.connections.saturating_sub(1);
        }
        self.forget_if_expired(key, now);
    }

    /// A join from `key`: takes a token, and a seat when `seat`.
    pub fn join(&mut self, key: IpAddr, seat: bool, now: Instant) -> Result<(), Refusal> {
        let limits = self.limits;
        let entry = self.entry(key, now);
        entry.refill(&limits, now);
        if entry.tokens < 1.0 {
            let wait = (1.0 - entry.tokens) / limits.joins_per_sec;
            return Err(Refusal::Joins(Duration::from_secs_f64(wait)));
        }
        if seat && entry.seats >= limits.rooms {
            return Err(Refusal::Rooms);
        }
        // Whether the room is new is known only once the engine answers (see `open_room`): a join
        // needs a whole new-room token in hand, and pays it if the room turns out empty.
        if entry.new_rooms < 1.0 {
            let wait = (1.0 - entry.new_rooms) / limits.new_rooms_per_sec;
            return Err(Refusal::NewRooms(Duration::from_secs_f64(wait)));
        }
        entry.tokens -= 1.0;
        if seat {
            entry.seats += 1;
        }
        Ok(())
    }

    /// A join from `key` found its room empty and opened it: one new-room token. Joins let in
    /// together may overdraw the bucket (down to minus a burst), which then refuses joins until it
    /// has refilled above one.
    pub fn open_room(&mut self, key: IpAddr, now: Instant) {
        let limits = self.limits;
        let entry = self.entry(key, now);
        entry.refill(&limits, now);
        entry.new_rooms = (entry.new_rooms - 1.0).max(-limits.new_room_burst);
    }

    pub fn release_seat(&mut self, key: IpAddr, now: Instant) {
        if let Some(entry) = self.entries.get_mut(&key) {
            entry.seats = entry.seats.saturating_sub(1);
        }
        self.forget_if_expired(key, now);
    }

    fn forget_if_expired(&mut self, key: IpAddr, now: Instant) {
        if self.entries.get(&key).is_some_and(|e| e.expired(&self.limits, now)) {
            self.entries.remove(&key);
        }
    }

    /// The entry of `key`, made (with a full bucket) if need be. At the size bound, expired
    /// entries are swept first, then idle ones whose bucket is still refilling: forgetting those
    /// only forgives a few joins. Entries with open connections are never forgotten, so the
    /// table holds at most `max(max_tracked, connections open)` entries.
    fn entry(&mut self, key: IpAddr, now: Instant) -> &mut Entry {
        if !self.entries.contains_key(&key) && self.entries.len() >= self.limits.max_tracked {
            let limits = self.limits;
            self.entries.retain(|_, e| !e.expired(&limits, now));
            if self.entries.len() >= limits.max_tracked {
                self.entries.retain(|_, e| !e.idle());
            }
        }
        let (burst, new_rooms) = (self.limits.join_burst, self.limits.new_room_burst);
        self.entries.entry(key).or_insert(Entry { connections: 0, seats: 0, tokens: burst, new_rooms, last: now })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        connections: 2,
        joins_per_sec: 1.0,
        join_burst: 2.0,
        rooms: 2,
        new_rooms_per_sec: 1.0,
        new_room_burst: 100.0,
        max_tracked: 3,
    };

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn connections_are_counted_per_address() {
        let now = Instant::now();
        let mut table = Table::new(LIMITS);
        let (a, b) = (ip("192.0.2.1"), ip("192.0.2.2"));
        assert_eq!(table.connect(a, now), Ok(()));
        assert_eq!(table.connect(a, now), Ok(()));
        assert_eq!(table.connect(a, now), Err(Refusal::Connections));
        assert_eq!(table.connect(b, now), Ok(()), "another address is not affected");
        table.disconnect(a, now);
        assert_eq!(table.connect(a, now), Ok(()));
    }

    #[test]
    fn joins_take_tokens_that_refill_and_seats_are_bounded() {
        let start = Instant::now();
        let mut table = Table::new(Limits { join_burst: 3.0, ..LIMITS });
        let a = ip("192.0.2.1");
        assert_eq!(table.join(a, true, start), Ok(()));
        assert_eq!(table.join(a, true, start), Ok(()));
        assert_eq!(table.join(a, true, start), Err(Refusal::Rooms), "two seats held");
        assert_eq!(table.join(a, false, start), Ok(()), "a connection that holds a seat takes none");
        match table.join(a, false, start) {
            Err(Refusal::Joins(wait)) => assert_eq!(wait, Duration::from_secs(1)),
            other => panic!("expected a join refusal, got {other:?}"),
        }
        let later = start + Duration::from_millis(1500);
        table.release_seat(a, later);
        assert_eq!(table.join(a, true, later), Ok(()));
        assert!(matches!(table.join(a, true, later), Err(Refusal::Joins(_))));
    }

    #[test]
    fn rooms_found_empty_take_new_room_tokens_and_joins_into_others_do_not() {
        let start = Instant::now();
        let limits = Limits { join_burst: 100.0, rooms: 100, new_room_burst: 2.0, new_rooms_per_sec: 0.5, ..LIMITS };
        let mut table = Table::new(limits);
        let a = ip("192.0.2.1");
        for _ in 0..2 {
            assert_eq!(table.join(a, true, start), Ok(()));
            table.open_room(a, start);
            table.release_seat(a, start);
        }
        match table.join(a, true, start) {
            Err(Refusal::NewRooms(wait)) => assert_eq!(wait, Duration::from_secs(2)),
            other => panic!("expected a new-room refusal, got {other:?}"),
        }
        assert_eq!(table.join(ip("192.0.2.2"), true, start), Ok(()), "another address is not affected");
        let later = start + Duration::from_secs(2);
        assert_eq!(table.join(a, true, later), Ok(()), "a token came back");
        // Joins into rooms someone holds (no `open_room`) cost no new-room token.
        for _ in 0..5 {
            assert_eq!(table.join(a, false, later), Ok(()));
        }
        // Joins let in together and all opening rooms overdraw, bounded by one burst.
        for _ in 0..10 {
            table.open_room(a, later);
        }
        match table.join(a, false, later) {
            Err(Refusal::NewRooms(wait)) => assert_eq!(wait, Duration::from_secs(6)),
            other => panic!("expected a new-room refusal, got {other:?}"),
        }
    }

    #[test]
    fn an_idle_entry_is_forgotten_once_its_bucket_is_full() {
        let start = Instant::now();
        let mut table = Table::new(LIMITS);
        let a = ip("192.0.2.1");
        table.connect(a, start).unwrap();
        table.disconnect(a, start);
        assert!(table.is_empty(), "never joined: nothing to remember");
        table.connect(a, start).unwrap();
        table.join(a, true, start).unwrap();
        table.release_seat(a, start);
        table.disconnect(a, start);
        assert_eq!(table.len(), 1, "a join's token is still refilling");
        table.connect(a, start + Duration::from_secs(5)).unwrap();
        table.disconnect(a, start + Duration::from_secs(5));
        assert!(table.is_empty());
    }

    #[test]
    fn the_table_is_bounded_and_never_forgets_an_open_connection() {
        let now = Instant::now();
        let mut table = Table::new(LIMITS);
        for i in 0..3 {
            let addr = ip(&format!("192.0.2.{i}"));
            table.connect(addr, now).unwrap();
            table.join(addr, true, now).unwrap();
            table.release_seat(addr, now);
            table.disconnect(addr, now);
        }
        assert_eq!(table.len(), 3);
        let held = ip("198.51.100.1");
        table.connect(held, now).unwrap();
        assert_eq!(table.len(), 1, "idle entries make room at the bound");
        for i in 0..5 {
            table.connect(ip(&format!("203.0.113.{i}")), now).unwrap();
        }
        assert_eq!(table.len(), 6, "open connections are all still counted");
        assert_eq!(table.connect(held, now), Ok(()));
        assert_eq!(table.connect(held, now), Err(Refusal::Connections));
    }

    #[test]
    fn ipv6_is_counted_per_64() {
        assert_eq!(key_of(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(key_of(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
        let now = Instant::now();
        let mut table = Table::new(LIMITS);
        table.connect(key_of(ip("2001:db8::1")), now).unwrap();
        table.connect(key_of(ip("2001:db8::2")), now).unwrap();
        assert_eq!(table.connect(key_of(ip("2001:db8::3")), now), Err(Refusal::Connections));
    }
}
