//! Connection state of the stateful middleboxes on a packet's way: Azure Firewall and load
//! balancers.
//!
//! What it is for: a [`SessionTable`], the entries of one kind of middlebox, each one
//! direction of a connection (what packets of its arriving 5-tuple become, when a packet last
//! used it, and what the middlebox keeps beside: a load balancer's backend). Entries live in
//! a slab with a hash index by (scope, arriving 5-tuple), so that a remembered decision checks
//! its session by slot ([`SessionTable::passes`]), without hashing. Idle for
//! [`FLOW_IDLE_TIMEOUT`] (4 minutes), an entry no longer admits packets. What it is not: what
//! a session holds or when one opens (`forward::firewall`, `forward::lb`).

use std::collections::HashMap;

use foldhash::fast::FixedState;
use vnetsim_scenario::Nanos;

use crate::forward::pipeline::FLOW_IDLE_TIMEOUT;
use crate::wire::FlowKey;

/// One direction of a connection: packets of `from` become `to`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Session<X> {
    /// The key as packets arrive.
    pub(crate) from: FlowKey,
    /// The key after translation (equal to `from` when nothing is translated).
    pub(crate) to: FlowKey,
    /// When a packet last used it.
    pub(crate) last: Nanos,
    /// What the middlebox keeps beside.
    pub(crate) data: X,
}

/// Sessions by (scope, arriving key): a slab with a hash index (module documentation).
#[derive(Clone, Debug)]
pub struct SessionTable<X> {
    index: HashMap<(u32, FlowKey), u32, FixedState>,
    slab: Vec<Session<X>>,
}

impl<X> Default for SessionTable<X> {
    fn default() -> Self {
        Self {
            index: HashMap::default(),
            slab: Vec::new(),
        }
    }
}

impl<X: Copy> SessionTable<X> {
    /// Number of entries (two per connection).
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Forgets every connection.
    pub fn clear(&mut self) {
        self.index.clear();
        self.slab.clear();
    }

    /// Whether the session in `slot` is alive and passes `key` unchanged (refreshing it):
    /// what a remembered decision through the middlebox relies on.
    #[inline]
    pub(crate) fn passes(&mut self, slot: u32, key: &FlowKey, now: Nanos) -> bool {
        match self.slab.get_mut(slot as usize) {
            Some(s)
                if s.from == *key
                    && s.to == *key
                    && now.saturating_sub(s.last) <= FLOW_IDLE_TIMEOUT =>
            {
                s.last = now;
                true
            }
            _ => false,
        }
    }

    /// The live session of `key` in `scope` (refreshed), and its slot.
    #[inline]
    pub(crate) fn hit(
        &mut self,
        scope: u32,
        key: &FlowKey,
        now: Nanos,
    ) -> Option<(Session<X>, u32)> {
        let slot = *self.index.get(&(scope, *key))?;
        let s = &mut self.slab[slot as usize];
        if now.saturating_sub(s.last) > FLOW_IDLE_TIMEOUT {
            return None;
        }
        s.last = now;
        Some((*s, slot))
    }

    /// Keeps `session` in `scope`, in the slot an earlier session of the same key had: a slot
    /// always holds the same (scope, arriving key). Returns the slot.
    pub(crate) fn put(&mut self, scope: u32, session: Session<X>) -> u32 {
        match self.index.get(&(scope, session.from)) {
            Some(&slot) => {
                self.slab[slot as usize] = session;
                slot
            }
            None => self.push(scope, session).0,
        }
    }

    /// Keeps `session` in `scope` in a new slot, so that a slot always names one connection
    /// (and what it keeps beside). Returns the slot and whether the key was new to the scope.
    pub(crate) fn push(&mut self, scope: u32, session: Session<X>) -> (u32, bool) {
        let slot = self.slab.len() as u32;
        self.slab.push(session);
        let new = self.index.insert((scope, session.from), slot).is_none();
        (slot, new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(port: u16) -> FlowKey {
        FlowKey {
            src: 0x0a01_0104,
            dst: 0x0a02_0104,
            protocol: 6,
            src_port: port,
            dst_port: 1433,
        }
    }

    fn session(from: FlowKey, to: FlowKey, last: Nanos) -> Session<()> {
        Session {
            from,
            to,
            last,
            data: (),
        }
    }

    #[test]
    fn a_session_passes_its_key_until_it_idles_out() {
        let mut t = SessionTable::default();
        let slot = t.put(0, session(key(1), key(1), 0));
        assert!(t.passes(slot, &key(1), FLOW_IDLE_TIMEOUT));
        assert!(!t.passes(slot, &key(2), FLOW_IDLE_TIMEOUT));
        assert!(t.hit(0, &key(1), 2 * FLOW_IDLE_TIMEOUT).is_some());
        assert!(
            t.hit(1, &key(1), 2 * FLOW_IDLE_TIMEOUT).is_none(),
            "scopes apart"
        );
        assert!(!t.passes(slot, &key(1), 4 * FLOW_IDLE_TIMEOUT + 1));
        assert!(t.hit(0, &key(1), 4 * FLOW_IDLE_TIMEOUT + 1).is_none());
    }

    #[test]
    fn a_translating_session_is_never_passed_by_slot() {
        let mut t = SessionTable::default();
        let slot = t.put(0, session(key(1), key(9), 0));
        assert!(!t.passes(slot, &key(1), 0));
        assert_eq!(t.hit(0, &key(1), 0).map(|(s, _)| s.to), Some(key(9)));
    }

    #[test]
    fn put_reuses_the_slot_of_its_key_and_push_takes_a_new_one() {
        let mut t = SessionTable::default();
        let a = t.put(0, session(key(1), key(1), 0));
        assert_eq!(t.put(0, session(key(1), key(9), 5)), a);
        assert!(!t.passes(a, &key(1), 5), "the newer session translates");
        let (b, new) = t.push(0, session(key(1), key(1), 6));
        assert!(b != a && !new);
        assert!(!t.passes(a, &key(1), 6) && t.passes(b, &key(1), 6));
        assert_eq!(t.len(), 1);
        t.clear();
        assert!(t.is_empty() && !t.passes(b, &key(1), 6));
    }
}
