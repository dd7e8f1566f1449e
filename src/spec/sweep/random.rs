//! `[sweep.random]`: `n` samples, each field drawn from its distribution
//! (`choice`, `uniform`, `log_uniform`, `int`) with the table's `seed`.
//!
//! The value of field F in sample k is a function of (seed, k, F's dotted
//! name) alone: blake3 of the three is the stream of bits F's draw is made
//! from. So raising `n` keeps the samples already drawn (and their runs'
//! hashes: finished runs are skipped), and adding, removing or reordering a
//! field moves no other field's values. `uniform` and `log_uniform` draws
//! are rounded to 4 significant digits, kept within `[lo, hi]`.

use super::distribution::{self, Distribution};
use super::keys::{self, Claims, SweptField};
use crate::spec::diagnostics::Collector;
use crate::spec::tree::{Entry, Node, Span, Table, Value};

/// The checked `[sweep.random]`.
#[derive(Debug)]
pub struct Random {
    pub n: usize,
    pub seed: u64,
    /// In file order.
    pub draws: Vec<Draw>,
}

/// One field of the random sweep and what it is drawn from.
#[derive(Debug)]
pub struct Draw {
    pub field: SweptField,
    pub distribution: Distribution,
    /// The distribution as written, `{ uniform = [0.0, 0.5] }`: where a drawn
    /// number is located (a `choice` keeps each option's own place).
    pub span: Span,
}

/// The table's own keys; every other key names a field.
const RESERVED: &[&str] = &["n", "seed"];

impl Random {
    /// Sample `k`: every field with its drawn value, in file order.
    pub fn sample(&self, k: usize) -> impl Iterator<Item = (&SweptField, Value)> {
        self.draws
            .iter()
            .map(move |d| (&d.field, d.value(self.seed, k as u64)))
    }

    /// The options of `dotted` if it is drawn by `choice`; none otherwise.
    pub fn options_of(&self, dotted: &str) -> &[Value] {
        let draw = self.draws.iter().find(|d| d.field.dotted == dotted);
        match draw.map(|d| &d.distribution) {
            Some(Distribution::Choice(options)) => options,
            _ => &[],
        }
    }

    /// The places whose values differ from sample to sample: numbers drawn
    /// from a range (a choice's options each have their own place).
    pub fn drawn_spans(&self) -> impl Iterator<Item = &Span> {
        self.draws
            .iter()
            .filter(|d| !matches!(d.distribution, Distribution::Choice(_)))
            .map(|d| &d.span)
    }
}

impl Draw {
    /// The field's value in sample `k` of the sweep seeded with `seed`.
    pub fn value(&self, seed: u64, k: u64) -> Value {
        let mut bits = Bits::new(seed, k, &self.field.dotted);
        let node = match &self.distribution {
            Distribution::Choice(options) => {
                let last = options.len() as i64 - 1;
                return options[bits.int(0, last) as usize].clone();
            }
            &Distribution::Uniform { lo, hi } => {
                let u = bits.unit();
                // Not lo + u·(hi - lo), which overflows for bounds near ±f64::MAX.
                Node::Float(four_digits(lo * (1.0 - u) + hi * u, lo, hi))
            }
            &Distribution::LogUniform { lo, hi } => {
                let u = bits.unit();
                let x = (lo.ln() * (1.0 - u) + hi.ln() * u).exp();
                Node::Float(four_digits(x, lo, hi))
            }
            &Distribution::Int { lo, hi } => Node::Int(bits.int(lo, hi)),
        };
        Value {
            node,
            span: self.span.clone(),
        }
    }
}

/// Keys blake3 to this use of it, so that its stream is like no other hash
/// posterlab takes (a change here moves every sample: name it v2).
const CONTEXT: &str = "posterlab 2025 [sweep.random] draw v1";

/// The bits one field of one sample is drawn from.
struct Bits(blake3::OutputReader);

impl Bits {
    fn new(seed: u64, sample: u64, dotted: &str) -> Bits {
        let mut hasher = blake3::Hasher::new_derive_key(CONTEXT);
        hasher.update(&seed.to_le_bytes());
        hasher.update(&sample.to_le_bytes());
        hasher.update(dotted.as_bytes());
        Bits(hasher.finalize_xof())
    }

    fn next_u64(&mut self) -> u64 {
        let mut bytes = [0; 8];
        self.0.fill(&mut bytes);
        u64::from_le_bytes(bytes)
    }

    /// A number in [0, 1): 53 bits, an f64's precision.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// An integer in `lo..=hi`, each as likely: a draw in the last, partial
    /// block of `2^64 mod span` values is drawn again, where taking it modulo
    /// the span would favour the low values.
    fn int(&mut self, lo: i64, hi: i64) -> i64 {
        let span = (hi as i128 - lo as i128 + 1) as u128;
        let whole_blocks = (1u128 << 64) / span * span;
        loop {
            let x = self.next_u64() as u128;
            if x < whole_blocks {
                return (lo as i128 + (x % span) as i128) as i64;
            }
        }
    }
}

/// `x` rounded to 4 significant digits, kept within `[lo, hi]` (rounding
/// may step just past a bound). A hyper-parameter search needs no more
/// digits, and run names stay readable: `lr=0.0003162`. It also hides the
/// last-bit differences between platforms' `ln` and `exp`.
fn four_digits(x: f64, lo: f64, hi: f64) -> f64 {
    // `{:.3e}` writes the decimal correctly rounded; parsing it back gives
    // the float nearest to it, which prints as those 4 digits.
    let rounded: f64 = format!("{x:.3e}")
        .parse()
        .expect("a formatted float parses");
    rounded.clamp(lo, hi)
}

/// Reads and checks `[sweep.random]` (`key_span`: its name in the header).
/// A field with a problem is recorded and left out; a missing or bad `n` or
/// `seed` is recorded and one sample with seed 0 stands in, so that the
/// distributions are still checked.
pub(super) fn read(
    diags: &mut Collector<'_>,
    table: &Table,
    key_span: &Span,
    claims: &mut Claims,
) -> Random {
    let n = reserved(
        diags,
        table,
        key_span,
        "n",
        1,
        "how many samples to draw, e.g. n = 20",
    );
    let seed = reserved(
        diags,
        table,
        key_span,
        "seed",
        0,
        "the samples are a function of it, e.g. seed = 1; another seed draws afresh",
    );
    let fields: Vec<_> = keys::flatten(table)
        .into_iter()
        .filter(|(dotted, ..)| !RESERVED.contains(&dotted.as_str()))
        .collect();
    if fields.is_empty() {
        diags.error(
            key_span.clone(),
            "[sweep.random] names no field to draw",
            Some("add one, e.g. \"train.lr\" = { log_uniform = [1e-4, 1e-2] }".into()),
        );
    }
    let mut draws = Vec::new();
    for (dotted, field_span, value) in fields {
        let Some(field) = keys::field(diags, &dotted, field_span, RESERVED) else {
            continue;
        };
        let claimed = claims.claim(diags, "[sweep.random]", &field);
        let distribution = distribution::read(diags, &field, value);
        if let (true, Some(distribution)) = (claimed, distribution) {
            draws.push(Draw {
                field,
                distribution,
                span: value.span.clone(),
            });
        }
    }
    Random {
        n: n.map_or(1, |n| n as usize),
        seed: seed.map_or(0, |s| s as u64),
        draws,
    }
}

/// `n` or `seed`: an integer >= `min`, required.
fn reserved(
    diags: &mut Collector<'_>,
    table: &Table,
    key_span: &Span,
    key: &str,
    min: i64,
    what_for: &str,
) -> Option<i64> {
    let Some(Entry { value, .. }) = table.get(key) else {
        diags.error(
            key_span.clone(),
            format!("[sweep.random] needs `{key}`"),
            Some(what_for.to_string()),
        );
        return None;
    };
    match value.node {
        Node::Int(i) if i >= min => Some(i),
        _ => {
            diags.error(
                value.span.clone(),
                format!(
                    "`{key}` in [sweep.random] must be an integer >= {min}, found {}",
                    value.describe()
                ),
                Some(what_for.to_string()),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_digits_rounds_to_four_significant_digits_within_the_bounds() {
        // (x, lo, hi, expected)
        let cases = [
            (0.000123456, 0.0, 1.0, 0.0001235),
            (0.0031622776, 1e-4, 1e-2, 0.003162),
            (123456.0, 0.0, 1e6, 123500.0),
            (0.5, 0.0, 1.0, 0.5),
            (0.0, 0.0, 1.0, 0.0),
            (-1.23456, -5.0, 0.0, -1.235),
            // 0.123449 rounds to 0.1234, below lo: lo it is.
            (0.123449, 0.12345, 0.2, 0.12345),
            // 0.99996 rounds up to 1.0, which hi allows.
            (0.99996, 0.0, 1.0, 1.0),
            // f64::MAX rounds to 1.798e308, past every float: hi it is.
            (f64::MAX, 0.0, f64::MAX, f64::MAX),
        ];
        for (x, lo, hi, expected) in cases {
            assert_eq!(four_digits(x, lo, hi), expected, "{x} in [{lo}, {hi}]");
        }
        assert_eq!(
            format!("{}", four_digits(0.000316227766, 0.0, 1.0)),
            "0.0003162"
        );
    }

    #[test]
    fn int_draws_are_unbiased_and_reach_both_ends() {
        let mut bits = Bits::new(1, 0, "train.seed");
        let mut counts = [0usize; 3];
        for _ in 0..3000 {
            counts[(bits.int(-1, 1) + 1) as usize] += 1;
        }
        for c in counts {
            assert!((900..=1100).contains(&c), "{counts:?}");
        }
        // A span of one value, and the widest span there is.
        assert_eq!(bits.int(5, 5), 5);
        let wide: Vec<i64> = (0..64).map(|_| bits.int(i64::MIN, i64::MAX)).collect();
        assert!(wide.iter().any(|&i| i < 0) && wide.iter().any(|&i| i > 0));
    }

    #[test]
    fn the_bits_are_blake3_keyed_by_seed_sample_and_field() {
        let mut hasher = blake3::Hasher::new_derive_key(CONTEXT);
        hasher.update(&7u64.to_le_bytes());
        hasher.update(&3u64.to_le_bytes());
        hasher.update(b"train.lr");
        let first: [u8; 8] = hasher.finalize().as_bytes()[..8].try_into().unwrap();
        assert_eq!(
            Bits::new(7, 3, "train.lr").next_u64(),
            u64::from_le_bytes(first)
        );
        let u = |seed, k, dotted| Bits::new(seed, k, dotted).unit();
        let base = u(7, 3, "train.lr");
        assert!((0.0..1.0).contains(&base));
        assert_ne!(u(8, 3, "train.lr"), base);
        assert_ne!(u(7, 4, "train.lr"), base);
        assert_ne!(u(7, 3, "train.seed"), base);
    }

    #[test]
    fn a_drawn_number_is_located_at_its_distribution_a_choice_at_its_option() {
        let field = |dotted: &str| {
            let (section, key) = dotted.split_once('.').unwrap();
            SweptField {
                section: section.into(),
                key: key.into(),
                dotted: dotted.into(),
                key_span: 0..1,
            }
        };
        let option = Value {
            node: Node::Str("bce".into()),
            span: 40..45,
        };
        let choice = Draw {
            field: field("train.loss"),
            distribution: Distribution::Choice(vec![option.clone()]),
            span: 30..50,
        };
        assert_eq!(choice.value(1, 0), option);
        let uniform = Draw {
            field: field("train.lr"),
            distribution: Distribution::Uniform { lo: 0.5, hi: 0.5 },
            span: 10..20,
        };
        assert_eq!(
            uniform.value(1, 0),
            Value {
                node: Node::Float(0.5),
                span: 10..20
            }
        );
    }
}
