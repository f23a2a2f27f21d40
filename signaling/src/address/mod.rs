//! Per-address limits: connections open, joins per second and seats held by the connections of
//! one client address, so no single client — or one address's worth of them — can take the
//! server's capacity from everyone else.
//!
//! - [`proxies`]: whose address a request is (`--trusted-proxies`, `X-Forwarded-For`), pure;
//! - [`table`]: the counts per address, bounded and expiring, pure.
//!
//! One mutex over the table: every operation on it is a hash lookup and a few additions, done
//! once per connection, join or leave (not per message), never across an `.await`.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::time::Instant;

pub mod proxies;
pub mod table;

pub use proxies::TrustedProxies;
use table::{key_of, Table};
pub use table::{Limits, Refusal};

/// See [`Limits::connections`]: a household never comes near it, and an office of about a hundred
/// people behind one NAT, each with the page open (one WebSocket, and a few short-lived page
/// loads), fits.
pub const DEFAULT_CONNECTIONS_PER_ADDRESS: u32 = 256;
/// See [`Limits::joins_per_sec`]: a person joins once per call, and a reload or a network change
/// joins again (a resume); five a second sustained is far beyond what people behind one address do.
pub const DEFAULT_JOINS_PER_SEC: u32 = 5;
/// See [`Limits::join_burst`]: an office's meetings all starting on the hour.
pub const DEFAULT_JOIN_BURST: u32 = 60;
/// See [`Limits::rooms`]: one seat per person in a call; half the connection allowance.
pub const DEFAULT_ROOMS_PER_ADDRESS: u32 = 128;
/// See [`Limits::new_room_burst`]: rooms a household or a small office opens at once; a scan of
/// short room names (most of them empty) stops after this many misses.
pub const DEFAULT_NEW_ROOM_BURST: u32 = 30;
/// See [`Limits::new_rooms_per_sec`], per minute: a person opens one room per call; two a minute
/// sustained is far more than people behind one address do, and a scanner that finds mostly empty
/// rooms covers 10,000 names in three and a half days instead of half a second.
pub const DEFAULT_NEW_ROOMS_PER_MIN: u32 = 2;
/// See [`Limits::max_tracked`]: about 80 bytes an entry, so at most ~5 MiB of table.
pub const DEFAULT_MAX_TRACKED: usize = 65_536;

/// The per-address settings.
#[derive(Debug, Clone, PartialEq)]
pub struct AddressConfig {
    pub limits: Limits,
    /// Peers whose `X-Forwarded-For` / `X-Real-IP` name the client; none by default.
    pub trusted_proxies: TrustedProxies,
}

impl Default for AddressConfig {
    fn default() -> Self {
        AddressConfig {
            limits: Limits {
                connections: DEFAULT_CONNECTIONS_PER_ADDRESS,
                joins_per_sec: f64::from(DEFAULT_JOINS_PER_SEC),
                join_burst: f64::from(DEFAULT_JOIN_BURST),
                rooms: DEFAULT_ROOMS_PER_ADDRESS,
                new_rooms_per_sec: f64::from(DEFAULT_NEW_ROOMS_PER_MIN) / 60.0,
                new_room_burst: f64::from(DEFAULT_NEW_ROOM_BURST),
                max_tracked: DEFAULT_MAX_TRACKED,
            },
            trusted_proxies: TrustedProxies::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct LimitLabel {
    limit: &'static str,
}

/// The server's per-address counts, shared by the accept loop, the HTTP front and the sessions.
#[derive(Debug)]
pub struct AddressLimits {
    table: Mutex<Table>,
    trusted: TrustedProxies,
    refused: Family<LimitLabel, Counter>,
    tracked: Gauge,
}

impl AddressLimits {
    pub fn new(config: &AddressConfig) -> Arc<AddressLimits> {
        let refused = Family::<LimitLabel, Counter>::default();
        // Listed from the start, so a dashboard sees 0 rather than no series.
        for limit in ["connections", "joins", "rooms", "new_rooms"] {
            let _ = refused.get_or_create(&LimitLabel { limit });
        }
        Arc::new(AddressLimits {
            table: Mutex::new(Table::new(config.limits)),
            trusted: config.trusted_proxies.clone(),
            refused,
            tracked: Gauge::default(),
        })
    }

    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "signaling_address_refusals",
            "Requests refused by a per-address limit, by limit (connections, joins, rooms, new_rooms)",
            self.refused.clone(),
        );
        registry.register("signaling_addresses_tracked", "Client addresses counted now", self.tracked.clone());
    }

    pub fn trusted_proxies(&self) -> &TrustedProxies {
        &self.trusted
    }

    /// Nothing panics while holding the lock, so a poisoned table is still consistent.
    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn counted<T>(&self, result: Result<T, Refusal>, table: &Table) -> Result<T, Refusal> {
        self.tracked.set(i64::try_from(table.len()).unwrap_or(i64::MAX));
        if let Err(refusal) = &result {
            self.refused.get_or_create(&LimitLabel { limit: refusal.label() }).inc();
        }
        result
    }

    /// Whether `addr` holds no connection now (the accept loop's reserve is for such addresses).
    pub fn holds_none(&self, addr: IpAddr) -> bool {
        self.table().connections(key_of(addr)) == 0
    }

    /// A connection from `addr`, counted until the returned slot is dropped.
    pub fn connect(self: &Arc<Self>, addr: IpAddr) -> Result<Slot, Refusal> {
        let key = key_of(addr);
        let mut table = self.table();
        let result = table.connect(key, Instant::now());
        self.counted(result, &table)?;
        Ok(Slot { limits: self.clone(), addr: proxies::canonical(addr), key, seat: false })
    }
}

/// Charges the rooms a connection opens to its client address (see [`Table::open_room`]); the
/// engine's seat handle carries it, since only the engine knows whether a join found its room empty.
#[derive(Debug, Clone)]
pub struct NewRooms {
    limits: Arc<AddressLimits>,
    key: IpAddr,
}

impl NewRooms {
    /// A join of this connection opened its room.
    pub fn opened(&self) {
        let mut table = self.limits.table();
        table.open_room(self.key, Instant::now());
        let _ = self.limits.counted(Ok(()), &table);
    }
}

/// One connection counted for its client address; it also carries the connection's seat, if it
/// took one. Dropping it gives both back.
#[derive(Debug)]
pub struct Slot {
    limits: Arc<AddressLimits>,
    addr: IpAddr,
    key: IpAddr,
    seat: bool,
}

impl Slot {
    /// The client's address, as the server believes it.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// A `join` on this connection: takes one of the address's join tokens and a seat, unless the
    /// connection already holds a seat (it holds at most one, whatever the engine answered to its
    /// join): its repeated joins are the engine's to answer (`already_joined`), bounded by the
    /// connection's own message rate.
    pub fn join(&mut self) -> Result<(), Refusal> {
        if self.seat {
            return Ok(());
        }
        let mut table = self.limits.table();
        let result = table.join(self.key, true, Instant::now());
        self.limits.counted(result, &table)?;
        self.seat = true;
        Ok(())
    }

    /// What charges the rooms this connection opens to its address.
    pub fn new_rooms(&self) -> NewRooms {
        NewRooms { limits: self.limits.clone(), key: self.key }
    }

    /// The connection left its room: its seat is the address's again.
    pub fn leave(&mut self) {
        if std::mem::take(&mut self.seat) {
            let mut table = self.limits.table();
            table.release_seat(self.key, Instant::now());
            let _ = self.limits.counted(Ok(()), &table);
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.leave();
        let mut table = self.limits.table();
        table.disconnect(self.key, Instant::now());
        let _ = self.limits.counted(Ok(()), &table);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_gives_back_its_connection_and_seat() {
        let config = AddressConfig {
            limits: Limits { connections: 1, rooms: 1, ..AddressConfig::default().limits },
            ..AddressConfig::default()
        };
        let limits = AddressLimits::new(&config);
        let addr: IpAddr = "192.0.2.1".parse().unwrap();
        let mut slot = limits.connect(addr).unwrap();
        assert_eq!(limits.connect(addr).err(), Some(Refusal::Connections));
        assert!(!limits.holds_none(addr));
        slot.join().unwrap();
        slot.join().unwrap();
        slot.leave();
        slot.join().unwrap();
        drop(slot);
        assert!(limits.holds_none(addr));
        let mut again = limits.connect(addr).unwrap();
        assert_eq!(again.join(), Ok(()), "the dropped slot's seat was given back");
        assert_eq!(limits.refused.get_or_create(&LimitLabel { limit: "connections" }).get(), 1);
    }
}
