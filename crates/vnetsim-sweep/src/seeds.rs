//! Seed sets and shards: which replays a sweep, or one host's part of it, runs.
//!
//! What it is for: parsing `--seeds` (`A..B` or `1,2,3`) with its limits checked before anything
//! is allocated, and `--shard I/N`, which gives host I of N a contiguous block of the seed set
//! (the blocks of shards 0, 1, ..., N-1, one after another, are the whole set in order, and
//! differ in size by at most one seed). What it is not: the replays or the merge.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use serde::ser::SerializeSeq;

/// The most seeds one sweep takes (a bound checked before anything is allocated).
pub const MAX_SEEDS: u64 = 1_000_000;

/// The seeds of a sweep: a half-open range or an explicit list, never expanded in memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seeds {
    /// `A..B`: A, A+1, ..., B-1.
    Range {
        /// First seed.
        start: u64,
        /// One past the last seed.
        end: u64,
    },
    /// `1,2,3`: the seeds in the order given.
    List(Vec<u64>),
}

/// Why a seed set was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SeedsError {
    /// A bound or list item is not an unsigned 64-bit integer.
    #[error("`{0}` is not a seed (an integer from 0 to 18446744073709551615)")]
    NotANumber(String),
    /// `A..B` with B not above A.
    #[error("the range {start}..{end} is empty (B is excluded, so B must be greater than A)")]
    Empty {
        /// A.
        start: u64,
        /// B.
        end: u64,
    },
    /// More seeds than [`MAX_SEEDS`].
    #[error(
        "{count} seeds exceed the limit of {MAX_SEEDS} seeds per sweep (split it into several sweeps)"
    )]
    TooMany {
        /// How many seeds were asked for.
        count: u64,
    },
    /// A seed listed twice would replay the same run twice.
    #[error("seed {0} is listed twice")]
    Duplicate(u64),
}

impl FromStr for Seeds {
    type Err = SeedsError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let number = |s: &str| {
            let s = s.trim();
            s.parse::<u64>()
                .map_err(|_| SeedsError::NotANumber(s.to_string()))
        };
        if let Some((a, b)) = text.split_once("..") {
            let (start, end) = (number(a)?, number(b)?);
            if end <= start {
                return Err(SeedsError::Empty { start, end });
            }
            if end - start > MAX_SEEDS {
                return Err(SeedsError::TooMany { count: end - start });
            }
            return Ok(Seeds::Range { start, end });
        }
        let mut list = Vec::new();
        for item in text.split(',') {
            if list.len() as u64 == MAX_SEEDS {
                return Err(SeedsError::TooMany {
                    count: text.split(',').count() as u64,
                });
            }
            list.push(number(item)?);
        }
        let mut sorted = list.clone();
        sorted.sort_unstable();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(SeedsError::Duplicate(w[0]));
        }
        Ok(Seeds::List(list))
    }
}

impl Seeds {
    /// How many seeds.
    pub fn len(&self) -> usize {
        match self {
            // The parser bounds a range by MAX_SEEDS, which fits in usize.
            Seeds::Range { start, end } => (end - start) as usize,
            Seeds::List(list) => list.len(),
        }
    }

    /// True when there is no seed (only a list built by hand can be empty).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`-th seed.
    pub fn get(&self, i: usize) -> Option<u64> {
        match self {
            Seeds::Range { start, end } => start.checked_add(i as u64).filter(|s| s < end),
            Seeds::List(list) => list.get(i).copied(),
        }
    }

    /// The seeds of `shard`: its contiguous block of this set, in order (possibly empty when
    /// there are fewer seeds than shards).
    pub fn shard(&self, shard: Shard) -> Seeds {
        self.slice(shard.block(self.len()))
    }

    /// The seeds at positions `block` (clamped to the set), in order.
    pub fn slice(&self, block: std::ops::Range<usize>) -> Seeds {
        let end = block.end.min(self.len());
        let block = block.start.min(end)..end;
        match self {
            Seeds::Range { start, .. } => Seeds::Range {
                start: start + block.start as u64,
                end: start + block.end as u64,
            },
            Seeds::List(list) => Seeds::List(list[block].to_vec()),
        }
    }

    /// The seeds in order.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }
}

impl fmt::Display for Seeds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Seeds::Range { start, end } => write!(f, "{start}..{end}"),
            Seeds::List(list) => {
                for (i, s) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{s}")?;
                }
                Ok(())
            }
        }
    }
}

impl Serialize for Seeds {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for s in self.iter() {
            seq.serialize_element(&s)?;
        }
        seq.end()
    }
}

/// A part of a sweep: shard `index` of `count` (`--shard I/N`, I from 0).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct Shard {
    /// Which shard, from 0.
    pub index: u64,
    /// How many shards the sweep is split into.
    pub count: u64,
}

/// Why a shard was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShardError {
    /// Not `I/N` with two integers.
    #[error("`{0}` is not a shard: expected I/N, shard I (from 0) of N, for example 0/4")]
    Syntax(String),
    /// N is zero or I is not below N.
    #[error(
        "shard {index}/{count} does not exist: I counts from 0 and must be below N (N at least 1)"
    )]
    OutOfRange {
        /// I.
        index: u64,
        /// N.
        count: u64,
    },
    /// More shards than [`MAX_SEEDS`].
    #[error("{0} shards exceed the limit of {MAX_SEEDS} (one seed per shard at most)")]
    TooMany(u64),
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let syntax = || ShardError::Syntax(text.to_string());
        let (i, n) = text.split_once('/').ok_or_else(syntax)?;
        let index = i.trim().parse::<u64>().map_err(|_| syntax())?;
        let count = n.trim().parse::<u64>().map_err(|_| syntax())?;
        Shard::new(index, count)
    }
}

impl Shard {
    /// Shard `index` of `count`, checked.
    pub fn new(index: u64, count: u64) -> Result<Shard, ShardError> {
        if count > MAX_SEEDS {
            return Err(ShardError::TooMany(count));
        }
        if index >= count {
            return Err(ShardError::OutOfRange { index, count });
        }
        Ok(Shard { index, count })
    }

    /// The positions `lo..hi` of this shard's block in a seed set of `len` seeds.
    pub fn block(&self, len: usize) -> std::ops::Range<usize> {
        // usize fits in u128, and count is at least 1 (checked by `new`).
        let at = |i: u64| (i as u128 * len as u128 / u128::from(self.count.max(1))) as usize;
        at(self.index)..at(self.index + 1)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_lists_parse() {
        assert_eq!("0..3".parse(), Ok(Seeds::Range { start: 0, end: 3 }));
        assert_eq!(" 4 .. 6 ".parse(), Ok(Seeds::Range { start: 4, end: 6 }));
        assert_eq!("7, 1,2".parse(), Ok(Seeds::List(vec![7, 1, 2])));
        let s: Seeds = "5..8".parse().unwrap();
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![5, 6, 7]);
        assert_eq!(s.to_string(), "5..8");
    }

    #[test]
    fn a_huge_range_is_refused_before_anything_is_allocated() {
        assert_eq!(
            "0..18446744073709551615".parse::<Seeds>(),
            Err(SeedsError::TooMany { count: u64::MAX })
        );
        assert_eq!(
            "0..1000000001".parse::<Seeds>(),
            Err(SeedsError::TooMany {
                count: 1_000_000_001
            })
        );
        assert!("0..1000000".parse::<Seeds>().is_ok());
    }

    #[test]
    fn bad_seed_sets_say_why() {
        assert_eq!(
            "3..3".parse::<Seeds>(),
            Err(SeedsError::Empty { start: 3, end: 3 })
        );
        assert_eq!(
            "1,x".parse::<Seeds>(),
            Err(SeedsError::NotANumber("x".into()))
        );
        assert_eq!(
            "-1..4".parse::<Seeds>(),
            Err(SeedsError::NotANumber("-1".into()))
        );
        assert_eq!("1,2,1".parse::<Seeds>(), Err(SeedsError::Duplicate(1)));
        assert_eq!("".parse::<Seeds>(), Err(SeedsError::NotANumber("".into())));
    }

    #[test]
    fn a_range_ending_at_the_largest_seed_stays_in_bounds() {
        let s = Seeds::Range {
            start: u64::MAX - 2,
            end: u64::MAX,
        };
        assert_eq!(s.len(), 2);
        assert_eq!(s.get(1), Some(u64::MAX - 1));
        assert_eq!(s.get(2), None);
    }

    #[test]
    fn shards_are_contiguous_blocks_that_cover_the_set_in_order() {
        for (seeds, count) in [("0..10", 3), ("5..7", 4), ("9,3,7,1,4", 2), ("0..1000", 7)] {
            let seeds: Seeds = seeds.parse().unwrap();
            let mut joined = Vec::new();
            let mut sizes = Vec::new();
            for index in 0..count {
                let part = seeds.shard(Shard::new(index, count).unwrap());
                sizes.push(part.len());
                joined.extend(part.iter());
            }
            assert_eq!(
                joined,
                seeds.iter().collect::<Vec<_>>(),
                "{seeds} in {count}"
            );
            let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
            assert!(hi - lo <= 1, "{sizes:?}");
        }
        let s: Seeds = "0..6".parse().unwrap();
        assert_eq!(
            s.shard("1/3".parse().unwrap()),
            Seeds::Range { start: 2, end: 4 }
        );
    }

    #[test]
    fn bad_shards_say_why() {
        assert_eq!("2/3".parse(), Ok(Shard { index: 2, count: 3 }));
        assert_eq!(
            "3/3".parse::<Shard>(),
            Err(ShardError::OutOfRange { index: 3, count: 3 })
        );
        assert_eq!(
            "0/0".parse::<Shard>(),
            Err(ShardError::OutOfRange { index: 0, count: 0 })
        );
        assert_eq!("1".parse::<Shard>(), Err(ShardError::Syntax("1".into())));
        assert_eq!(
            "a/2".parse::<Shard>(),
            Err(ShardError::Syntax("a/2".into()))
        );
        assert_eq!(
            "0/18446744073709551615".parse::<Shard>(),
            Err(ShardError::TooMany(u64::MAX))
        );
    }

    #[test]
    fn a_shard_of_the_largest_seeds_stays_in_bounds() {
        let s = Seeds::Range {
            start: u64::MAX - 3,
            end: u64::MAX,
        };
        let last = s.shard(Shard::new(1, 2).unwrap());
        assert_eq!(
            last.iter().collect::<Vec<_>>(),
            vec![u64::MAX - 2, u64::MAX - 1]
        );
    }
}
