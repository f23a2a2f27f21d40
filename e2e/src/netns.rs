//! The simulated internet of the NAT tests (`tests/nat.rs`), as data: six network namespaces, the
//! veth links and documentation addresses between them, and the nftables rulesets of the two home
//! routers, the internet and the public server; rendered into `ip`, `sysctl` and `nft` input so
//! the rules can be read and unit-tested apart from running them.
//!
//! ```text
//!  home-a (browser A)          rtr-a (NAT)                      inet                  pub (server)
//!  192.168.1.2 ── lan 192.168.1.1 │ wan 198.51.100.2 ── 198.51.100.1                 203.0.113.10
//!                                                                   203.0.113.1 ──── signaling, coturn, nginx
//!  home-b (browser B)          rtr-b (NAT)                      │
//!  192.168.2.2 ── lan 192.168.2.1 │ wan 192.0.2.2 ───── 192.0.2.1
//! ```
//! Only documentation ranges (RFC 5737) on the "internet", private ranges behind the routers;
//! nothing is attached to the namespace the test runs in.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

/// The public server: signaling, coturn and nginx (RFC 5737 TEST-NET-3).
pub const PUBLIC_ADDR: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);
/// The internet router's address on the server's link.
const PUBLIC_GATEWAY: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
/// The documentation ranges the test uses, for coturn's `--allowed-peer-ip` (turnserver.conf
/// rightly denies them all).
pub const TEST_RANGES: [(Ipv4Addr, Ipv4Addr); 3] = [
    (Ipv4Addr::new(203, 0, 113, 0), Ipv4Addr::new(203, 0, 113, 255)),
    (Ipv4Addr::new(198, 51, 100, 0), Ipv4Addr::new(198, 51, 100, 255)),
    (Ipv4Addr::new(192, 0, 2, 0), Ipv4Addr::new(192, 0, 2, 255)),
];

/// One home: its router's WAN and LAN addresses and the browser's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Home {
    /// `a` or `b`: names the namespaces and the internet's interface towards this home.
    pub letter: char,
    /// The router's public address (what the other side sees after NAT).
    pub wan: Ipv4Addr,
    /// The internet router's address on this home's link.
    pub wan_gateway: Ipv4Addr,
    pub lan_gateway: Ipv4Addr,
    pub browser: Ipv4Addr,
}

pub const HOME_A: Home = Home {
    letter: 'a',
    wan: Ipv4Addr::new(198, 51, 100, 2),
    wan_gateway: Ipv4Addr::new(198, 51, 100, 1),
    lan_gateway: Ipv4Addr::new(192, 168, 1, 1),
    browser: Ipv4Addr::new(192, 168, 1, 2),
};

pub const HOME_B: Home = Home {
    letter: 'b',
    wan: Ipv4Addr::new(192, 0, 2, 2),
    wan_gateway: Ipv4Addr::new(192, 0, 2, 1),
    lan_gateway: Ipv4Addr::new(192, 168, 2, 1),
    browser: Ipv4Addr::new(192, 168, 2, 2),
};

/// How a home router maps its LAN's flows to its public address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mapping {
    /// Plain `masquerade`: Linux keeps the source port, so one LAN socket has one public port for
    /// every destination (endpoint-independent mapping, RFC 4787 §4.1); replies only from where
    /// the LAN sent to (conntrack).
    EndpointIndependent,
    /// `masquerade fully-random`: a new random port for every destination (a symmetric NAT):
    /// the port a STUN server saw is useless to the other peer.
    Symmetric,
}

/// What a home router lets out of the LAN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Egress {
    Everything,
    /// UDP dropped (offices, hotels, captive networks): TCP only.
    NoUdp,
    /// Only TCP to these ports.
    TcpPorts(Vec<u16>),
}

/// The network of one scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    pub mapping: Mapping,
    /// The same egress rules at both homes.
    pub egress: Egress,
    /// The internet drops UDP between the two routers' public addresses: no direct path.
    pub no_udp_between_homes: bool,
    /// The public server forwards TCP 443 to nginx's 8443, as docker's `443:8443` port mapping does.
    pub https_on_443: bool,
}

/// Names of the namespaces of one run; the prefix keeps parallel runs apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    prefix: String,
}

impl Names {
    pub fn new(prefix: impl Into<String>) -> Names {
        Names { prefix: prefix.into() }
    }

    pub fn internet(&self) -> String {
        format!("{}-inet", self.prefix)
    }

    pub fn public(&self) -> String {
        format!("{}-pub", self.prefix)
    }

    pub fn router(&self, home: &Home) -> String {
        format!("{}-rtr-{}", self.prefix, home.letter)
    }

    pub fn home(&self, home: &Home) -> String {
        format!("{}-home-{}", self.prefix, home.letter)
    }

    /// Every namespace, in creation order.
    pub fn all(&self) -> Vec<String> {
        let mut names = vec![self.internet(), self.public()];
        for home in [HOME_A, HOME_B] {
            names.push(self.router(&home));
            names.push(self.home(&home));
        }
        names
    }
}

fn argv(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|part| part.to_string()).collect()
}

/// A veth pair: `a` named `a_if` in namespace `a_ns`, its peer `b_if` in `b_ns`.
fn veth(a_ns: &str, a_if: &str, b_ns: &str, b_if: &str) -> Vec<String> {
    argv(&["ip", "link", "add", a_if, "netns", a_ns, "type", "veth", "peer", "name", b_if, "netns", b_ns])
}

fn address(ns: &str, interface: &str, addr: Ipv4Addr) -> Vec<Vec<String>> {
    vec![
        argv(&["ip", "-n", ns, "addr", "add", &format!("{addr}/24"), "dev", interface]),
        argv(&["ip", "-n", ns, "link", "set", "dev", interface, "up"]),
    ]
}

fn default_route(ns: &str, via: Ipv4Addr) -> Vec<String> {
    argv(&["ip", "-n", ns, "route", "add", "default", "via", &via.to_string()])
}

fn sysctl(ns: &str, setting: &str) -> Vec<String> {
    argv(&["ip", "netns", "exec", ns, "sysctl", "-qw", setting])
}

/// The commands that build the network (the nftables rulesets are loaded apart, see
/// [`Scenario::rulesets`]). IPv6 is off everywhere: the scenarios are about IPv4 NAT, and a
/// link-local IPv6 address would be one more candidate to explain.
pub fn setup_commands(names: &Names) -> Vec<Vec<String>> {
    let (inet, public) = (names.internet(), names.public());
    let mut commands: Vec<Vec<String>> = Vec::new();
    for ns in names.all() {
        commands.push(argv(&["ip", "netns", "add", &ns]));
        // Before any link exists, so new interfaces inherit it.
        commands.push(sysctl(&ns, "net.ipv6.conf.default.disable_ipv6=1"));
        commands.push(sysctl(&ns, "net.ipv6.conf.all.disable_ipv6=1"));
        commands.push(argv(&["ip", "-n", &ns, "link", "set", "lo", "up"]));
    }
    commands.push(veth(&inet, "pub", &public, "eth0"));
    commands.extend(address(&inet, "pub", PUBLIC_GATEWAY));
    commands.extend(address(&public, "eth0", PUBLIC_ADDR));
    commands.push(default_route(&public, PUBLIC_GATEWAY));
    for home in [HOME_A, HOME_B] {
        let (router, lan) = (names.router(&home), names.home(&home));
        let inet_if = format!("wan-{}", home.letter);
        commands.push(veth(&inet, &inet_if, &router, "wan"));
        commands.extend(address(&inet, &inet_if, home.wan_gateway));
        commands.extend(address(&router, "wan", home.wan));
        commands.push(default_route(&router, home.wan_gateway));
        commands.push(veth(&router, "lan", &lan, "eth0"));
        commands.extend(address(&router, "lan", home.lan_gateway));
        commands.extend(address(&lan, "eth0", home.browser));
        commands.push(default_route(&lan, home.lan_gateway));
        commands.push(sysctl(&router, "net.ipv4.ip_forward=1"));
    }
    commands.push(sysctl(&inet, "net.ipv4.ip_forward=1"));
    // Anything not on the simulated internet (a peer's private host candidate) is silently
    // dropped, as on the real one. With no route at all, the sender would get "network
    // unreachable" instead, and coturn stops relaying for an allocation that hits it.
    commands.push(argv(&["ip", "-n", &inet, "route", "add", "blackhole", "default"]));
    commands
}

/// `ip netns del` for every namespace; processes inside must be gone first.
pub fn teardown_commands(names: &Names) -> Vec<Vec<String>> {
    names.all().iter().rev().map(|ns| argv(&["ip", "netns", "del", ns])).collect()
}

impl Scenario {
    /// `(namespace, nft -f input)` for every namespace that needs rules.
    pub fn rulesets(&self, names: &Names) -> Vec<(String, String)> {
        let mut rulesets =
            vec![(names.router(&HOME_A), self.router_ruleset()), (names.router(&HOME_B), self.router_ruleset())];
        if self.no_udp_between_homes {
            rulesets.push((names.internet(), internet_ruleset()));
        }
        if self.https_on_443 {
            rulesets.push((names.public(), public_ruleset()));
        }
        rulesets
    }

    /// A home router: NAT out of `wan`, LAN flows out as [`Egress`] allows, and back only what
    /// belongs to a flow the LAN started; nothing unsolicited reaches the router itself.
    pub fn router_ruleset(&self) -> String {
        let masquerade = match self.mapping {
            Mapping::EndpointIndependent => "masquerade",
            Mapping::Symmetric => "masquerade fully-random",
        };
        let egress = match &self.egress {
            Egress::Everything => "        iifname \"lan\" oifname \"wan\" accept\n".to_owned(),
            Egress::NoUdp => "        iifname \"lan\" oifname \"wan\" meta l4proto udp counter drop\n        \
                              iifname \"lan\" oifname \"wan\" accept\n"
                .to_owned(),
            Egress::TcpPorts(ports) => {
                let list: Vec<String> = ports.iter().map(u16::to_string).collect();
                format!("        iifname \"lan\" oifname \"wan\" tcp dport {{ {} }} accept\n", list.join(", "))
            }
        };
        let mut rules = String::new();
        let _ = write!(
            rules,
            "table ip nat {{\n    chain postrouting {{\n        type nat hook postrouting priority srcnat; policy accept;\n        \
             oifname \"wan\" {masquerade}\n    }}\n}}\n\
             table ip filter {{\n    chain forward {{\n        type filter hook forward priority filter; policy drop;\n        \
             ct state established,related accept\n{egress}    }}\n    \
             chain input {{\n        type filter hook input priority filter; policy accept;\n        \
             iifname \"wan\" ct state established,related accept\n        iifname \"wan\" drop\n    }}\n}}\n"
        );
        rules
    }
}

/// Packets counted by the router's UDP drop rule, from `nft list ruleset` in its namespace
/// (`… meta l4proto udp counter packets N bytes M drop`); `None` if there is no such rule.
pub fn dropped_udp_packets(listing: &str) -> Option<u64> {
    let line =
        listing.lines().find(|line| line.contains("meta l4proto udp counter packets") && line.contains("drop"))?;
    let (_, rest) = line.split_once("counter packets ")?;
    rest.split_whitespace().next()?.parse().ok()
}

/// The internet drops UDP between the two homes' public addresses, both ways: no direct path.
pub fn internet_ruleset() -> String {
    let (a, b) = (HOME_A.wan, HOME_B.wan);
    format!(
        "table ip filter {{\n    chain forward {{\n        type filter hook forward priority filter; policy accept;\n        \
         ip saddr {a} ip daddr {b} meta l4proto udp drop\n        ip saddr {b} ip daddr {a} meta l4proto udp drop\n    }}\n}}\n"
    )
}

/// The public server's `443 → 8443`, as docker-compose.tls.yml publishes nginx's stream port.
pub fn public_ruleset() -> String {
    "table ip nat {\n    chain prerouting {\n        type nat hook prerouting priority dstnat; policy accept;\n        \
     tcp dport 443 redirect to :8443\n    }\n}\n"
        .to_owned()
}

/// `/etc/hosts` for a home namespace (`ip netns exec` mounts `/etc/netns/<ns>/hosts` over it):
/// the server's names, as DNS would answer them. Each name also with a trailing dot: Chromium
/// resolves TURN server names as absolute names (`turn.example.` — no search domains), and its
/// hosts-file lookup matches them only in that form; without it the lookup falls through to DNS.
pub fn hosts_file(names: &[&str]) -> String {
    let all: Vec<String> = names.iter().flat_map(|name| [name.to_string(), format!("{name}.")]).collect();
    format!("127.0.0.1 localhost\n{PUBLIC_ADDR} {}\n", all.join(" "))
}

/// `/etc/resolv.conf` for a home namespace: a name server on the namespace's own loopback, where
/// nothing listens, so a name missing from [`hosts_file`] fails at once instead of after the
/// resolver's timeouts towards the machine's real name server, which the namespace cannot reach.
pub fn resolv_conf() -> &'static str {
    "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"
}

/// coturn's `--allowed-peer-ip` for [`TEST_RANGES`].
pub fn allowed_peer_args() -> Vec<String> {
    TEST_RANGES.iter().map(|(first, last)| format!("--allowed-peer-ip={first}-{last}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        Names::new("cn1")
    }

    #[test]
    fn six_namespaces_are_built_and_deleted_in_reverse() {
        assert_eq!(names().all(), ["cn1-inet", "cn1-pub", "cn1-rtr-a", "cn1-home-a", "cn1-rtr-b", "cn1-home-b"]);
        let teardown = teardown_commands(&names());
        assert_eq!(teardown.first().map(|c| c.join(" ")).as_deref(), Some("ip netns del cn1-home-b"));
        assert_eq!(teardown.len(), 6);
    }

    #[test]
    fn the_network_links_each_home_through_its_router_to_the_internet() {
        let commands: Vec<String> = setup_commands(&names()).iter().map(|c| c.join(" ")).collect();
        let has = |line: &str| assert!(commands.iter().any(|c| c == line), "missing {line:?} in {commands:#?}");
        has("ip link add lan netns cn1-rtr-a type veth peer name eth0 netns cn1-home-a");
        has("ip link add wan-b netns cn1-inet type veth peer name wan netns cn1-rtr-b");
        has("ip -n cn1-pub addr add 203.0.113.10/24 dev eth0");
        has("ip -n cn1-home-b route add default via 192.168.2.1");
        has("ip -n cn1-rtr-a route add default via 198.51.100.1");
        has("ip netns exec cn1-rtr-b sysctl -qw net.ipv4.ip_forward=1");
        has("ip -n cn1-inet route add blackhole default");
        // IPv6 goes off before the first link of each namespace exists.
        let off = commands
            .iter()
            .position(|c| c == "ip netns exec cn1-home-a sysctl -qw net.ipv6.conf.default.disable_ipv6=1");
        let link = commands.iter().position(|c| c.ends_with("peer name eth0 netns cn1-home-a"));
        assert!(off.is_some() && link.is_some() && off < link, "{off:?} {link:?}");
    }

    #[test]
    fn routers_masquerade_and_let_out_what_the_scenario_allows() {
        let mut scenario = Scenario {
            mapping: Mapping::EndpointIndependent,
            egress: Egress::Everything,
            no_udp_between_homes: false,
            https_on_443: false,
        };
        let open = scenario.router_ruleset();
        assert!(open.contains("        oifname \"wan\" masquerade\n"), "{open}");
        assert!(open.contains("policy drop;\n        ct state established,related accept\n        iifname \"lan\" oifname \"wan\" accept\n"), "{open}");
        assert!(open.contains("iifname \"wan\" ct state established,related accept\n        iifname \"wan\" drop\n"));

        scenario.mapping = Mapping::Symmetric;
        scenario.egress = Egress::NoUdp;
        let strict = scenario.router_ruleset();
        assert!(strict.contains("oifname \"wan\" masquerade fully-random\n"), "{strict}");
        assert!(
            strict.contains("meta l4proto udp counter drop\n        iifname \"lan\" oifname \"wan\" accept\n"),
            "{strict}"
        );

        scenario.egress = Egress::TcpPorts(vec![443]);
        assert!(scenario.router_ruleset().contains("iifname \"lan\" oifname \"wan\" tcp dport { 443 } accept\n    }"));
        scenario.egress = Egress::TcpPorts(vec![8000, 8001]);
        assert!(scenario.router_ruleset().contains("tcp dport { 8000, 8001 } accept"));
    }

    #[test]
    fn the_udp_drop_counter_is_read_from_the_listing() {
        let listing =
            "table ip filter {\n\tchain forward {\n\t\ttype filter hook forward priority filter; policy drop;\n\
                       \t\tct state established,related accept\n\
                       \t\tiifname \"lan\" oifname \"wan\" meta l4proto udp counter packets 37 bytes 4521 drop\n\
                       \t\tiifname \"lan\" oifname \"wan\" accept\n\t}\n}\n";
        assert_eq!(dropped_udp_packets(listing), Some(37));
        assert_eq!(dropped_udp_packets("table ip filter {\n}\n"), None);
    }

    #[test]
    fn rulesets_go_to_the_namespaces_that_need_them() {
        let scenario = Scenario {
            mapping: Mapping::Symmetric,
            egress: Egress::Everything,
            no_udp_between_homes: true,
            https_on_443: true,
        };
        let placed: Vec<String> = scenario.rulesets(&names()).into_iter().map(|(ns, _)| ns).collect();
        assert_eq!(placed, ["cn1-rtr-a", "cn1-rtr-b", "cn1-inet", "cn1-pub"]);
        let inet = internet_ruleset();
        assert!(inet.contains("ip saddr 198.51.100.2 ip daddr 192.0.2.2 meta l4proto udp drop\n"), "{inet}");
        assert!(inet.contains("ip saddr 192.0.2.2 ip daddr 198.51.100.2 meta l4proto udp drop\n"), "{inet}");
        assert!(public_ruleset().contains("tcp dport 443 redirect to :8443"));
        let quiet = Scenario { no_udp_between_homes: false, https_on_443: false, ..scenario };
        assert_eq!(quiet.rulesets(&names()).len(), 2);
    }

    #[test]
    fn hosts_and_coturn_peers_use_the_documentation_ranges() {
        assert_eq!(
            hosts_file(&["call.test", "turn.test"]),
            "127.0.0.1 localhost\n203.0.113.10 call.test call.test. turn.test turn.test.\n"
        );
        assert!(resolv_conf().starts_with("nameserver 127.0.0.1\n"));
        assert_eq!(
            allowed_peer_args(),
            [
                "--allowed-peer-ip=203.0.113.0-203.0.113.255",
                "--allowed-peer-ip=198.51.100.0-198.51.100.255",
                "--allowed-peer-ip=192.0.2.0-192.0.2.255"
            ]
        );
    }
}
