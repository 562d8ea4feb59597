//! Peering state: which links exist, their Azure states, and the edges between connected VNets.
//!
//! What it is for: the one place that says whether two VNets are peered right now (Initiated,
//! Connected, Disconnected, from which links exist and which were deleted), the edges the
//! route tables and the forwarding decision follow, and dense edge numbers a remembered
//! decision stores its crossings as; and, for each link, the remote address space it is synced
//! with (after the remote VNet changed its ranges, a link is active across the old ones until it
//! is synced [update-address-space]). What it is not: routes (see [`crate::tables::routes`],
//! which reads these states) or the peering switches' effect on a packet (the forwarding
//! decision checks those).

use std::collections::HashMap;

use foldhash::fast::FixedState;
use ipnet::Ipv4Net;
use vnetsim_scenario::{Deployment, PeeringId, Scenario, VnetId};

/// Azure's peering link states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PeeringState {
    /// Only this link exists: no traffic flows.
    Initiated,
    /// Both links exist (or the remote VNet is classic): traffic flows.
    Connected,
    /// The remote link was deleted.
    Disconnected,
}

impl PeeringState {
    /// Azure's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PeeringState::Initiated => "Initiated",
            PeeringState::Connected => "Connected",
            PeeringState::Disconnected => "Disconnected",
        }
    }
}

/// The pair of links between two connected VNets, seen from one of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Edge {
    /// The other VNet.
    pub peer: VnetId,
    /// This VNet's link to the peer (none for a classic VNet).
    pub local: Option<PeeringId>,
    /// The peer's link to this VNet (none for a classic peer).
    pub remote: Option<PeeringId>,
}

impl Edge {
    /// The link that names the pair of VNets the same from both sides (the lower link id of
    /// the two), for per-peering counters.
    pub fn pair_link(&self) -> PeeringId {
        match (self.local, self.remote) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => unreachable!("an edge has at least one link"),
        }
    }

    /// The link that names this edge in listings.
    pub fn name_link(&self) -> PeeringId {
        self.local
            .or(self.remote)
            .expect("an edge has at least one link")
    }
}

/// Which peering links exist and their states.
#[derive(Clone, Debug)]
pub struct PeeringStates {
    present: Vec<bool>,
    state: Vec<PeeringState>,
    /// Connected edges per VNet.
    edges: Vec<Vec<Edge>>,
    /// Every edge with the VNet it leaves, by number.
    numbered: Vec<(VnetId, Edge)>,
    /// The number of the edge from a VNet to a peer (a VNet has one edge per peer).
    number_of: HashMap<(u32, u32), u32, FixedState>,
    /// Per link: the remote VNet's ranges the link was last synced with, when the remote VNet
    /// changed its address space since (`None`: in sync).
    synced: Vec<Option<Vec<Ipv4Net>>>,
}

impl PeeringStates {
    /// States when every link of the scenario exists.
    pub fn all_present(scenario: &Scenario) -> Self {
        let n = scenario.peerings.len();
        Self::compute(scenario, &vec![true; n], &vec![false; n])
    }

    /// States from which links exist now (`present`) and which were deleted at some point
    /// (`removed`): a link whose reverse was deleted is Disconnected, one whose reverse never
    /// existed is Initiated.
    pub fn compute(scenario: &Scenario, present: &[bool], removed: &[bool]) -> Self {
        let links = &scenario.peerings;
        let find = |from: VnetId, to: VnetId| {
            links
                .iter()
                .enumerate()
                .filter(|(i, l)| present[*i] && l.from == from && l.to == to)
                .map(|(i, _)| PeeringId(i as u32))
                .next()
        };
        let mut state = vec![PeeringState::Initiated; links.len()];
        let mut edges = vec![Vec::new(); scenario.vnets.len()];
        for (i, l) in links.iter().enumerate() {
            if !present[i] {
                continue;
            }
            let reverse = find(l.to, l.from);
            let to_classic = scenario.vnets[l.to.index()].deployment == Deployment::Classic;
            state[i] = if reverse.is_some() || to_classic {
                PeeringState::Connected
            } else if links
                .iter()
                .enumerate()
                .any(|(j, r)| removed[j] && r.from == l.to && r.to == l.from)
            {
                PeeringState::Disconnected
            } else {
                PeeringState::Initiated
            };
            if state[i] == PeeringState::Connected {
                let id = PeeringId(i as u32);
                edges[l.from.index()].push(Edge {
                    peer: l.to,
                    local: Some(id),
                    remote: reverse,
                });
                if to_classic {
                    // A classic VNet holds no link: the Resource Manager link serves both sides.
                    edges[l.to.index()].push(Edge {
                        peer: l.from,
                        local: None,
                        remote: Some(id),
                    });
                }
            }
        }
        let mut numbered = Vec::new();
        let mut number_of = HashMap::with_hasher(FixedState::default());
        for (v, list) in edges.iter().enumerate() {
            for &e in list {
                number_of
                    .entry((v as u32, e.peer.0))
                    .or_insert(numbered.len() as u32);
                numbered.push((VnetId(v as u32), e));
            }
        }
        Self {
            present: present.to_vec(),
            state,
            edges,
            numbered,
            number_of,
            synced: vec![None; links.len()],
        }
    }

    /// The same states, with the remote address space each link was last synced with (`None`:
    /// in sync with the remote VNet's current ranges; one entry per link, missing ones in
    /// sync).
    pub fn with_synced(mut self, synced: &[Option<Vec<Ipv4Net>>]) -> Self {
        for (mine, theirs) in self.synced.iter_mut().zip(synced) {
            mine.clone_from(theirs);
        }
        self
    }

    /// The address ranges of `peer` as `vnet` sees them over `link` (its own link to `peer`):
    /// the ranges the link was last synced with. Until a sync, a peering "is active across the
    /// old address space" only [update-address-space; resize draft 2022]. A link owned by the
    /// peer (a classic VNet owns none) sees the peer's current ranges.
    pub fn peer_space<'a>(
        &'a self,
        scenario: &'a Scenario,
        vnet: VnetId,
        link: PeeringId,
        peer: VnetId,
    ) -> &'a [Ipv4Net] {
        let own = scenario
            .peerings
            .get(link.index())
            .is_some_and(|l| l.from == vnet);
        match self.synced.get(link.index()) {
            Some(Some(old)) if own => old,
            _ => &scenario.vnets[peer.index()].address_space,
        }
    }

    /// Whether `link` lags behind its remote VNet's address space (not synced since it
    /// changed).
    pub fn out_of_sync(&self, link: PeeringId) -> bool {
        self.synced.get(link.index()).is_some_and(Option::is_some)
    }

    /// A number for the edge `edge` leaving `from` (dense over all edges), so that a crossing
    /// can be stored in 4 bytes and replayed with [`PeeringStates::numbered_edge`].
    pub fn edge_number(&self, from: VnetId, edge: &Edge) -> Option<u32> {
        let &n = self.number_of.get(&(from.0, edge.peer.0))?;
        (self.numbered[n as usize] == (from, *edge)).then_some(n)
    }

    /// The edge of a number from [`PeeringStates::edge_number`], with the VNet it leaves.
    #[inline]
    pub fn numbered_edge(&self, number: u32) -> (VnetId, Edge) {
        self.numbered[number as usize]
    }

    /// Whether a link exists now.
    pub fn is_present(&self, link: PeeringId) -> bool {
        self.present[link.index()]
    }

    /// State of an existing link.
    pub fn state(&self, link: PeeringId) -> PeeringState {
        self.state[link.index()]
    }

    /// Connected peers of a VNet with the links joining them.
    pub fn edges(&self, vnet: VnetId) -> &[Edge] {
        &self.edges[vnet.index()]
    }

    /// The connected edge between two VNets.
    pub fn edge(&self, from: VnetId, to: VnetId) -> Option<Edge> {
        self.edges[from.index()]
            .iter()
            .copied()
            .find(|e| e.peer == to)
    }

    /// Connected peers of a VNet, each with the link that names the peering.
    pub fn connected_peers(&self, vnet: VnetId) -> impl Iterator<Item = (PeeringId, VnetId)> + '_ {
        self.edges[vnet.index()]
            .iter()
            .map(|e| (e.name_link(), e.peer))
    }

    /// The gateway a VNet sends on-premises traffic to: its own, or the remote gateway of the
    /// Connected peering that sets `use_remote_gateways` (the remote link must allow gateway
    /// transit and the remote VNet must hold a gateway). A classic VNet, which holds no link,
    /// uses the gateway of a Resource Manager peer whose link allows gateway transit, when
    /// `azure.classic_gateway_transit` is on. The link returned is the one that grants transit
    /// (the VNet's own, or for a classic VNet the Resource Manager side's).
    pub fn gateway_for(
        &self,
        scenario: &Scenario,
        vnet: VnetId,
    ) -> Option<(VnetId, Option<PeeringId>)> {
        if scenario.vnets[vnet.index()].gateway.is_some() {
            return Some((vnet, None));
        }
        let classic = scenario.vnets[vnet.index()].deployment == Deployment::Classic;
        self.edges[vnet.index()].iter().find_map(|e| {
            let remote = &scenario.peerings[e.remote?.index()];
            let peer = &scenario.vnets[e.peer.index()];
            if classic {
                // [gw-transit] 2018: a classic VNet uses the gateway of the Resource Manager
                // VNet it peers with when that side's link allows gateway transit; nothing is
                // set on the classic side (it holds no link). Refused in 2016 [peering-2016].
                let ok = scenario.azure.classic_gateway_transit
                    && remote.allow_gateway_transit
                    && peer.deployment == Deployment::ResourceManager
                    && peer.gateway.is_some();
                return ok.then_some((e.peer, e.remote));
            }
            let local = &scenario.peerings[e.local?.index()];
            let ok =
                local.use_remote_gateways && remote.allow_gateway_transit && peer.gateway.is_some();
            ok.then_some((e.peer, e.local))
        })
    }
}
