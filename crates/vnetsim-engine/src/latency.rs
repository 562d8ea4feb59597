//! A compact latency histogram per flow, with hdrhistogram's bucketing at 3 significant digits.
//!
//! What it is for: percentiles (p50 ... max) of one flow's one-way latency when a run has 100,000
//! flows: a dense `hdrhistogram::Histogram` costs kilobytes per flow, while one flow's latencies
//! fall in a handful of buckets, so this keeps only the buckets in use (sorted `(bucket, count)`
//! pairs, the lowest inline so that a flow of constant latency never allocates) and no total
//! count (the flow counts its deliveries already). Buckets are exact below 2,048 ns and keep 11
//! significant bits above (relative error below 0.05 %), like hdrhistogram with 3 significant
//! figures. Values are reported as the bucket's highest equivalent value, as hdrhistogram does.
//! What it is not: a
//! general histogram (no serialization; [`LatencyHistogram::merge`] exists for the two halves
//! of one replay, not for combining runs).

use hdrhistogram::Histogram;
use thin_vec::ThinVec;

/// Sub-bucket bits: values keep 11 significant bits (2,048 sub-buckets, as 3 sig. figures).
const PRECISION_BITS: u32 = 11;

/// Sparse latency histogram.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LatencyHistogram {
    /// The lowest bucket in use, kept inline: (bucket lower bound in ns, count), count 0 when
    /// nothing was recorded. A flow whose latency does not vary never allocates.
    first: (u64, u64),
    /// The other buckets in use, sorted, all above `first`: a thin vector (one pointer, its
    /// length and capacity in the allocation), so that a flow's state stays within its budget.
    more: ThinVec<(u64, u64)>,
    min: u64,
    max: u64,
    /// Sum of the values (saturating: 584 years of summed latency).
    sum: u64,
}

/// The lower bound of the bucket holding `v`.
#[inline]
fn bucket_of(v: u64) -> u64 {
    let bits = 64 - v.leading_zeros();
    if bits <= PRECISION_BITS {
        v
    } else {
        let shift = bits - PRECISION_BITS;
        (v >> shift) << shift
    }
}

/// The highest value that falls in the bucket starting at `lower`.
#[inline]
fn bucket_top(lower: u64) -> u64 {
    let bits = 64 - lower.leading_zeros();
    if bits <= PRECISION_BITS {
        lower
    } else {
        lower + ((1u64 << (bits - PRECISION_BITS)) - 1)
    }
}

impl LatencyHistogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one latency in ns.
    #[inline]
    pub fn record(&mut self, v: u64) {
        let b = bucket_of(v);
        if self.first.1 == 0 {
            self.first = (b, 1);
            self.min = v;
        } else {
            self.min = self.min.min(v);
            if b == self.first.0 {
                self.first.1 += 1;
            } else if b < self.first.0 {
                self.more.insert(0, self.first);
                self.first = (b, 1);
            } else {
                // Latencies of one flow mostly repeat a bucket: check the last one first.
                match self.more.last_mut() {
                    Some((last, n)) if *last == b => *n += 1,
                    _ => match self.more.binary_search_by_key(&b, |(k, _)| *k) {
                        Ok(i) => self.more[i].1 += 1,
                        Err(i) => self.more.insert(i, (b, 1)),
                    },
                }
            }
        }
        self.max = self.max.max(v);
        self.sum = self.sum.saturating_add(v);
    }

    /// Adds every value `other` recorded, as if they had been recorded here: the histogram
    /// equals one that recorded the values of both, in any order.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        if other.is_empty() {
            return;
        }
        if self.is_empty() {
            *self = other.clone();
            return;
        }
        for (b, n) in other.in_use() {
            if b == self.first.0 {
                self.first.1 += n;
            } else if b < self.first.0 {
                self.more.insert(0, self.first);
                self.first = (b, n);
            } else {
                match self.more.binary_search_by_key(&b, |(k, _)| *k) {
                    Ok(i) => self.more[i].1 += n,
                    Err(i) => self.more.insert(i, (b, n)),
                }
            }
        }
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        // Saturating sums of non-negative values do not depend on their order.
        self.sum = self.sum.saturating_add(other.sum);
    }

    /// Number of values recorded.
    pub fn len(&self) -> u64 {
        self.in_use().map(|(_, n)| n).sum()
    }

    /// The buckets in use, in increasing order.
    fn in_use(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        (self.first.1 > 0)
            .then_some(self.first)
            .into_iter()
            .chain(self.more.iter().copied())
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.first.1 == 0
    }

    /// Smallest value recorded (exact).
    pub fn min(&self) -> u64 {
        self.min
    }

    /// Largest value recorded (exact).
    pub fn max(&self) -> u64 {
        self.max
    }

    /// Mean of the values recorded (exact).
    pub fn mean(&self) -> f64 {
        match self.len() {
            0 => 0.0,
            n => self.sum as f64 / n as f64,
        }
    }

    /// The value at quantile `q` (0..=1): the top of the bucket holding the value of rank
    /// `ceil(q * count)` (at least 1), capped at the exact maximum.
    pub fn value_at_quantile(&self, q: f64) -> u64 {
        let count = self.len();
        if count == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * count as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (b, n) in self.in_use() {
            seen += n;
            if seen >= rank {
                return bucket_top(b).min(self.max);
            }
        }
        self.max
    }

    /// [`value_at_quantile`](Self::value_at_quantile) of each of `qs`, which must be in
    /// increasing order, in one pass over the buckets (a report row asks for five).
    pub fn quantiles<const N: usize>(&self, qs: [f64; N]) -> [u64; N] {
        let mut out = [0; N];
        if self.is_empty() {
            return out;
        }
        // One bucket (a flow of constant latency): every quantile is its top.
        if self.more.is_empty() {
            return [bucket_top(self.first.0).min(self.max); N];
        }
        let count = self.len();
        let mut buckets = self.in_use();
        let mut seen = 0u64;
        let mut top = self.max;
        for (k, q) in qs.into_iter().enumerate() {
            let rank = ((q.clamp(0.0, 1.0) * count as f64).ceil() as u64).max(1);
            while seen < rank {
                match buckets.next() {
                    Some((b, n)) => {
                        seen += n;
                        top = bucket_top(b).min(self.max);
                    }
                    None => {
                        top = self.max;
                        break;
                    }
                }
            }
            out[k] = top;
        }
        out
    }

    /// (bucket value, count) pairs in increasing order, for CDF plots.
    pub fn buckets(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.in_use().map(|(b, n)| (bucket_top(b).min(self.max), n))
    }

    /// Adds every value to an hdrhistogram (the run-wide histogram).
    pub fn add_to(&self, h: &mut Histogram<u64>) {
        for (b, n) in self.in_use() {
            let _ = h.record_n(bucket_top(b).min(self.max), n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn small_values_are_exact() {
        let mut h = LatencyHistogram::new();
        for v in [5, 7, 7, 2047] {
            h.record(v);
        }
        assert_eq!(h.value_at_quantile(0.0), 5);
        assert_eq!(h.value_at_quantile(0.5), 7);
        assert_eq!(h.value_at_quantile(1.0), 2047);
        assert_eq!(h.len(), 4);
    }

    #[test]
    fn a_constant_latency_never_allocates() {
        let mut h = LatencyHistogram::new();
        for _ in 0..1000 {
            h.record(52_000);
        }
        assert_eq!(h.more.capacity(), 0);
        assert_eq!(h.len(), 1000);
    }

    proptest! {
        /// Percentiles agree with hdrhistogram at 3 significant figures within its precision.
        #[test]
        fn quantiles_match_hdrhistogram(values in prop::collection::vec(1u64..10_000_000_000, 1..400),
                                        q in 0.0f64..=1.0) {
            let mut ours = LatencyHistogram::new();
            let mut hdr = Histogram::<u64>::new(3).unwrap();
            for &v in &values {
                ours.record(v);
                hdr.record(v).unwrap();
            }
            let a = ours.value_at_quantile(q) as f64;
            let b = hdr.value_at_quantile(q) as f64;
            prop_assert!((a - b).abs() <= b * 0.002 + 1.0, "q {q}: ours {a}, hdr {b}");
            prop_assert_eq!(ours.max(), *values.iter().max().unwrap());
            prop_assert_eq!(ours.min(), *values.iter().min().unwrap());
        }

        /// Quantiles asked together are those asked one by one.
        #[test]
        fn quantiles_together_equal_one_by_one(
            values in prop::collection::vec(0u64..10_000_000, 0..200),
            mut qs in prop::array::uniform5(0.0f64..=1.0),
        ) {
            qs.sort_by(f64::total_cmp);
            let mut h = LatencyHistogram::new();
            for &v in &values {
                h.record(v);
            }
            prop_assert_eq!(h.quantiles(qs), qs.map(|q| h.value_at_quantile(q)));
            let fixed = [0.5, 0.9, 0.99, 0.999];
            prop_assert_eq!(h.quantiles(fixed), fixed.map(|q| h.value_at_quantile(q)));
        }

        /// The buckets in use are exactly those of a plain sorted map, in any recording order.
        #[test]
        fn buckets_equal_a_plain_map(values in prop::collection::vec(0u64..100_000, 0..200)) {
            let mut ours = LatencyHistogram::new();
            let mut plain = std::collections::BTreeMap::new();
            for &v in &values {
                ours.record(v);
                *plain.entry(bucket_of(v)).or_insert(0u64) += 1;
            }
            let want: Vec<(u64, u64)> = plain.into_iter().collect();
            prop_assert_eq!(ours.in_use().collect::<Vec<_>>(), want);
            prop_assert_eq!(ours.len(), values.len() as u64);
            prop_assert_eq!(ours.is_empty(), values.is_empty());
        }

        /// Two histograms merged equal one that recorded all their values.
        #[test]
        fn merged_equals_recorded_together(
            a in prop::collection::vec(0u64..10_000_000, 0..100),
            b in prop::collection::vec(0u64..10_000_000, 0..100),
        ) {
            let (mut left, mut right, mut both) =
                (LatencyHistogram::new(), LatencyHistogram::new(), LatencyHistogram::new());
            for &v in &a {
                left.record(v);
                both.record(v);
            }
            for &v in &b {
                right.record(v);
                both.record(v);
            }
            left.merge(&right);
            prop_assert_eq!(left, both);
        }

        /// Every value falls in its bucket: lower <= v <= top, within 0.05 %.
        #[test]
        fn buckets_hold_their_values(v in any::<u64>()) {
            let b = bucket_of(v);
            prop_assert!(b <= v && v <= bucket_top(b));
            prop_assert!((bucket_top(b) - b) as f64 <= (v as f64) / 1024.0);
        }
    }
}
