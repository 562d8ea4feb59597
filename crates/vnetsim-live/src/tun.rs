//! TUN devices: layer-3 virtual interfaces whose packets a program reads and writes through a
//! file descriptor on `/dev/net/tun`.
//!
//! What it is for: namespace mode ([`crate::netns`]). [`Tun::create`] asks the kernel for a
//! new TUN interface (`IFF_TUN | IFF_NO_PI`: every read returns one whole IP packet, every
//! write injects one, with no extra header), non-blocking, close-on-exec. The interface lives
//! as long as the descriptor: it is not persistent, so closing the descriptor (or the process
//! ending, however it ends) removes it. The descriptor stays valid after the interface is
//! moved into another network namespace. [`AsyncTun`] reads and writes it under tokio, and
//! writes it from any thread with [`AsyncTun::send_now`].
//! What it is not: a configurator: addresses, routes and namespaces are set with `ip`.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;

use tokio::io::unix::AsyncFd;

/// The clone device every TUN interface is made from.
pub const CLONE_DEVICE: &str = "/dev/net/tun";

/// A TUN interface, owned through its descriptor (see the module docs).
#[derive(Debug)]
pub struct Tun {
    file: File,
    name: String,
}

impl Tun {
    /// Creates a TUN interface. `template` is its name, or a pattern with `%d` that the kernel
    /// completes with the first free number (`vnetsim%d` gives `vnetsim0`, `vnetsim1`, ...);
    /// at most 15 bytes.
    pub fn create(template: &str) -> io::Result<Tun> {
        let bytes = template.as_bytes();
        if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("interface name '{template}' is empty, has a NUL or passes 15 bytes"),
            ));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(CLONE_DEVICE)?;
        // SAFETY: `ifreq` is plain old data for which all-zero bytes are a valid value.
        let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
        for (slot, b) in request.ifr_name.iter_mut().zip(bytes) {
            *slot = *b as libc::c_char;
        }
        request.ifr_ifru.ifru_flags = (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short;
        // SAFETY: TUNSETIFF reads and writes one `ifreq`, which `request` is, for the whole
        // call; the descriptor is open.
        let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut request) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(e.kind(), format!("TUNSETIFF: {e}")));
        }
        let name: Vec<u8> = request
            .ifr_name
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        Ok(Tun {
            file,
            name: String::from_utf8_lossy(&name).into_owned(),
        })
    }

    /// The interface's name as the kernel gave it (in the namespace it was made in).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Registers the descriptor with the tokio reactor (call it inside a runtime with I/O
    /// enabled, as for any tokio socket).
    pub fn into_async(self) -> io::Result<AsyncTun> {
        // SAFETY: the `File` owns its descriptor, is moved into the `AsyncFd` and is never
        // handed out mutably, so the descriptor stays open and the same until the `AsyncFd`
        // drops it.
        let fd = unsafe { AsyncFd::register(self.file) }.map_err(|e| e.into_parts().1)?;
        Ok(AsyncTun { fd })
    }
}

/// A [`Tun`] read and written under tokio.
#[derive(Debug)]
pub struct AsyncTun {
    fd: AsyncFd<File>,
}

impl AsyncTun {
    /// Waits for the next packet the interface's stack sends and copies it into `buf`.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut ready = self.fd.readable().await?;
            match ready.try_io(|f| f.get_ref().read(buf)) {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }

    /// Hands one IP packet to the interface's stack at once, from any thread (a non-blocking
    /// write; while the device is full it waits a bounded time for room).
    pub fn send_now(&self, packet: &[u8]) -> io::Result<()> {
        use std::os::fd::AsFd;
        let file = self.fd.get_ref();
        crate::drive::write_or_wait(file.as_fd(), || {
            let mut writer: &File = file;
            writer.write(packet).map(|_| ())
        })
    }

    /// Hands one IP packet to the interface's stack, as if it arrived on the interface.
    pub async fn send(&self, packet: &[u8]) -> io::Result<()> {
        loop {
            let mut ready = self.fd.writable().await?;
            match ready.try_io(|f| f.get_ref().write(packet)) {
                Ok(result) => return result.map(|_| ()),
                Err(_would_block) => continue,
            }
        }
    }
}
