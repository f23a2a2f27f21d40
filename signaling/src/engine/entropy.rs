//! The random bytes of fresh peer ids and resume tokens, bought from the OS in bulk.
//!
//! Every seat takes 36 random bytes (a 96-bit peer id and a 192-bit resume token). Asking the
//! kernel for them at every join was one `getrandom` syscall per join (0.28 µs here, next to
//! ~7 µs of work per join in a burst); a pool per thread asks once per 28 joins. The bytes are
//! still the kernel's CSPRNG output, never stretched by a generator of ours: each is handed out
//! once and overwritten with zero as it leaves the pool.

use std::cell::RefCell;

/// Bytes fetched at once: 28 seats' worth.
const POOL_BYTES: usize = 1008;

/// OS random bytes not handed out yet: `bytes[used..]`.
struct Pool {
    bytes: [u8; POOL_BYTES],
    used: usize,
}

impl Pool {
    const fn empty() -> Self {
        Pool { bytes: [0; POOL_BYTES], used: POOL_BYTES }
    }

    /// Fills `out` from the pool, refilling it whole through `refill` when it has too few
    /// bytes left (what was left is dropped). A failed refill leaves the pool empty, so
    /// the next take asks again.
    fn take<E>(&mut self, out: &mut [u8], refill: impl FnOnce(&mut [u8]) -> Result<(), E>) -> Result<(), E> {
        assert!(out.len() <= POOL_BYTES, "at most {POOL_BYTES} random bytes at once");
        if POOL_BYTES - self.used < out.len() {
            self.used = POOL_BYTES;
            refill(&mut self.bytes)?;
            self.used = 0;
        }
        let taken = &mut self.bytes[self.used..self.used + out.len()];
        out.copy_from_slice(taken);
        taken.fill(0);
        self.used += out.len();
        Ok(())
    }
}

thread_local! {
    static POOL: RefCell<Pool> = const { RefCell::new(Pool::empty()) };
}

/// Fills `out` with random bytes from the OS (through this thread's pool).
pub fn fill(out: &mut [u8]) -> Result<(), getrandom::Error> {
    POOL.with_borrow_mut(|pool| pool.take(out, getrandom::fill))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A refill that writes 1, 2, 3, … (wrapping) across calls and counts them.
    #[derive(Default)]
    struct Counting {
        calls: u32,
        next: u8,
    }

    impl Counting {
        fn refill(&mut self) -> impl FnOnce(&mut [u8]) -> Result<(), ()> + '_ {
            |buf: &mut [u8]| {
                self.calls += 1;
                for b in buf {
                    self.next = self.next.wrapping_add(1);
                    *b = self.next;
                }
                Ok(())
            }
        }
    }

    #[test]
    fn bytes_are_handed_out_once_and_refilled_when_short() {
        let mut source = Counting::default();
        let mut pool = Pool::empty();
        let mut seen = Vec::new();
        for _ in 0..POOL_BYTES / 36 {
            let mut out = [0u8; 36];
            pool.take(&mut out, source.refill()).unwrap();
            seen.extend_from_slice(&out);
        }
        // 28 seats from one fetch, in order, nothing given twice.
        assert_eq!(source.calls, 1);
        assert!(seen.iter().enumerate().all(|(i, &b)| b == (i + 1) as u8));
        assert!(pool.bytes.iter().all(|&b| b == 0), "handed-out bytes are wiped");
        let mut out = [0u8; 36];
        pool.take(&mut out, source.refill()).unwrap();
        assert_eq!((source.calls, out[0]), (2, (POOL_BYTES + 1) as u8));
    }

    #[test]
    fn a_short_remainder_is_dropped_not_reused() {
        let mut source = Counting::default();
        let mut pool = Pool::empty();
        let mut big = [0u8; POOL_BYTES - 10];
        pool.take(&mut big, source.refill()).unwrap();
        let mut out = [0u8; 36];
        pool.take(&mut out, source.refill()).unwrap();
        assert_eq!(source.calls, 2);
        assert_eq!(out[0], (POOL_BYTES + 1) as u8, "the 10 bytes left were not used");
    }

    #[test]
    fn a_failed_refill_fails_the_take_and_asks_again_next_time() {
        let mut pool = Pool::empty();
        let mut out = [7u8; 36];
        assert_eq!(pool.take(&mut out, |_| Err("no entropy")), Err("no entropy"));
        assert_eq!(out, [7u8; 36], "nothing written on failure");
        let mut source = Counting::default();
        pool.take(&mut out, source.refill()).unwrap();
        assert_eq!((source.calls, out[0]), (1, 1));
    }

    #[test]
    fn the_thread_pool_gives_different_bytes() {
        let (mut a, mut b) = ([0u8; 36], [0u8; 36]);
        fill(&mut a).unwrap();
        fill(&mut b).unwrap();
        assert_ne!(a, b);
    }
}
