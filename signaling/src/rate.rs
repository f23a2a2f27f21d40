//! Per-connection rate limiting: a token bucket, pure (the caller passes the time).
//!
//! A call's signaling is bursty — an offer, an answer, then dozens of ICE candidates within a
//! second — and then nearly silent. The bucket allows such bursts and refuses sustained floods;
//! a flood that continues after being told `rate_limited` ends the connection.

use std::time::Duration;

use tokio::time::Instant;

/// What to do with one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Refuse this message with `rate_limited`.
    Limit,
    /// The sender kept flooding after being limited: close the connection (1008).
    Flood,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateConfig {
    /// Sustained messages per second.
    pub per_sec: f64,
    /// Messages allowed at once after a quiet period.
    pub burst: f64,
    /// Refusals in a row (without an allowed message between) after which the connection closes.
    pub flood_after: u32,
}

/// Sustained messages per second by default: with [`DEFAULT_BURST`], a whole call setup (offer,
/// answer, a hundred candidates) fits in the burst, and a runaway client is stopped within seconds.
pub const DEFAULT_PER_SEC: u32 = 50;
/// Messages allowed at once by default; see [`DEFAULT_PER_SEC`].
pub const DEFAULT_BURST: u32 = 200;
/// Refusals in a row before the connection closes, by default.
pub const DEFAULT_FLOOD_AFTER: u32 = 100;

impl Default for RateConfig {
    fn default() -> Self {
        RateConfig {
            per_sec: f64::from(DEFAULT_PER_SEC),
            burst: f64::from(DEFAULT_BURST),
            flood_after: DEFAULT_FLOOD_AFTER,
        }
    }
}

#[derive(Debug, Clone)]
pub struct TokenBucket {
    config: RateConfig,
    tokens: f64,
    last: Instant,
    refused_in_a_row: u32,
}

impl TokenBucket {
    pub fn new(config: RateConfig, now: Instant) -> Self {
        TokenBucket { config, tokens: config.burst, last: now, refused_in_a_row: 0 }
    }

    pub fn check(&mut self, now: Instant) -> Verdict {
        let elapsed = now.saturating_duration_since(self.last);
        self.last = now;
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.config.per_sec).min(self.config.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.refused_in_a_row = 0;
            return Verdict::Allow;
        }
        self.refused_in_a_row = self.refused_in_a_row.saturating_add(1);
        if self.refused_in_a_row > self.config.flood_after {
            Verdict::Flood
        } else {
            Verdict::Limit
        }
    }

    /// How long until one more message would be allowed (for the error text).
    pub fn retry_after(&self) -> Duration {
        let missing = (1.0 - self.tokens).max(0.0);
        Duration::from_secs_f64(missing / self.config.per_sec.max(f64::MIN_POSITIVE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: RateConfig = RateConfig { per_sec: 10.0, burst: 5.0, flood_after: 3 };

    #[test]
    fn a_burst_passes_then_refusals_then_flood() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(CONFIG, t0);
        for _ in 0..5 {
            assert_eq!(bucket.check(t0), Verdict::Allow);
        }
        for _ in 0..3 {
            assert_eq!(bucket.check(t0), Verdict::Limit);
        }
        assert_eq!(bucket.check(t0), Verdict::Flood);
    }

    #[test]
    fn tokens_refill_at_the_rate_up_to_the_burst() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(CONFIG, t0);
        for _ in 0..5 {
            bucket.check(t0);
        }
        assert_eq!(bucket.check(t0), Verdict::Limit);
        assert!(bucket.retry_after() <= Duration::from_millis(100));
        // 100 ms at 10/s is one token; a refusal streak is reset by an allowed message.
        assert_eq!(bucket.check(t0 + Duration::from_millis(100)), Verdict::Allow);
        assert_eq!(bucket.check(t0 + Duration::from_millis(100)), Verdict::Limit);
        // A long pause refills only up to the burst.
        let later = t0 + Duration::from_secs(60);
        let allowed = (0..10).filter(|_| bucket.check(later) == Verdict::Allow).count();
        assert_eq!(allowed, 5);
    }

    #[test]
    fn a_paced_sender_is_never_limited() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(CONFIG, t0);
        for i in 0..1000u64 {
            assert_eq!(bucket.check(t0 + Duration::from_millis(100 * i)), Verdict::Allow);
        }
    }
}
