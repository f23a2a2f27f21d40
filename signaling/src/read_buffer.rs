//! The buffer every socket read in the server goes into: one per worker thread.
//!
//! Where a read's bytes land decides a connection's memory and a message's cost. A buffer on the
//! stack of an `async fn` that lives across an `.await` becomes part of the task, so every
//! connection would carry it while parked (a 4 KiB request-head buffer made each connection task
//! 5.4 KB). A fresh zeroed buffer per read costs a `memset` per wake-up (16 KiB of it was 81% of
//! the echo example's instructions at 64-byte messages). One buffer per thread, borrowed only by
//! synchronous code, costs neither: [`with`] takes a closure, so the borrow cannot cross an
//! `.await`.

use std::cell::RefCell;

/// The buffer's size: a message of up to 64 KiB with its frame header fits, so one that has
/// arrived whole is taken in one `read` and handed out in place, unmasked where it landed.
///
/// At 16 KiB a 32 KiB echo cost three `recvfrom` per message (16 KiB, 16 KiB, then the short
/// read of the last 8 bytes) and a copy of every piece into the reassembly buffer, which
/// `callgrind` put at 40% of the echo example's instructions. The size costs no memory per
/// connection (one buffer per worker thread) and no time per read: a read fills only what has
/// arrived, and the buffer is never cleared.
/// (The 14 is a frame header's longest form, `ws::frame::MAX_HEADER_LEN`, as a test checks: this
/// module is below the WebSocket layer, which reads into it.)
pub const SIZE: usize = 64 * 1024 + 14;

thread_local! {
    static BUFFER: RefCell<Box<[u8]>> = RefCell::new(vec![0; SIZE].into_boxed_slice());
}

/// Runs `f` with this thread's read buffer ([`SIZE`] bytes, holding whatever the last read left).
///
/// Reentrant calls (none today: nothing reads a socket from inside a read) get a fresh buffer
/// instead of a panic.
pub fn with<R>(f: impl FnOnce(&mut [u8]) -> R) -> R {
    BUFFER.with(|buffer| match buffer.try_borrow_mut() {
        Ok(mut buffer) => f(&mut buffer),
        Err(_) => f(&mut vec![0; SIZE]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_64_kib_message_fits_with_the_longest_frame_header() {
        assert_eq!(SIZE, 64 * 1024 + crate::ws::frame::MAX_HEADER_LEN);
    }

    #[test]
    fn the_buffer_is_reused_on_a_thread() {
        with(|b| b[..3].copy_from_slice(b"abc"));
        assert_eq!(with(|b| b[..3].to_vec()), b"abc");
    }

    #[test]
    fn a_reentrant_call_gets_a_buffer_of_its_own() {
        with(|outer| {
            outer[0] = 1;
            with(|inner| {
                assert_eq!(inner.len(), SIZE);
                inner[0] = 2;
            });
            assert_eq!(outer[0], 1);
        });
    }
}
