//! The worker's map of its connections, hashed for what its keys are: connection numbers this
//! node hands out in sequence, never chosen by a client, so there is no flooding of one bucket to
//! defend against and the default SipHash (looked up several times per relayed signal) buys
//! nothing. A multiply by the golden ratio spreads consecutive numbers over the table.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::engine::peer::ConnId;

pub(super) type ConnMap<V> = HashMap<ConnId, V, BuildHasherDefault<ConnHasher>>;

/// 2^64 / φ, odd: a bijection on every number of low bits, and the high bits mixed.
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

#[derive(Default)]
pub(super) struct ConnHasher(u64);

impl Hasher for ConnHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(GOLDEN);
    }

    /// Not used by a `u64` key; any other key is still hashed, a byte at a time.
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher as _;

    use super::*;

    #[test]
    fn consecutive_numbers_spread_over_high_and_low_bits() {
        let build = BuildHasherDefault::<ConnHasher>::default();
        let hashes: Vec<u64> = (1..=64u64).map(|n| build.hash_one(n)).collect();
        let low: std::collections::HashSet<_> = hashes.iter().map(|h| h & 63).collect();
        let high: std::collections::HashSet<_> = hashes.iter().map(|h| h >> 57).collect();
        assert_eq!(low.len(), 64, "a bijection on the low bits");
        assert!(high.len() > 32, "the high bits (hashbrown's tags) vary: {}", high.len());
        let mut map = ConnMap::default();
        map.insert(7, "seven");
        assert_eq!(map.get(&7), Some(&"seven"));
    }
}
