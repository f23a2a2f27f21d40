//! The `deploy` step: the compose files as docker-compose 1.29 reads them, without a Docker engine.
//! `config -q` rejects unknown keys, wrong types and a `${VAR:?}` left empty, for
//! docker-compose.yml alone and with the HTTPS override, filled from `.env.example`; and
//! `.env.example` must document every variable the compose files use. (nginx's and coturn's own
//! files run for real in the `browser` step: see e2e/tests/deploy.rs.)

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
    env_example_documents_every_variable(ws)
}

/// `docker-compose --env-file .env.example -f A [-f B] config -q`, with only PATH and HOME from
/// our environment: a variable set in CI's shell would fill a `${VAR:?}` that .env.example lacks.
fn compose_config(ws: &Workspace, files: &[&str]) -> std::process::Command {
    let mut command = ws.command(&compose_argv(files));
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
    fn the_repository_env_example_documents_the_compose_files() {
        let ws = Workspace::locate().expect("xtask has a parent");
        assert!(env_example_documents_every_variable(&ws).is_ok());
    }
}
