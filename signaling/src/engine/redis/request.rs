//! A session's request as it waits in the node's queue for the Redis worker, and what it costs
//! in the queue's byte budget.

use shared::{PeerId, ResumeToken, RoomId};
use tokio::sync::oneshot;

use super::admission::Ticket;
use crate::engine::peer::{ConnId, PeerHandle};
use crate::relay::RawValue;

/// What a request costs in the queue's byte budget besides its payload.
const REQUEST_OVERHEAD: usize = 256;

/// One request of one connection, in the node's queue.
pub(crate) struct Request {
    pub(crate) conn: ConnId,
    /// The connection's handle, with its first request: from then on the worker can answer it.
    pub(crate) open: Option<PeerHandle>,
    pub(crate) op: Op,
    /// Its bytes in the queue's budget, given back when the worker has taken it.
    pub(crate) ticket: Option<Ticket>,
}

pub(crate) enum Op {
    Join {
        room: RoomId,
        resume: Option<ResumeToken>,
        fresh: (PeerId, ResumeToken),
    },
    Relay {
        to: PeerId,
        data: Box<RawValue>,
        /// Through the relay script even if a place is known: a retry after a `PUBLISH` to the
        /// known place reached nobody.
        via_script: bool,
    },
    Leave,
    /// An answer of the session's own, to keep in order.
    Reply(String),
    End {
        reason: &'static str,
    },
    /// The worker's own: the resume grace of an ended connection is over.
    Expire,
    /// Finish everything queued before, deregister the node, stop.
    Close(oneshot::Sender<()>),
}

impl Op {
    pub(crate) fn size(&self) -> usize {
        REQUEST_OVERHEAD
            + match self {
                Op::Relay { data, .. } => data.get().len(),
                Op::Reply(text) => text.len(),
                _ => 0,
            }
    }
}
