//! The engine's queue of pending events: a binary heap, with FIFO lanes for events that come
//! in time order.
//!
//! What it is for: ordering events by key (time and class), then by insertion, at the cost of
//! a FIFO operation for most packets. A packet's arrival at a waypoint is its departure plus a
//! fixed delay, and departures mostly come in time order, so such events are appended to a
//! lane and taken from its front with no sifting; an event that would come before the back of
//! its lane goes to the heap instead. The next event is the least (key, insertion number)
//! among the heap's top and the lanes' fronts, so the order is exactly the one of the heap
//! alone (a property test checks it). What it is not: a calendar queue or a timer wheel; a
//! workload whose events come out of order pays the heap as before.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// A FIFO lane of [`EventQueue`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// Packets reaching a waypoint.
    Arrive,
    /// Packets reaching their destination.
    Deliver,
}

/// Pending events of type `E` ordered by `(key, insertion number)`.
#[derive(Clone, Debug)]
pub struct EventQueue<E> {
    heap: BinaryHeap<Reverse<(u64, u64, E)>>,
    arrive: VecDeque<(u64, u64, E)>,
    deliver: VecDeque<(u64, u64, E)>,
    seq: u64,
}

impl<E: Ord> Default for EventQueue<E> {
    fn default() -> Self {
        Self {
            heap: BinaryHeap::new(),
            arrive: VecDeque::new(),
            deliver: VecDeque::new(),
            seq: 0,
        }
    }
}

impl<E: Ord + Copy> EventQueue<E> {
    /// Adds `event` at `key`, in `lane` when it keeps the lane in order.
    #[inline]
    pub fn push(&mut self, key: u64, event: E, lane: Option<Lane>) {
        self.seq += 1;
        let lane = match lane {
            Some(Lane::Arrive) => &mut self.arrive,
            Some(Lane::Deliver) => &mut self.deliver,
            None => {
                self.heap.push(Reverse((key, self.seq, event)));
                return;
            }
        };
        if lane.back().is_none_or(|&(last, _, _)| last <= key) {
            lane.push_back((key, self.seq, event));
        } else {
            self.heap.push(Reverse((key, self.seq, event)));
        }
    }

    /// Takes the next event and its key.
    #[inline]
    pub fn pop(&mut self) -> Option<(u64, E)> {
        let (from, _) = self.least();
        self.take(from)
    }

    /// Where the next event is (0: none, 1: heap, 2: arrivals, 3: deliveries) and its key.
    #[inline(always)]
    fn least(&self) -> (u8, u64) {
        // (key, insertion number) as one number: compared without tuple branches (and
        // without the stack round trips iterator adapters compile to here).
        let order = |k: u64, s: u64| (u128::from(k) << 64) | u128::from(s);
        let (mut least, mut from) = (u128::MAX, 0u8);
        if let Some(Reverse((k, s, _))) = self.heap.peek() {
            (least, from) = (order(*k, *s), 1);
        }
        if let Some(&(k, s, _)) = self.arrive.front()
            && order(k, s) < least
        {
            (least, from) = (order(k, s), 2);
        }
        if let Some(&(k, s, _)) = self.deliver.front()
            && order(k, s) < least
        {
            (least, from) = (order(k, s), 3);
        }
        (from, (least >> 64) as u64)
    }

    /// Takes the front event of where [`EventQueue::least`] found it.
    #[inline(always)]
    fn take(&mut self, from: u8) -> Option<(u64, E)> {
        match from {
            1 => self.heap.pop().map(|Reverse((k, _, e))| (k, e)),
            2 => self.arrive.pop_front().map(|(k, _, e)| (k, e)),
            3 => self.deliver.pop_front().map(|(k, _, e)| (k, e)),
            _ => None,
        }
    }

    /// Takes the next event if its key is at most `limit`.
    #[inline]
    pub fn pop_at_most(&mut self, limit: u64) -> Option<(u64, E)> {
        let (from, key) = self.least();
        if key > limit {
            return None;
        }
        self.take(from)
    }

    /// The key of the next event ([`EventQueue::pop`] would take it), without taking it.
    #[inline]
    pub fn peek_key(&self) -> Option<u64> {
        match self.least() {
            (0, _) => None,
            (_, key) => Some(key),
        }
    }

    /// The event `n` places behind the front of the arrivals' lane (for prefetching).
    #[inline]
    pub fn arrival_ahead(&self, n: usize) -> Option<E> {
        self.arrive.get(n).map(|&(_, _, e)| e)
    }

    /// Events pending.
    pub fn len(&self) -> usize {
        self.heap.len() + self.arrive.len() + self.deliver.len()
    }

    /// Whether no event is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any mix of pushes (in order or not, in lanes or not) and pops gives the order of a
        /// plain heap keyed by (key, insertion number).
        #[test]
        fn pops_in_the_order_of_a_plain_heap(
            ops in prop::collection::vec((0u64..50, 0u8..4, any::<bool>()), 1..300),
        ) {
            let mut q = EventQueue::default();
            let mut plain = BinaryHeap::new();
            let mut seq = 0u64;
            for (i, &(key, lane, pop)) in ops.iter().enumerate() {
                if pop {
                    let next = plain.peek().map(|Reverse((k, _, _))| *k);
                    prop_assert_eq!(q.peek_key(), next);
                    let want = plain.pop().map(|Reverse((k, _, e))| (k, e));
                    prop_assert_eq!(q.pop(), want);
                } else {
                    let lane = match lane {
                        0 => Some(Lane::Arrive),
                        1 => Some(Lane::Deliver),
                        _ => None,
                    };
                    seq += 1;
                    q.push(key, i, lane);
                    plain.push(Reverse((key, seq, i)));
                }
                prop_assert_eq!(q.len(), plain.len());
            }
            while let Some(Reverse((k, _, e))) = plain.pop() {
                prop_assert_eq!(q.pop(), Some((k, e)));
            }
            prop_assert!(q.is_empty());
            prop_assert_eq!(q.pop(), None);
        }
    }

    #[test]
    fn events_in_time_order_never_touch_the_heap() {
        let mut q = EventQueue::default();
        for t in 0..100u64 {
            q.push(t, t, Some(Lane::Arrive));
        }
        assert!(q.heap.is_empty());
        // One out of order goes to the heap and still comes out first.
        q.push(0, 1000, Some(Lane::Arrive));
        assert_eq!(q.heap.len(), 1);
        assert_eq!(q.pop(), Some((0, 0)));
        assert_eq!(q.pop(), Some((0, 1000)));
        assert_eq!(q.pop(), Some((1, 1)));
    }
}
