//! The real-time loop the live modes share: a clock thread owns the [`Fabric`], takes the
//! packets the endpoints' reader tasks read, hands each delivery to its endpoint at its due
//! time, prints counters every `stats_every`, and stops when `shutdown` completes.
//!
//! What it is for: one loop for UDP mode and namespace mode, which differ only in how a packet
//! comes in and how a delivery goes out ([`Endpoints`]), at the model's latency. tokio's timer
//! counts whole milliseconds, far coarser than a hop's 30 us, so the fabric runs on a
//! dedicated thread ([`ClockThread`]): it sleeps with the OS (timer slack 1 us) until
//! [`SPIN_WINDOW`] before the next due time, spins to it, and writes what is due straight from
//! that thread (non-blocking writes on duplicates of the modes' descriptors). A packet's time
//! starts when vnetsim reads it. UDP mode's sockets are read by the clock thread itself
//! ([`Endpoints::read_input`]): it waits in epoll on them, so an arriving datagram wakes the
//! thread that takes it in, with no hand-over between threads. Namespace mode's reader tasks
//! stay on tokio: each packet goes through an [`Inbox`] stamped with the time it was read,
//! and rings the thread's [`Bell`] (an eventfd in the same epoll set). The deliveries of a
//! round go out through one vector kept for the whole run.
//!
//! What it is not: it opens no socket or device (the modes do) and decides nothing (the
//! fabric does).

use std::future::Future;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering, fence};
use std::sync::mpsc as std_mpsc;
use std::thread::{self, JoinHandle};
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

    /// Reads one message from input `i` (the `i`-th descriptor given to
    /// [`ClockThread::watch`]) without blocking; `None` when it holds nothing now. Endpoints
    /// whose packets all come through an [`Inbox`] watch nothing and never get this call.
    fn read_input(&mut self, i: usize) -> Option<Self::Msg> {
        let _ = i;
        None
    }
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
    poller: Poller,
    bell: Arc<Bell>,
}

impl ClockThread {
    /// Starts the thread, with its epoll set, timer and bell.
    pub(crate) fn spawn() -> io::Result<ClockThread> {
        let bell = Arc::new(Bell::new()?);
        let poller = Poller::new(&bell)?;
        let (jobs, next) = std_mpsc::sync_channel::<Job>(1);
        let handle = thread::Builder::new()
            .name("vnetsim-clock".into())
            .spawn(move || {
                precise_timer_slack();
                if let Ok(job) = next.recv() {
                    job();
                }
            })?;
        Ok(ClockThread {
            jobs,
            handle,
            poller,
            bell,
        })
    }

    /// Has the thread read `inputs` itself (through [`Endpoints::read_input`], input `i` being
    /// `inputs[i]`) when they are readable. The descriptors must stay open until the run
    /// ends (the endpoints own them) and be non-blocking.
    pub(crate) fn watch(&mut self, inputs: &[BorrowedFd<'_>]) -> io::Result<()> {
        for (i, fd) in inputs.iter().enumerate() {
            self.poller.add(*fd, i as u64)?;
            self.poller.inputs += 1;
        }
        Ok(())
    }

    /// A channel from reader tasks to this thread.
    pub(crate) fn inbox<M: Send>(&self) -> (Inbox<M>, Intake<M>) {
        let (tx, rx) = mpsc::channel(INBOX_CAPACITY);
        (
            Inbox {
                tx,
                bell: Arc::clone(&self.bell),
            },
            Intake { rx },
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

/// Wakes the clock thread: a packet arrived in an [`Inbox`], or the run stops. An eventfd
/// in the thread's epoll set, written only while the thread sleeps (or is about to).
#[derive(Debug)]
struct Bell {
    fd: OwnedFd,
    /// The clock thread is about to wait, or waits, in epoll.
    sleeping: AtomicBool,
    stop: AtomicBool,
}

impl Bell {
    fn new() -> io::Result<Bell> {
        // SAFETY: eventfd takes two integers and returns a new descriptor or -1.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Bell {
            // SAFETY: `fd` was just opened and is owned by nothing else.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            sleeping: AtomicBool::new(false),
            stop: AtomicBool::new(false),
        })
    }

    /// Wakes the thread if it sleeps. Called after the message is in the channel: either the
    /// thread sees the message before it sleeps, or this sees it sleeping (both sides fence).
    fn ring(&self) {
        fence(Ordering::SeqCst);
        if self.sleeping.swap(false, Ordering::SeqCst) {
            self.write();
        }
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.write();
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn write(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to the eventfd this value owns. A full
        // counter (EAGAIN) means the thread is already woken.
        unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    /// Resets the counter after a wake-up.
    fn drain(&self) {
        let mut n: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64 from the eventfd this value owns
        // (non-blocking: EAGAIN when it was not written).
        unsafe { libc::read(self.fd.as_raw_fd(), (&mut n as *mut u64).cast(), 8) };
    }
}

/// The token of the bell in the epoll set (inputs are numbered from 0).
const BELL_TOKEN: u64 = u64::MAX;

/// The token of the timer in the epoll set.
const TIMER_TOKEN: u64 = u64::MAX - 1;

/// What the clock thread waits on: an epoll set with the [`Bell`], a timerfd for due times
/// (epoll's own timeout counts milliseconds) and the inputs it reads itself.
#[derive(Debug)]
struct Poller {
    epoll: OwnedFd,
    timer: OwnedFd,
    /// Inputs watched (tokens `0..inputs`).
    inputs: usize,
    events: Vec<libc::epoll_event>,
}

impl Poller {
    fn new(bell: &Bell) -> io::Result<Poller> {
        // SAFETY: epoll_create1 and timerfd_create take integer flags and return a new
        // descriptor or -1.
        let epoll = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if epoll < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: just opened, owned by nothing else.
        let epoll = unsafe { OwnedFd::from_raw_fd(epoll) };
        let timer = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if timer < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: just opened, owned by nothing else.
        let timer = unsafe { OwnedFd::from_raw_fd(timer) };
        let poller = Poller {
            epoll,
            timer,
            inputs: 0,
            events: vec![libc::epoll_event { events: 0, u64: 0 }; 64],
        };
        poller.add(bell.fd.as_fd(), BELL_TOKEN)?;
        poller.add(poller.timer.as_fd(), TIMER_TOKEN)?;
        Ok(poller)
    }

    fn add(&self, fd: BorrowedFd<'_>, token: u64) -> io::Result<()> {
        let mut event = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        // SAFETY: both descriptors are open (owned or borrowed here) and `event` is live.
        let rc = unsafe {
            libc::epoll_ctl(
                self.epoll.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                fd.as_raw_fd(),
                &mut event,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Arms the timer `after` from now (at least 1 ns: zero would disarm it).
    fn arm(&self, after: Duration) {
        let ns = after.as_nanos().max(1);
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: (ns / 1_000_000_000).min(i64::MAX as u128) as libc::time_t,
                tv_nsec: (ns % 1_000_000_000) as libc::c_long,
            },
        };
        // SAFETY: the timer is open and `spec` is a live, valid itimerspec.
        unsafe { libc::timerfd_settime(self.timer.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
    }

    /// Waits until an input or the bell is readable, or `timeout` passes (`None`: no
    /// timeout; zero: only looks); appends the readable inputs to `ready`.
    fn wait(&mut self, timeout: Option<Duration>, bell: &Bell, ready: &mut Vec<usize>) {
        let ms = match timeout {
            Some(d) if d.is_zero() => 0,
            Some(d) => {
                self.arm(d);
                -1
            }
            None => -1,
        };
        // SAFETY: the epoll descriptor is open and `events` has room for its length.
        let n = unsafe {
            libc::epoll_wait(
                self.epoll.as_raw_fd(),
                self.events.as_mut_ptr(),
                self.events.len() as libc::c_int,
                ms,
            )
        };
        for event in &self.events[..usize::try_from(n).unwrap_or(0)] {
            match event.u64 {
                BELL_TOKEN => bell.drain(),
                TIMER_TOKEN => {
                    let mut expirations: u64 = 0;
                    // SAFETY: reads 8 bytes into a live u64 from the open timerfd.
                    unsafe {
                        libc::read(
                            self.timer.as_raw_fd(),
                            (&mut expirations as *mut u64).cast(),
                            8,
                        )
                    };
                }
                i => {
                    if let Ok(i) = usize::try_from(i)
                        && !ready.contains(&i)
                    {
                        ready.push(i);
                    }
                }
            }
        }
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
    let (done, mut finished) = oneshot::channel();
    let ClockThread {
        jobs,
        handle,
        poller,
        bell,
    } = clock;
    let thread_bell = Arc::clone(&bell);
    let job: Job = Box::new(move || {
        let out = run_clock(
            fabric,
            endpoints,
            intake,
            Waits {
                poller,
                bell: thread_bell,
            },
            stats_every,
            start,
        );
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

/// What the clock thread waits on: its epoll set and the bell.
struct Waits {
    poller: Poller,
    bell: Arc<Bell>,
}

/// The clock thread's loop (see the module docs).
fn run_clock<E: Endpoints>(
    mut fabric: Fabric,
    mut endpoints: E,
    intake: Intake<E::Msg>,
    waits: Waits,
    stats_every: Option<Duration>,
    start: Instant,
) -> (Fabric, E, Nanos) {
    let Intake { mut rx } = intake;
    let Waits { mut poller, bell } = waits;
    let since_start = |t: Instant| {
        u64::try_from(t.saturating_duration_since(start).as_nanos()).unwrap_or(u64::MAX)
    };
    let stats_ns = stats_every.map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1));
    let mut next_stats = stats_ns;
    // The fabric's clock never goes back, even for a packet read before the last round.
    let mut last: Nanos = 0;
    let mut deliveries = Vec::new();
    // Inputs found readable and not read to the end yet.
    let mut ready: Vec<usize> = Vec::new();
    let mut still_ready: Vec<usize> = Vec::new();
    let watched = poller.inputs > 0;
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
        // The inputs this thread reads itself, each up to a batch per round.
        for i in ready.drain(..) {
            let mut read = 0;
            while read < INTAKE_BATCH {
                let Some(msg) = endpoints.read_input(i) else {
                    break;
                };
                read += 1;
                let at = since_start(Instant::now());
                if let Some((nic, bytes)) = endpoints.received(msg) {
                    last = last.max(at);
                    fabric.ingest_owned(nic, bytes, last);
                }
            }
            if read == INTAKE_BATCH {
                still_ready.push(i);
            }
        }
        std::mem::swap(&mut ready, &mut still_ready);
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
        // Without inputs of its own, the loop lives as long as some reader task does.
        if !open && !watched {
            break;
        }
        if taken == INTAKE_BATCH || !ready.is_empty() {
            continue;
        }
        wait(
            &mut poller,
            &bell,
            &rx,
            fabric.next_deadline(),
            next_stats,
            &mut ready,
            &since_start,
        );
    }
    let now = last.max(since_start(Instant::now()));
    (fabric, endpoints, now)
}

/// Waits for the next due time `due` (sleeping, then spinning through the last
/// [`SPIN_WINDOW`]), the next counters line (sleeping only), a packet or the stop; the inputs
/// found readable are appended to `ready`.
fn wait<M>(
    poller: &mut Poller,
    bell: &Bell,
    rx: &mpsc::Receiver<(Instant, M)>,
    due: Option<Nanos>,
    stats: Option<Nanos>,
    ready: &mut Vec<usize>,
    since_start: &impl Fn(Instant) -> Nanos,
) {
    let window = SPIN_WINDOW.as_nanos() as u64;
    let now = since_start(Instant::now());
    let spin_from = due.map(|d| d.saturating_sub(window));
    let wake = match (spin_from, stats) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let sleep = match (wake, due) {
        (None, _) => Some(None),
        (Some(w), _) if w > now => Some(Some(Duration::from_nanos(w - now))),
        _ => None,
    };
    if let Some(timeout) = sleep {
        // Say so before the last look at the inbox: a reader task that sends after that look
        // sees this flag and rings (see `Bell::ring`).
        bell.sleeping.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if rx.is_empty() && !bell.stopped() {
            poller.wait(timeout, bell, ready);
        }
        bell.sleeping.store(false, Ordering::SeqCst);
        return;
    }
    if let Some(due) = due {
        let watched = poller.inputs > 0;
        while since_start(Instant::now()) < due {
            if !rx.is_empty() || bell.stopped() {
                return;
            }
            if watched {
                poller.wait(Some(Duration::ZERO), bell, ready);
                if !ready.is_empty() {
                    return;
                }
            }
            std::hint::spin_loop();
        }
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

    /// Endpoints that read one socket themselves (input 0) and record their deliveries.
    struct Direct {
        socket: std::net::UdpSocket,
        recorder: Recorder,
    }

    impl Endpoints for Direct {
        type Msg = Vec<u8>;

        fn received(&mut self, msg: Self::Msg) -> Option<(NicId, Vec<u8>)> {
            Some((NicId(0), msg))
        }

        fn deliver(&mut self, d: &Delivery) -> bool {
            self.recorder.deliver(d)
        }

        fn read_input(&mut self, i: usize) -> Option<Self::Msg> {
            assert_eq!(i, 0, "one input watched");
            let mut buf = [0u8; 2048];
            let n = self.socket.recv(&mut buf).ok()?;
            Some(buf[..n].to_vec())
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_watched_input_is_read_by_the_clock_thread_with_no_inbox_open() {
        let scenario = scenario();
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("binds");
        socket.set_nonblocking(true).expect("non-blocking");
        let address = socket.local_addr().expect("bound");
        let mut clock = ClockThread::spawn().expect("a thread starts");
        clock.watch(&[socket.as_fd()]).expect("watched");
        let (inbox, intake) = clock.inbox::<Vec<u8>>();
        // No reader task: the loop runs on its input alone until told to stop.
        drop(inbox);
        let (stop, stopped) = oneshot::channel::<()>();
        let running_start = Instant::now();
        let endpoints = Direct {
            socket,
            recorder: Recorder {
                start: running_start,
                got: Vec::new(),
            },
        };
        let running = tokio::spawn(drive(
            clock,
            Fabric::new(&scenario),
            endpoints,
            intake,
            None,
            async {
                let _ = stopped.await;
            },
        ));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            !running.is_finished(),
            "a dropped inbox does not end a loop with inputs"
        );
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").expect("binds");
        let sent = recorder_start_offset(&running_start);
        sender.send_to(&syn(), address).expect("sent");
        tokio::time::sleep(Duration::from_millis(50)).await;
        stop.send(()).expect("the loop waits for the stop");
        let (fabric, endpoints, _) = tokio::time::timeout(Duration::from_secs(5), running)
            .await
            .expect("stops within 5 s")
            .expect("no panic");
        assert_eq!(endpoints.recorder.got.len(), 1, "one delivery");
        let (nic, at) = endpoints.recorder.got[0];
        assert_eq!(nic, NicId(1), "to vm-b's NIC");
        assert!(at > sent, "delivered after it was sent");
        let c = fabric.conservation();
        assert_eq!((c.sent, c.delivered, c.in_flight), (1, 1, 0));
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
        let ClockThread { jobs, handle, .. } = clock;
        drop(jobs);
        handle.join().expect("ends cleanly");
    }
}
