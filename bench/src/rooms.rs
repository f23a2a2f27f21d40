//! The room rules the reference servers share, so that they differ from each other (and from
//! the signaling server) only in how bytes reach the socket: `join` → `joined` with a random peer
//! id and the peers list, `peer_joined`, `signal` relayed with `from` stamped, `leave` or a closed
//! connection → `peer_left`, two seats per room. No resume, no rate limit, no TURN credentials.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use shared::{ClientMessage, ErrorCode, PeerId, ResumeToken, RoomId, ServerMessage, Signal};
use tokio::sync::mpsc;

/// Seats per room: a 1:1 call.
const CAPACITY: usize = shared::DEFAULT_ROOM_CAPACITY as usize;

/// Messages queued for one peer by the others. The signaling server's default too (256), so a
/// reader that stops costs every server the same bounded memory; a full queue drops the message.
pub const QUEUE: usize = 256;

/// Every room of a server. One `std` mutex over the whole map, as the simplest correct design:
/// it is held only to change the map and copy out senders, never across an `.await`.
pub struct Rooms<M> {
    rooms: Mutex<HashMap<RoomId, Vec<Member<M>>>>,
}

struct Member<M> {
    peer: PeerId,
    tx: mpsc::Sender<M>,
}

impl<M> Default for Rooms<M> {
    fn default() -> Self {
        Rooms { rooms: Mutex::new(HashMap::new()) }
    }
}

impl<M> Rooms<M> {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<RoomId, Vec<Member<M>>>> {
        // Every change to the map completes before anything that could panic, so a poisoned
        // lock still guards a consistent map.
        self.rooms.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<M> Rooms<M> {
    /// The other peer seated in `room`, if there is one: in a room of two, the partner.
    pub fn partner(&self, room: &RoomId, me: &PeerId) -> Option<PeerId> {
        self.lock().get(room)?.iter().find(|m| &m.peer != me).map(|m| m.peer.clone())
    }
}

/// One connection's view of the rooms: its outbound queue and the seat it holds. Dropping it
/// gives the seat up, which is how a closed connection becomes `peer_left`.
pub struct Session<M: From<String>> {
    rooms: Arc<Rooms<M>>,
    tx: mpsc::Sender<M>,
    seat: Option<(RoomId, PeerId)>,
}

/// Messages for other connections, sent after the rooms lock is released.
type Deliveries<M> = Vec<(mpsc::Sender<M>, String)>;

impl<M: From<String>> Session<M> {
    pub fn new(rooms: Arc<Rooms<M>>, tx: mpsc::Sender<M>) -> Self {
        Session { rooms, tx, seat: None }
    }

    /// The room and peer id this connection is seated as, once it has joined.
    pub fn seat(&self) -> Option<&(RoomId, PeerId)> {
        self.seat.as_ref()
    }

    /// Handles one text message; returns the answer for this connection, if there is one.
    pub fn on_text(&mut self, text: &str) -> Option<String> {
        let reply = match ClientMessage::parse(text) {
            Err(error) => Some(ServerMessage::from(error)),
            Ok(ClientMessage::Join { room, .. }) => Some(self.join(room)),
            Ok(ClientMessage::Signal { to, data }) => self.signal(&to, data),
            Ok(ClientMessage::Leave) => self.leave(),
            // The reference servers hand out no STUN or TURN servers.
            Ok(ClientMessage::IceConfig) => Some(ServerMessage::IceConfig { ice_servers: Vec::new() }),
        };
        reply.map(|message| message.to_json())
    }

    fn join(&mut self, room: RoomId) -> ServerMessage {
        if self.seat.is_some() {
            return ServerMessage::error(ErrorCode::AlreadyJoined);
        }
        let peer = PeerId::new(random_hex::<8>());
        let token = ResumeToken::new(random_hex::<16>());
        let mut deliveries = Deliveries::new();
        let peers = {
            let mut rooms = self.rooms.lock();
            let members = rooms.entry(room.clone()).or_default();
            if members.len() >= CAPACITY {
                return ServerMessage::error(ErrorCode::RoomFull);
            }
            let joined = ServerMessage::PeerJoined { peer_id: peer.clone() }.to_json();
            deliveries.extend(members.iter().map(|m| (m.tx.clone(), joined.clone())));
            let peers = members.iter().map(|m| m.peer.clone()).collect();
            members.push(Member { peer: peer.clone(), tx: self.tx.clone() });
            peers
        };
        deliver(deliveries);
        self.seat = Some((room.clone(), peer.clone()));
        let capacity = CAPACITY as u32;
        ServerMessage::Joined { room, peer_id: peer, peers, capacity, resume_token: token, ice_servers: Vec::new() }
    }

    fn signal(&self, to: &PeerId, data: Signal) -> Option<ServerMessage> {
        let Some((room, from)) = &self.seat else {
            return Some(ServerMessage::error(ErrorCode::NotInRoom));
        };
        let recipient = {
            let rooms = self.rooms.lock();
            let members = rooms.get(room).map_or(&[][..], Vec::as_slice);
            members.iter().find(|m| &m.peer == to && m.peer != *from).map(|m| m.tx.clone())
        };
        let Some(recipient) = recipient else {
            return Some(ServerMessage::error(ErrorCode::UnknownPeer));
        };
        let relayed = ServerMessage::Signal { from: from.clone(), data }.to_json();
        deliver(vec![(recipient, relayed)]);
        None
    }

    fn leave(&mut self) -> Option<ServerMessage> {
        let Some((room, peer)) = self.seat.take() else {
            return Some(ServerMessage::error(ErrorCode::NotInRoom));
        };
        let mut deliveries = Deliveries::new();
        {
            let mut rooms = self.rooms.lock();
            if let Some(members) = rooms.get_mut(&room) {
                members.retain(|m| m.peer != peer);
                let left = ServerMessage::PeerLeft { peer_id: peer }.to_json();
                deliveries.extend(members.iter().map(|m| (m.tx.clone(), left.clone())));
                if members.is_empty() {
                    rooms.remove(&room);
                }
            }
        }
        deliver(deliveries);
        None
    }
}

impl<M: From<String>> Drop for Session<M> {
    fn drop(&mut self) {
        self.leave();
    }
}

/// Queues each message without waiting: a full queue means its reader stopped, and the message
/// is dropped rather than stalling the sender (the load generator counts any loss).
fn deliver<M: From<String>>(deliveries: Deliveries<M>) {
    for (tx, json) in deliveries {
        let _ = tx.try_send(M::from(json));
    }
}

/// `N` random bytes as lowercase hex: 64 bits for a peer id, as the protocol asks at least.
fn random_hex<const N: usize>() -> String {
    let mut bytes = [0u8; N];
    // The OS random source does not fail on Linux once booted; a zeroed id would still be
    // well-formed, and this is a benchmark server.
    let _ = getrandom::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(rooms: &Arc<Rooms<String>>) -> (Session<String>, mpsc::Receiver<String>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        (Session::new(rooms.clone(), tx), rx)
    }

    fn parse(json: &str) -> ServerMessage {
        ServerMessage::parse(json).expect("the server's own message parses")
    }

    fn join(s: &mut Session<String>, room: &str) -> (PeerId, Vec<PeerId>) {
        let reply = s.on_text(&format!(r#"{{"type":"join","room":"{room}"}}"#)).expect("an answer");
        match parse(&reply) {
            ServerMessage::Joined { peer_id, peers, capacity: 2, .. } => (peer_id, peers),
            other => panic!("expected joined, got {other:?}"),
        }
    }

    #[test]
    fn two_join_relay_and_leave() {
        let rooms = Arc::new(Rooms::default());
        let (mut a, mut a_rx) = session(&rooms);
        let (mut b, mut b_rx) = session(&rooms);
        let (a_id, peers) = join(&mut a, "r1");
        assert!(peers.is_empty());
        assert!(a_id.is_well_formed() && a_id.as_str().len() == 16);
        let (b_id, peers) = join(&mut b, "r1");
        assert_eq!(peers, std::slice::from_ref(&a_id));
        assert_eq!(parse(&a_rx.try_recv().unwrap()), ServerMessage::PeerJoined { peer_id: b_id.clone() });

        let signal = format!(r#"{{"type":"signal","to":"{a_id}","data":{{"kind":"end_of_candidates"}}}}"#);
        assert_eq!(b.on_text(&signal), None);
        let relayed = parse(&a_rx.try_recv().unwrap());
        assert_eq!(relayed, ServerMessage::Signal { from: b_id.clone(), data: Signal::EndOfCandidates });

        assert_eq!(rooms.partner(&RoomId::try_from("r1").unwrap(), &a_id), Some(b_id.clone()));
        assert_eq!(b.seat().map(|(_, peer)| peer), Some(&b_id));

        assert_eq!(a.on_text(r#"{"type":"leave"}"#), None);
        assert_eq!(rooms.partner(&RoomId::try_from("r1").unwrap(), &b_id), None);
        assert_eq!(parse(&b_rx.try_recv().unwrap()), ServerMessage::PeerLeft { peer_id: a_id });
    }

    #[test]
    fn third_is_refused_and_a_closed_connection_leaves() {
        let rooms = Arc::new(Rooms::default());
        let (mut a, _a_rx) = session(&rooms);
        let (mut b, mut b_rx) = session(&rooms);
        let (mut c, _c_rx) = session(&rooms);
        let (a_id, _) = join(&mut a, "r");
        join(&mut b, "r");
        let full = c.on_text(r#"{"type":"join","room":"r"}"#).unwrap();
        assert!(matches!(parse(&full), ServerMessage::Error { code: ErrorCode::RoomFull, .. }));
        drop(a);
        assert_eq!(parse(&b_rx.try_recv().unwrap()), ServerMessage::PeerLeft { peer_id: a_id });
        let (_, peers) = join(&mut c, "r");
        assert_eq!(peers.len(), 1);
    }

    #[test]
    fn errors_keep_the_connection() {
        let rooms: Arc<Rooms<String>> = Arc::new(Rooms::default());
        let (mut a, _rx) = session(&rooms);
        let code = |reply: Option<String>| match parse(&reply.unwrap()) {
            ServerMessage::Error { code, .. } => code,
            other => panic!("expected an error, got {other:?}"),
        };
        assert_eq!(code(a.on_text("nope")), ErrorCode::BadMessage);
        assert_eq!(code(a.on_text(r#"{"type":"join","room":"a b"}"#)), ErrorCode::InvalidRoom);
        assert_eq!(code(a.on_text(r#"{"type":"leave"}"#)), ErrorCode::NotInRoom);
        join(&mut a, "r");
        assert_eq!(code(a.on_text(r#"{"type":"join","room":"r"}"#)), ErrorCode::AlreadyJoined);
        let to_nobody = r#"{"type":"signal","to":"0000","data":{"kind":"end_of_candidates"}}"#;
        assert_eq!(code(a.on_text(to_nobody)), ErrorCode::UnknownPeer);
    }
}
