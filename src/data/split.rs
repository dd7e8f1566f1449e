//! The seeded train/validation/test split.
//!
//! Each poster gets a sort key, blake3(split_seed, id); posters sorted by key
//! fill the test split first, then validation, the rest is training. So the
//! split depends only on the ids and `split_seed` — not on `train.seed`, not
//! on the CSV's row order — and the sizes are exact: round(n × fraction).

use serde::{Deserialize, Serialize};

/// Indices into a [`super::Dataset`], each list in ascending order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    pub train: Vec<usize>,
    pub val: Vec<usize>,
    pub test: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitName {
    Train,
    Val,
    Test,
}

impl SplitName {
    pub const ALL: [SplitName; 3] = [SplitName::Train, SplitName::Val, SplitName::Test];

    pub fn as_str(self) -> &'static str {
        match self {
            SplitName::Train => "train",
            SplitName::Val => "val",
            SplitName::Test => "test",
        }
    }
}

impl Split {
    pub fn new(ids: &[String], test_fraction: f64, val_fraction: f64, split_seed: u64) -> Split {
        let n = ids.len();
        let mut order: Vec<(u64, usize)> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let mut h = blake3::Hasher::new();
                h.update(&split_seed.to_le_bytes());
                h.update(id.as_bytes());
                let key =
                    u64::from_le_bytes(h.finalize().as_bytes()[..8].try_into().expect("8 bytes"));
                (key, i)
            })
            .collect();
        // Ties (two ids with one key) are broken by id so CSV order never matters.
        order.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| ids[a.1].cmp(&ids[b.1])));
        // From 3 posters on, test and validation get at least one each: an
        // empty validation split would leave early stopping nothing to watch.
        let at_least = usize::from(n >= 3);
        let n_test = ((n as f64 * test_fraction).round() as usize)
            .max(at_least)
            .min(n);
        let n_val = ((n as f64 * val_fraction).round() as usize)
            .max(at_least)
            .min(n - n_test);
        let take = |range: std::ops::Range<usize>| {
            let mut idx: Vec<usize> = order[range].iter().map(|&(_, i)| i).collect();
            idx.sort_unstable();
            idx
        };
        Split {
            test: take(0..n_test),
            val: take(n_test..n_test + n_val),
            train: take(n_test + n_val..n),
        }
    }

    pub fn get(&self, name: SplitName) -> &[usize] {
        match name {
            SplitName::Train => &self.train,
            SplitName::Val => &self.val,
            SplitName::Test => &self.test,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("tt{i:07}")).collect()
    }

    #[test]
    fn sizes_are_exact_and_parts_disjoint() {
        let s = Split::new(&ids(1000), 0.2, 0.1, 42);
        assert_eq!((s.test.len(), s.val.len(), s.train.len()), (200, 100, 700));
        let mut all: Vec<usize> = s
            .train
            .iter()
            .chain(&s.val)
            .chain(&s.test)
            .copied()
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn tiny_sets_keep_a_validation_and_a_test_poster() {
        let s = Split::new(&ids(4), 0.2, 0.1, 1);
        assert_eq!((s.test.len(), s.val.len(), s.train.len()), (1, 1, 2));
        let s = Split::new(&ids(2), 0.2, 0.1, 1);
        assert_eq!((s.test.len(), s.val.len(), s.train.len()), (0, 0, 2));
    }

    #[test]
    fn deterministic_and_moved_only_by_the_split_seed() {
        let a = Split::new(&ids(500), 0.2, 0.1, 42);
        assert_eq!(a, Split::new(&ids(500), 0.2, 0.1, 42));
        assert_ne!(a.test, Split::new(&ids(500), 0.2, 0.1, 43).test);
    }

    #[test]
    fn row_order_does_not_matter() {
        let forward = ids(300);
        let mut backward = forward.clone();
        backward.reverse();
        let a = Split::new(&forward, 0.2, 0.1, 7);
        let b = Split::new(&backward, 0.2, 0.1, 7);
        let names = |ids: &[String], idx: &[usize]| {
            let mut v: Vec<String> = idx.iter().map(|&i| ids[i].clone()).collect();
            v.sort();
            v
        };
        assert_eq!(names(&forward, &a.test), names(&backward, &b.test));
        assert_eq!(names(&forward, &a.val), names(&backward, &b.val));
    }
}
