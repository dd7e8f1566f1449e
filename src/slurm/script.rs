//! The batch scripts of a Slurm sweep, written to be read: the array job's
//! (each task trains its run into its own store, and is requeued when Slurm
//! warns of the time limit or preemption) and the finishing job's (merge the
//! task stores into the main database, draw the report), with what the user
//! asked of sbatch as `#SBATCH` lines under sbatch's own option names.

use std::fmt::Write as _;
use std::path::Path;

use super::{index_ranges, Manifest, SweepDir};

/// What the jobs ask Slurm for, by sbatch's own option names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    pub partition: Option<String>,
    /// `--time`, in any form sbatch takes (`2:00:00`, `1-00:00`).
    pub time: Option<String>,
    pub cpus_per_task: Option<usize>,
    pub mem: Option<String>,
    pub gpus_per_task: Option<String>,
    pub account: Option<String>,
    pub qos: Option<String>,
    /// At most this many tasks at once (`--array=…%K`).
    pub max_parallel: Option<usize>,
    /// Any other sbatch options, one `#SBATCH` line each (`--constraint=a100`).
    pub extra: Vec<String>,
    /// Seconds before the time limit at which Slurm warns the task
    /// (`--signal=B:USR1@N`), so that it saves and is requeued.
    pub signal_before: u32,
}

/// The default warning before the time limit: an epoch of the seed CNN on
/// the real posters takes about 12 s on 2 cores, so two minutes always
/// leave room to finish the batch and write the checkpoint (submitit, the
/// launcher Hydra uses, defaults to 90 s).
pub const DEFAULT_SIGNAL_BEFORE: u32 = 120;

impl Resources {
    /// Refuses a value that would break out of its `#SBATCH` line (a line
    /// break, a control character) and an extra option that is not one.
    pub fn check(&self) -> Result<(), String> {
        let named = [
            ("--partition", self.partition.as_deref()),
            ("--time", self.time.as_deref()),
            ("--mem", self.mem.as_deref()),
            ("--gpus-per-task", self.gpus_per_task.as_deref()),
            ("--account", self.account.as_deref()),
            ("--qos", self.qos.as_deref()),
        ];
        for (flag, value) in named {
            if let Some(v) = value {
                if v.is_empty() || v.chars().any(|c| c.is_control() || c.is_whitespace()) {
                    return Err(format!(
                        "{flag} {v:?} cannot go on an #SBATCH line: it is empty or holds a space or a \
                         control character"
                    ));
                }
            }
        }
        for line in &self.extra {
            let option = line.trim_start_matches("#SBATCH").trim();
            if !option.starts_with('-') || option.chars().any(char::is_control) {
                return Err(format!(
                    "--sbatch {line:?} is not an sbatch option\n  help: give it as sbatch takes it, \
                     e.g. --sbatch=--constraint=a100 (one option each time)"
                ));
            }
        }
        if self.max_parallel == Some(0) {
            return Err("--max-parallel must be at least 1".to_string());
        }
        Ok(())
    }

    /// The `#SBATCH` lines every job of the sweep shares.
    fn placement(&self) -> Vec<String> {
        [
            ("partition", &self.partition),
            ("account", &self.account),
            ("qos", &self.qos),
            ("time", &self.time),
        ]
        .into_iter()
        .filter_map(|(flag, value)| value.as_ref().map(|v| format!("--{flag}={v}")))
        .collect()
    }
}

/// A path or word as one bash word: single-quoted unless plain.
pub fn sh_quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:=@%,".contains(c));
    if plain {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

fn path_word(path: &Path) -> String {
    sh_quote(&path.display().to_string())
}

fn header(out: &mut String, lines: &[String]) {
    for line in lines {
        writeln!(out, "#SBATCH {line}").expect("a String takes writes");
    }
}

/// The array job: task `i` of `tasks` trains run `i` of the sweep into
/// `tasks/i.sqlite` with `exe`.
pub fn tasks_script(
    sweep: &SweepDir,
    manifest: &Manifest,
    exe: &Path,
    tasks: &[usize],
    resources: &Resources,
) -> String {
    let id = sweep.id();
    let mut array = index_ranges(tasks);
    if let Some(k) = resources.max_parallel {
        write!(array, "%{k}").expect("a String takes writes");
    }
    let mut sbatch = vec![
        format!("--job-name=posterlab-{id}"),
        format!("--array={array}"),
        // One log per task, kept across requeues and resubmissions.
        format!("--output={}", sweep.logs().join("task-%a.log").display()),
        "--open-mode=append".to_string(),
        format!("--chdir={}", manifest.workdir.display()),
        "--requeue".to_string(),
        format!("--signal=B:USR1@{}", resources.signal_before),
    ];
    sbatch.extend(resources.placement());
    if let Some(n) = resources.cpus_per_task {
        sbatch.push(format!("--cpus-per-task={n}"));
    }
    if let Some(mem) = &resources.mem {
        sbatch.push(format!("--mem={mem}"));
    }
    if let Some(gpus) = &resources.gpus_per_task {
        sbatch.push(format!("--gpus-per-task={gpus}"));
    }
    sbatch.extend(
        resources
            .extra
            .iter()
            .map(|l| l.trim_start_matches("#SBATCH").trim().to_string()),
    );

    let mut out = String::from("#!/bin/bash\n");
    writeln!(
        out,
        "# posterlab sweep {id}: array task N trains run N of the sweep ({} runs in\n\
         # sweep.json) into its own store, tasks/N.sqlite. Written by `posterlab slurm`,\n\
         # anew at each submission; `posterlab status {id}` shows where the sweep stands.",
        manifest.runs.len()
    )
    .expect("a String takes writes");
    header(&mut out, &sbatch);
    write!(
        out,
        r#"
# Before the time limit, and on preemption where the cluster signals it, Slurm
# sends USR1 to this script (--signal above): posterlab stops after its current
# batch, records the run as interrupted, and the task is requeued to resume
# exactly after its last recorded epoch. scancel and `scontrol requeue` send
# posterlab SIGTERM, which stops it the same way.
requeue=0
trap 'requeue=1; kill -TERM "$child" 2>/dev/null' USR1

echo "posterlab: task $SLURM_ARRAY_TASK_ID of job $SLURM_ARRAY_JOB_ID on $(hostname), start ${{SLURM_RESTART_COUNT:-0}}"
{exe} slurm-task {sweep} --index "$SLURM_ARRAY_TASK_ID" --threads "${{SLURM_CPUS_PER_TASK:-1}}" &
child=$!
status=0
wait "$child" || status=$?
# The trap ends `wait` early: wait again until posterlab has saved and exited.
while kill -0 "$child" 2>/dev/null; do status=0; wait "$child" || status=$?; done
if [ "$requeue" = 1 ] && [ "$status" = 130 ]; then
    echo "posterlab: requeueing task $SLURM_ARRAY_TASK_ID; it resumes after its last recorded epoch"
    scontrol requeue "${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}}"
fi
exit "$status"
"#,
        exe = path_word(exe),
        sweep = path_word(&sweep.dir),
    )
    .expect("a String takes writes");
    out
}

/// The finishing job, submitted to start after every task of the array job
/// has ended (`--dependency=afterany`): merges the task stores into the
/// main database, then draws the report (unless the sweep has none).
pub fn finish_script(
    sweep: &SweepDir,
    manifest: &Manifest,
    exe: &Path,
    resources: &Resources,
) -> String {
    let id = sweep.id();
    let mut sbatch = vec![
        format!("--job-name=posterlab-{id}-finish"),
        format!("--output={}", sweep.logs().join("finish-%j.log").display()),
        "--open-mode=append".to_string(),
        format!("--chdir={}", manifest.workdir.display()),
    ];
    sbatch.extend(resources.placement());
    let mut out = String::from("#!/bin/bash\n");
    writeln!(
        out,
        "# posterlab sweep {id}: once every array task has ended (submitted with\n\
         # --dependency=afterany on the array job), merge the task stores into the main\n\
         # database and draw the report. Written by `posterlab slurm`; run it again by\n\
         # hand at any time: merging twice adds nothing."
    )
    .expect("a String takes writes");
    header(&mut out, &sbatch);
    let global = format!(
        "--results {} --db {}",
        path_word(&manifest.results),
        path_word(&manifest.db)
    );
    let exe = path_word(exe);
    let mut steps = format!("    {exe} {global} merge \"$tasks\"\n");
    if let Some(reports) = &manifest.reports {
        writeln!(
            steps,
            "    {exe} {global} report --out {}",
            path_word(reports)
        )
        .expect("a String takes writes");
    }
    write!(
        out,
        r#"
set -eu
tasks={tasks}
# A task that failed before training (a spec edited since submission) left no store.
if compgen -G "$tasks/*.sqlite" >/dev/null; then
{steps}else
    echo "posterlab: no task of sweep {id} recorded a run; nothing to merge"
fi
"#,
        tasks = path_word(&sweep.tasks()),
    )
    .expect("a String takes writes");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_for_bash_only_when_they_need_it() {
        for (text, want) in [
            ("/home/me/results", "/home/me/results"),
            ("/data/my posters", "'/data/my posters'"),
            ("it's", r"'it'\''s'"),
            ("$HOME", "'$HOME'"),
            ("", "''"),
        ] {
            assert_eq!(sh_quote(text), want, "{text:?}");
        }
    }

    #[test]
    fn values_that_would_break_an_sbatch_line_are_refused() {
        let ok = Resources {
            partition: Some("gpu".into()),
            extra: vec!["--constraint=a100".into(), "#SBATCH --exclusive".into()],
            ..Resources::default()
        };
        assert_eq!(ok.check(), Ok(()));
        for bad in [
            Resources {
                partition: Some("gpu\n#SBATCH --x".into()),
                ..Resources::default()
            },
            Resources {
                account: Some("".into()),
                ..Resources::default()
            },
            Resources {
                extra: vec!["constraint=a100".into()],
                ..Resources::default()
            },
            Resources {
                max_parallel: Some(0),
                ..Resources::default()
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }
}
