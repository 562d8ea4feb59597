//! Pcap capture of live packets.
//!
//! What it is for: `vnetsim live --pcap OUT.pcap`: every packet as it leaves each hop, reaches
//! a waypoint and is delivered, written with `vnetsim_engine::pcap::PcapCapture` (nanosecond pcap, raw IPv4),
//! timestamped with the wall-clock time since the fabric started (so a capture reads as
//! starting at the Unix epoch). What it is not: a capture of real interfaces.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::{Arc, Mutex};

use vnetsim_engine::pcap::PcapCapture;
use vnetsim_engine::{Capture, Seen};

/// A pcap file being written; clones share it, so the driver can finish it after the run.
#[derive(Clone, Debug)]
pub struct PcapFile {
    capture: Arc<Mutex<Option<PcapCapture<BufWriter<File>>>>>,
}

impl PcapFile {
    /// Creates the file and writes the pcap header.
    pub fn create(path: &Path) -> Result<PcapFile, String> {
        Ok(PcapFile {
            capture: Arc::new(Mutex::new(Some(PcapCapture::create(path)?))),
        })
    }

    /// Flushes the file; returns the number of packets written, or the first write error.
    pub fn finish(&self) -> Result<u64, String> {
        let mut capture = self.capture.lock().map_err(|e| e.to_string())?;
        match capture.take() {
            Some(c) => c.finish().map_err(|e| e.to_string()),
            None => Ok(0),
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
}
