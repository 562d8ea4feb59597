//! Pcap capture of live packets.
//!
//! What it is for: `vnetsim live --pcap OUT.pcap`: every packet as it leaves each hop and as it
//! is delivered, written with `vnetsim_engine::pcap::PcapSink` (nanosecond pcap, raw IPv4),
//! timestamped with the wall-clock time since the fabric started (so a capture reads as
//! starting at the Unix epoch). What it is not: a capture of real interfaces.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::{Arc, Mutex};

use vnetsim_engine::Capture;
use vnetsim_engine::pcap::PcapSink;
use vnetsim_scenario::Nanos;

#[derive(Debug)]
struct State {
    sink: Option<PcapSink<BufWriter<File>>>,
    error: Option<String>,
}

/// A pcap file being written; clones share it, so the driver can finish it after the run.
#[derive(Clone, Debug)]
pub struct PcapFile {
    state: Arc<Mutex<State>>,
}

impl PcapFile {
    /// Creates the file and writes the pcap header.
    pub fn create(path: &Path) -> Result<PcapFile, String> {
        let file = File::create(path).map_err(|e| e.to_string())?;
        let sink = PcapSink::new(BufWriter::new(file)).map_err(|e| e.to_string())?;
        Ok(PcapFile {
            state: Arc::new(Mutex::new(State {
                sink: Some(sink),
                error: None,
            })),
        })
    }

    /// Flushes the file; returns the number of packets written, or the first write error.
    pub fn finish(&self) -> Result<u64, String> {
        let mut state = self.state.lock().map_err(|e| e.to_string())?;
        if let Some(e) = state.error.take() {
            return Err(e);
        }
        match state.sink.take() {
            Some(sink) => {
                let packets = sink.packets();
                sink.finish().map(|_| packets).map_err(|e| e.to_string())
            }
            None => Ok(0),
        }
    }
}

impl Capture for PcapFile {
    fn packet(&mut self, at: Nanos, bytes: &[u8]) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if let Some(sink) = state.sink.as_mut()
            && let Err(e) = sink.write(at, bytes)
        {
            state.error = Some(e.to_string());
            state.sink = None;
        }
    }
}
