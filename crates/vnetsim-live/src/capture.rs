//! Captures of live packets.
//!
//! What it is for: `vnetsim live --pcap OUT.pcapng`: every packet as it leaves each hop, reaches
//! a waypoint and is delivered, and every drop, written with
//! `vnetsim_engine::pcap::PcapCapture` in the replay's formats (pcapng with one named interface
//! per hop by default, or the classic single stream), timestamped with the wall-clock time since
//! the fabric started (so a capture reads as starting at the Unix epoch). What it is not: a
//! capture of real interfaces.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::{Arc, Mutex};

use vnetsim_engine::pcap::{CaptureFilter, CaptureLimit, PcapCapture, PcapFormat};
use vnetsim_engine::{Capture, Seen};
use vnetsim_scenario::{DropReason, Scenario};

/// A pcap file being written; clones share it, so the driver can finish it after the run.
#[derive(Clone, Debug)]
pub struct PcapFile {
    capture: Arc<Mutex<Option<PcapCapture<BufWriter<File>>>>>,
}

impl PcapFile {
    /// Creates the file and writes the classic pcap header.
    pub fn create(path: &Path) -> Result<PcapFile, String> {
        Ok(PcapFile {
            capture: Arc::new(Mutex::new(Some(PcapCapture::create(path)?))),
        })
    }

    /// Creates the file for a capture of `scenario` in `format` (pcapng: one interface per
    /// hop, named after the scenario's NICs and hop points, and one for drops), keeping what
    /// `filter` keeps and stopping at `limit`.
    pub fn create_with(
        path: &Path,
        format: PcapFormat,
        scenario: &Scenario,
        filter: CaptureFilter,
        limit: CaptureLimit,
    ) -> Result<PcapFile, String> {
        let file = File::create(path).map_err(|e| e.to_string())?;
        let capture = PcapCapture::with_format(BufWriter::new(file), format, scenario)
            .map_err(|e| e.to_string())?
            .with_filter(filter)
            .with_limit(limit);
        Ok(PcapFile {
            capture: Arc::new(Mutex::new(Some(capture))),
        })
    }

    /// Flushes the file; returns the number of packets written, or the first write error.
    pub fn finish(&self) -> Result<u64, String> {
        self.finish_counted().map(|(written, _)| written)
    }

    /// Flushes the file; returns the number of packets written and the number left out
    /// because the capture's limit was reached, or the first write error.
    pub fn finish_counted(&self) -> Result<(u64, u64), String> {
        let mut capture = self.capture.lock().map_err(|e| e.to_string())?;
        match capture.take() {
            Some(c) => {
                let cut = c.cut();
                c.finish().map(|n| (n, cut)).map_err(|e| e.to_string())
            }
            None => Ok((0, 0)),
        }
    }
}

impl Capture for PcapFile {
    fn packet(&mut self, seen: Seen<'_>) {
        if let Ok(mut capture) = self.capture.lock()
            && let Some(c) = capture.as_mut()
        {
            c.packet(seen);
        }
    }

    fn dropped(&mut self, seen: Seen<'_>, reason: DropReason, detail: &str) {
        if let Ok(mut capture) = self.capture.lock()
            && let Some(c) = capture.as_mut()
        {
            c.dropped(seen, reason, detail);
        }
    }
}
