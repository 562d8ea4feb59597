//! Sets of IPv4 addresses as sorted, disjoint, merged inclusive ranges.
//!
//! What it is for: the numeric form of NSG sources and destinations and of service tags
//! (VirtualNetwork, Internet, ...), built once when a table is compiled and then asked
//! [`AddrSet::contains`] per packet, without allocating.
//!
//! What it is not: not a prefix table (it keeps no value per prefix: see
//! [`crate::tables::lpm`]) and not IPv6. Set operations ([`AddrSet::union`],
//! [`AddrSet::difference`]) allocate and belong to compile time, not to the packet path.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// Up to this many ranges, [`AddrSet::contains`] scans linearly instead of binary searching.
const LINEAR_SCAN_MAX: usize = 4;

/// A set of IPv4 addresses (host-order `u32`).
///
/// Invariant: the ranges are inclusive `(lo, hi)` with `lo <= hi`, sorted, disjoint and merged:
/// between two consecutive ranges there is at least one address outside the set. Two sets with
/// the same addresses are therefore equal (`==`) and have the same [`AddrSet::ranges`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct AddrSet {
    ranges: Vec<(u32, u32)>,
}

impl AddrSet {
    /// The empty set.
    pub fn empty() -> Self {
        Self { ranges: Vec::new() }
    }

    /// Every IPv4 address (0.0.0.0/0).
    pub fn all() -> Self {
        Self {
            ranges: vec![(0, u32::MAX)],
        }
    }

    /// The union of the given prefixes. Host bits of a prefix are ignored (`10.0.0.5/24` is
    /// `10.0.0.0/24`).
    pub fn from_prefixes(prefixes: impl IntoIterator<Item = Ipv4Net>) -> Self {
        Self::from_ranges(prefixes.into_iter().map(prefix_range))
    }

    /// The union of the given inclusive ranges `(lo, hi)`, in any order, overlapping or not.
    /// A range with `lo > hi` is empty and ignored.
    pub fn from_ranges(ranges: impl IntoIterator<Item = (u32, u32)>) -> Self {
        let mut v: Vec<(u32, u32)> = ranges.into_iter().filter(|&(lo, hi)| lo <= hi).collect();
        v.sort_unstable();
        Self {
            ranges: merge_sorted(v),
        }
    }

    /// Whether the set holds no address.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Whether the set holds every address.
    #[inline]
    pub fn is_all(&self) -> bool {
        self.ranges.len() == 1 && self.ranges[0] == (0, u32::MAX)
    }

    /// The sorted, disjoint, merged inclusive ranges of the set.
    #[inline]
    pub fn ranges(&self) -> &[(u32, u32)] {
        &self.ranges
    }

    /// Whether `addr` (host order) is in the set. No allocation; linear scan for small sets,
    /// binary search otherwise.
    #[inline]
    pub fn contains(&self, addr: u32) -> bool {
        let r = &self.ranges[..];
        if r.len() <= LINEAR_SCAN_MAX {
            r.iter().any(|&(lo, hi)| lo <= addr && addr <= hi)
        } else {
            // Index of the first range starting after `addr`; the candidate is the one before.
            let i = r.partition_point(|&(lo, _)| lo <= addr);
            i > 0 && addr <= r[i - 1].1
        }
    }

    /// Whether `addr` is in the set.
    #[inline]
    pub fn contains_ip(&self, addr: Ipv4Addr) -> bool {
        self.contains(u32::from(addr))
    }

    /// The addresses in `self` or in `other`.
    pub fn union(&self, other: &Self) -> Self {
        let (a, b) = (&self.ranges, &other.ranges);
        let mut v = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            let take_a = j == b.len() || (i < a.len() && a[i].0 <= b[j].0);
            let next = if take_a {
                i += 1;
                a[i - 1]
            } else {
                j += 1;
                b[j - 1]
            };
            v.push(next);
        }
        Self {
            ranges: merge_sorted(v),
        }
    }

    /// The addresses in `self` and not in `other`.
    pub fn difference(&self, other: &Self) -> Self {
        let b = &other.ranges;
        let mut out = Vec::with_capacity(self.ranges.len() + b.len());
        let mut j = 0;
        for &(lo, hi) in &self.ranges {
            // Skip subtrahend ranges entirely below this range.
            while j < b.len() && b[j].1 < lo {
                j += 1;
            }
            let mut cur = lo;
            let mut k = j;
            let mut done = false;
            while k < b.len() && b[k].0 <= hi {
                let (blo, bhi) = b[k];
                if blo > cur {
                    out.push((cur, blo - 1));
                }
                if bhi >= hi {
                    done = true;
                    break;
                }
                cur = cur.max(bhi + 1);
                k += 1;
            }
            if !done {
                out.push((cur, hi));
            }
            // A subtrahend range may also reach into the next range: keep `j` at `k`.
            j = k;
        }
        Self { ranges: out }
    }

    /// The minimal list of CIDR prefixes covering exactly the set, in address order (for
    /// display).
    pub fn to_prefixes(&self) -> Vec<Ipv4Net> {
        let mut out = Vec::new();
        for &(lo, hi) in &self.ranges {
            range_to_prefixes(lo, hi, &mut out);
        }
        out
    }
}

/// The inclusive address range of a prefix (host bits ignored).
#[inline]
pub(crate) fn prefix_range(net: Ipv4Net) -> (u32, u32) {
    let lo = u32::from(net.network());
    let hi = u32::from(net.broadcast());
    (lo, hi)
}

/// Merges sorted (by `lo`) ranges into disjoint, non-adjacent ones, in place.
fn merge_sorted(mut v: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    let mut w = 0usize;
    for r in 0..v.len() {
        let (lo, hi) = v[r];
        if w > 0 {
            let last = &mut v[w - 1];
            // Overlapping or adjacent: `lo <= last.hi + 1`, written without overflow.
            if lo == 0 || lo - 1 <= last.1 {
                last.1 = last.1.max(hi);
                continue;
            }
        }
        v[w] = (lo, hi);
        w += 1;
    }
    v.truncate(w);
    v
}

/// Appends the minimal prefixes covering `lo..=hi`.
fn range_to_prefixes(lo: u32, hi: u32, out: &mut Vec<Ipv4Net>) {
    let mut cur = u64::from(lo);
    let end = u64::from(hi) + 1;
    while cur < end {
        // Largest block aligned at `cur` that fits before `end`.
        let align = if cur == 0 {
            32
        } else {
            cur.trailing_zeros().min(32)
        };
        let fit = 63 - (end - cur).leading_zeros();
        let bits = align.min(fit);
        let len = (32 - bits) as u8;
        let net = Ipv4Net::new(Ipv4Addr::from(cur as u32), len).expect("prefix length <= 32");
        out.push(net);
        cur += 1u64 << bits;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> u32 {
        u32::from(s.parse::<Ipv4Addr>().unwrap())
    }

    #[test]
    fn empty_and_all() {
        let e = AddrSet::empty();
        assert!(e.is_empty() && !e.is_all());
        assert!(!e.contains(0) && !e.contains(u32::MAX));
        assert!(e.to_prefixes().is_empty());
        let a = AddrSet::all();
        assert!(a.is_all() && !a.is_empty());
        assert!(a.contains(0) && a.contains(u32::MAX));
        assert_eq!(a.to_prefixes(), vec![net("0.0.0.0/0")]);
        assert_eq!(AddrSet::from_prefixes([net("0.0.0.0/0")]), a);
        assert_eq!(AddrSet::default(), e);
    }

    #[test]
    fn adjacent_prefixes_merge() {
        let s = AddrSet::from_prefixes([net("192.0.2.128/25"), net("192.0.2.0/25")]);
        assert_eq!(s.ranges(), &[(ip("192.0.2.0"), ip("192.0.2.255"))]);
        assert_eq!(s.to_prefixes(), vec![net("192.0.2.0/24")]);
    }

    #[test]
    fn contains_edges() {
        let s = AddrSet::from_prefixes([
            net("10.0.0.0/8"),
            net("192.0.2.0/24"),
            net("198.51.100.7/32"),
            net("203.0.113.64/26"),
            net("203.0.113.200/30"),
        ]);
        assert_eq!(s.ranges().len(), 5, "more than the linear-scan size");
        for (a, inside) in [
            ("9.255.255.255", false),
            ("10.0.0.0", true),
            ("10.255.255.255", true),
            ("11.0.0.0", false),
            ("192.0.2.0", true),
            ("192.0.2.255", true),
            ("198.51.100.6", false),
            ("198.51.100.7", true),
            ("198.51.100.8", false),
            ("203.0.113.63", false),
            ("203.0.113.127", true),
            ("203.0.113.203", true),
            ("203.0.113.204", false),
            ("255.255.255.255", false),
        ] {
            assert_eq!(s.contains(ip(a)), inside, "{a}");
            assert_eq!(s.contains_ip(a.parse().unwrap()), inside, "{a}");
        }
    }

    #[test]
    fn difference_splits_and_trims() {
        let vnet = AddrSet::from_prefixes([net("10.0.0.0/8")]);
        let hole = AddrSet::from_prefixes([net("10.1.0.0/16"), net("10.255.255.255/32")]);
        let d = vnet.difference(&hole);
        assert_eq!(
            d.to_prefixes(),
            vec![
                net("10.0.0.0/16"),
                net("10.2.0.0/15"),
                net("10.4.0.0/14"),
                net("10.8.0.0/13"),
                net("10.16.0.0/12"),
                net("10.32.0.0/11"),
                net("10.64.0.0/10"),
                net("10.128.0.0/10"),
                net("10.192.0.0/11"),
                net("10.224.0.0/12"),
                net("10.240.0.0/13"),
                net("10.248.0.0/14"),
                net("10.252.0.0/15"),
                net("10.254.0.0/16"),
                net("10.255.0.0/17"),
                net("10.255.128.0/18"),
                net("10.255.192.0/19"),
                net("10.255.224.0/20"),
                net("10.255.240.0/21"),
                net("10.255.248.0/22"),
                net("10.255.252.0/23"),
                net("10.255.254.0/24"),
                net("10.255.255.0/25"),
                net("10.255.255.128/26"),
                net("10.255.255.192/27"),
                net("10.255.255.224/28"),
                net("10.255.255.240/29"),
                net("10.255.255.248/30"),
                net("10.255.255.252/31"),
                net("10.255.255.254/32"),
            ]
        );
        assert!(AddrSet::all().difference(&AddrSet::all()).is_empty());
        let internet = AddrSet::all().difference(&vnet);
        assert!(internet.contains(ip("192.0.2.1")) && !internet.contains(ip("10.9.9.9")));
        assert_eq!(internet.union(&vnet), AddrSet::all());
    }

    #[test]
    fn from_ranges_ignores_empty_and_merges_at_max() {
        let s = AddrSet::from_ranges([(5, 4), (u32::MAX, u32::MAX), (0, 0), (1, u32::MAX - 1)]);
        assert!(s.is_all());
    }

    /// Checks the representation invariant.
    fn well_formed(s: &AddrSet) -> bool {
        s.ranges().iter().all(|&(lo, hi)| lo <= hi)
            && s.ranges()
                .windows(2)
                .all(|w| w[0].1 < w[1].0 && w[1].0 - w[0].1 >= 2)
    }

    fn naive_contains(prefixes: &[Ipv4Net], a: u32) -> bool {
        prefixes.iter().any(|p| p.contains(&Ipv4Addr::from(a)))
    }

    /// Prefixes drawn near a few documentation and private bases, so they overlap often.
    fn arb_prefix() -> impl Strategy<Value = Ipv4Net> {
        let bases = prop_oneof![
            Just(ip("192.0.2.0")),
            Just(ip("198.51.100.0")),
            Just(ip("203.0.113.0")),
            Just(ip("10.0.0.0")),
            Just(0u32),
            Just(u32::MAX - 255),
            any::<u32>(),
        ];
        (bases, 0u32..1024, 0u8..=32).prop_map(|(base, off, len)| {
            Ipv4Net::new(Ipv4Addr::from(base.wrapping_add(off)), len)
                .unwrap()
                .trunc()
        })
    }

    /// Probe addresses: edges of the given prefixes and random ones.
    fn probes(a: &[Ipv4Net], b: &[Ipv4Net], extra: &[u32]) -> Vec<u32> {
        let mut v = extra.to_vec();
        for p in a.iter().chain(b) {
            let (lo, hi) = prefix_range(*p);
            v.extend([lo, hi, lo.wrapping_sub(1), hi.wrapping_add(1)]);
        }
        v.extend([0, u32::MAX]);
        v
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn matches_naive_prefix_list(
            a in proptest::collection::vec(arb_prefix(), 0..12),
            b in proptest::collection::vec(arb_prefix(), 0..12),
            extra in proptest::collection::vec(any::<u32>(), 0..16),
        ) {
            let sa = AddrSet::from_prefixes(a.iter().copied());
            let sb = AddrSet::from_prefixes(b.iter().copied());
            let u = sa.union(&sb);
            let d = sa.difference(&sb);
            for s in [&sa, &sb, &u, &d] {
                prop_assert!(well_formed(s), "{s:?}");
            }
            for x in probes(&a, &b, &extra) {
                let (ia, ib) = (naive_contains(&a, x), naive_contains(&b, x));
                prop_assert_eq!(sa.contains(x), ia);
                prop_assert_eq!(u.contains(x), ia || ib);
                prop_assert_eq!(d.contains(x), ia && !ib);
            }
            prop_assert_eq!(sa.is_empty(), a.is_empty());
            if a.iter().any(|p| p.prefix_len() == 0) {
                prop_assert!(sa.is_all());
            }
            if sa.is_all() {
                prop_assert!(probes(&a, &b, &extra).into_iter().all(|x| naive_contains(&a, x)));
            }
            // The set is rebuilt exactly from its prefixes, the prefixes are in order, disjoint,
            // and no two of them are siblings that a shorter prefix would replace.
            let ps = u.to_prefixes();
            prop_assert_eq!(&AddrSet::from_prefixes(ps.iter().copied()), &u);
            for w in ps.windows(2) {
                let (a0, a1) = (prefix_range(w[0]), prefix_range(w[1]));
                prop_assert!(a0.1 < a1.0);
                let siblings = w[0].prefix_len() == w[1].prefix_len()
                    && w[0].prefix_len() > 0
                    && w[0].supernet() == w[1].supernet();
                prop_assert!(!siblings, "{:?} and {:?} should have merged", w[0], w[1]);
            }
        }

        #[test]
        fn from_ranges_matches_naive(
            rs in proptest::collection::vec((any::<u32>(), 0u32..5000), 0..10),
            extra in proptest::collection::vec(any::<u32>(), 0..16),
        ) {
            let ranges: Vec<(u32, u32)> =
                rs.iter().map(|&(lo, len)| (lo, lo.saturating_add(len))).collect();
            let s = AddrSet::from_ranges(ranges.iter().copied());
            prop_assert!(well_formed(&s));
            let mut xs = extra.clone();
            for &(lo, hi) in &ranges {
                xs.extend([lo, hi, lo.wrapping_sub(1), hi.wrapping_add(1)]);
            }
            for x in xs {
                let naive = ranges.iter().any(|&(lo, hi)| lo <= x && x <= hi);
                prop_assert_eq!(s.contains(x), naive);
            }
        }
    }
}
