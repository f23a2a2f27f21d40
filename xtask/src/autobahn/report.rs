//! The fuzzing client's report (`index.json`) read into a summary and a verdict. Pure, so the
//! rules "no case FAILED, none missing" are tested on fixtures rather than on a live run.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

/// The order behaviours are printed in; any other value the suite reports follows, sorted.
const ORDER: &[&str] = &["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"];
/// Longer id lists are collapsed to per-subgroup counts so the CI log stays readable.
const LIST_LIMIT: usize = 20;

/// How one case went, as the suite judged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    pub id: String,
    /// The protocol behaviour: OK, NON-STRICT, INFORMATIONAL, UNIMPLEMENTED or FAILED.
    pub behavior: String,
    /// The closing handshake, judged separately.
    pub behavior_close: String,
    pub duration_ms: u64,
}

/// Why `index.json` could not be read as a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    NotJson(String),
    /// The top level must map agent names to case maps.
    NotAnObject,
    /// The suite ran no case at all (the testee was unreachable, or every case was excluded).
    Empty,
    /// We test one server per run; more agents mean a stale or foreign report.
    SeveralAgents(Vec<String>),
    /// A case entry is not an object with a `behavior` string.
    BadCase(String),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::NotJson(e) => write!(f, "not JSON: {e}"),
            ParseError::NotAnObject => write!(f, "not an object of agents"),
            ParseError::Empty => write!(f, "the report holds no case: the testee was unreachable?"),
            ParseError::SeveralAgents(agents) => write!(f, "several agents in one report: {}", agents.join(", ")),
            ParseError::BadCase(id) => write!(f, "case {id} has no `behavior`"),
        }
    }
}

/// Every case of the one agent in the report, ordered by case id (`1.1.2` before `1.1.10`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub agent: String,
    pub cases: Vec<Case>,
}

impl Report {
    pub fn parse(json: &str) -> Result<Report, ParseError> {
        let value: Value = serde_json::from_str(json).map_err(|e| ParseError::NotJson(e.to_string()))?;
        let agents = value.as_object().ok_or(ParseError::NotAnObject)?;
        let mut entries = agents.iter();
        let (agent, cases) = entries.next().ok_or(ParseError::Empty)?;
        if agents.len() > 1 {
            return Err(ParseError::SeveralAgents(agents.keys().cloned().collect()));
        }
        let cases = cases.as_object().ok_or(ParseError::NotAnObject)?;
        if cases.is_empty() {
            return Err(ParseError::Empty);
        }
        let mut parsed = cases.iter().map(|(id, case)| parse_case(id, case)).collect::<Result<Vec<_>, _>>()?;
        parsed.sort_by_key(|case| case_key(&case.id));
        Ok(Report { agent: agent.clone(), cases: parsed })
    }

    /// The summary printed to the CI log, and the verdict against `planned` cases.
    pub fn summary(&self, planned: usize) -> Summary {
        let count = |field: fn(&Case) -> &str| {
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            for case in &self.cases {
                *counts.entry(field(case).to_owned()).or_default() += 1;
            }
            counts
        };
        let ids = |pred: &dyn Fn(&Case) -> bool| -> Vec<String> {
            self.cases.iter().filter(|c| pred(c)).map(|c| c.id.clone()).collect()
        };
        Summary {
            agent: self.agent.clone(),
            ran: self.cases.len(),
            planned,
            behavior: count(|c| &c.behavior),
            behavior_close: count(|c| &c.behavior_close),
            failed: ids(&|c| c.behavior == "FAILED" || c.behavior_close == "FAILED"),
            non_strict: ids(&|c| c.behavior == "NON-STRICT"),
            unimplemented: ids(&|c| c.behavior == "UNIMPLEMENTED"),
            case_time_ms: self.cases.iter().map(|c| c.duration_ms).sum(),
        }
    }
}

fn parse_case(id: &str, case: &Value) -> Result<Case, ParseError> {
    let text = |key: &str| case.get(key).and_then(Value::as_str).map(str::to_owned);
    let behavior = text("behavior").ok_or_else(|| ParseError::BadCase(id.to_owned()))?;
    Ok(Case {
        id: id.to_owned(),
        behavior,
        behavior_close: text("behaviorClose").unwrap_or_else(|| "?".to_owned()),
        duration_ms: case.get("duration").and_then(Value::as_u64).unwrap_or(0),
    })
}

/// `1.1.10` → [1, 1, 10], so ids sort as the suite numbers them; a non-numeric part sorts last.
fn case_key(id: &str) -> Vec<u64> {
    id.split('.').map(|part| part.parse().unwrap_or(u64::MAX)).collect()
}

/// What the run showed, and whether it passes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub agent: String,
    pub ran: usize,
    pub planned: usize,
    pub behavior: BTreeMap<String, usize>,
    pub behavior_close: BTreeMap<String, usize>,
    /// Cases whose behaviour or closing handshake FAILED.
    pub failed: Vec<String>,
    pub non_strict: Vec<String>,
    pub unimplemented: Vec<String>,
    pub case_time_ms: u64,
}

/// Why a run does not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Failed(Vec<String>),
    /// Fewer cases in the report than the suite planned: the testee died or refused connections.
    Missing {
        ran: usize,
        planned: usize,
    },
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Failed(ids) => write!(f, "{} case(s) FAILED: {}", ids.len(), ids.join(" ")),
            Verdict::Missing { ran, planned } => {
                write!(f, "{} of {planned} planned case(s) missing from the report", planned - ran)
            }
        }
    }
}

impl Summary {
    /// Passes when no case FAILED and every planned case is in the report.
    pub fn verdict(&self) -> Result<(), Verdict> {
        if !self.failed.is_empty() {
            return Err(Verdict::Failed(self.failed.clone()));
        }
        if self.ran < self.planned {
            return Err(Verdict::Missing { ran: self.ran, planned: self.planned });
        }
        Ok(())
    }

    /// The lines printed to the CI log.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![
            format!("agent: {}  cases: {} (planned {})", self.agent, self.ran, self.planned),
            format!("behavior: {}", counts(&self.behavior)),
            format!("behaviorClose: {}", counts(&self.behavior_close)),
        ];
        for (label, ids) in [("NON-STRICT", &self.non_strict), ("UNIMPLEMENTED", &self.unimplemented)] {
            if !ids.is_empty() {
                lines.push(format!("{label} cases: {}", id_list(ids)));
            }
        }
        let failed = if self.failed.is_empty() { "none".to_owned() } else { self.failed.join(" ") };
        lines.push(format!("FAILED cases: {failed}"));
        if self.ran < self.planned {
            lines.push(format!("MISSING: {} case(s) not in the report", self.planned - self.ran));
        }
        lines.push(format!("case time: {:.1} s in total", self.case_time_ms as f64 / 1000.0));
        lines
    }
}

/// `OK: 298, NON-STRICT: 0, …` with every behaviour of [`ORDER`] shown, then any others.
fn counts(counts: &BTreeMap<String, usize>) -> String {
    let known = ORDER.iter().map(|&name| (name, counts.get(name).copied().unwrap_or(0)));
    let others = counts.iter().filter(|(name, _)| !ORDER.contains(&name.as_str())).map(|(n, c)| (n.as_str(), *c));
    known.chain(others).map(|(name, count)| format!("{name}: {count}")).collect::<Vec<_>>().join(", ")
}

/// The ids, or past [`LIST_LIMIT`] their subgroups with counts (`6.4.*(4)`).
fn id_list(ids: &[String]) -> String {
    if ids.len() <= LIST_LIMIT {
        return ids.join(" ");
    }
    let mut groups: Vec<(String, usize)> = Vec::new();
    for id in ids {
        let group: String = id.split('.').take(2).collect::<Vec<_>>().join(".");
        match groups.last_mut() {
            Some((last, count)) if *last == group => *count += 1,
            _ => groups.push((group, 1)),
        }
    }
    groups.iter().map(|(group, count)| format!("{group}.*({count})")).collect::<Vec<_>>().join(" ")
}

/// The number of cases wstest announced it would run (`Ok, will run 301 test cases against 1 servers`),
/// the yardstick for "missing": without it a run that died early could pass.
pub fn planned_cases(wstest_log: &str) -> Option<usize> {
    wstest_log
        .lines()
        .find_map(|line| line.trim().strip_prefix("Ok, will run ")?.split_whitespace().next()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of a real `index.json`, trimmed: one agent, cases with their report fields.
    const FIXTURE: &str = r#"{
      "connect-signaling": {
        "1.1.10": {"behavior": "OK", "behaviorClose": "OK", "duration": 3, "remoteCloseCode": 1000, "reportfile": "a.json"},
        "1.1.2": {"behavior": "OK", "behaviorClose": "OK", "duration": 2, "remoteCloseCode": 1000, "reportfile": "b.json"},
        "6.4.1": {"behavior": "NON-STRICT", "behaviorClose": "OK", "duration": 2001, "remoteCloseCode": 1007, "reportfile": "c.json"},
        "7.1.6": {"behavior": "INFORMATIONAL", "behaviorClose": "INFORMATIONAL", "duration": 95, "remoteCloseCode": 1000, "reportfile": "d.json"},
        "5.1": {"behavior": "OK", "behaviorClose": "OK", "duration": 1, "remoteCloseCode": 1002, "reportfile": "e.json"}
      }
    }"#;

    fn report(json: &str) -> Report {
        Report::parse(json).expect("fixture parses")
    }

    #[test]
    fn cases_are_read_and_ordered_numerically() {
        let r = report(FIXTURE);
        assert_eq!(r.agent, "connect-signaling");
        let ids: Vec<&str> = r.cases.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["1.1.2", "1.1.10", "5.1", "6.4.1", "7.1.6"]);
        assert_eq!(r.cases[3].behavior, "NON-STRICT");
        assert_eq!(r.cases[3].duration_ms, 2001);
    }

    #[test]
    fn a_clean_run_passes_and_counts_every_behaviour() {
        let s = report(FIXTURE).summary(5);
        assert_eq!(s.verdict(), Ok(()));
        assert_eq!(s.behavior.get("OK"), Some(&3));
        assert_eq!(s.behavior_close.get("INFORMATIONAL"), Some(&1));
        assert_eq!(s.non_strict, ["6.4.1"]);
        assert_eq!(
            s.lines(),
            [
                "agent: connect-signaling  cases: 5 (planned 5)",
                "behavior: OK: 3, NON-STRICT: 1, INFORMATIONAL: 1, UNIMPLEMENTED: 0, FAILED: 0",
                "behaviorClose: OK: 4, NON-STRICT: 0, INFORMATIONAL: 1, UNIMPLEMENTED: 0, FAILED: 0",
                "NON-STRICT cases: 6.4.1",
                "FAILED cases: none",
                "case time: 2.1 s in total",
            ]
        );
    }

    #[test]
    fn a_failed_behaviour_or_close_fails_the_run() {
        let json = FIXTURE
            .replace(r#""1.1.2": {"behavior": "OK""#, r#""1.1.2": {"behavior": "FAILED""#)
            .replace(r#""behaviorClose": "OK", "duration": 1,"#, r#""behaviorClose": "FAILED", "duration": 1,"#);
        let s = report(&json).summary(5);
        assert_eq!(s.verdict(), Err(Verdict::Failed(vec!["1.1.2".into(), "5.1".into()])));
        assert!(s.lines().contains(&"FAILED cases: 1.1.2 5.1".to_owned()));
    }

    #[test]
    fn missing_cases_fail_the_run() {
        let s = report(FIXTURE).summary(301);
        assert_eq!(s.verdict(), Err(Verdict::Missing { ran: 5, planned: 301 }));
        assert!(s.lines().contains(&"MISSING: 296 case(s) not in the report".to_owned()));
        assert_eq!(
            s.verdict().map_err(|v| v.to_string()),
            Err("296 of 301 planned case(s) missing from the report".into())
        );
    }

    #[test]
    fn unusable_reports_are_errors() {
        assert!(matches!(Report::parse("not json"), Err(ParseError::NotJson(_))));
        assert_eq!(Report::parse("[]"), Err(ParseError::NotAnObject));
        assert_eq!(Report::parse("{}"), Err(ParseError::Empty));
        assert_eq!(Report::parse(r#"{"a": {}}"#), Err(ParseError::Empty));
        assert_eq!(
            Report::parse(r#"{"a": {"1.1.1": {"behavior": "OK"}}, "b": {}}"#),
            Err(ParseError::SeveralAgents(vec!["a".into(), "b".into()]))
        );
        assert_eq!(Report::parse(r#"{"a": {"1.1.1": {"duration": 1}}}"#), Err(ParseError::BadCase("1.1.1".into())));
    }

    #[test]
    fn long_id_lists_collapse_to_subgroups() {
        let ids: Vec<String> =
            (1..=15).map(|i| format!("6.4.{i}")).chain((1..=7).map(|i| format!("7.1.{i}"))).collect();
        assert_eq!(id_list(&ids), "6.4.*(15) 7.1.*(7)");
        assert_eq!(id_list(&ids[..3]), "6.4.1 6.4.2 6.4.3");
    }

    #[test]
    fn planned_count_comes_from_the_wstest_log() {
        let log = "Autobahn WebSockets 0.10.9/0.7.4 Fuzzing Client\nOk, will run 301 test cases against 1 servers\nRunning test case ID 1.1.1\n";
        assert_eq!(planned_cases(log), Some(301));
        assert_eq!(planned_cases("Running test case ID 1.1.1\n"), None);
    }
}
