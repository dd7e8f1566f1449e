//! What is measured, named once: the three splits, and the metrics recorded
//! for each split of each epoch, each with its stored column name, its label
//! in tables, and which way is better. The store, the report, the command
//! line and the monitor of a spec all take their names from here, so a new
//! metric is one entry (plus the code that computes and stores it).

use std::fmt;

/// A part of the data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Split {
    Train,
    Val,
    Test,
}

impl Split {
    pub const ALL: [Split; 3] = [Split::Train, Split::Val, Split::Test];

    /// The name stored in the database (`metrics.split`).
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Val => "val",
            Split::Test => "test",
        }
    }

    pub fn parse(name: &str) -> Option<Split> {
        Split::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Split {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A metric of a split: the mean loss, and scikit-learn's multi-label
/// metrics (docs/store.md has their definitions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    Loss,
    MicroPrecision,
    MicroRecall,
    MicroF1,
    MacroPrecision,
    MacroRecall,
    MacroF1,
    SamplesF1,
    SubsetAccuracy,
    BinaryAccuracy,
    HammingLoss,
    MicroAp,
    MacroAp,
}

/// Every metric: (metric, stored column name, label, smaller is better), in
/// the order of the database's columns.
const REGISTRY: [(Metric, &str, &str, bool); 13] = [
    (Metric::Loss, "loss", "loss", true),
    (Metric::MicroPrecision, "micro_precision", "micro P", false),
    (Metric::MicroRecall, "micro_recall", "micro R", false),
    (Metric::MicroF1, "micro_f1", "micro-F1", false),
    (Metric::MacroPrecision, "macro_precision", "macro P", false),
    (Metric::MacroRecall, "macro_recall", "macro R", false),
    (Metric::MacroF1, "macro_f1", "macro-F1", false),
    (Metric::SamplesF1, "samples_f1", "samples-F1", false),
    (
        Metric::SubsetAccuracy,
        "subset_accuracy",
        "subset accuracy",
        false,
    ),
    (
        Metric::BinaryAccuracy,
        "binary_accuracy",
        "binary accuracy",
        false,
    ),
    (Metric::HammingLoss, "hamming_loss", "Hamming loss", true),
    (Metric::MicroAp, "micro_ap", "micro mAP", false),
    (Metric::MacroAp, "macro_ap", "macro mAP", false),
];

impl Metric {
    /// Every metric, in the order of the database's columns.
    pub const ALL: [Metric; 13] = {
        let mut all = [Metric::Loss; 13];
        let mut i = 0;
        while i < REGISTRY.len() {
            all[i] = REGISTRY[i].0;
            i += 1;
        }
        all
    };

    fn entry(self) -> &'static (Metric, &'static str, &'static str, bool) {
        REGISTRY
            .iter()
            .find(|e| e.0 == self)
            .expect("every metric has an entry")
    }

    /// Its column in the database and in exports (`micro_f1`).
    pub fn name(self) -> &'static str {
        self.entry().1
    }

    /// How tables head it (`micro-F1`).
    pub fn label(self) -> &'static str {
        self.entry().2
    }

    /// Whether smaller is better (the losses).
    pub fn minimise(self) -> bool {
        self.entry().3
    }

    pub fn parse(name: &str) -> Option<Metric> {
        REGISTRY.iter().find(|e| e.1 == name).map(|e| e.0)
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_and_every_metric_is_listed_once() {
        for (i, m) in Metric::ALL.iter().enumerate() {
            assert_eq!(Metric::parse(m.name()), Some(*m));
            assert_eq!(REGISTRY[i].0, *m);
            assert_eq!(Metric::ALL.iter().filter(|x| *x == m).count(), 1);
        }
        for s in Split::ALL {
            assert_eq!(Split::parse(s.as_str()), Some(s));
        }
        assert_eq!(Metric::parse("accuracy"), None);
        assert!(Metric::Loss.minimise() && Metric::HammingLoss.minimise());
        assert!(!Metric::MicroF1.minimise());
    }
}
