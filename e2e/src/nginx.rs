//! The repository's nginx configuration, made runnable by Debian's nginx on loopback. The files
//! are the ones the `web` image copies (nginx/Dockerfile); only what differs between the container
//! and this machine is substituted: the upstream address, the listen port and file paths. Every
//! substitution must find its text, and no other container path may survive, so a change to the
//! deployment files cannot silently leave this test running something else.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Where things are on this machine.
#[derive(Debug, Clone)]
pub struct Layout {
    /// nginx's `-p` directory: configuration, pid file and temp directories go under it.
    pub prefix: PathBuf,
    /// The built client, served in place of `/usr/share/nginx/html`.
    pub dist: PathBuf,
    /// The signaling server, in place of the compose service `signaling:8080`.
    pub upstream: SocketAddr,
    /// The port in place of the container's 8080.
    pub port: u16,
    /// Whether `[::]` can be listened on; without IPv6 the `[::]` listen is commented out.
    pub ipv6: bool,
}

/// One text substitution; `required` ones must occur at least once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrite {
    pub from: String,
    pub to: String,
    pub required: bool,
}

impl Rewrite {
    fn required(from: &str, to: impl Into<String>) -> Self {
        Rewrite { from: from.to_owned(), to: to.into(), required: true }
    }

    fn optional(from: &str, to: impl Into<String>) -> Self {
        Rewrite { from: from.to_owned(), to: to.into(), required: false }
    }
}

/// A repository file (relative to the repository root), where it goes (relative to the prefix)
/// and how it is rewritten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFile {
    pub source: PathBuf,
    pub dest: PathBuf,
    pub rewrites: Vec<Rewrite>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RewriteError {
    /// A required text is not in the file: the deployment file changed shape.
    NotFound { file: String, text: String },
    /// A container path is still in the file after the substitutions.
    ContainerPath { file: String, line: String },
}

impl fmt::Display for RewriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RewriteError::NotFound { file, text } => {
                write!(f, "{file} no longer contains {text:?}; update e2e/src/nginx.rs to match the deployment file")
            }
            RewriteError::ContainerPath { file, line } => {
                write!(f, "{file} still refers to a container path after the substitutions: {line:?}")
            }
        }
    }
}

impl std::error::Error for RewriteError {}

/// Debian builds the stream module (nginx.conf's `stream` block) as a dynamic module
/// (`libnginx-mod-stream`); the official nginx images have it built in.
pub const DEBIAN_STREAM_MODULE: &str = "/usr/lib/nginx/modules/ngx_stream_module.so";

/// The TLS front of docker-compose.tls.yml: its two templates with what the image's entrypoint
/// fills in, and the addresses that differ on this machine.
#[derive(Debug, Clone)]
pub struct TlsLayout {
    /// `${PUBLIC_HOST}`: the page's name.
    pub public_host: String,
    /// `${TURN_HOST}`: the name routed to coturn's TLS listener.
    pub turn_host: String,
    /// Holds `fullchain.pem` and `privkey.pem`, in place of `/etc/nginx/certs`.
    pub certs: PathBuf,
    /// coturn's TLS listener, in place of `host.docker.internal:${TURN_TLS_PORT}`.
    pub turn_tls: SocketAddr,
}

/// Paths that exist only in the container. `/etc/nginx/mime.types` is kept: Debian's nginx has it.
const CONTAINER_PATHS: &[&str] = &["/etc/nginx/", "/usr/share/nginx/", "/tmp/"];
const KEPT_PATHS: &[&str] = &["/etc/nginx/mime.types"];

/// The files as the web image lays them out (`nginx.conf`, `conf.d/`, `snippets/`), with their
/// substitutions. `snippets` are the file names in `nginx/snippets/`.
pub fn plan(layout: &Layout, snippets: &[String]) -> Vec<ConfigFile> {
    let prefix = layout.prefix.display();
    let snippets_dir = format!("{prefix}/snippets/");
    let port = layout.port;
    let ipv6_listen = if layout.ipv6 {
        format!("listen [::]:{port} ")
    } else {
        format!("# no IPv6 on this machine: listen [::]:{port} ")
    };
    let mut files = vec![
        ConfigFile {
            source: "nginx/nginx.conf".into(),
            dest: "nginx.conf".into(),
            rewrites: vec![
                Rewrite::required(
                    "worker_processes auto;",
                    format!("load_module {DEBIAN_STREAM_MODULE};\nworker_processes auto;"),
                ),
                Rewrite::required("server signaling:8080;", format!("server {};", layout.upstream)),
                Rewrite::required("/etc/nginx/conf.d/", format!("{prefix}/conf.d/")),
                Rewrite::required("/etc/nginx/stream-conf.d/", format!("{prefix}/stream-conf.d/")),
                // The pid file and the temp directories of a non-root nginx.
                Rewrite::required("/tmp/", format!("{prefix}/")),
            ],
        },
        ConfigFile {
            source: "nginx/connect.conf".into(),
            // nginx/Dockerfile copies it to conf.d/default.conf.
            dest: "conf.d/default.conf".into(),
            rewrites: vec![
                Rewrite::required("listen 8080 ", format!("listen {port} ")),
                Rewrite::required("listen [::]:8080 ", ipv6_listen),
                Rewrite::required("/etc/nginx/snippets/", snippets_dir.clone()),
                Rewrite::required("/usr/share/nginx/html", layout.dist.display().to_string()),
            ],
        },
    ];
    for name in snippets {
        files.push(ConfigFile {
            source: Path::new("nginx/snippets").join(name),
            dest: Path::new("snippets").join(name),
            rewrites: vec![Rewrite::optional("/etc/nginx/snippets/", snippets_dir.clone())],
        });
    }
    files
}

/// The two templates docker-compose.tls.yml mounts, as the image's entrypoint renders them
/// (`*.template` into `conf.d/`, `*.stream-template` into `stream-conf.d/`), for this machine.
/// Debian's nginx 1.22 predates the `http2` directive (1.25.1): it is commented out, so HTTP/1.1
/// is served; nothing else changes.
pub fn plan_tls(layout: &Layout, tls: &TlsLayout) -> Vec<ConfigFile> {
    let prefix = layout.prefix.display();
    let port = layout.port;
    let certs = format!("{}/", tls.certs.display());
    let ipv6 = |listen: &str| {
        if layout.ipv6 {
            listen.to_owned()
        } else {
            format!("# no IPv6 on this machine: {listen}")
        }
    };
    vec![
        ConfigFile {
            source: "nginx/connect-tls.conf.template".into(),
            dest: "conf.d/connect-tls.conf".into(),
            rewrites: vec![
                Rewrite::required("${PUBLIC_HOST}", tls.public_host.clone()),
                Rewrite::required("listen 8080;", format!("listen {port};")),
                Rewrite::required("listen [::]:8080;", ipv6(&format!("listen [::]:{port};"))),
                Rewrite::required("http2 on;", "# http2 on; (not in Debian's nginx 1.22)"),
                Rewrite::required("/etc/nginx/certs/", certs),
                Rewrite::required("/etc/nginx/snippets/", format!("{prefix}/snippets/")),
                Rewrite::required("/usr/share/nginx/html", layout.dist.display().to_string()),
            ],
        },
        ConfigFile {
            source: "nginx/connect-tls.stream-template".into(),
            dest: "stream-conf.d/connect-tls.conf".into(),
            rewrites: vec![
                Rewrite::required("${TURN_HOST}", tls.turn_host.clone()),
                Rewrite::required("host.docker.internal:${TURN_TLS_PORT}", tls.turn_tls.to_string()),
                Rewrite::required("listen [::]:8443;", ipv6("listen [::]:8443;")),
            ],
        },
    ]
}

/// `text` (the content of `file`) with every rewrite applied. Fails if a required text is missing
/// or a container path would remain outside comments.
pub fn rewrite(file: &str, text: &str, rewrites: &[Rewrite]) -> Result<String, RewriteError> {
    // Markers first, so the leftover check sees only what no rewrite claimed (the substituted
    // paths may themselves be under /tmp).
    let mut marked = text.to_owned();
    for (i, rewrite) in rewrites.iter().enumerate() {
        if rewrite.required && !marked.contains(&rewrite.from) {
            return Err(RewriteError::NotFound { file: file.to_owned(), text: rewrite.from.clone() });
        }
        marked = marked.replace(&rewrite.from, &marker(i));
    }
    if let Some(line) = marked.lines().find(|line| has_container_path(line)) {
        return Err(RewriteError::ContainerPath { file: file.to_owned(), line: line.trim().to_owned() });
    }
    Ok(rewrites.iter().enumerate().fold(marked, |text, (i, rewrite)| text.replace(&marker(i), &rewrite.to)))
}

fn marker(i: usize) -> String {
    format!("\u{0}{i}\u{0}")
}

/// Whether the non-comment part of a config line names a container path other than the kept ones.
fn has_container_path(line: &str) -> bool {
    let code = line.split('#').next().unwrap_or("");
    let mut rest = code.to_owned();
    for kept in KEPT_PATHS {
        rest = rest.replace(kept, "");
    }
    CONTAINER_PATHS.iter().any(|path| rest.contains(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(ipv6: bool) -> Layout {
        Layout {
            prefix: "/tmp/e2e-nginx".into(),
            dist: "/w/dist".into(),
            upstream: "127.0.0.1:4100".parse().expect("address"),
            port: 4200,
            ipv6,
        }
    }

    fn rewritten(name: &str, text: &str, ipv6: bool) -> Result<String, RewriteError> {
        let files = plan(&layout(ipv6), &["connect-app.conf".to_owned()]);
        let file = files.iter().find(|f| f.source.ends_with(name)).expect("planned");
        rewrite(name, text, &file.rewrites)
    }

    const NGINX_CONF: &str = "worker_processes auto;\npid /tmp/nginx.pid;\n\
        stream {\n    include /etc/nginx/stream-conf.d/*.conf;\n}\nhttp {\n    include /etc/nginx/mime.types;\n    \
        proxy_temp_path /tmp/nginx-proxy;\n    upstream signaling {\n        server signaling:8080;\n    }\n    \
        include /etc/nginx/conf.d/*.conf;\n}\n";
    const CONNECT_CONF: &str = "server {\n    listen 8080 default_server;\n    listen [::]:8080 default_server;\n    \
        root /usr/share/nginx/html;\n    include /etc/nginx/snippets/connect-app.conf;\n}\n";

    #[test]
    fn the_main_file_gets_upstream_includes_and_writable_paths() {
        let out = rewritten("nginx.conf", NGINX_CONF, true).expect("rewritten");
        assert_eq!(
            out,
            "load_module /usr/lib/nginx/modules/ngx_stream_module.so;\nworker_processes auto;\n\
             pid /tmp/e2e-nginx/nginx.pid;\nstream {\n    include /tmp/e2e-nginx/stream-conf.d/*.conf;\n}\n\
             http {\n    include /etc/nginx/mime.types;\n    \
             proxy_temp_path /tmp/e2e-nginx/nginx-proxy;\n    upstream signaling {\n        server 127.0.0.1:4100;\n    \
             }\n    include /tmp/e2e-nginx/conf.d/*.conf;\n}\n"
        );
    }

    #[test]
    fn the_server_gets_port_root_and_snippets() {
        let out = rewritten("connect.conf", CONNECT_CONF, true).expect("rewritten");
        assert!(out.contains("listen 4200 default_server;\n    listen [::]:4200 default_server;"), "{out}");
        assert!(out.contains("root /w/dist;") && out.contains("include /tmp/e2e-nginx/snippets/connect-app.conf;"));
        let out = rewritten("connect.conf", CONNECT_CONF, false).expect("rewritten");
        assert!(out.contains("# no IPv6 on this machine: listen [::]:4200 default_server;"), "{out}");
    }

    #[test]
    fn snippets_are_optional_but_checked_for_leftovers() {
        assert_eq!(rewritten("connect-app.conf", "add_header X y;\n", true).as_deref(), Ok("add_header X y;\n"));
        let out = rewritten("connect-app.conf", "include /etc/nginx/snippets/a.conf; # /usr/share/nginx\n", true);
        assert_eq!(out.as_deref(), Ok("include /tmp/e2e-nginx/snippets/a.conf; # /usr/share/nginx\n"));
        assert_eq!(
            rewritten("connect-app.conf", "  alias /usr/share/nginx/extra;\n", true),
            Err(RewriteError::ContainerPath {
                file: "connect-app.conf".into(),
                line: "alias /usr/share/nginx/extra;".into()
            })
        );
    }

    #[test]
    fn a_changed_deployment_file_is_reported() {
        let moved = NGINX_CONF.replace("signaling:8080", "signaling:9000");
        assert_eq!(
            rewritten("nginx.conf", &moved, true),
            Err(RewriteError::NotFound { file: "nginx.conf".into(), text: "server signaling:8080;".into() })
        );
        let extra = format!("{NGINX_CONF}ssl_certificate /etc/nginx/certs/a.pem;\n");
        assert!(matches!(rewritten("nginx.conf", &extra, true), Err(RewriteError::ContainerPath { .. })));
    }

    fn tls() -> TlsLayout {
        TlsLayout {
            public_host: "call.connect.test".into(),
            turn_host: "turn.connect.test".into(),
            certs: "/tmp/e2e-certs".into(),
            turn_tls: "127.0.0.1:5349".parse().expect("address"),
        }
    }

    const TLS_SERVER: &str = "server {\n    listen 8080;\n    listen [::]:8080;\n    server_name ${PUBLIC_HOST};\n}\n\
        server {\n    listen 127.0.0.1:8444 ssl proxy_protocol;\n    http2 on;\n    server_name ${PUBLIC_HOST};\n    \
        ssl_certificate /etc/nginx/certs/fullchain.pem;\n    root /usr/share/nginx/html;\n    \
        include /etc/nginx/snippets/connect-app.conf;\n}\n";
    const TLS_STREAM: &str = "map $ssl_preread_server_name $route {\n    ${TURN_HOST} 127.0.0.1:8445;\n}\n\
        server {\n    listen 8443;\n    listen [::]:8443;\n}\n\
        server {\n    listen 127.0.0.1:8445 proxy_protocol;\n    proxy_pass host.docker.internal:${TURN_TLS_PORT};\n}\n";

    #[test]
    fn the_tls_templates_get_names_certificates_and_the_turn_listener() {
        let files = plan_tls(&layout(false), &tls());
        let dests: Vec<String> = files.iter().map(|f| f.dest.display().to_string()).collect();
        assert_eq!(dests, ["conf.d/connect-tls.conf", "stream-conf.d/connect-tls.conf"]);
        let server = rewrite("connect-tls.conf.template", TLS_SERVER, &files[0].rewrites).expect("rewritten");
        assert_eq!(
            server,
            "server {\n    listen 4200;\n    # no IPv6 on this machine: listen [::]:4200;\n    \
             server_name call.connect.test;\n}\nserver {\n    listen 127.0.0.1:8444 ssl proxy_protocol;\n    \
             # http2 on; (not in Debian's nginx 1.22)\n    server_name call.connect.test;\n    \
             ssl_certificate /tmp/e2e-certs/fullchain.pem;\n    root /w/dist;\n    \
             include /tmp/e2e-nginx/snippets/connect-app.conf;\n}\n"
        );
        let stream = rewrite("connect-tls.stream-template", TLS_STREAM, &files[1].rewrites).expect("rewritten");
        assert!(stream.contains("    turn.connect.test 127.0.0.1:8445;\n"), "{stream}");
        assert!(
            stream.contains("proxy_pass 127.0.0.1:5349;")
                && stream.contains("# no IPv6 on this machine: listen [::]:8443;")
        );
        let with_ipv6 = plan_tls(&layout(true), &tls());
        let stream = rewrite("connect-tls.stream-template", TLS_STREAM, &with_ipv6[1].rewrites).expect("rewritten");
        assert!(stream.contains("\n    listen [::]:8443;\n"), "{stream}");
    }

    #[test]
    fn the_plan_mirrors_the_web_image() {
        let files = plan(&layout(true), &["connect-app.conf".to_owned(), "security-headers.conf".to_owned()]);
        let placed: Vec<(String, String)> =
            files.iter().map(|f| (f.source.display().to_string(), f.dest.display().to_string())).collect();
        assert_eq!(
            placed,
            [
                ("nginx/nginx.conf".into(), "nginx.conf".into()),
                ("nginx/connect.conf".into(), "conf.d/default.conf".into()),
                ("nginx/snippets/connect-app.conf".into(), "snippets/connect-app.conf".into()),
                ("nginx/snippets/security-headers.conf".into(), "snippets/security-headers.conf".into()),
            ]
        );
    }
}
