//! The real-time loop the live modes share: a clock thread owns the [`Fabric`], takes the
//! packets the endpoints' reader tasks read, hands each delivery to its endpoint at its due
//! time, prints counters every `stats_every`, and stops when `shutdown` completes.
//!
//! What it is for: one loop for UDP mode and namespace mode, which differ only in how a packet
//! comes in and how a delivery goes out ([`Endpoints`]), at the model's latency. tokio's timer
//! counts whole milliseconds, far coarser than a hop's 30 us, so the fabric runs on a
//! dedicated thread ([`ClockThread`]): it sleeps with the OS (timer slack 1 us) until
//! [`SPIN_WINDOW`] before the next due time, spins to it, and writes what is due straight from
//! that thread (non-blocking writes on duplicates of the modes' descriptors). The reader tasks
//! stay on tokio: each packet goes through an [`Inbox`] stamped with the time it was read,
//! which is the time the fabric takes it in, and wakes the thread. The deliveries of a round
//! go out through one vector kept for the whole run.
//!
//! What it is not: it opens no socket or device (the modes do) and decides nothing (the
//! fabric does).

use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::{self, error::TryRecvError};
use tokio::sync::oneshot;
use vnetsim_scenario::{Nanos, NicId};

use crate::fabric::{Delivery, Fabric};
use crate::report::counters_line;

/// How long before a due time the clock thread stops sleeping and spins: longer than the
/// OS's wake-up delay on a busy machine, short enough to cost little CPU between packets.
pub(crate) const SPIN_WINDOW: Duration = Duration::from_micros(200);

/// The timer slack the clock thread asks for (Linux's default is 50 us).
const TIMER_SLACK_NS: u64 = 1_000;

/// Packets taken in per round before what is due is sent: a flood of input cannot hold
/// deliveries back for long.
const INTAKE_BATCH: usize = 64;

/// Packets read but not yet taken in: readers wait (and the kernel buffers) beyond this.
const INBOX_CAPACITY: usize = 1024;

/// How long a delivery waits for room when its socket or device is full.
const WRITE_WAIT: Duration = Duration::from_millis(100);

/// How packets enter and leave the fabric in one live mode.
pub(crate) trait Endpoints: Send + 'static {
    /// What a reader task sends to the loop.
    type Msg: Send + 'static;

    /// Takes a reader task's message; returns the NIC and packet to ingest, if it carries one.
    fn received(&mut self, msg: Self::Msg) -> Option<(NicId, Vec<u8>)>;

    /// Hands a delivered packet to its NIC from the clock thread (a non-blocking write, see
    /// [`write_or_wait`]); false when nothing listens there.
    fn deliver(&mut self, delivery: &Delivery) -> bool;
}

/// A message on its way to the clock thread.
type Job = Box<dyn FnOnce() + Send>;

/// The thread the fabric runs on, started when a mode binds its sockets or makes its devices
/// (so a failure to start it is reported there), idle until [`drive`] hands it the fabric.
/// Dropped without running, it ends.
#[derive(Debug)]
pub(crate) struct ClockThread {
    jobs: std_mpsc::SyncSender<Job>,
    handle: JoinHandle<()>,
}

impl ClockThread {
    /// Starts the thread.
    pub(crate) fn spawn() -> io::Result<ClockThread> {
        let (jobs, next) = std_mpsc::sync_channel::<Job>(1);
        let handle = thread::Builder::new()
            .name("vnetsim-clock".into())
            .spawn(move || {
                precise_timer_slack();
                if let Ok(job) = next.recv() {
                    job();
                }
            })?;
        Ok(ClockThread { jobs, handle })
    }

    /// A channel from reader tasks to this thread.
    pub(crate) fn inbox<M: Send>(&self) -> (Inbox<M>, Intake<M>) {
        let (tx, rx) = mpsc::channel(INBOX_CAPACITY);
        let bell = Arc::new(Bell {
            thread: self.handle.thread().clone(),
            stop: AtomicBool::new(false),
        });
        (
            Inbox {
                tx,
                bell: Arc::clone(&bell),
            },
            Intake { rx, bell },
        )
    }
}

/// Asks the kernel to wake this thread within 1 us of its timeouts rather than 50 us.
fn precise_timer_slack() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_TIMERSLACK takes one integer argument and changes only this thread's
        // timer slack.
        let rc = unsafe {
            libc::prctl(
                libc::PR_SET_TIMERSLACK,
                TIMER_SLACK_NS as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
            )
        };
        if rc != 0 {
            tracing::debug!(
                error = %io::Error::last_os_error(),
                "timer slack left at the default"
            );
        }
    }
}

/// Wakes the clock thread: a packet arrived, or the run stops.
#[derive(Debug)]
struct Bell {
    thread: Thread,
    stop: AtomicBool,
}

impl Bell {
    fn ring(&self) {
        self.thread.unpark();
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.ring();
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }
}

/// The reader tasks' end of the channel to the clock thread.
#[derive(Debug)]
pub(crate) struct Inbox<M> {
    tx: mpsc::Sender<(Instant, M)>,
    bell: Arc<Bell>,
}

impl<M> Clone for Inbox<M> {
    fn clone(&self) -> Self {
        Inbox {
            tx: self.tx.clone(),
            bell: Arc::clone(&self.bell),
        }
    }
}

impl<M: Send> Inbox<M> {
    /// Hands over a message read just now (waiting while the inbox is full); false once the
    /// loop has stopped.
    pub(crate) async fn send(&self, msg: M) -> bool {
        let read = Instant::now();
        let sent = self.tx.send((read, msg)).await.is_ok();
        self.bell.ring();
        sent
    }
}

/// The clock thread's end of the channel.
#[derive(Debug)]
pub(crate) struct Intake<M> {
    rx: mpsc::Receiver<(Instant, M)>,
    bell: Arc<Bell>,
}

/// Runs the loop on `clock` until `shutdown` completes or every reader task ended (every
/// [`Inbox`] dropped); returns the fabric, the endpoints and the time since start in ns.
pub(crate) async fn drive<E: Endpoints>(
    clock: ClockThread,
    fabric: Fabric,
    endpoints: E,
    intake: Intake<E::Msg>,
    stats_every: Option<Duration>,
    shutdown: impl Future<Output = ()>,
) -> (Fabric, E, Nanos) {
    let start = Instant::now();
    let bell = Arc::clone(&intake.bell);
    let (done, mut finished) = oneshot::channel();
    let ClockThread { jobs, handle } = clock;
    let job: Job = Box::new(move || {
        let out = run_clock(fabric, endpoints, intake, stats_every, start);
        let _ = done.send(out);
    });
    if jobs.send(job).is_err() {
        // The thread only ends before its job if it panicked: pass that on.
        rethrow(handle);
    }
    // Dropped before the end (a caller gives up on the run), the loop still stops, and the
    // thread drops the fabric and the endpoints' sockets.
    let _stop_on_drop = StopOnDrop(Arc::clone(&bell));
    tokio::pin!(shutdown);
    let out = tokio::select! {
        biased;
        () = &mut shutdown => None,
        out = &mut finished => Some(out),
    };
    let out = match out {
        Some(out) => out,
        None => {
            bell.stop();
            finished.await
        }
    };
    match out {
        Ok(out) => {
            // The thread has handed everything back and is returning.
            let _ = handle.join();
            out
        }
        Err(_) => rethrow(handle),
    }
}

/// Stops the clock thread's loop when dropped.
struct StopOnDrop(Arc<Bell>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// Passes on the panic of a clock thread that ended without its result.
fn rethrow(handle: JoinHandle<()>) -> ! {
    match handle.join() {
        Err(panic) => std::panic::resume_unwind(panic),
        Ok(()) => unreachable!("the clock thread ended without handing the fabric back"),
    }
}

/// The clock thread's loop (see the module docs).
fn run_clock<E: Endpoints>(
    mut fabric: Fabric,
    mut endpoints: E,
    intake: Intake<E::Msg>,
    stats_every: Option<Duration>,
    start: Instant,
) -> (Fabric, E, Nanos) {
    let Intake { mut rx, bell } = intake;
    let since_start = |t: Instant| {
        u64::try_from(t.saturating_duration_since(start).as_nanos()).unwrap_or(u64::MAX)
    };
    let stats_ns = stats_every.map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1));
    let mut next_stats = stats_ns;
    // The fabric's clock never goes back, even for a packet read before the last round.
    let mut last: Nanos = 0;
    let mut deliveries = Vec::new();
    loop {
        if bell.stopped() {
            break;
        }
        let mut open = true;
        let mut taken = 0;
        while taken < INTAKE_BATCH {
            match rx.try_recv() {
                Ok((read, msg)) => {
                    taken += 1;
                    if let Some((nic, bytes)) = endpoints.received(msg) {
                        last = last.max(since_start(read));
                        fabric.ingest_owned(nic, bytes, last);
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        last = last.max(since_start(Instant::now()));
        fabric.advance_into(last, &mut deliveries);
        for d in deliveries.drain(..) {
            if !endpoints.deliver(&d) {
                fabric.count_no_listener(d.nic);
            }
        }
        if let (Some(every), Some(due)) = (stats_ns, next_stats.as_mut())
            && last >= *due
        {
            eprintln!(
                "[{:>8.1} s] {}",
                last as f64 / 1e9,
                counters_line(&fabric.conservation(), fabric.drops_by_reason())
            );
            // The next multiple of the interval (missed lines are skipped, not caught up).
            *due = (last / every).saturating_add(1).saturating_mul(every);
        }
        if !open {
            break;
        }
        if taken == INTAKE_BATCH {
            continue;
        }
        wait(fabric.next_deadline(), next_stats, &rx, &bell, &since_start);
    }
    let now = last.max(since_start(Instant::now()));
    (fabric, endpoints, now)
}

/// Waits for the next due time `due` (sleeping, then spinning through the last
/// [`SPIN_WINDOW`]), the next counters line (sleeping only), a packet or the stop.
fn wait<M>(
    due: Option<Nanos>,
    stats: Option<Nanos>,
    rx: &mpsc::Receiver<(Instant, M)>,
    bell: &Bell,
    since_start: &impl Fn(Instant) -> Nanos,
) {
    let window = SPIN_WINDOW.as_nanos() as u64;
    let now = since_start(Instant::now());
    let spin_from = due.map(|d| d.saturating_sub(window));
    let wake = match (spin_from, stats) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    match (wake, due) {
        (None, _) => thread::park(),
        (Some(w), _) if w > now => thread::park_timeout(Duration::from_nanos(w - now)),
        (_, Some(due)) => {
            while since_start(Instant::now()) < due {
                if !rx.is_empty() || bell.stopped() {
                    return;
                }
                std::hint::spin_loop();
            }
        }
        (_, None) => {}
    }
}

/// Runs the non-blocking write `op` on `fd`; while the socket or device is full, waits for
/// room (at most [`WRITE_WAIT`] in all) and tries again.
pub(crate) fn write_or_wait(
    fd: BorrowedFd<'_>,
    mut op: impl FnMut() -> io::Result<()>,
) -> io::Result<()> {
    let give_up = Instant::now() + WRITE_WAIT;
    loop {
        match op() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let left = give_up.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(e);
                }
                let mut poll = libc::pollfd {
                    fd: fd.as_raw_fd(),
                    events: libc::POLLOUT,
                    revents: 0,
                };
                let ms = libc::c_int::try_from(left.as_millis().max(1)).unwrap_or(libc::c_int::MAX);
                // SAFETY: one valid pollfd for the duration of the call; the descriptor is
                // borrowed, so open.
                unsafe { libc::poll(&mut poll, 1, ms) };
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Endpoints that record what is delivered and when, as ns since the loop's start.
    struct Recorder {
        start: Instant,
        got: Vec<(NicId, Nanos)>,
    }

    impl Endpoints for Recorder {
        type Msg = (NicId, Vec<u8>);

        fn received(&mut self, msg: Self::Msg) -> Option<(NicId, Vec<u8>)> {
            Some(msg)
        }

        fn deliver(&mut self, d: &Delivery) -> bool {
            let at = self.start.elapsed().as_nanos() as u64;
            self.got.push((d.nic, at));
            true
        }
    }

    fn recorder_start_offset(start: &Instant) -> Nanos {
        start.elapsed().as_nanos() as u64
    }

    fn scenario() -> vnetsim_scenario::Scenario {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../scenarios/basic-peering.yaml");
        vnetsim_scenario::load_file(&path).expect("the example loads")
    }

    fn syn() -> Vec<u8> {
        use vnetsim_dataplane::wire::{PacketSpec, build_probe};
        let spec = PacketSpec {
            src: std::net::Ipv4Addr::new(10, 10, 0, 4),
            dst: std::net::Ipv4Addr::new(10, 20, 0, 4),
            protocol: vnetsim_scenario::Protocol::Tcp,
            src_port: 40000,
            dst_port: 443,
            ttl: 64,
            total_len: 60,
            identification: 1,
        };
        let mut buf = vec![0u8; 60];
        let n = build_probe(&mut buf, &spec).expect("builds");
        buf.truncate(n);
        buf
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_packet_is_delivered_at_its_due_time_and_the_loop_stops_when_told() {
        let scenario = scenario();
        let clock = ClockThread::spawn().expect("a thread starts");
        let (inbox, intake) = clock.inbox::<(NicId, Vec<u8>)>();
        let (stop, stopped) = oneshot::channel::<()>();
        let running_start = Instant::now();
        let recorder = Recorder {
            start: running_start,
            got: Vec::new(),
        };
        let running = tokio::spawn(drive(
            clock,
            Fabric::new(&scenario),
            recorder,
            intake,
            None,
            async {
                let _ = stopped.await;
            },
        ));
        let model = {
            let mut virtual_clock = Fabric::new(&scenario);
            virtual_clock.ingest(NicId(0), &syn(), 0);
            let mut at = 0;
            while let Some(next) = virtual_clock.next_deadline() {
                at = next;
                virtual_clock.advance(next);
            }
            at
        };
        assert!(model > 0, "the model delays the packet");
        let sent = recorder_start_offset(&running_start);
        assert!(inbox.send((NicId(0), syn())).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
        stop.send(()).expect("the loop waits for the stop");
        let (fabric, recorder, now) = tokio::time::timeout(Duration::from_secs(5), running)
            .await
            .expect("stops within 5 s")
            .expect("no panic");
        assert_eq!(recorder.got.len(), 1, "one delivery");
        let (nic, at) = recorder.got[0];
        assert_eq!(nic, NicId(1), "to vm-b's NIC");
        assert!(
            at >= sent + model,
            "not before its due time: sent at {sent} ns, model {model} ns, delivered at {at} ns"
        );
        let c = fabric.conservation();
        assert_eq!((c.sent, c.delivered, c.in_flight), (1, 1, 0));
        assert!(now >= 50_000_000, "the loop ran until the stop: {now} ns");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_loop_ends_when_every_inbox_is_dropped() {
        let clock = ClockThread::spawn().expect("a thread starts");
        let (inbox, intake) = clock.inbox::<(NicId, Vec<u8>)>();
        drop(inbox);
        let recorder = Recorder {
            start: Instant::now(),
            got: Vec::new(),
        };
        let out = tokio::time::timeout(
            Duration::from_secs(5),
            drive(
                clock,
                Fabric::new(&scenario()),
                recorder,
                intake,
                None,
                std::future::pending(),
            ),
        )
        .await;
        assert!(out.is_ok(), "ends without a shutdown signal");
    }

    /// Endpoints that say when they are dropped.
    struct Dropped(std::sync::mpsc::Sender<()>);

    impl Drop for Dropped {
        fn drop(&mut self) {
            let _ = self.0.send(());
        }
    }

    impl Endpoints for Dropped {
        type Msg = ();

        fn received(&mut self, (): ()) -> Option<(NicId, Vec<u8>)> {
            None
        }

        fn deliver(&mut self, _: &Delivery) -> bool {
            true
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_run_given_up_on_stops_its_thread_and_drops_the_endpoints() {
        let clock = ClockThread::spawn().expect("a thread starts");
        let (inbox, intake) = clock.inbox::<()>();
        let (dropped, on_drop) = std::sync::mpsc::channel();
        let run = drive(
            clock,
            Fabric::new(&scenario()),
            Dropped(dropped),
            intake,
            None,
            std::future::pending(),
        );
        let gave_up = tokio::time::timeout(Duration::from_millis(50), run).await;
        assert!(gave_up.is_err(), "the run only ends when told");
        assert!(
            on_drop.recv_timeout(Duration::from_secs(5)).is_ok(),
            "the thread let go of the endpoints"
        );
        assert!(!inbox.send(()).await, "nothing takes packets any more");
    }

    #[test]
    fn a_clock_thread_dropped_without_a_run_ends() {
        let clock = ClockThread::spawn().expect("a thread starts");
        let ClockThread { jobs, handle } = clock;
        drop(jobs);
        handle.join().expect("ends cleanly");
    }
}
