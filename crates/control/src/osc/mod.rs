//! OSC control: a thin adapter onto the control API's [`Handle`], on a thread of its own.
//!
//! Addresses are the [namespace](crate::namespace)'s paths with a leading slash
//! (`/strip/Mic/fader_db ,f -6`, `/strip/1/mute ,i 1`, `/bus/A1/fader_db/norm ,f 0.75`);
//! every message becomes one [`Request`](crate::api::Request) sent with the origin
//! `osc:<peer address>`, so it is validated, broadcast, undoable and saved exactly as an
//! HTTP or WebSocket request is. An address with no argument is a query, answered to
//! the sender with the message that would set the value. `/subscribe` and `/meters`
//! grant changes and meter frames for ten seconds, renewed by sending them again
//! (Behringer X32's `/xremote`). Bundles apply in order, at their time tag. Refusals are
//! answered with `/error ,ss ADDRESS MESSAGE` and counted in [`OscStats`]. docs/API.md
//! has the whole protocol.
//!
//! ```no_run
//! # fn demo(handle: troubadour_control::service::Handle) -> std::io::Result<()> {
//! use troubadour_control::osc;
//!
//! let osc = osc::start("127.0.0.1:9000".parse().unwrap(), handle)?;
//! println!("OSC on udp://{}", osc.local_addr());
//! // … until the mixer stops; then, before the service shuts down:
//! osc.stop();
//! # Ok(()) }
//! ```

mod coalesce;
mod leases;
mod route;
mod schedule;
mod serve;
mod stats;
mod value;

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;

pub use coalesce::MAX_BURST;
pub use leases::{LEASE, MAX_SUBSCRIBERS, METER_RATES};
pub use route::MAX_PACKET;
pub use schedule::MAX_SCHEDULED;
pub use stats::{Failure, OscStats};

use crate::service::Handle;
use crate::worker::Worker;

/// Where OSC listens unless told otherwise.
pub const DEFAULT_PORT: u16 = 9000;

/// The socket's receive buffer asked for (the system may cap it, on Linux at
/// `net.core.rmem_max`): room for a few thousand messages, so a burst that arrives
/// while the control thread is busy waits instead of being dropped.
const RECEIVE_BUFFER: usize = 2 << 20;

/// A serving OSC thread (control side). Stop it with [`Osc::stop`] before the service
/// shuts down; dropping it stops it too.
pub struct Osc {
    local_addr: SocketAddr,
    stats: Arc<OscStats>,
    worker: Worker,
}

/// Binds `listen` (UDP) and serves OSC for `handle` on a thread of its own.
pub fn start(listen: SocketAddr, handle: Handle) -> std::io::Result<Osc> {
    let socket = UdpSocket::bind(listen)?;
    if let Err(e) = socket2::SockRef::from(&socket).set_recv_buffer_size(RECEIVE_BUFFER) {
        tracing::debug!(target: "troubadour::osc", "receive buffer left as it was: {e}");
    }
    let local_addr = socket.local_addr()?;
    let stats = Arc::new(OscStats::default());
    let counters = Arc::clone(&stats);
    let worker = Worker::spawn("troubadour-osc", move |stop| {
        serve::Server {
            socket,
            handle,
            stats: counters,
            stop,
            leases: Default::default(),
            schedule: Default::default(),
            events: None,
            meters: None,
        }
        .run()
    })?;
    Ok(Osc {
        local_addr,
        stats,
        worker,
    })
}

impl Osc {
    /// The address bound (the port chosen, for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The counters, for `/metrics` (see [`Service::add_metrics_source`](crate::service::Service::add_metrics_source)).
    pub fn stats(&self) -> Arc<OscStats> {
        Arc::clone(&self.stats)
    }

    /// Stops the thread and waits for it (a second at most: a request the control
    /// thread will no longer answer ends when the service goes, and the thread with it).
    pub fn stop(self) {
        self.worker.stop();
    }
}
