//! What to do with a spec: a pure function of whether its claim was taken,
//! what the store holds of it, and `--force`.

use crate::store::{RunRow, Status};

/// The decision for one spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Another process holds the spec's claim: it is training it.
    Busy,
    /// The latest run finished (`--force` retrains).
    SkipFinished { run: i64, epochs: usize },
    /// The latest run diverged in `epoch` (`--force` retrains).
    SkipDiverged { run: i64, epoch: usize },
    /// Continue `run` after its `epochs` recorded epochs (it was
    /// interrupted, failed, or left running by a process that died).
    Resume { run: i64, epochs: usize },
    /// Start `run` again from nothing: it recorded no epoch.
    Restart { run: i64 },
    /// Record a new run: none yet, or `--force`.
    New,
}

/// Decides for a spec whose claim was (`claimed`) or was not taken, whose
/// latest run is `latest`.
pub fn plan(claimed: bool, latest: Option<&RunRow>, force: bool) -> Plan {
    let Some(r) = latest.filter(|_| !force) else {
        return if claimed { Plan::New } else { Plan::Busy };
    };
    match (claimed, r.status) {
        (false, _) => Plan::Busy,
        (true, Status::Finished) => Plan::SkipFinished {
            run: r.id,
            epochs: r.epochs_done,
        },
        (true, Status::Diverged) => Plan::SkipDiverged {
            run: r.id,
            epoch: r.status_epoch.unwrap_or(0),
        },
        (true, _) if r.epochs_done > 0 => Plan::Resume {
            run: r.id,
            epochs: r.epochs_done,
        },
        (true, _) => Plan::Restart { run: r.id },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::run_row;

    #[test]
    fn every_case_of_claim_status_and_force() {
        let at = |status: Status, epochs_done: usize| {
            let mut r = run_row(7, "r", status);
            r.epochs_done = epochs_done;
            r.status_epoch = (status == Status::Diverged).then_some(3);
            r
        };
        use Status::*;
        for (claimed, latest, force, want) in [
            (false, None, false, Plan::Busy),
            (false, Some(at(Finished, 5)), false, Plan::Busy),
            (false, Some(at(Running, 2)), true, Plan::Busy),
            (true, None, false, Plan::New),
            (true, None, true, Plan::New),
            (
                true,
                Some(at(Finished, 5)),
                false,
                Plan::SkipFinished { run: 7, epochs: 5 },
            ),
            (true, Some(at(Finished, 5)), true, Plan::New),
            (
                true,
                Some(at(Diverged, 2)),
                false,
                Plan::SkipDiverged { run: 7, epoch: 3 },
            ),
            (true, Some(at(Diverged, 2)), true, Plan::New),
            (
                true,
                Some(at(Interrupted, 2)),
                false,
                Plan::Resume { run: 7, epochs: 2 },
            ),
            (
                true,
                Some(at(Failed, 1)),
                false,
                Plan::Resume { run: 7, epochs: 1 },
            ),
            (
                true,
                Some(at(Running, 4)),
                false,
                Plan::Resume { run: 7, epochs: 4 },
            ),
            (true, Some(at(Failed, 0)), false, Plan::Restart { run: 7 }),
            (true, Some(at(Running, 0)), false, Plan::Restart { run: 7 }),
            (true, Some(at(Interrupted, 0)), true, Plan::New),
        ] {
            assert_eq!(
                plan(claimed, latest.as_ref(), force),
                want,
                "claimed {claimed}, {:?}, force {force}",
                latest.as_ref().map(|r| (r.status, r.epochs_done))
            );
        }
    }
}
