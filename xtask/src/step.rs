//! The step runner: announces each step, times it, stops after the first failure and ends with a
//! summary table, so a CI log shows at a glance what ran, what broke and what was left out.

use std::time::{Duration, Instant};

use crate::error::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Failed,
    /// Not run; the reason is shown in the summary.
    Skipped(&'static str),
}

#[derive(Debug)]
struct Record {
    name: &'static str,
    outcome: Outcome,
    took: Option<Duration>,
}

#[derive(Debug, Default)]
pub struct Runner {
    records: Vec<Record>,
    first_failure: Option<&'static str>,
}

impl Runner {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `f` as step `name`, unless an earlier step failed, in which case it is recorded as skipped.
    pub fn step(&mut self, name: &'static str, f: impl FnOnce() -> Result<(), Error>) {
        if self.first_failure.is_some() {
            self.skip(name, "earlier step failed");
            return;
        }
        println!("\n==> {name}");
        let started = Instant::now();
        let result = f();
        let took = started.elapsed();
        let outcome = match result {
            Ok(()) => {
                println!("==> {name} ok ({:.1} s)", took.as_secs_f64());
                Outcome::Ok
            }
            Err(err) => {
                println!("==> {name} FAILED ({:.1} s): {err}", took.as_secs_f64());
                self.first_failure = Some(name);
                Outcome::Failed
            }
        };
        self.records.push(Record { name, outcome, took: Some(took) });
    }

    pub fn skip(&mut self, name: &'static str, reason: &'static str) {
        self.records.push(Record { name, outcome: Outcome::Skipped(reason), took: None });
    }

    /// Prints the summary table; fails with the first failed step, if any.
    pub fn finish(self) -> Result<(), Error> {
        println!("\n{}", self.summary());
        match self.first_failure {
            Some(step) => Err(Error::StepFailed { step }),
            None => Ok(()),
        }
    }

    fn summary(&self) -> String {
        let width = self.records.iter().map(|r| r.name.len()).max().unwrap_or(0).max("step".len());
        let mut out = format!("==> summary\n    {:<width$}  {:<7}  {:>7}\n", "step", "result", "seconds");
        for record in &self.records {
            let (result, note) = match record.outcome {
                Outcome::Ok => ("ok", String::new()),
                Outcome::Failed => ("FAILED", String::new()),
                Outcome::Skipped(reason) => ("skipped", format!("  ({reason})")),
            };
            let seconds = match record.took {
                Some(took) => format!("{:.1}", took.as_secs_f64()),
                None => "-".to_owned(),
            };
            out.push_str(&format!("    {:<width$}  {result:<7}  {seconds:>7}{note}\n", record.name));
        }
        out
    }

    #[cfg(test)]
    fn outcomes(&self) -> Vec<(&'static str, Outcome)> {
        self.records.iter().map(|r| (r.name, r.outcome)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_after_first_failure_and_reports_it() {
        let mut runner = Runner::new();
        let mut ran_after_failure = false;
        runner.step("a", || Ok(()));
        runner.skip("b", "not selected");
        runner.step("c", || Err(Error::Usage("boom".into())));
        runner.step("d", || {
            ran_after_failure = true;
            Ok(())
        });
        assert!(!ran_after_failure);
        assert_eq!(
            runner.outcomes(),
            [
                ("a", Outcome::Ok),
                ("b", Outcome::Skipped("not selected")),
                ("c", Outcome::Failed),
                ("d", Outcome::Skipped("earlier step failed")),
            ]
        );
        assert!(matches!(runner.finish(), Err(Error::StepFailed { step: "c" })));
    }

    #[test]
    fn all_ok_finishes_ok() {
        let mut runner = Runner::new();
        runner.step("a", || Ok(()));
        runner.skip("b", "not selected");
        assert!(runner.finish().is_ok());
    }

    #[test]
    fn summary_lists_every_step_with_result_and_seconds() {
        let mut runner = Runner::new();
        runner.step("clippy", || Ok(()));
        runner.step("fuzz", || Err(Error::Usage("x".into())));
        runner.skip("autobahn", "earlier step failed");
        let summary = runner.summary();
        let lines: Vec<&str> = summary.lines().collect();
        assert_eq!(lines[0], "==> summary");
        assert_eq!(lines[1], "    step      result   seconds");
        assert!(lines[2].starts_with("    clippy    ok           0."), "{summary}");
        assert!(lines[3].starts_with("    fuzz      FAILED       0."), "{summary}");
        assert_eq!(lines[4], "    autobahn  skipped        -  (earlier step failed)");
    }
}
