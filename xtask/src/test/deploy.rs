//! The `deploy` step: the compose files as docker-compose 1.29 reads them, without a Docker engine.
//! `config -q` rejects unknown keys, wrong types and a `${VAR:?}` left empty, for
//! docker-compose.yml alone and with the HTTPS override, filled from `.env.example`; and
//! `.env.example` must document every variable the compose files use; and each set hands the
//! browsers TURN over every transport it serves (UDP and TCP; with TLS also TLS on 443). (nginx's
//! and coturn's own files run for real in the `browser` step: see e2e/tests/deploy.rs and
//! e2e/tests/nat.rs.)

use std::collections::BTreeSet;

use super::Ctx;
use crate::error::Error;
use crate::process;
use crate::workspace::Workspace;

/// The example environment file operators copy to `.env`.
const ENV_EXAMPLE: &str = ".env.example";
/// Every `-f` combination the README tells operators to run.
const COMPOSE_SETS: &[&[&str]] = &[&["docker-compose.yml"], &["docker-compose.yml", "docker-compose.tls.yml"]];
/// Variables docker-compose itself reads from `.env` rather than the files interpolating them.
const COMPOSE_OWN_PREFIXES: &[&str] = &["COMPOSE_", "DOCKER_"];

pub fn run(ctx: &Ctx) -> Result<(), Error> {
    let ws = &ctx.ws;
    let hint = "install it with `apt-get install docker-compose` (the ensure step does)";
    if !process::succeeds(&mut ws.command(&["docker-compose", "version"])) {
        return Err(Error::Missing { what: "docker-compose".into(), hint });
    }
    for files in COMPOSE_SETS {
        process::run(&mut compose_config(ws, files))?;
    }
    env_example_documents_every_variable(ws)?;
    let env_path = ws.join(ENV_EXAMPLE);
    let env =
        std::fs::read_to_string(&env_path).map_err(|e| Error::io(format!("reading {}", env_path.display()), e))?;
    for files in COMPOSE_SETS {
        // Without `-q`: this time the merged configuration is read.
        let argv: Vec<&str> = compose_argv(files).into_iter().filter(|arg| *arg != "-q").collect();
        let config = process::stdout(&mut compose_command(ws, &argv))?;
        let expected = expected_turn_urls(&env, files.contains(&"docker-compose.tls.yml")).ok_or_else(|| {
            Error::Check(format!("{ENV_EXAMPLE} lacks PUBLIC_HOST, TURN_PORT, TURN_HOST or HTTPS_PORT"))
        })?;
        check_turn_urls(&config, &expected).map_err(|why| Error::Check(format!("{}: {why}", files.join(" + "))))?;
        println!("    {}: TURN over {}", files.join(" + "), expected.join(", "));
    }
    Ok(())
}

/// The value of `NAME=value` in an env file.
fn env_value<'a>(env: &'a str, name: &str) -> Option<&'a str> {
    env.lines().find_map(|line| line.trim().strip_prefix(name)?.strip_prefix('='))
}

/// The TURN URLs the signaling server must hand out with `.env.example`'s values: UDP and TCP on
/// TURN_PORT, and with TLS also TLS through HTTPS_PORT for TURN_HOST (issue 14's contract).
fn expected_turn_urls(env: &str, tls: bool) -> Option<Vec<String>> {
    let (host, port) = (env_value(env, "PUBLIC_HOST")?, env_value(env, "TURN_PORT")?);
    let mut urls = vec![format!("turn:{host}:{port}?transport=udp"), format!("turn:{host}:{port}?transport=tcp")];
    if tls {
        let (turn_host, https_port) = (env_value(env, "TURN_HOST")?, env_value(env, "HTTPS_PORT")?);
        urls.push(format!("turns:{turn_host}:{https_port}?transport=tcp"));
    }
    Some(urls)
}

/// Every `SIGNALING_TURN_URLS` of the merged configuration (one per signaling service) is exactly
/// `expected`, in that order (UDP first: the best path for media).
fn check_turn_urls(config: &str, expected: &[String]) -> Result<(), String> {
    let found: Vec<Vec<String>> = config
        .lines()
        .filter_map(|line| line.trim().strip_prefix("SIGNALING_TURN_URLS:"))
        .map(|value| value.trim().trim_matches(|c| c == '\'' || c == '"').split(',').map(str::to_owned).collect())
        .collect();
    if found.is_empty() {
        return Err("no SIGNALING_TURN_URLS in the merged configuration".to_owned());
    }
    match found.iter().find(|urls| urls.as_slice() != expected) {
        Some(urls) => Err(format!("SIGNALING_TURN_URLS is {urls:?}, expected {expected:?}")),
        None => Ok(()),
    }
}

/// `docker-compose --env-file .env.example -f A [-f B] config -q`, with only PATH and HOME from
/// our environment: a variable set in CI's shell would fill a `${VAR:?}` that .env.example lacks.
fn compose_config(ws: &Workspace, files: &[&str]) -> std::process::Command {
    compose_command(ws, &compose_argv(files))
}

/// `argv` (a docker-compose command line) with only PATH and HOME from our environment.
fn compose_command(ws: &Workspace, argv: &[&str]) -> std::process::Command {
    let mut command = ws.command(argv);
    command.env_clear();
    for var in ["PATH", "HOME"] {
        if let Some(value) = std::env::var_os(var) {
            command.env(var, value);
        }
    }
    command
}

fn compose_argv<'a>(files: &[&'a str]) -> Vec<&'a str> {
    let mut argv = vec!["docker-compose", "--env-file", ENV_EXAMPLE];
    for file in files {
        argv.extend(["-f", file]);
    }
    argv.extend(["config", "-q"]);
    argv
}

fn env_example_documents_every_variable(ws: &Workspace) -> Result<(), Error> {
    let read = |name: &str| {
        let path = ws.join(name);
        std::fs::read_to_string(&path).map_err(|e| Error::io(format!("reading {}", path.display()), e))
    };
    let documented = env_file_variables(&read(ENV_EXAMPLE)?);
    let files: BTreeSet<&str> = COMPOSE_SETS.iter().flat_map(|set| set.iter().copied()).collect();
    let mut used = BTreeSet::new();
    let mut undocumented = Vec::new();
    for file in files {
        for var in compose_variables(&read(file)?) {
            if !documented.contains(&var) {
                undocumented.push(format!("{var} (used in {file})"));
            }
            used.insert(var);
        }
    }
    if !undocumented.is_empty() {
        return Err(Error::Check(format!("{ENV_EXAMPLE} does not document {}", undocumented.join(", "))));
    }
    let unused: Vec<&String> = documented
        .iter()
        .filter(|var| !used.contains(*var) && !COMPOSE_OWN_PREFIXES.iter().any(|p| var.starts_with(p)))
        .collect();
    if !unused.is_empty() {
        println!("    note: {ENV_EXAMPLE} sets variables no compose file uses: {unused:?}");
    }
    println!("    {ENV_EXAMPLE} documents all {} variables of the compose files", used.len());
    Ok(())
}

/// The variables a compose file interpolates: `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
/// `${VAR:?message}`, `${VAR?message}` and `$VAR`, also inside defaults; `$$` is a literal `$`.
/// YAML comments are skipped (a `#` at the start of a line or after a blank). Sorted, unique.
pub fn compose_variables(text: &str) -> BTreeSet<String> {
    let mut vars = BTreeSet::new();
    for line in text.lines() {
        let code = strip_yaml_comment(line);
        let mut chars = code.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c != '$' {
                continue;
            }
            let rest = &code[i + 1..];
            if rest.starts_with('$') {
                chars.next();
                continue;
            }
            let name_start = rest.strip_prefix('{').unwrap_or(rest);
            let name: String =
                name_start.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>();
            if name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
                vars.insert(name);
            }
        }
    }
    vars
}

fn strip_yaml_comment(line: &str) -> &str {
    if line.trim_start().starts_with('#') {
        return "";
    }
    let cut = [" #", "\t#"].iter().filter_map(|marker| line.find(marker)).min();
    cut.map_or(line, |at| &line[..at])
}

/// The variables an env file documents: those it sets (`NAME=value`, optionally `export NAME=value`)
/// and those it shows commented out in capitals (`#NAME=value`, `# NAME=value`), the usual way to
/// document an optional one; prose in comments does not count. Sorted, unique.
pub fn env_file_variables(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let uncommented = line.trim_start_matches('#').trim_start();
            let commented = uncommented.len() != line.len();
            let line = uncommented.strip_prefix("export ").unwrap_or(uncommented);
            let (name, _) = line.split_once('=')?;
            let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && (!commented || !name.chars().any(|c| c.is_ascii_lowercase()));
            valid.then(|| name.to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn every_interpolation_form_is_found() {
        let compose = "\
# Ports: ${COMMENTED_OUT} is not used
services:
  web:
    image: x:${TAG:-latest}
    environment:
      A: ${REQUIRED:?set REQUIRED in .env}
      B: ${DASH-default}
      C: ${QUESTION?message}
      D: $PLAIN and $$ESCAPED and $${ALSO_ESCAPED}
      E: ${OUTER:-${INNER}}
      F: cost $5 # ${TRAILING_COMMENT}
      G: \"${QUOTED}\"
";
        assert_eq!(
            compose_variables(compose),
            set(&["DASH", "INNER", "OUTER", "PLAIN", "QUESTION", "QUOTED", "REQUIRED", "TAG"])
        );
    }

    #[test]
    fn env_files_document_set_and_commented_out_names_but_not_prose() {
        let env = "# Copy to .env; set e.g. PUBLIC_HOST to your name\nCOMPOSE_PROJECT_NAME=connect\n\n\
                   #REDIS_URL=redis://redis:6379\n  # TLS_CERT_DIR=./certs\nPUBLIC_HOST=localhost\n\
                   export LOG_LEVEL=info\nALLOWED_ORIGINS=\nnot a line\n1BAD=x\nSPACED NAME=x\n# a=b is prose\n";
        assert_eq!(
            env_file_variables(env),
            set(&["ALLOWED_ORIGINS", "COMPOSE_PROJECT_NAME", "LOG_LEVEL", "PUBLIC_HOST", "REDIS_URL", "TLS_CERT_DIR"])
        );
    }

    #[test]
    fn compose_is_run_with_the_example_env_and_each_file() {
        assert_eq!(
            compose_argv(&["docker-compose.yml", "docker-compose.tls.yml"]),
            [
                "docker-compose",
                "--env-file",
                ".env.example",
                "-f",
                "docker-compose.yml",
                "-f",
                "docker-compose.tls.yml",
                "config",
                "-q"
            ]
        );
    }

    #[test]
    fn turn_urls_cover_udp_and_tcp_and_with_tls_also_tls_on_443() {
        let env = "PUBLIC_HOST=call.example.org\nTURN_PORT=3478\nHTTPS_PORT=443\nTURN_HOST=turn.example.org\n";
        let plain = expected_turn_urls(env, false).expect("complete");
        assert_eq!(plain, ["turn:call.example.org:3478?transport=udp", "turn:call.example.org:3478?transport=tcp"]);
        let tls = expected_turn_urls(env, true).expect("complete");
        assert_eq!(tls[2], "turns:turn.example.org:443?transport=tcp");
        assert_eq!(expected_turn_urls("PUBLIC_HOST=x\n", false), None);

        let config = "services:\n  signaling:\n    environment:\n      \
                      SIGNALING_TURN_URLS: turn:call.example.org:3478?transport=udp,turn:call.example.org:3478?transport=tcp\n";
        assert_eq!(check_turn_urls(config, &plain), Ok(()));
        assert!(check_turn_urls(config, &tls).is_err());
        let quoted = config.replace("URLS: turn", "URLS: 'turn").replace("tcp\n", "tcp'\n");
        assert_eq!(check_turn_urls(&quoted, &plain), Ok(()));
        assert!(check_turn_urls("services: {}\n", &plain).is_err());
    }

    #[test]
    fn the_repository_env_example_documents_the_compose_files() {
        let ws = Workspace::locate().expect("xtask has a parent");
        assert!(env_example_documents_every_variable(&ws).is_ok());
    }
}
