//! The Redis data model and the Lua scripts that change it, each one atomic: Redis runs one
//! script at a time, so no two nodes ever see a room half-changed. Sans-IO: script sources, the
//! member encoding, and the decoding of what the scripts return; the worker sends them.
//!
//! Keys (one Redis, not Redis Cluster: scripts also touch keys they compute):
//! - `connect:room:<room>`: hash, peer id → member (below); its TTL is refreshed by every node
//!   holding a seat in it, so a room whose nodes all died disappears by itself.
//! - `connect:node:<node>`: a node's liveness, set with a TTL by its heartbeat.
//! - `connect:epoch`: a random value written once; a different one means Redis lost its data (a
//!   restart without persistence), and nodes write their seats back.
//!
//! A member is `order|token|node|conn|state`: join order (for `joined.peers`), resume token, the
//! holding connection (node id and its connection number), and `c` (connected) or `a<deadline>`
//! (away until that Redis time, in ms). Messages for a connection are published to its node's
//! channel `connect:inbox:<node>` in the envelopes of [`inbox`](super::inbox): the scripts send
//! `T` (deliver), `R` (replaced: close 4001), `P` (a peer joined or resumed, and where it sits),
//! `L` (a peer left) and `S` (a signal for a seat).

use redis::Value;
use shared::{PeerId, ResumeToken, ServerMessage};

use crate::engine::peer::ConnId;

pub const ROOM_PREFIX: &str = "connect:room:";
pub const NODE_PREFIX: &str = "connect:node:";
pub const INBOX_PREFIX: &str = "connect:inbox:";
pub const EPOCH_KEY: &str = "connect:epoch";

/// Helpers every script starts with.
const PRELUDE: &str = r#"
local INBOX, NODE = 'connect:inbox:', 'connect:node:'
local function parse(peer, v)
  local o, t, n, c, s = string.match(v, '^(%d+)|([^|]*)|([^|]*)|([^|]*)|([^|]*)$')
  if not o then return nil end
  return {peer = peer, o = o, order = tonumber(o), token = t, node = n, conn = c, state = s}
end
local function encode(m, node, conn, state)
  return table.concat({m.o, m.token, node, conn, state}, '|')
end
local function members(room)
  local flat, list = redis.call('HGETALL', room), {}
  for i = 1, #flat, 2 do
    local m = parse(flat[i], flat[i + 1])
    if m then list[#list + 1] = m end
  end
  return list
end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function notify(m, body)
  return redis.call('PUBLISH', INBOX .. m.node, m.conn .. ' ' .. body)
end
local function notify_connected(list, body)
  for _, m in ipairs(list) do
    if m.state == 'c' then notify(m, body) end
  end
end
local function others(list, me)
  table.sort(list, function(a, b) return a.order < b.order end)
  local out = {}
  for _, m in ipairs(list) do
    if m.peer ~= me then out[#out + 1] = m.peer end
  end
  return out
end
"#;

/// KEYS: room. ARGV: node, conn, capacity, room TTL ms, fresh peer, fresh token, resume token
/// (or empty), `peer_joined` JSON for the fresh peer, `peer_resumed` JSON's prefix and suffix.
/// Returns `{'resumed'|'joined', peer, token, order, other peers in join order…}` or `{'full'}`.
/// Capacity check, token lookup and insert are one step: two nodes can never overfill a room.
/// A resume gives the seat the fresh token (a token works once); taking the seat from a connection
/// still open closes that one (`R`) and, if its node heard it (a dead node's connections are not
/// open), tells the connected others `peer_resumed`. Either way the connected others learn where
/// the seat is now (`P`, with `peer_joined`, `peer_resumed` or nothing): their nodes' caches of
/// where peers sit follow every move.
const JOIN: &str = r#"
local room, node, conn = KEYS[1], ARGV[1], ARGV[2]
local list = members(room)
if ARGV[7] ~= '' then
  for _, m in ipairs(list) do
    if m.token == ARGV[7] then
      m.token = ARGV[6]
      redis.call('HSET', room, m.peer, encode(m, node, conn, 'c'))
      redis.call('PEXPIRE', room, ARGV[4])
      local open = m.state == 'c' and (m.node ~= node or m.conn ~= conn)
      -- A holder whose node is gone (nobody reads its inbox) had no open connection to take over.
      local resumed = ''
      if open and redis.call('PUBLISH', INBOX .. m.node, m.conn .. ' R') > 0 then
        resumed = ARGV[9] .. m.peer .. ARGV[10]
      end
      local placed = 'P' .. m.peer .. ' ' .. node .. ' ' .. conn .. ' ' .. resumed
      for _, o in ipairs(list) do
        if o.peer ~= m.peer and o.state == 'c' then notify(o, placed) end
      end
      local reply = {'resumed', m.peer, m.token, m.o}
      for _, p in ipairs(others(list, m.peer)) do reply[#reply + 1] = p end
      return reply
    end
  end
end
if #list >= tonumber(ARGV[3]) then return {'full'} end
local order = 0
for _, m in ipairs(list) do
  if m.order > order then order = m.order end
end
order = string.format('%d', order + 1)
redis.call('HSET', room, ARGV[5], table.concat({order, ARGV[6], node, conn, 'c'}, '|'))
redis.call('PEXPIRE', room, ARGV[4])
notify_connected(list, 'P' .. ARGV[5] .. ' ' .. node .. ' ' .. conn .. ' ' .. ARGV[8])
local reply = {'joined', ARGV[5], ARGV[6], order}
for _, p in ipairs(others(list, ARGV[5])) do reply[#reply + 1] = p end
return reply
"#;

/// KEYS: room. ARGV: from peer, node, conn, to peer, the relayed `signal` JSON.
/// Returns `{1, node, conn}` (delivered to that node's connection, this node) or `{2, node, conn}`
/// (another node), -1 (the sender holds no seat here: `not_in_room`), -2 (no such connected peer:
/// `unknown_peer`), -3 (its node is gone). The worker runs it only for a recipient it has no place
/// for, and keeps the place it returns. It publishes the same `S` envelope as a relay to a known
/// place, so the recipient's node checks the seat either way.
const RELAY: &str = r#"
local v = redis.call('HGET', KEYS[1], ARGV[1])
local me = v and parse(ARGV[1], v)
if not me or me.node ~= ARGV[2] or me.conn ~= ARGV[3] then return -1 end
if ARGV[4] == ARGV[1] then return -2 end
v = redis.call('HGET', KEYS[1], ARGV[4])
local to = v and parse(ARGV[4], v)
if not to or to.state ~= 'c' then return -2 end
-- As a relay to a known place: an envelope naming the seat, checked where it lands.
local signal = 'S' .. ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. ARGV[1] .. ' ' .. ARGV[4] .. ' ' .. ARGV[5]
if notify(to, signal) == 0 then return -3 end
if to.node == ARGV[2] then return {1, to.node, to.conn} end
return {2, to.node, to.conn}
"#;

/// KEYS: room. ARGV: peer, node, conn, "1" to remove only an away seat, `peer_left` JSON.
/// Frees the seat if this connection still holds it, and tells the connected others (`L`: their
/// nodes forget where it sat). Returns 1 if it was freed.
const REMOVE: &str = r#"
local v = redis.call('HGET', KEYS[1], ARGV[1])
local m = v and parse(ARGV[1], v)
if not m or m.node ~= ARGV[2] or m.conn ~= ARGV[3] then return 0 end
if ARGV[4] == '1' and m.state == 'c' then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
notify_connected(members(KEYS[1]), 'L' .. ARGV[1] .. ' ' .. ARGV[5])
return 1
"#;

/// KEYS: room. ARGV: peer, node, conn, grace ms. Marks the seat away (resumable) until Redis time
/// plus the grace, if this connection still holds it. Returns the deadline, or 0.
const AWAY: &str = r#"
local v = redis.call('HGET', KEYS[1], ARGV[1])
local m = v and parse(ARGV[1], v)
if not m or m.node ~= ARGV[2] or m.conn ~= ARGV[3] then return 0 end
local deadline = now_ms() + tonumber(ARGV[4])
redis.call('HSET', KEYS[1], ARGV[1], encode(m, m.node, m.conn, 'a' .. string.format('%d', deadline)))
return deadline
"#;

/// The heartbeat. KEYS: node key, epoch key, rooms with this node's seats. ARGV: node, node TTL
/// ms, room TTL ms, capacity, grace ms, known epoch (empty at first), fresh epoch, `peer_left`
/// JSON prefix and suffix, then per room: n, then n × (peer, member) of this node's seats.
///
/// Refreshes the node's liveness and each room's TTL; checks each of this node's seats (0: as
/// held, 1: written back — after Redis lost its data, or after another node marked it away while
/// this node was cut off, -1: lost); frees seats of this node it no longer holds (left while
/// Redis was unreachable); marks seats of dead nodes away; frees away seats past their deadline,
/// telling the connected others. Returns `{epoch, seats marked or freed, status per seat…}`.
const TICK: &str = r#"
local node = ARGV[1]
redis.call('SET', KEYS[1], node, 'PX', ARGV[2])
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  epoch = ARGV[7]
  redis.call('SET', KEYS[2], epoch)
end
local data_lost = ARGV[6] ~= '' and epoch ~= ARGV[6]
local now, capacity, grace = now_ms(), tonumber(ARGV[4]), tonumber(ARGV[5])
local reply, evicted, at = {epoch, 0}, 0, 10
for k = 3, #KEYS do
  local room, ours = KEYS[k], {}
  local n = tonumber(ARGV[at])
  at = at + 1
  for i = 1, n do
    local peer, value = ARGV[at], ARGV[at + 1]
    at = at + 2
    local mine = parse(peer, value)
    ours[peer] = mine
    local current = redis.call('HGET', room, peer)
    local held = current and parse(peer, current)
    local status = -1
    if current == value then
      status = 0
    elseif held and held.node == mine.node and held.conn == mine.conn then
      redis.call('HSET', room, peer, value)
      status = 1
    elseif not current and data_lost and redis.call('HLEN', room) < capacity then
      redis.call('HSET', room, peer, value)
      status = 1
    end
    reply[#reply + 1] = status
  end
  local gone = {}
  for _, m in ipairs(members(room)) do
    if m.node == node then
      local mine = ours[m.peer]
      if not mine or mine.conn ~= m.conn then gone[#gone + 1] = m.peer end
    elseif m.state == 'c' then
      if redis.call('EXISTS', NODE .. m.node) == 0 then
        redis.call('HSET', room, m.peer, encode(m, m.node, m.conn, 'a' .. string.format('%d', now + grace)))
        evicted = evicted + 1
      end
    else
      local deadline = tonumber(string.sub(m.state, 2))
      if deadline and deadline <= now then gone[#gone + 1] = m.peer end
    end
  end
  if #gone > 0 then
    for _, peer in ipairs(gone) do redis.call('HDEL', room, peer) end
    evicted = evicted + #gone
    local rest = members(room)
    for _, peer in ipairs(gone) do notify_connected(rest, 'L' .. peer .. ' ' .. ARGV[8] .. peer .. ARGV[9]) end
  end
  if redis.call('EXISTS', room) == 1 then redis.call('PEXPIRE', room, ARGV[3]) end
end
reply[2] = evicted
return reply
"#;

/// The scripts, in the order their SHA1s are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    Join,
    Relay,
    Remove,
    Away,
    Tick,
}

impl Script {
    pub const ALL: [Script; 5] = [Script::Join, Script::Relay, Script::Remove, Script::Away, Script::Tick];

    /// The full source, prelude included, as `SCRIPT LOAD` takes it.
    pub fn source(self) -> String {
        let body = match self {
            Script::Join => JOIN,
            Script::Relay => RELAY,
            Script::Remove => REMOVE,
            Script::Away => AWAY,
            Script::Tick => TICK,
        };
        format!("{PRELUDE}{body}")
    }
}

/// Where a seat's holder is: connected, or away until a Redis time in ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Connected,
    Away(i64),
}

/// A member value as the scripts store it.
pub fn member(order: &str, token: &ResumeToken, node: &str, conn: ConnId, state: State) -> String {
    match state {
        State::Connected => format!("{order}|{}|{node}|{conn}|c", token.as_str()),
        State::Away(deadline) => format!("{order}|{}|{node}|{conn}|a{deadline}", token.as_str()),
    }
}

/// `peer_left` as two halves around the peer id, for the tick script, which learns the ids.
pub fn peer_left_halves() -> (String, String) {
    halves(|peer_id| ServerMessage::PeerLeft { peer_id })
}

/// `peer_resumed` as two halves around the peer id, for the join script, which learns the id.
pub fn peer_resumed_halves() -> (String, String) {
    halves(|peer_id| ServerMessage::PeerResumed { peer_id })
}

/// A message about one peer as the two halves around its id.
fn halves(message: impl Fn(PeerId) -> ServerMessage) -> (String, String) {
    const MARK: &str = "@"; // no JSON escaping, and no other "@" in the message
    let whole = message(PeerId::new(MARK)).to_json();
    let (prefix, suffix) = whole.split_once(MARK).unwrap_or((&whole, ""));
    (prefix.to_owned(), suffix.to_owned())
}

/// A script answered something it never returns: a bug, or a foreign script under our name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected reply from a Redis script: {0}")]
pub struct Unexpected(String);

fn unexpected(value: &Value) -> Unexpected {
    Unexpected(format!("{value:?}"))
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

pub fn int(value: &Value) -> Result<i64, Unexpected> {
    match value {
        Value::Int(n) => Ok(*n),
        other => Err(unexpected(other)),
    }
}

/// What the join script decided.
#[derive(Debug, PartialEq, Eq)]
pub enum JoinReply {
    Full,
    Seated { resumed: bool, peer: PeerId, token: ResumeToken, order: String, peers: Vec<PeerId> },
}

pub fn join_reply(value: &Value) -> Result<JoinReply, Unexpected> {
    let Value::Array(items) = value else { return Err(unexpected(value)) };
    let texts: Option<Vec<String>> = items.iter().map(text).collect();
    let texts = texts.ok_or_else(|| unexpected(value))?;
    match texts.as_slice() {
        [full] if full == "full" => Ok(JoinReply::Full),
        [kind, peer, token, order, peers @ ..] if kind == "joined" || kind == "resumed" => Ok(JoinReply::Seated {
            resumed: kind == "resumed",
            peer: PeerId::new(peer.as_str()),
            token: ResumeToken::new(token.as_str()),
            order: order.clone(),
            peers: peers.iter().map(|p| PeerId::new(p.as_str())).collect(),
        }),
        _ => Err(unexpected(value)),
    }
}

/// What the relay script decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayReply {
    /// Delivered to this connection of the node that runs it (`same_node`) or of another node.
    Delivered {
        same_node: bool,
        node: String,
        conn: ConnId,
    },
    NotInRoom,
    UnknownPeer,
    NodeGone,
}

pub fn relay_reply(value: &Value) -> Result<RelayReply, Unexpected> {
    if let Value::Array(items) = value {
        let [code, node, conn] = items.as_slice() else { return Err(unexpected(value)) };
        let same_node = match int(code)? {
            1 => true,
            2 => false,
            _ => return Err(unexpected(value)),
        };
        let node = text(node).ok_or_else(|| unexpected(value))?;
        let conn = text(conn).and_then(|c| c.parse().ok()).ok_or_else(|| unexpected(value))?;
        return Ok(RelayReply::Delivered { same_node, node, conn });
    }
    match int(value)? {
        -1 => Ok(RelayReply::NotInRoom),
        -2 => Ok(RelayReply::UnknownPeer),
        -3 => Ok(RelayReply::NodeGone),
        _ => Err(unexpected(value)),
    }
}

/// What the heartbeat found.
#[derive(Debug, PartialEq, Eq)]
pub struct TickReply {
    pub epoch: String,
    pub evicted: u64,
    /// Per seat, in the order sent: 0 as held, 1 written back, -1 lost.
    pub statuses: Vec<i64>,
}

pub fn tick_reply(value: &Value) -> Result<TickReply, Unexpected> {
    let Value::Array(items) = value else { return Err(unexpected(value)) };
    let [epoch, evicted, statuses @ ..] = items.as_slice() else { return Err(unexpected(value)) };
    Ok(TickReply {
        epoch: text(epoch).ok_or_else(|| unexpected(value))?,
        evicted: u64::try_from(int(evicted)?).map_err(|_| unexpected(value))?,
        statuses: statuses.iter().map(int).collect::<Result<_, _>>()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn members_are_pipe_separated_and_away_carries_its_deadline() {
        let token = ResumeToken::new("tok_-1");
        assert_eq!(member("3", &token, "node_A", 17, State::Connected), "3|tok_-1|node_A|17|c");
        assert_eq!(member("3", &token, "n", 17, State::Away(1_763_000_000_123)), "3|tok_-1|n|17|a1763000000123");
    }

    #[test]
    fn peer_left_halves_rebuild_the_protocol_message() {
        let (prefix, suffix) = peer_left_halves();
        let id = "AbC-_0123456789x";
        assert_eq!(format!("{prefix}{id}{suffix}"), ServerMessage::PeerLeft { peer_id: PeerId::new(id) }.to_json());
        let (prefix, suffix) = peer_resumed_halves();
        assert_eq!(format!("{prefix}{id}{suffix}"), ServerMessage::PeerResumed { peer_id: PeerId::new(id) }.to_json());
    }

    #[test]
    fn join_replies() {
        assert_eq!(join_reply(&Value::Array(vec![bulk("full")])), Ok(JoinReply::Full));
        let seated = Value::Array(vec![bulk("resumed"), bulk("p1"), bulk("t1"), bulk("2"), bulk("p0")]);
        assert_eq!(
            join_reply(&seated),
            Ok(JoinReply::Seated {
                resumed: true,
                peer: PeerId::new("p1"),
                token: ResumeToken::new("t1"),
                order: "2".into(),
                peers: vec![PeerId::new("p0")]
            })
        );
        let alone = Value::Array(vec![bulk("joined"), bulk("p1"), bulk("t1"), bulk("1")]);
        assert!(
            matches!(join_reply(&alone), Ok(JoinReply::Seated { resumed: false, ref peers, .. }) if peers.is_empty())
        );
        assert!(join_reply(&Value::Array(vec![bulk("joined"), bulk("p1")])).is_err());
        assert!(join_reply(&Value::Int(1)).is_err());
    }

    #[test]
    fn relay_and_tick_replies() {
        let delivered = Value::Array(vec![Value::Int(2), bulk("nB"), bulk("17")]);
        assert_eq!(
            relay_reply(&delivered),
            Ok(RelayReply::Delivered { same_node: false, node: "nB".into(), conn: 17 })
        );
        let here = Value::Array(vec![Value::Int(1), bulk("nA"), bulk("3")]);
        assert!(matches!(relay_reply(&here), Ok(RelayReply::Delivered { same_node: true, conn: 3, .. })));
        assert!(relay_reply(&Value::Array(vec![Value::Int(2), bulk("nB"), bulk("x")])).is_err());
        assert!(relay_reply(&Value::Array(vec![Value::Int(-2), bulk("nB"), bulk("1")])).is_err());
        assert!(relay_reply(&Value::Int(2)).is_err());
        assert_eq!(relay_reply(&Value::Int(-3)), Ok(RelayReply::NodeGone));
        assert!(relay_reply(&Value::Int(7)).is_err());
        let tick = Value::Array(vec![bulk("e1"), Value::Int(2), Value::Int(0), Value::Int(-1)]);
        assert_eq!(tick_reply(&tick), Ok(TickReply { epoch: "e1".into(), evicted: 2, statuses: vec![0, -1] }));
        assert!(tick_reply(&Value::Array(vec![bulk("e1")])).is_err());
    }

    #[test]
    fn every_script_has_the_prelude() {
        for script in Script::ALL {
            assert!(script.source().starts_with(PRELUDE));
        }
    }
}
