//! Reconnect delays: exponential backoff with jitter, so a restarted server is not hit by every
//! client at the same instant, and a short outage is bridged quickly.

/// First retry after about half a second, doubling up to 8 s. `jitter` in `[0, 1)` spreads each
/// delay over its upper half.
pub fn backoff_ms(attempt: u32, jitter: f64) -> u32 {
    const BASE_MS: u32 = 500;
    const CAP_MS: u32 = 8_000;
    let full = BASE_MS.saturating_mul(1 << attempt.min(5)).min(CAP_MS);
    let half = full / 2;
    half + (f64::from(half) * jitter.clamp(0.0, 1.0)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps() {
        assert_eq!(backoff_ms(0, 0.0), 250);
        assert_eq!(backoff_ms(0, 0.999), 499);
        assert_eq!(backoff_ms(1, 0.0), 500);
        assert_eq!(backoff_ms(4, 0.0), 4_000);
        assert_eq!(backoff_ms(5, 0.0), 4_000);
        assert_eq!(backoff_ms(40, 1.0), 8_000);
    }
}
