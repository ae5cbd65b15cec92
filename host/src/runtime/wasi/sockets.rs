//! `wasi:sockets` for guests, with the module's network policy enforced:
//! where TCP connections and name lookups are checked.
//!
//! - `create-tcp-socket`: refused unless a tcp destination is granted; a
//!   socket counts as an open file (`limits.open_files` and the exporter's
//!   share of descriptors for all guests).
//! - `resolve-addresses`: only names a tcp grant reaches; the host resolves
//!   them and hands the guest only the addresses the grant allows
//!   ([`crate::policy::NetworkPolicy::resolved`]), remembering which name
//!   each came from.
//! - `start-connect`: the address must be granted as such, or have come
//!   from a lookup of a granted name in this call
//!   ([`crate::policy::NetworkPolicy::connect`]), and the call must be under
//!   `limits.connections`. wasmtime-wasi then connects to that very
//!   address (its own address check asks [`Egress`] again).
//! - what a connection receives counts against `limits.received_bytes`;
//!   past it the stream fails.
//! - binding, listening and UDP are refused: a scraper connects out only.
//!
//! Every refusal is an error the guest sees (`access-denied`, or
//! `new-socket-limit` for descriptors), never a trap, and is recorded for
//! `wasm_exporter_access_denied_total` and the log.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use wasmtime::component::{HasData, Resource};
use wasmtime_wasi::p2::bindings::sockets::ip_name_lookup::{
    self, HostResolveAddressStream, ResolveAddressStream,
};
use wasmtime_wasi::p2::bindings::sockets::network::{
    self, ErrorCode, IpAddress, IpAddressFamily, IpSocketAddress, Network,
};
use wasmtime_wasi::p2::bindings::sockets::tcp::{self, HostTcpSocket, ShutdownType};
use wasmtime_wasi::p2::bindings::sockets::{tcp_create_socket, udp_create_socket};
use wasmtime_wasi::p2::pipe::ClosedInputStream;
use wasmtime_wasi::p2::{
    DynInputStream, DynOutputStream, DynPollable, InputStream, Pollable, SocketError, SocketResult,
    StreamError, StreamResult, TcpSocket, UdpSocket,
};
use wasmtime_wasi::sockets::WasiSocketsCtxView;

use super::egress::Egress;
use crate::policy::network::Host;
use crate::policy::{Denial, DenialKind};
use crate::runtime::descriptors::CallDescriptors;

/// The socket state of one call, beside wasmtime-wasi's.
#[derive(Default)]
pub struct SocketGuard {
    /// For each TCP socket the guest holds, a token alive as long as its
    /// descriptor: it counts in the call's open files.
    held: HashMap<u32, Arc<()>>,
    /// Where each connecting or connected socket goes, for messages.
    peers: HashMap<u32, SocketAddr>,
    /// The name each pending lookup is for.
    lookups: HashMap<u32, String>,
}

/// The `HasData` marker under which the guarded sockets are linked.
pub struct GuardedSockets;

impl HasData for GuardedSockets {
    type Data<'a> = SocketsView<'a>;
}

/// wasmtime-wasi's sockets view with the call's guard, its descriptors and
/// its network state, borrowed together for one host call.
pub struct SocketsView<'a> {
    /// wasmtime-wasi's sockets and resource table.
    pub sockets: WasiSocketsCtxView<'a>,
    /// The call's sockets.
    pub guard: &'a mut SocketGuard,
    /// The call's descriptor accounting (shared with files).
    pub descriptors: &'a mut CallDescriptors,
    /// The call's network policy, caps and refusals.
    pub egress: &'a Arc<Egress>,
}

impl network::Host for SocketsView<'_> {
    fn convert_error_code(&mut self, error: SocketError) -> wasmtime::Result<ErrorCode> {
        network::Host::convert_error_code(&mut self.sockets, error)
    }

    fn network_error_code(
        &mut self,
        err: Resource<wasmtime::Error>,
    ) -> wasmtime::Result<Option<ErrorCode>> {
        network::Host::network_error_code(&mut self.sockets, err)
    }
}

impl network::HostNetwork for SocketsView<'_> {
    fn drop(&mut self, this: Resource<Network>) -> wasmtime::Result<()> {
        network::HostNetwork::drop(&mut self.sockets, this)
    }
}

fn denied<T>() -> SocketResult<T> {
    Err(ErrorCode::AccessDenied.into())
}

impl tcp_create_socket::Host for SocketsView<'_> {
    fn create_tcp_socket(&mut self, family: IpAddressFamily) -> SocketResult<Resource<TcpSocket>> {
        if !self.egress.policy().has_tcp() {
            self.egress.deny(
                "a TCP socket",
                "no tcp destination is granted to this module",
            );
            return denied();
        }
        if let Err(refused) = self.descriptors.reserve() {
            self.egress.record(Denial {
                kind: DenialKind::OpenFiles,
                target: "a TCP socket".into(),
                reason: refused.reason(),
            });
            return Err(ErrorCode::NewSocketLimit.into());
        }
        match tcp_create_socket::Host::create_tcp_socket(&mut self.sockets, family) {
            Ok(socket) => {
                let token = Arc::new(());
                self.descriptors.track(&token);
                self.guard.held.insert(socket.rep(), token);
                Ok(socket)
            }
            Err(e) => {
                self.descriptors.cancel();
                Err(e)
            }
        }
    }
}

impl udp_create_socket::Host for SocketsView<'_> {
    async fn create_udp_socket(&mut self, _: IpAddressFamily) -> SocketResult<Resource<UdpSocket>> {
        self.egress.deny(
            "a UDP socket",
            "UDP is never allowed: scrapers connect over TCP",
        );
        denied()
    }
}

impl ip_name_lookup::Host for SocketsView<'_> {
    fn resolve_addresses(
        &mut self,
        network: Resource<Network>,
        name: String,
    ) -> SocketResult<Resource<ResolveAddressStream>> {
        if let Err(reason) = self.egress.policy().lookup(&name) {
            self.egress.deny(one_line(&name), reason);
            return denied();
        }
        let stream =
            ip_name_lookup::Host::resolve_addresses(&mut self.sockets, network, name.clone())?;
        self.guard.lookups.insert(stream.rep(), name);
        Ok(stream)
    }
}

impl HostResolveAddressStream for SocketsView<'_> {
    fn resolve_next_address(
        &mut self,
        stream: Resource<ResolveAddressStream>,
    ) -> SocketResult<Option<IpAddress>> {
        let name = self.guard.lookups.get(&stream.rep()).cloned();
        loop {
            let borrowed = Resource::<ResolveAddressStream>::new_borrow(stream.rep());
            let Some(address) =
                HostResolveAddressStream::resolve_next_address(&mut self.sockets, borrowed)?
            else {
                return Ok(None);
            };
            // An address literal needs no lookup: its connection is checked.
            let Some(Ok(Host::Name(name))) = name.as_deref().map(Host::parse) else {
                return Ok(Some(address));
            };
            let ip = ip_of(address);
            match self.egress.policy().resolved(&name, ip) {
                Ok(()) => {
                    self.egress.remember(&name, ip);
                    return Ok(Some(address));
                }
                Err(reason) => self.egress.deny(format!("{name} -> {ip}"), reason),
            }
        }
    }

    fn subscribe(
        &mut self,
        stream: Resource<ResolveAddressStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        HostResolveAddressStream::subscribe(&mut self.sockets, stream)
    }

    fn drop(&mut self, stream: Resource<ResolveAddressStream>) -> wasmtime::Result<()> {
        self.guard.lookups.remove(&stream.rep());
        HostResolveAddressStream::drop(&mut self.sockets, stream)
    }
}

fn ip_of(address: IpAddress) -> std::net::IpAddr {
    match address {
        IpAddress::Ipv4((a, b, c, d)) => std::net::Ipv4Addr::new(a, b, c, d).into(),
        IpAddress::Ipv6((a, b, c, d, e, f, g, h)) => {
            std::net::Ipv6Addr::new(a, b, c, d, e, f, g, h).into()
        }
    }
}

impl tcp::Host for SocketsView<'_> {}

impl HostTcpSocket for SocketsView<'_> {
    async fn start_bind(
        &mut self,
        _: Resource<TcpSocket>,
        _: Resource<Network>,
        local: IpSocketAddress,
    ) -> SocketResult<()> {
        self.egress.deny(
            format!("bind {}", SocketAddr::from(local)),
            "binding and listening are never allowed: scrapers connect out only",
        );
        denied()
    }

    fn finish_bind(&mut self, this: Resource<TcpSocket>) -> SocketResult<()> {
        HostTcpSocket::finish_bind(&mut self.sockets, this)
    }

    fn start_connect(
        &mut self,
        this: Resource<TcpSocket>,
        network: Resource<Network>,
        remote: IpSocketAddress,
    ) -> SocketResult<()> {
        let addr = SocketAddr::from(remote);
        let names = self.egress.names_of(addr.ip());
        if let Err(reason) = self.egress.policy().connect(addr, &names) {
            self.egress.deny(addr.to_string(), reason);
            return denied();
        }
        if !self.egress.take_connection(&addr.to_string()) {
            return denied();
        }
        self.egress.approve(addr);
        self.guard.peers.insert(this.rep(), addr);
        HostTcpSocket::start_connect(&mut self.sockets, this, network, remote)
    }

    fn finish_connect(
        &mut self,
        this: Resource<TcpSocket>,
    ) -> SocketResult<(Resource<DynInputStream>, Resource<DynOutputStream>)> {
        let peer = self.guard.peers.get(&this.rep()).copied();
        let (input, output) = HostTcpSocket::finish_connect(&mut self.sockets, this)?;
        // What the connection receives is metered: the stream wasmtime-wasi
        // made is wrapped in place.
        let stream: &mut DynInputStream = self.sockets.table.get_mut(&input)?;
        let inner = std::mem::replace(stream, Box::new(ClosedInputStream));
        *stream = Box::new(Metered {
            inner,
            egress: self.egress.clone(),
            from: peer.map_or_else(|| "a TCP connection".into(), |p| p.to_string()),
        });
        Ok((input, output))
    }

    async fn start_listen(&mut self, _: Resource<TcpSocket>) -> SocketResult<()> {
        self.egress.deny(
            "listen",
            "binding and listening are never allowed: scrapers connect out only",
        );
        denied()
    }

    fn finish_listen(&mut self, this: Resource<TcpSocket>) -> SocketResult<()> {
        HostTcpSocket::finish_listen(&mut self.sockets, this)
    }

    fn accept(
        &mut self,
        this: Resource<TcpSocket>,
    ) -> SocketResult<(
        Resource<TcpSocket>,
        Resource<DynInputStream>,
        Resource<DynOutputStream>,
    )> {
        // No socket of a guest ever listens.
        HostTcpSocket::accept(&mut self.sockets, this)
    }

    fn local_address(&mut self, this: Resource<TcpSocket>) -> SocketResult<IpSocketAddress> {
        HostTcpSocket::local_address(&mut self.sockets, this)
    }

    fn remote_address(&mut self, this: Resource<TcpSocket>) -> SocketResult<IpSocketAddress> {
        HostTcpSocket::remote_address(&mut self.sockets, this)
    }

    fn is_listening(&mut self, this: Resource<TcpSocket>) -> wasmtime::Result<bool> {
        HostTcpSocket::is_listening(&mut self.sockets, this)
    }

    fn address_family(&mut self, this: Resource<TcpSocket>) -> wasmtime::Result<IpAddressFamily> {
        HostTcpSocket::address_family(&mut self.sockets, this)
    }

    fn set_listen_backlog_size(
        &mut self,
        this: Resource<TcpSocket>,
        value: u64,
    ) -> SocketResult<()> {
        HostTcpSocket::set_listen_backlog_size(&mut self.sockets, this, value)
    }

    fn keep_alive_enabled(&mut self, this: Resource<TcpSocket>) -> SocketResult<bool> {
        HostTcpSocket::keep_alive_enabled(&mut self.sockets, this)
    }

    fn set_keep_alive_enabled(
        &mut self,
        this: Resource<TcpSocket>,
        value: bool,
    ) -> SocketResult<()> {
        HostTcpSocket::set_keep_alive_enabled(&mut self.sockets, this, value)
    }

    fn keep_alive_idle_time(&mut self, this: Resource<TcpSocket>) -> SocketResult<u64> {
        HostTcpSocket::keep_alive_idle_time(&mut self.sockets, this)
    }

    fn set_keep_alive_idle_time(
        &mut self,
        this: Resource<TcpSocket>,
        value: u64,
    ) -> SocketResult<()> {
        HostTcpSocket::set_keep_alive_idle_time(&mut self.sockets, this, value)
    }

    fn keep_alive_interval(&mut self, this: Resource<TcpSocket>) -> SocketResult<u64> {
        HostTcpSocket::keep_alive_interval(&mut self.sockets, this)
    }

    fn set_keep_alive_interval(
        &mut self,
        this: Resource<TcpSocket>,
        value: u64,
    ) -> SocketResult<()> {
        HostTcpSocket::set_keep_alive_interval(&mut self.sockets, this, value)
    }

    fn keep_alive_count(&mut self, this: Resource<TcpSocket>) -> SocketResult<u32> {
        HostTcpSocket::keep_alive_count(&mut self.sockets, this)
    }

    fn set_keep_alive_count(&mut self, this: Resource<TcpSocket>, value: u32) -> SocketResult<()> {
        HostTcpSocket::set_keep_alive_count(&mut self.sockets, this, value)
    }

    fn hop_limit(&mut self, this: Resource<TcpSocket>) -> SocketResult<u8> {
        HostTcpSocket::hop_limit(&mut self.sockets, this)
    }

    fn set_hop_limit(&mut self, this: Resource<TcpSocket>, value: u8) -> SocketResult<()> {
        HostTcpSocket::set_hop_limit(&mut self.sockets, this, value)
    }

    fn receive_buffer_size(&mut self, this: Resource<TcpSocket>) -> SocketResult<u64> {
        HostTcpSocket::receive_buffer_size(&mut self.sockets, this)
    }

    fn set_receive_buffer_size(
        &mut self,
        this: Resource<TcpSocket>,
        value: u64,
    ) -> SocketResult<()> {
        HostTcpSocket::set_receive_buffer_size(&mut self.sockets, this, value)
    }

    fn send_buffer_size(&mut self, this: Resource<TcpSocket>) -> SocketResult<u64> {
        HostTcpSocket::send_buffer_size(&mut self.sockets, this)
    }

    fn set_send_buffer_size(&mut self, this: Resource<TcpSocket>, value: u64) -> SocketResult<()> {
        HostTcpSocket::set_send_buffer_size(&mut self.sockets, this, value)
    }

    fn subscribe(&mut self, this: Resource<TcpSocket>) -> wasmtime::Result<Resource<DynPollable>> {
        HostTcpSocket::subscribe(&mut self.sockets, this)
    }

    fn shutdown(&mut self, this: Resource<TcpSocket>, how: ShutdownType) -> SocketResult<()> {
        HostTcpSocket::shutdown(&mut self.sockets, this, how)
    }

    fn drop(&mut self, this: Resource<TcpSocket>) -> wasmtime::Result<()> {
        let rep = this.rep();
        HostTcpSocket::drop(&mut self.sockets, this)?;
        // The descriptor is closed: its token goes, and with it the count.
        self.guard.held.remove(&rep);
        self.guard.peers.remove(&rep);
        Ok(())
    }
}

/// A connection's input stream, counted against the call's
/// `limits.received_bytes`: past it, reads fail.
pub struct Metered {
    /// wasmtime-wasi's stream.
    pub inner: DynInputStream,
    /// The call's caps.
    pub egress: Arc<Egress>,
    /// Where the bytes come from, for the refusal.
    pub from: String,
}

impl Metered {
    fn cut(&self) -> StreamError {
        StreamError::LastOperationFailed(wasmtime::format_err!(
            "received {} bytes, the module's limits.received_bytes",
            self.egress.max_bytes()
        ))
    }
}

#[async_trait::async_trait]
impl InputStream for Metered {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        let left = self.egress.bytes_left(&self.from);
        if left == 0 {
            return Err(self.cut());
        }
        let bytes = self
            .inner
            .read(size.min(usize::try_from(left).unwrap_or(usize::MAX)))?;
        self.egress.received(bytes.len());
        Ok(bytes)
    }

    fn skip(&mut self, size: usize) -> StreamResult<usize> {
        Ok(self.read(size)?.len())
    }
}

#[async_trait::async_trait]
impl Pollable for Metered {
    async fn ready(&mut self) {
        self.inner.ready().await;
    }
}

/// A name or address from a guest, as one bounded line for the log.
fn one_line(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(256)
        .collect();
    if s.chars().count() > 256 {
        out.push('…');
    }
    out
}
