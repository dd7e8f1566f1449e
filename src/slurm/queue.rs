//! Asking Slurm: submit a batch script (`sbatch`), and read each array
//! task's state — `squeue` while the controller remembers the job
//! (`MinJobAge`, 300 s by default, after it ends), then `sacct` where the
//! cluster keeps accounting. Every call has a time limit: a Slurm client
//! that cannot reach its controller (or find slurm.conf) retries for a
//! minute or more.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::Manifest;

/// A Slurm command that could not be run or refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlurmError(pub String);

impl fmt::Display for SlurmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SlurmError {}

/// How long a Slurm client may take before posterlab gives up on it.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(90);

/// What a client printed, when it exited with 0.
struct Answer {
    stdout: String,
}

/// Runs a Slurm client; its own message when it fails.
fn ask(program: &str, args: &[&str]) -> Result<Answer, SlurmError> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => SlurmError(format!(
                "`{program}` is not on the PATH: posterlab submits and watches sweeps through Slurm's \
                 own commands\n  help: run it on the cluster's login node (on some, `module load \
                 slurm` first); `posterlab slurm --dry-run` prints the batch scripts without Slurm; \
                 on a single machine, `posterlab run --jobs N` trains N runs at once"
            )),
            _ => SlurmError(format!("cannot run `{program}`: {e}")),
        })?;
    let (mut out, mut err) = (child.stdout.take(), child.stderr.take());
    // Read both pipes on threads, so that a client printing a lot never
    // blocks on a full pipe while we wait for it.
    let read = |pipe: Option<&mut dyn Read>| {
        let mut text = String::new();
        if let Some(p) = pipe {
            let _ = p.read_to_string(&mut text);
        }
        text
    };
    let (stdout, stderr, status) = std::thread::scope(|s| {
        let o = s.spawn(|| read(out.as_mut().map(|p| p as &mut dyn Read)));
        let e = s.spawn(|| read(err.as_mut().map(|p| p as &mut dyn Read)));
        let status = wait_with_timeout(&mut child, CLIENT_TIMEOUT);
        (
            o.join().unwrap_or_default(),
            e.join().unwrap_or_default(),
            status,
        )
    });
    let status = status.map_err(|e| SlurmError(format!("`{program}`: {e}")))?;
    match status {
        Some(s) if s.success() => Ok(Answer { stdout }),
        Some(_) => Err(SlurmError(
            stderr.trim().lines().collect::<Vec<_>>().join("; "),
        )),
        None => Err(SlurmError(format!(
            "`{program}` did not answer within {} s\n  help: is the Slurm controller up (`sinfo`)? \
             SLURM_CONF names the cluster's configuration",
            CLIENT_TIMEOUT.as_secs()
        ))),
    }
}

/// The child's exit status, or `None` (after killing it) past `limit`.
fn wait_with_timeout(
    child: &mut std::process::Child,
    limit: Duration,
) -> std::io::Result<Option<std::process::ExitStatus>> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Submits `script`, after `after` has ended when given
/// (`--dependency=afterany`); the new job's id.
pub fn submit(script: &Path, after: Option<&str>) -> Result<String, SlurmError> {
    let dependency = after.map(|job| format!("--dependency=afterany:{job}"));
    let mut args = vec!["--parsable"];
    if let Some(d) = &dependency {
        args.push(d);
    }
    let script = script.display().to_string();
    args.push(&script);
    let answer =
        ask("sbatch", &args).map_err(|e| SlurmError(format!("sbatch refused the job: {e}")))?;
    // `--parsable` prints `jobid` or `jobid;cluster`.
    let id = answer
        .stdout
        .trim()
        .split(';')
        .next()
        .unwrap_or_default()
        .to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(SlurmError(format!(
            "sbatch printed {:?} where a job id was expected",
            answer.stdout.trim()
        )));
    }
    Ok(id)
}

/// One array task as Slurm sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskState {
    pub index: usize,
    /// `PENDING`, `RUNNING`, `COMPLETED`, `CANCELLED`, `FAILED`,
    /// `TIMEOUT`, `PREEMPTED`, `REQUEUED`…
    pub state: String,
    /// Why it is pending or how it ended (`JobArrayTaskLimit`,
    /// `NonZeroExitCode`), if Slurm says.
    pub reason: Option<String>,
    /// Times it was requeued, where `squeue` says.
    pub restarts: Option<u32>,
}

impl TaskState {
    /// Whether it is waiting or running (not ended).
    pub fn active(&self) -> bool {
        matches!(
            self.state.as_str(),
            "PENDING"
                | "RUNNING"
                | "REQUEUED"
                | "REQUEUE_HOLD"
                | "REQUEUE_FED"
                | "CONFIGURING"
                | "COMPLETING"
                | "SUSPENDED"
                | "RESIZING"
                | "SIGNALING"
                | "STAGE_OUT"
                | "STOPPED"
        )
    }
}

/// What Slurm says of a sweep's array tasks, each array job asked once.
#[derive(Debug, Default)]
pub struct Tasks {
    jobs: HashMap<String, Option<Vec<TaskState>>>,
}

impl Tasks {
    /// Array task `index` as Slurm sees it under the submission that last
    /// sent it: that job's id and the task's state; `Ok(None)` when it was
    /// never submitted or Slurm no longer knows it. A job Slurm cannot be
    /// asked about is an error once, then reads as unknown.
    pub fn of(
        &mut self,
        manifest: &Manifest,
        index: usize,
    ) -> Result<Option<(String, TaskState)>, SlurmError> {
        let Some(submission) = manifest.last_submission_of(index) else {
            return Ok(None);
        };
        let job = &submission.job;
        if !self.jobs.contains_key(job) {
            let answer = array_tasks(job);
            self.jobs
                .insert(job.clone(), answer.as_ref().ok().cloned().flatten());
            answer?;
        }
        Ok(self.jobs[job]
            .as_ref()
            .and_then(|tasks| tasks.iter().find(|t| t.index == index))
            .map(|t| (job.clone(), t.clone())))
    }
}

/// The tasks of array job `job`, from `squeue` (which knows the job until
/// `MinJobAge` after it ended) or else `sacct`; `Ok(None)` when neither
/// knows it (forgotten, no accounting).
pub fn array_tasks(job: &str) -> Result<Option<Vec<TaskState>>, SlurmError> {
    match ask(
        "squeue",
        &[
            "--noheader",
            "--array",
            "--states=all",
            "--jobs",
            job,
            "--Format=JobArrayID:|,State:|,Reason:|,RestartCnt:|",
        ],
    ) {
        Ok(answer) => return Ok(Some(parse_squeue(job, &answer.stdout))),
        Err(e) if e.0.contains("Invalid job id") => {}
        Err(e) => return Err(e),
    }
    match ask(
        "sacct",
        &[
            "--jobs",
            job,
            "--allocations",
            "--parsable2",
            "--noheader",
            "--format=JobID,State",
        ],
    ) {
        Ok(answer) => Ok(Some(parse_sacct(job, &answer.stdout))),
        // "Slurm accounting storage is disabled": nobody remembers the job.
        Err(_) => Ok(None),
    }
}

/// The state of a plain job (the finishing one): its state and reason, or
/// `None` when Slurm no longer knows it.
pub fn job_state(job: &str) -> Result<Option<TaskState>, SlurmError> {
    Ok(array_tasks(job)?.and_then(|tasks| tasks.into_iter().next()))
}

/// `7_3|FAILED|NonZeroExitCode|0|` lines of `squeue --Format`; a plain
/// job's line (no `_`) is index 0.
fn parse_squeue(job: &str, text: &str) -> Vec<TaskState> {
    let mut tasks: Vec<TaskState> = text
        .lines()
        .filter_map(|line| {
            let mut fields = line.split('|').map(str::trim);
            let index = task_index(job, fields.next()?)?;
            let state = fields.next()?.to_string();
            let reason = fields
                .next()
                .filter(|r| !r.is_empty() && *r != "None")
                .map(str::to_string);
            let restarts = fields.next().and_then(|r| r.parse().ok());
            Some(TaskState {
                index,
                state,
                reason,
                restarts,
            })
        })
        .collect();
    tasks.sort_by_key(|t| t.index);
    tasks
}

/// `7_3|CANCELLED by 0` lines of `sacct --parsable2`.
fn parse_sacct(job: &str, text: &str) -> Vec<TaskState> {
    let mut tasks: Vec<TaskState> = text
        .lines()
        .filter_map(|line| {
            let (id, state) = line.split_once('|')?;
            let index = task_index(job, id.trim())?;
            let mut words = state.split_whitespace();
            let state = words.next()?.to_string();
            let rest: Vec<&str> = words.collect();
            Some(TaskState {
                index,
                state,
                reason: (!rest.is_empty()).then(|| rest.join(" ")),
                restarts: None,
            })
        })
        .collect();
    tasks.sort_by_key(|t| t.index);
    tasks.dedup_by_key(|t| t.index);
    tasks
}

/// The task index in an id `J_i` of job `job` (`J` alone is task 0 of a
/// plain job); `None` for another job's line.
fn task_index(job: &str, id: &str) -> Option<usize> {
    match id.split_once('_') {
        Some((j, i)) if j == job => i.parse().ok(),
        Some(_) => None,
        None if id == job => Some(0),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_lines_become_task_states_in_index_order() {
        // As squeue 22.05 prints them (measured on the local cluster).
        let text = "7_3|FAILED|NonZeroExitCode|0|\n7_10|PENDING|JobArrayTaskLimit|0|\n\
                    7_1|RUNNING|None|2|\n8|PENDING|Dependency|0|\n";
        let tasks = parse_squeue("7", text);
        let seen: Vec<(usize, &str, Option<&str>, Option<u32>)> = tasks
            .iter()
            .map(|t| (t.index, t.state.as_str(), t.reason.as_deref(), t.restarts))
            .collect();
        assert_eq!(
            seen,
            [
                (1, "RUNNING", None, Some(2)),
                (3, "FAILED", Some("NonZeroExitCode"), Some(0)),
                (10, "PENDING", Some("JobArrayTaskLimit"), Some(0)),
            ]
        );
        assert!(tasks[0].active() && !tasks[1].active() && tasks[2].active());
        assert_eq!(parse_squeue("8", text)[0].state, "PENDING", "a plain job");
    }

    #[test]
    fn sacct_lines_keep_the_state_and_say_who_cancelled() {
        // As sacct with accounting prints them (shared/notes/slurm-single-node.md).
        let text = "5_0|CANCELLED by 0\n5_1|FAILED\n5_1|FAILED\n";
        let tasks = parse_sacct("5", text);
        assert_eq!(tasks.len(), 2);
        assert_eq!(tasks[0].state, "CANCELLED");
        assert_eq!(tasks[0].reason.as_deref(), Some("by 0"));
        assert_eq!((tasks[1].index, tasks[1].state.as_str()), (1, "FAILED"));
    }

    #[test]
    fn a_missing_client_says_how_to_get_one() {
        let e = ask("posterlab-no-such-slurm-client", &[]).err().unwrap();
        assert!(e.0.contains("is not on the PATH"), "{e}");
        assert!(e.0.contains("--dry-run"), "{e}");
    }
}
