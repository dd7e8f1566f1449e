//! `posterlab rescore`: finished runs' test metrics under another decision
//! rule, from their stored predictions, without retraining; one line per
//! run, the run's own numbers beside the new ones.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use posterlab::runner::rescore::rescore;
use posterlab::spec::Rule;
use posterlab::store::{self, Status, Store};
use posterlab::text::{plural, printable};
use posterlab::train::decision::{label, parse_rule};

#[derive(Args)]
pub struct RescoreArgs {
    /// Run ids, names, experiments, tags, statuses, spec-hash prefixes or
    /// field=value; none means every finished run.
    #[arg(value_name = "SELECTOR")]
    selectors: Vec<String>,
    /// The rule: threshold[:T], relative[:T] (T: default each run's
    /// train.threshold), top_k:K, tuned or tuned_per_genre (thresholds
    /// chosen on each run's validation predictions).
    #[arg(long, value_name = "RULE", value_parser = parse_rule)]
    decision: (Rule, Option<f64>),
}

pub fn rescore_runs(db: &Path, args: &RescoreArgs) -> Result<ExitCode> {
    if !db.exists() {
        anyhow::bail!(
            "no run database at {}\n  help: `--db FILE` names it (default: results/posterlab.sqlite)",
            db.display()
        );
    }
    let mut store = Store::open(db)?;
    let all = store.runs()?;
    let selectors = if args.selectors.is_empty() {
        vec!["finished".to_string()]
    } else {
        args.selectors.clone()
    };
    let selection = store::select(&all, &selectors).map_err(anyhow::Error::msg)?;
    for s in &selection.unmatched {
        eprintln!("note: `{}` matches no run", printable(s));
    }
    let (rule, threshold) = args.decision;
    let runs: Vec<_> = selection
        .runs
        .into_iter()
        .filter(|r| {
            let finished = r.status == Status::Finished;
            if !finished {
                eprintln!(
                    "note: run {} {} is {}: only tested runs are re-scored",
                    r.id,
                    printable(&r.name),
                    r.status
                );
            }
            finished
        })
        .collect();
    if runs.is_empty() {
        println!("no finished run to re-score in {}", db.display());
        return Ok(ExitCode::SUCCESS);
    }
    let width = super::runs::name_width(&runs);
    println!(
        "{:>4}  {:<width$}  {:<18}  {:>17}  {:>17}  {:>9}",
        "ID", "NAME", "RULE", "MICRO-F1 own→new", "MACRO-F1 own→new", "THRESHOLD"
    );
    let mut failed = 0;
    for run in &runs {
        match rescore(&mut store, run, rule, threshold) {
            Ok(r) => {
                let (micro, macro_) = (r.own.micro_f1, r.own.macro_f1);
                println!(
                    "{:>4}  {:<width$}  {:<18}  {:>17}  {:>17}  {:>9}",
                    run.id,
                    printable(&run.name),
                    r.label,
                    format!("{micro:.3} → {:.3}", r.metrics.micro_f1),
                    format!("{macro_:.3} → {:.3}", r.metrics.macro_f1),
                    r.tuned.map_or("-".into(), |t| format!("{t:.3}"))
                );
            }
            Err(why) => {
                failed += 1;
                eprintln!(
                    "error: run {} {}: not re-scored: {why}",
                    run.id,
                    printable(&run.name)
                );
            }
        }
    }
    let done = runs.len() - failed;
    println!(
        "{} re-scored under {}{}; `posterlab show RUN` and `export` show them, `report --decision` tables them",
        plural(done, "run"),
        threshold.map_or(rule.name(), |t| label(rule, t)),
        if failed > 0 {
            format!(", {failed} not")
        } else {
            String::new()
        }
    );
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
