//! coturn with the repository's `turn/turnserver.conf` on loopback: its command line (the file,
//! plus only what a loopback test needs), a STUN Binding request to tell it is up, and what its
//! verbose log says about allocations, permissions and relayed bytes.

use std::ops::RangeInclusive;
use std::path::PathBuf;

/// One coturn run.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The repository's `turn/turnserver.conf`, used as is (`-c`).
    pub conf: PathBuf,
    pub port: u16,
    pub relay_ports: RangeInclusive<u16>,
    pub secret: String,
    pub realm: String,
    /// A writable directory for the user database and the pid file.
    pub state_dir: PathBuf,
}

/// The realm of test runs (production uses PUBLIC_HOST, see docker-compose.yml).
pub const TEST_REALM: &str = "connect.test";

/// `turnserver` arguments: the repository's file, then what differs on a loopback test machine.
/// Later options override the file's, as docker-compose.yml relies on too.
pub fn turnserver_args(setup: &Setup) -> Vec<String> {
    let state = |name: &str| setup.state_dir.join(name).display().to_string();
    vec![
        "-c".to_owned(),
        setup.conf.display().to_string(),
        // Loopback only, on ports free here (production: every interface, 3478, the file's relay range).
        "--listening-ip=127.0.0.1".to_owned(),
        "--relay-ip=127.0.0.1".to_owned(),
        format!("--listening-port={}", setup.port),
        format!("--min-port={}", setup.relay_ports.start()),
        format!("--max-port={}", setup.relay_ports.end()),
        // Production passes these two from .env on the command line too.
        format!("--static-auth-secret={}", setup.secret),
        format!("--realm={}", setup.realm),
        // As docker-compose.yml without TLS (the NAT tests give coturn certificates instead).
        "--no-tls".to_owned(),
        // Both peers of a loopback call relay to 127.0.0.1, which the file refuses (denied-peer-ip
        // 127.0.0.0/8, and coturn's own loopback rule): exactly that address is allowed back.
        "--allow-loopback-peers".to_owned(),
        "--allowed-peer-ip=127.0.0.1".to_owned(),
        // Writable state for a run outside /var, and a log that names every session.
        format!("--userdb={}", state("turndb")),
        format!("--pidfile={}", state("turnserver.pid")),
        "--log-file=stdout".to_owned(),
        "--verbose".to_owned(),
    ]
}

/// STUN's magic cookie (RFC 8489 §5).
const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];

/// A STUN Binding request without attributes (RFC 8489 §5, §6): type 0x0001, length 0.
pub fn binding_request(transaction: [u8; 12]) -> [u8; 20] {
    let mut message = [0u8; 20];
    message[..2].copy_from_slice(&[0x00, 0x01]);
    message[4..8].copy_from_slice(&MAGIC_COOKIE);
    message[8..].copy_from_slice(&transaction);
    message
}

/// Whether `response` is a Binding success response (0x0101) to `transaction`.
pub fn is_binding_success(response: &[u8], transaction: [u8; 12]) -> bool {
    response.len() >= 20
        && response[..2] == [0x01, 0x01]
        && response[4..8] == MAGIC_COOKIE
        && response[8..20] == transaction
}

/// `(expiry, peer id)` of a TURN REST username `"<unix-expiry>:<peer-id>"`.
pub fn split_username(username: &str) -> Option<(u64, &str)> {
    let (expiry, peer) = username.split_once(':')?;
    Some((expiry.parse().ok()?, peer))
}

/// The username of every allocation coturn granted (`session …: new, realm=<…>, username=<…>`).
pub fn allocations(log: &str) -> Vec<String> {
    log.lines().filter(|line| line.contains(": new, realm=<")).filter_map(|line| field(line, "username=<")).collect()
}

/// How many times `username` had a `packet` (e.g. `CREATE_PERMISSION`) accepted.
pub fn accepted(log: &str, username: &str, packet: &str) -> usize {
    let needle = format!("user <{username}>: incoming packet {packet} processed, success");
    log.lines().filter(|line| line.contains(&needle)).count()
}

/// How many requests of `username` coturn turned down as `401 Unauthorized` (a wrong or expired
/// credential: with `use-auth-secret` both fail the HMAC check).
pub fn unauthorized(log: &str, username: &str) -> usize {
    let needle = format!("user <{username}>: incoming packet message processed, error 401");
    log.lines().filter(|line| line.contains(&needle)).count()
}

/// Lines where coturn refused a peer (`403: Forbidden IP`).
pub fn forbidden(log: &str) -> Vec<&str> {
    log.lines().filter(|line| line.contains("error 403")).collect()
}

/// Traffic of one closed allocation, as logged when it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub username: String,
    /// `peer usage`: traffic between the relay and the peer (the media); otherwise between the
    /// client and the server.
    pub peer: bool,
    pub received_bytes: u64,
    pub sent_bytes: u64,
}

/// Every `usage:` and `peer usage:` line (`…, rp=10, rb=1124, sp=10, sb=720`).
pub fn usage(log: &str) -> Vec<Usage> {
    log.lines()
        .filter_map(|line| {
            let peer = line.contains(": peer usage: ");
            if !peer && !line.contains(": usage: ") {
                return None;
            }
            Some(Usage {
                username: field(line, "username=<")?,
                peer,
                received_bytes: field(line, "rb=")?.parse().ok()?,
                sent_bytes: field(line, "sb=")?.parse().ok()?,
            })
        })
        .collect()
}

/// The text after `start` up to `>`, `,` or the end of the line.
fn field(line: &str, start: &str) -> Option<String> {
    let (_, rest) = line.split_once(start)?;
    let end = rest.find(['>', ',']).unwrap_or(rest.len());
    Some(rest[..end].trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Lines as coturn 4.6.1 writes them with --verbose.
    const LOG: &str = "\
0: : White listing: 127.0.0.1
1: : session 000000000000000001: realm <connect.test> user <>: incoming packet message processed, error 401: Unauthorized
1: : session 000000000000000001: new, realm=<connect.test>, username=<1795256537:peerA>, lifetime=600
1: : session 000000000000000001: realm <connect.test> user <1795256537:peerA>: incoming packet ALLOCATE processed, success
1: : session 000000000000000001: realm <connect.test> user <1795256537:peerA>: incoming packet CREATE_PERMISSION processed, success
1: : session 001000000000000002: new, realm=<connect.test>, username=<1795256540:peerB>, lifetime=600
1: : session 001000000000000003: realm <connect.test> user <x:y>: incoming packet CHANNEL_BIND processed, error 403: Forbidden IP
1: : ERROR: check_stun_auth: Cannot find credentials of user <1795249877:expired>
1: : session 001000000000000004: realm <connect.test> user <1795249877:expired>: incoming packet message processed, error 401: Unauthorized
7: : session 000000000000000001: usage: realm=<connect.test>, username=<1795256537:peerA>, rp=10, rb=1124, sp=10, sb=720
7: : session 000000000000000001: peer usage: realm=<connect.test>, username=<1795256537:peerA>, rp=2, rb=200, sp=2, sb=300
";

    #[test]
    fn the_command_line_keeps_the_file_and_adds_loopback_settings() {
        let setup = Setup {
            conf: "/r/turn/turnserver.conf".into(),
            port: 3500,
            relay_ports: 20000..=20063,
            secret: "s".into(),
            realm: TEST_REALM.into(),
            state_dir: "/t".into(),
        };
        let args = turnserver_args(&setup);
        assert_eq!(args[..2], ["-c", "/r/turn/turnserver.conf"]);
        for expected in [
            "--listening-port=3500",
            "--min-port=20000",
            "--max-port=20063",
            "--static-auth-secret=s",
            "--realm=connect.test",
            "--allowed-peer-ip=127.0.0.1",
            "--userdb=/t/turndb",
            "--pidfile=/t/turnserver.pid",
        ] {
            assert!(args.iter().any(|a| a == expected), "{expected} missing from {args:?}");
        }
    }

    #[test]
    fn binding_request_and_success() {
        let tx = [7u8; 12];
        let request = binding_request(tx);
        assert_eq!(request[..8], [0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42]);
        let mut response = request.to_vec();
        response[..2].copy_from_slice(&[0x01, 0x01]);
        response.extend_from_slice(&[0x00, 0x20, 0x00, 0x08, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert!(is_binding_success(&response, tx));
        assert!(!is_binding_success(&response, [8u8; 12]), "another transaction");
        assert!(!is_binding_success(&request, tx), "a request is not a response");
        assert!(!is_binding_success(&response[..19], tx));
    }

    #[test]
    fn usernames_split_into_expiry_and_peer() {
        assert_eq!(split_username("1795256537:Pi7-AbA5NYHqiquY"), Some((1_795_256_537, "Pi7-AbA5NYHqiquY")));
        assert_eq!(split_username("peer"), None);
        assert_eq!(split_username("soon:peer"), None);
    }

    #[test]
    fn the_log_tells_allocations_permissions_refusals_and_usage() {
        assert_eq!(allocations(LOG), ["1795256537:peerA", "1795256540:peerB"]);
        assert_eq!(accepted(LOG, "1795256537:peerA", "CREATE_PERMISSION"), 1);
        assert_eq!(accepted(LOG, "1795256540:peerB", "CREATE_PERMISSION"), 0);
        assert_eq!(forbidden(LOG).len(), 1);
        assert_eq!(unauthorized(LOG, "1795249877:expired"), 1);
        assert_eq!(unauthorized(LOG, "1795256537:peerA"), 0, "the anonymous first request is not counted");
        assert_eq!(
            usage(LOG),
            [
                Usage { username: "1795256537:peerA".into(), peer: false, received_bytes: 1124, sent_bytes: 720 },
                Usage { username: "1795256537:peerA".into(), peer: true, received_bytes: 200, sent_bytes: 300 },
            ]
        );
    }
}
