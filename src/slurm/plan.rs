//! Which runs of a sweep a submission sends to Slurm: a pure function of
//! what the main database and the run's task store hold of it, whether a
//! task of an earlier submission is still queued or running, and whether a
//! posterlab process on this machine holds its claim.

use super::queue::TaskState;
use crate::store::{RunRow, Status};

/// What becomes of one run of a sweep at submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Not done anywhere: an array task will train (or resume) it.
    Submit,
    /// Finished or diverged in the main database: never trained again.
    Done(Status),
    /// Finished or diverged in its task store, not yet merged into the
    /// main database (the finishing job did not run, or failed).
    Unmerged(Status),
    /// A task of an earlier submission (`job`) is queued or running it.
    Active { job: String, state: String },
    /// A posterlab process on this machine is training it.
    Busy,
}

fn ended(run: Option<&RunRow>) -> Option<Status> {
    run.map(|r| r.status)
        .filter(|s| matches!(s, Status::Finished | Status::Diverged))
}

/// Decides for one run: `main` and `task` are its latest run in the main
/// database and in its task store; `active` the earlier submission's task
/// that Slurm still has queued or running; `busy` whether its claim is held
/// here.
pub fn decide(
    main: Option<&RunRow>,
    task: Option<&RunRow>,
    active: Option<(&str, &TaskState)>,
    busy: bool,
) -> Decision {
    if let Some((job, state)) = active.filter(|(_, s)| s.active()) {
        return Decision::Active {
            job: job.to_string(),
            state: state.state.clone(),
        };
    }
    if let Some(status) = ended(main) {
        return Decision::Done(status);
    }
    if let Some(status) = ended(task) {
        return Decision::Unmerged(status);
    }
    if busy {
        return Decision::Busy;
    }
    Decision::Submit
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::run_row;

    fn task(state: &str) -> TaskState {
        TaskState {
            index: 0,
            state: state.to_string(),
            reason: None,
            restarts: None,
        }
    }

    #[test]
    fn every_case_of_stores_queue_and_claim() {
        use Status::*;
        let row = |s: Status| run_row(1, "r", s);
        let (finished, diverged, interrupted, running) =
            (row(Finished), row(Diverged), row(Interrupted), row(Running));
        let (pending, completed) = (task("PENDING"), task("COMPLETED"));
        // (main database, task store, the queue, claimed here) → decision
        type Case<'a> = (
            Option<&'a RunRow>,
            Option<&'a RunRow>,
            Option<&'a TaskState>,
            bool,
            Decision,
        );
        let cases: Vec<Case> = vec![
            (None, None, None, false, Decision::Submit),
            (Some(&interrupted), None, None, false, Decision::Submit),
            (None, Some(&running), None, false, Decision::Submit),
            (Some(&finished), None, None, false, Decision::Done(Finished)),
            (
                Some(&diverged),
                Some(&running),
                None,
                false,
                Decision::Done(Diverged),
            ),
            (
                None,
                Some(&finished),
                None,
                false,
                Decision::Unmerged(Finished),
            ),
            (
                Some(&interrupted),
                Some(&finished),
                None,
                false,
                Decision::Unmerged(Finished),
            ),
            (
                Some(&finished),
                None,
                Some(&pending),
                false,
                Decision::Active {
                    job: "7".into(),
                    state: "PENDING".into(),
                },
            ),
            (None, None, Some(&completed), false, Decision::Submit),
            (None, None, None, true, Decision::Busy),
            (Some(&finished), None, None, true, Decision::Done(Finished)),
        ];
        for (main, in_task, active, busy, want) in cases {
            assert_eq!(
                decide(main, in_task, active.map(|t| ("7", t)), busy),
                want,
                "main {:?}, task {:?}, queue {:?}, busy {busy}",
                main.map(|r| r.status),
                in_task.map(|r| r.status),
                active.map(|t| &t.state)
            );
        }
    }
}
