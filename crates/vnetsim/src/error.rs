//! Errors of the harness API.
//!
//! What it is for: one type for everything a test can get wrong (a scenario that does not load,
//! a name the scenario does not have), whose `Display` and `Debug` both read as the message a
//! person needs, so `?` in a test or a doctest prints the scenario's diagnostics with file,
//! line, column and rule. What it is not: a verdict; a dropped packet is a [`crate::Verdict`].

use std::fmt;

use vnetsim_scenario::LoadError;

/// What went wrong.
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
    /// Raw bytes were sent from a name that is no NIC, VM or on-premises host of the scenario.
    UnknownIngress {
        /// The name given.
        name: String,
        /// The scenario's name.
        scenario: String,
    },
}

impl Error {
    /// The rule codes of the diagnostics when the scenario did not load (empty otherwise).
    pub fn rules(&self) -> Vec<&'static str> {
        match self {
            Error::Load(e) => e.rules(),
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
            Error::UnknownIngress { name, scenario } => write!(
                f,
                "send_bytes from `{name}`: not a NIC, a VM or an on-premises host of scenario \
                 '{scenario}'"
            ),
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
