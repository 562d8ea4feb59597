//! Compiled longest-prefix match over IPv4.
//!
//! What it is for: a route table (or any prefix-to-value map) that is built once and then asked
//! "which prefix covers this address most specifically?" per packet, with no allocation, no
//! lock and no panic. The CIDR prefixes are compiled into a sorted array of elementary interval
//! starts with the winning entry of each interval, and a lookup is one binary search
//! (`partition_point`, branchless in std) and one load.
//!
//! What it is not: not mutable (rebuild it when the routes change), not a trie (it cannot list
//! every covering prefix: keep the source routes for `explain`-style output) and not IPv6.

use ipnet::Ipv4Net;

use crate::tables::addrset::prefix_range;

/// Slot value of an interval that no prefix covers.
const NONE: u32 = u32::MAX;

/// A longest-prefix-match table from IPv4 prefixes to `T`.
///
/// Built by [`Lpm::new`] (or `collect()`); lookups never allocate. Memory per elementary
/// interval (at most `2n + 1` intervals for `n` prefixes): two `u32` and an `Option<T>`, plus
/// the entries.
#[derive(Clone, Debug)]
pub struct Lpm<T: Copy> {
    /// Sorted starts of the elementary intervals; `starts[0] == 0`, so every address falls in
    /// exactly one interval.
    starts: Vec<u32>,
    /// Per interval: index into `entries` of the longest covering prefix, or [`NONE`].
    slots: Vec<u32>,
    /// Per interval: the value of that prefix (kept inline so [`Lpm::lookup`] reads one array).
    values: Vec<Option<T>>,
    /// The distinct prefixes (host bits cleared) and their values.
    entries: Vec<(Ipv4Net, T)>,
}

impl<T: Copy> Default for Lpm<T> {
    fn default() -> Self {
        Self::new(std::iter::empty())
    }
}

impl<T: Copy> FromIterator<(Ipv4Net, T)> for Lpm<T> {
    fn from_iter<I: IntoIterator<Item = (Ipv4Net, T)>>(iter: I) -> Self {
        Self::new(iter)
    }
}

impl<T: Copy> Lpm<T> {
    /// Compiles a table from `(prefix, value)` pairs in O(n log n).
    ///
    /// Host bits of a prefix are ignored (`10.0.0.5/24` is `10.0.0.0/24`). When the same prefix
    /// appears more than once, **the last pair wins**: callers resolve Azure's equal-prefix ties
    /// (user route over BGP over system route) by ordering their input.
    pub fn new(pairs: impl IntoIterator<Item = (Ipv4Net, T)>) -> Self {
        // (lo, prefix_len, input order, prefix, value)
        let mut items: Vec<(u32, u8, usize, Ipv4Net, T)> = pairs
            .into_iter()
            .enumerate()
            .map(|(i, (net, v))| {
                let net = net.trunc();
                (prefix_range(net).0, net.prefix_len(), i, net, v)
            })
            .collect();
        // Sorted by start, then shorter (enclosing) prefix first, then input order.
        items.sort_unstable_by_key(|&(lo, len, i, _, _)| (lo, len, i));
        // Keep the last pair of each repeated prefix.
        let mut entries: Vec<(Ipv4Net, T)> = Vec::with_capacity(items.len());
        for (k, &(lo, len, _, net, v)) in items.iter().enumerate() {
            let repeated_later = items
                .get(k + 1)
                .is_some_and(|&(lo2, len2, ..)| lo2 == lo && len2 == len);
            if !repeated_later {
                entries.push((net, v));
            }
        }
        drop(items);

        let mut b = IntervalBuilder {
            starts: Vec::with_capacity(2 * entries.len() + 1),
            slots: Vec::with_capacity(2 * entries.len() + 1),
        };
        b.emit(0, NONE);
        // Stack of enclosing prefixes: (last address, entry index). CIDR prefixes are laminar,
        // so a prefix that starts inside the top of the stack lies entirely inside it.
        let mut stack: Vec<(u32, u32)> = Vec::with_capacity(33);
        for (idx, &(net, _)) in entries.iter().enumerate() {
            let (lo, hi) = prefix_range(net);
            while let Some(&(top_hi, _)) = stack.last() {
                if top_hi >= lo {
                    break;
                }
                stack.pop();
                let outer = stack.last().map_or(NONE, |&(_, i)| i);
                b.emit(top_hi + 1, outer);
            }
            b.emit(lo, idx as u32);
            stack.push((hi, idx as u32));
        }
        while let Some((top_hi, _)) = stack.pop() {
            if top_hi < u32::MAX {
                let outer = stack.last().map_or(NONE, |&(_, i)| i);
                b.emit(top_hi + 1, outer);
            }
        }
        let IntervalBuilder {
            mut starts,
            mut slots,
        } = b;
        starts.shrink_to_fit();
        slots.shrink_to_fit();
        let values = slots
            .iter()
            .map(|&i| entries.get(i as usize).map(|e| e.1))
            .collect();
        Self {
            starts,
            slots,
            values,
            entries,
        }
    }

    /// The number of distinct prefixes.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table holds no prefix.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The number of elementary intervals the prefixes compile to.
    pub fn intervals(&self) -> usize {
        self.starts.len()
    }

    /// The distinct prefixes and their values, sorted by address then prefix length.
    pub fn entries(&self) -> &[(Ipv4Net, T)] {
        &self.entries
    }

    /// The value of the longest prefix covering `addr` (host order), if any.
    #[inline]
    pub fn lookup(&self, addr: u32) -> Option<T> {
        self.values.get(self.interval(addr)).copied().flatten()
    }

    /// The longest prefix covering `addr` (host order) and its value, if any.
    #[inline]
    pub fn lookup_with_prefix(&self, addr: u32) -> Option<(Ipv4Net, T)> {
        self.entry(addr).copied()
    }

    #[inline]
    fn entry(&self, addr: u32) -> Option<&(Ipv4Net, T)> {
        let i = self.interval(addr);
        let slot = self.slots.get(i).copied().unwrap_or(NONE);
        self.entries.get(slot as usize)
    }

    /// Index of the interval holding `addr`: the last `i` with `starts[i] <= addr`.
    #[inline]
    fn interval(&self, addr: u32) -> usize {
        // `starts[0] == 0 <= addr`, so the count is at least 1.
        self.starts
            .partition_point(|&x| x <= addr)
            .saturating_sub(1)
    }
}

/// Emits elementary intervals, merging neighbours with the same slot.
struct IntervalBuilder {
    starts: Vec<u32>,
    slots: Vec<u32>,
}

impl IntervalBuilder {
    fn emit(&mut self, start: u32, slot: u32) {
        if self.starts.last() == Some(&start) {
            // A longer prefix starting at the same address replaces the interval.
            self.starts.pop();
            self.slots.pop();
        }
        if self.slots.last() == Some(&slot) {
            return;
        }
        self.starts.push(start);
        self.slots.push(slot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ip_network::Ipv4Network;
    use ip_network_table::IpNetworkTable;
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> u32 {
        u32::from(s.parse::<Ipv4Addr>().unwrap())
    }

    #[test]
    fn empty_table_matches_nothing() {
        let t: Lpm<u8> = Lpm::default();
        assert!(t.is_empty());
        assert_eq!(t.lookup(0), None);
        assert_eq!(t.lookup(u32::MAX), None);
        assert_eq!(t.intervals(), 1);
    }

    #[test]
    fn nested_prefixes_and_default_route() {
        let t: Lpm<u8> = [
            (net("0.0.0.0/0"), 0),
            (net("10.0.0.0/8"), 1),
            (net("10.1.0.0/16"), 2),
            (net("10.1.2.0/24"), 3),
            (net("192.0.2.9/32"), 4),
            (net("255.255.255.255/32"), 5),
        ]
        .into_iter()
        .collect();
        assert_eq!(t.lookup(ip("9.255.255.255")), Some(0));
        assert_eq!(t.lookup(ip("10.0.0.0")), Some(1));
        assert_eq!(t.lookup(ip("10.1.1.255")), Some(2));
        assert_eq!(t.lookup(ip("10.1.2.0")), Some(3));
        assert_eq!(t.lookup(ip("10.1.2.255")), Some(3));
        assert_eq!(t.lookup(ip("10.1.3.0")), Some(2));
        assert_eq!(t.lookup(ip("10.2.0.0")), Some(1));
        assert_eq!(t.lookup(ip("11.0.0.0")), Some(0));
        assert_eq!(t.lookup(ip("192.0.2.8")), Some(0));
        assert_eq!(t.lookup(ip("192.0.2.9")), Some(4));
        assert_eq!(t.lookup(ip("192.0.2.10")), Some(0));
        assert_eq!(t.lookup(u32::MAX), Some(5));
        assert_eq!(t.lookup(0), Some(0));
        assert_eq!(
            t.lookup_with_prefix(ip("10.1.2.7")),
            Some((net("10.1.2.0/24"), 3))
        );
    }

    #[test]
    fn last_duplicate_wins_and_host_bits_are_cleared() {
        let t: Lpm<&str> = Lpm::new([
            (net("198.51.100.0/24"), "first"),
            (net("203.0.113.0/24"), "other"),
            (net("198.51.100.77/24"), "second"),
        ]);
        assert_eq!(t.len(), 2);
        assert_eq!(
            t.lookup_with_prefix(ip("198.51.100.1")),
            Some((net("198.51.100.0/24"), "second"))
        );
        assert_eq!(t.lookup(ip("198.51.99.255")), None);
        assert_eq!(t.lookup(ip("203.0.114.0")), None);
    }

    #[test]
    fn build_100k_prefixes() {
        let mut x: u32 = 0x9E37_79B9;
        let pairs: Vec<(Ipv4Net, u32)> = (0..100_000u32)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let len = 8 + (x % 25) as u8;
                (Ipv4Net::new(Ipv4Addr::from(x), len).unwrap(), i)
            })
            .collect();
        let t = Lpm::new(pairs.iter().copied());
        assert!(t.intervals() <= 2 * t.len() + 1);
        // Spot-check against a naive scan.
        for &(p, _) in pairs.iter().step_by(997) {
            let a = u32::from(p.network());
            assert_eq!(t.lookup_with_prefix(a), naive(&pairs, a));
        }
    }

    /// Longest covering prefix, the last one on equal prefixes.
    fn naive<T: Copy>(pairs: &[(Ipv4Net, T)], a: u32) -> Option<(Ipv4Net, T)> {
        let mut best: Option<(Ipv4Net, T)> = None;
        for &(p, v) in pairs {
            let p = p.trunc();
            if p.contains(&Ipv4Addr::from(a))
                && best.is_none_or(|(b, _)| p.prefix_len() >= b.prefix_len())
            {
                best = Some((p, v));
            }
        }
        best
    }

    fn arb_prefix() -> impl Strategy<Value = Ipv4Net> {
        let bases = prop_oneof![
            Just(ip("10.0.0.0")),
            Just(ip("192.0.2.0")),
            Just(ip("198.51.100.0")),
            Just(ip("203.0.113.0")),
            Just(0u32),
            Just(u32::MAX - 63),
            any::<u32>(),
        ];
        let lens = prop_oneof![Just(0u8), Just(32u8), 0u8..=32, 20u8..=32];
        (bases, 0u32..512, lens).prop_map(|(b, off, len)| {
            Ipv4Net::new(Ipv4Addr::from(b.wrapping_add(off)), len).unwrap()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn equals_ip_network_table_and_naive(
            mut pairs in proptest::collection::vec((arb_prefix(), 0u16..100), 0..40),
            dup in any::<prop::sample::Index>(),
            dup_val in 100u16..200,
            extra in proptest::collection::vec(any::<u32>(), 0..32),
        ) {
            // Repeat one prefix with a new value, so duplicates appear in most cases.
            if !pairs.is_empty() {
                let p = pairs[dup.index(pairs.len())].0;
                pairs.push((p, dup_val));
            }
            let t = Lpm::new(pairs.iter().copied());
            let mut oracle = IpNetworkTable::new();
            for &(p, v) in &pairs {
                let p = p.trunc();
                oracle.insert(Ipv4Network::new(p.network(), p.prefix_len()).unwrap(), v);
            }
            let mut addrs = extra;
            for &(p, _) in &pairs {
                let (lo, hi) = prefix_range(p.trunc());
                addrs.extend([lo, hi, lo.wrapping_sub(1), hi.wrapping_add(1)]);
            }
            addrs.extend([0, u32::MAX]);
            for a in addrs {
                let got = t.lookup_with_prefix(a);
                prop_assert_eq!(got, naive(&pairs, a), "addr {}", Ipv4Addr::from(a));
                let want = oracle
                    .longest_match_ipv4(Ipv4Addr::from(a))
                    .map(|(n, &v)| (Ipv4Net::new(n.network_address(), n.netmask()).unwrap(), v));
                prop_assert_eq!(got, want, "addr {}", Ipv4Addr::from(a));
                prop_assert_eq!(t.lookup(a), got.map(|g| g.1));
            }
            // Neighbouring intervals never hold the same slot, and the count stays bounded.
            prop_assert!(t.slots.windows(2).all(|w| w[0] != w[1]));
            prop_assert!(t.starts.windows(2).all(|w| w[0] < w[1]));
            prop_assert!(t.intervals() <= 2 * t.len() + 1);
        }
    }
}
