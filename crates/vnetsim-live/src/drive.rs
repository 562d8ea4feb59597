//! The real-time loop the live modes share: take packets from the endpoints' reader tasks,
//! feed them to the [`Fabric`] with the wall-clock time since start, hand its deliveries back
//! to the endpoints, print counters every `stats_every`, stop when `shutdown` completes.
//!
//! What it is for: one loop for UDP mode and namespace mode, which differ only in how a packet
//! comes in and how a delivery goes out ([`Endpoints`]). What it is not: it opens no socket or
//! device (the modes do) and decides nothing (the fabric does).

use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use vnetsim_scenario::{Nanos, NicId};

use crate::fabric::{Delivery, Fabric};
use crate::report::counters_line;

/// How packets enter and leave the fabric in one live mode.
pub(crate) trait Endpoints {
    /// What a reader task sends to the loop.
    type Msg: Send;

    /// Takes a reader task's message; returns the NIC and packet to ingest, if it carries one.
    fn received(&mut self, msg: Self::Msg) -> Option<(NicId, Vec<u8>)>;

    /// Hands a delivered packet to its NIC; false when nothing listens there.
    fn deliver(&mut self, delivery: &Delivery) -> impl Future<Output = bool> + Send;
}

/// Runs the loop until `shutdown` completes or every reader task ended; returns the time since
/// start, in ns, for the report.
pub(crate) async fn drive<E: Endpoints + Send>(
    fabric: &mut Fabric,
    endpoints: &mut E,
    mut rx: mpsc::Receiver<E::Msg>,
    stats_every: Option<Duration>,
    shutdown: impl Future<Output = ()>,
) -> Nanos {
    let start = Instant::now();
    let now_ns = || u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
    let far = start + Duration::from_secs(86_400 * 365);
    let mut ticker = stats_every.map(|every| tokio::time::interval_at(start + every, every));
    tokio::pin!(shutdown);
    loop {
        let deadline = fabric
            .next_deadline()
            .map(|ns| start + Duration::from_nanos(ns));
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            msg = rx.recv() => match msg {
                Some(msg) => {
                    if let Some((nic, bytes)) = endpoints.received(msg) {
                        fabric.ingest(nic, &bytes, now_ns());
                    }
                }
                None => break,
            },
            () = tokio::time::sleep_until(deadline.unwrap_or(far)), if deadline.is_some() => {}
            () = tick(ticker.as_mut()), if ticker.is_some() => {
                eprintln!(
                    "[{:>8.1} s] {}",
                    start.elapsed().as_secs_f64(),
                    counters_line(&fabric.conservation(), fabric.drops_by_reason())
                );
            }
        }
        for d in fabric.advance(now_ns()) {
            if !endpoints.deliver(&d).await {
                fabric.count_no_listener(d.nic);
            }
        }
    }
    now_ns()
}

/// Waits for the next tick, or forever without a ticker.
pub(crate) async fn tick(ticker: Option<&mut tokio::time::Interval>) {
    match ticker {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}
