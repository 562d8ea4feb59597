//! Errors of the harness API.
//!
//! What it is for: one type for everything a test can get wrong (a scenario that does not load,
//! a name the scenario does not have, a flow check that does not hold), whose `Display` and
//! `Debug` both read as the message a person needs, so `?` in a test or a doctest prints the
//! scenario's diagnostics with file, line, column and rule. What it is not: a verdict; a dropped packet is a [`crate::Verdict`].

use std::fmt;

use vnetsim_scenario::LoadError;

use crate::replay::FlowFailure;

/// The candidate nearest `name` when it looks like a typo of it.
fn nearest<'a>(name: &str, candidates: &'a [String]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(name, c), c.as_str()))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// What went wrong.
#[non_exhaustive]
pub enum Error {
    /// The scenario did not load: every diagnostic, with file, line, column and rule.
    Load(LoadError),
    /// A probe endpoint is not a VM, an on-premises host or an IPv4 address of the scenario.
    UnknownEndpoint {
        /// `from` or `to`.
        role: &'static str,
        /// The name given.
        name: String,
        /// The scenario's name.
        scenario: String,
    },
    /// A probe's sender cannot send: a private endpoint, which only answers connections made
    /// to it, or an address of a VNet that no NIC holds.
    InvalidSender {
        /// The name given.
        name: String,
        /// Why it cannot send, in words.
        message: String,
        /// The rule broken (`private-endpoint-sender`, `sender-unheld-address`).
        rule: &'static str,
    },
    /// Raw bytes were sent from a name that is no NIC, VM or on-premises host of the scenario.
    UnknownIngress {
        /// The name given.
        name: String,
        /// The scenario's name.
        scenario: String,
    },
    /// A flow check named a flow the replayed scenario does not have.
    UnknownFlow {
        /// The name given.
        name: String,
        /// The scenario's name.
        scenario: String,
        /// The scenario's flows, in file order.
        flows: Vec<String>,
    },
    /// A flow check's bound is not written as a scenario file writes it (`">= 900Mbps"`).
    InvalidCheck {
        /// The metric checked (`throughput`, `latency_p99`, ...).
        metric: String,
        /// Why the bound does not parse.
        message: String,
    },
    /// A flow check did not hold: what was expected, what happened, and how to see why.
    FlowCheck(Box<FlowFailure>),
}

impl Error {
    /// The rule codes of the diagnostics when the scenario did not load (empty otherwise).
    pub fn rules(&self) -> Vec<&'static str> {
        match self {
            Error::Load(e) => e.rules(),
            Error::InvalidSender { rule, .. } => vec![rule],
            _ => Vec::new(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Load(e) => write!(f, "the scenario did not load:\n{}", e.render(false)),
            Error::UnknownEndpoint {
                role,
                name,
                scenario,
            } => write!(
                f,
                "probe {role} `{name}`: not a VM, an on-premises host or an IPv4 address of \
                 scenario '{scenario}'"
            ),
            Error::InvalidSender {
                name,
                message,
                rule,
            } => write!(f, "probe from `{name}`: {message} [{rule}]"),
            Error::UnknownIngress { name, scenario } => write!(
                f,
                "send_bytes from `{name}`: not a NIC, a VM or an on-premises host of scenario \
                 '{scenario}'"
            ),
            Error::UnknownFlow {
                name,
                scenario,
                flows,
            } => {
                write!(f, "no flow `{name}` in scenario '{scenario}'")?;
                if let Some(near) = nearest(name, flows) {
                    write!(f, "; did you mean `{near}`?")?;
                }
                if flows.is_empty() {
                    f.write_str(" (it has no traffic)")
                } else {
                    write!(f, " (flows: {})", flows.join(", "))
                }
            }
            Error::InvalidCheck { metric, message } => write!(f, "{metric}: {message}"),
            Error::FlowCheck(failure) => write!(f, "{failure}"),
        }
    }
}

/// The same text as `Display`, so `?` and `unwrap()` print readable diagnostics.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Error {}

impl From<LoadError> for Error {
    fn from(e: LoadError) -> Self {
        Error::Load(e)
    }
}
