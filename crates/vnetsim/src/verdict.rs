//! The verdict on one packet, with every hop named, and assertions on it.
//!
//! What it is for: reading what the data plane decided about a probe or a raw packet (delivered
//! or dropped, the stable drop reason, the path by name, each hop's route, NSG rule or peering)
//! and asserting on it with panic messages that name the rule behind the actual verdict. What
//! it is not: a decision maker; it only holds what `vnetsim-dataplane` decided.

use std::fmt;

use vnetsim_dataplane::Outcome;
use vnetsim_dataplane::explain::{Explanation, HopView, render_text};
use vnetsim_scenario::{DropReason, UnknownDropReason};

/// A drop reason as an assertion takes it: a [`DropReason`], or its stable name (`"nsg-denied"`).
pub trait ExpectedReason {
    /// The reason, or why the name is none.
    fn drop_reason(&self) -> Result<DropReason, UnknownDropReason>;
}

impl ExpectedReason for DropReason {
    fn drop_reason(&self) -> Result<DropReason, UnknownDropReason> {
        Ok(*self)
    }
}

impl ExpectedReason for &str {
    fn drop_reason(&self) -> Result<DropReason, UnknownDropReason> {
        self.parse()
    }
}

impl ExpectedReason for String {
    fn drop_reason(&self) -> Result<DropReason, UnknownDropReason> {
        self.parse()
    }
}

impl ExpectedReason for &String {
    fn drop_reason(&self) -> Result<DropReason, UnknownDropReason> {
        self.parse()
    }
}

/// What happened to one packet: the verdict and every hop, in Azure's vocabulary.
///
/// `Display` prints the hop-by-hop explanation as `vnetsim explain` does.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub(crate) explanation: Explanation,
    pub(crate) outcome: Outcome,
    pub(crate) detail: String,
    pub(crate) packet: Option<Vec<u8>>,
}

impl Verdict {
    /// Whether the packet was delivered (to a NIC, an on-premises host or the Internet).
    pub fn is_delivered(&self) -> bool {
        matches!(self.outcome, Outcome::Delivered(_))
    }

    /// Whether the packet was dropped.
    pub fn is_dropped(&self) -> bool {
        !self.is_delivered()
    }

    /// The drop reason, when dropped.
    pub fn reason(&self) -> Option<DropReason> {
        self.outcome.drop_reason()
    }

    /// The name of what received the packet (a VM, a host, `Internet`), when delivered.
    pub fn delivered_to(&self) -> Option<&str> {
        self.explanation.delivered_to.as_deref()
    }

    /// The hops by name: the sender, every appliance and gateway on the way, and the receiver
    /// when delivered (as an expectation's `path` lists them).
    pub fn path(&self) -> &[String] {
        &self.explanation.path
    }

    /// Every step with the route, NSG rule or peering that decided it.
    pub fn hops(&self) -> &[HopView] {
        &self.explanation.hops
    }

    /// The whole explanation (serializable as `vnetsim explain --format json` prints it).
    pub fn explanation(&self) -> &Explanation {
        &self.explanation
    }

    /// The data plane's outcome.
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// One sentence: `delivered to X` or `dropped (reason): the rule or switch behind it`.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// For [`crate::Sim::send_bytes`]: the packet as it left the data plane (appliances and
    /// gateways decrement the TTL in place). `None` for probes.
    pub fn packet(&self) -> Option<&[u8]> {
        self.packet.as_deref()
    }

    /// The NSG rules that let the packet pass, as `NSG rule (priority N)`.
    pub fn allowed_by(&self) -> Vec<String> {
        self.hops()
            .iter()
            .filter_map(|h| h.rule.as_ref())
            .filter(|r| r.access == "allow")
            .map(|r| match r.priority {
                Some(p) => format!("{} {} (priority {p})", r.nsg, r.rule),
                None => format!("{} {}", r.nsg, r.rule),
            })
            .collect()
    }

    fn subject(&self) -> String {
        let e = &self.explanation;
        let ports = match (e.src_port, e.dst_port) {
            (Some(s), Some(d)) => format!(" {s} -> {d}"),
            _ => String::new(),
        };
        format!(
            "{} ({}) -> {} ({}) {}{}",
            e.from, e.src_ip, e.to, e.dst_ip, e.protocol, ports
        )
    }

    fn actual(&self) -> String {
        if self.is_delivered() {
            let rules = self.allowed_by();
            let why = if rules.is_empty() {
                "no NSG on the way".to_string()
            } else {
                format!("allowed by {}", rules.join(", "))
            };
            format!(
                "{} ({why}); path {}",
                self.detail,
                self.explanation.path.join(" -> ")
            )
        } else {
            self.detail.clone()
        }
    }

    /// Panics unless the packet was delivered. The message names the drop reason and the route,
    /// NSG rule or peering switch behind it, then lists every hop.
    #[track_caller]
    pub fn assert_delivered(&self) -> &Self {
        if !self.is_delivered() {
            panic!(
                "expected {} to be delivered, but it was {}\n{}",
                self.subject(),
                self.actual(),
                self
            );
        }
        self
    }

    /// Panics unless the packet was dropped for `reason`: a [`DropReason`]
    /// (`DropReason::NsgDenied`) or its stable name (`"nsg-denied"`, `"no-route"`,
    /// `"forwarded-traffic-blocked"`, see [`DropReason::as_str`]). The message names what
    /// actually happened and why.
    #[track_caller]
    pub fn assert_dropped(&self, reason: impl ExpectedReason) -> &Self {
        let expected = match reason.drop_reason() {
            Ok(r) => r,
            Err(e) => panic!("assert_dropped: {e}"),
        };
        if self.reason() != Some(expected) {
            panic!(
                "expected {} to be dropped ({}), but it was {}\n{}",
                self.subject(),
                expected.as_str(),
                self.actual(),
                self
            );
        }
        self
    }

    /// Panics unless the path by name is exactly `expected` (see [`Verdict::path`]).
    #[track_caller]
    pub fn assert_path(&self, expected: &[&str]) -> &Self {
        if self
            .path()
            .iter()
            .map(String::as_str)
            .ne(expected.iter().copied())
        {
            panic!(
                "expected {} to take path [{}], but it took [{}]: {}\n{}",
                self.subject(),
                expected.join(", "),
                self.path().join(", "),
                self.actual(),
                self
            );
        }
        self
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&render_text(&self.explanation))
    }
}
