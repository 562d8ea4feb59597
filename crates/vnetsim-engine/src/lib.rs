//! The deterministic replay of a scenario in simulated time.
//!
//! What it is for: turning the per-packet decisions of `vnetsim-dataplane` into a simulation: a
//! virtual nanosecond clock, seeded traffic sources, VM-size and gateway bandwidth shaping,
//! latency, timed network changes, per-flow measurements, reports and pcap captures. Same
//! scenario and seed give byte-identical reports. What it is not: a real-time driver (no
//! sockets, no wall clock inside) and not a decision maker (the data plane decides every hop).

pub mod estimate;
pub mod journey;
pub mod json;
pub mod latency;
pub mod network;
pub mod pcap;
pub mod plot;
pub mod queue;
pub mod report;
pub mod shaper;
pub mod sim;

pub use estimate::Estimate;
pub use journey::{Capture, Hop, Place, Seen, Side};
pub use report::Report;
pub use sim::{Engine, FlowSummary, Options, Parallel, Prepared, Summary, replay};

pub use vnetsim_scenario::worker_threads;

/// Asks the processor to start loading the cache line holding `p`, so that a later access
/// does not wait for memory. A hint: it changes no memory and no result.
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and never writes, whatever the address; SSE is part of
    // every x86-64 processor.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
