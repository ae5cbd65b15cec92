"""netprobe: tries to use the network from inside the sandbox.

An adversarial guest for the sandbox tests. Each mode reports what happened
instead of failing, so a refusal shows up as a value; `error` is empty on
success, else "STAGE: ExceptionType: message", STAGE being the step that
failed (lookup, socket, connect, bind, listen, send, recv).

    mode=connect (default)   one TCP connection to host:port
        netprobe_connected{target,error}       1 if connected, else 0
    mode=connects            `count` connections in a loop, each closed
        netprobe_connections{target,error}     how many connected
        netprobe_attempts{target}              how many were tried
    mode=read                one connection, read until end or error
        netprobe_received_bytes{target,error}  bytes read
    mode=udp                 one datagram to host:port
        netprobe_udp_sent{target,error}        1 if sent, else 0
    mode=listen              a listening socket on host:port
        netprobe_listening{target,error}       1 if listening, else 0

Parameters:
    host        address or name (required)
    port        TCP/UDP port (required)
    mode        see above (default connect)
    count       connections for mode=connects (default 10000)
    timeout_ms  socket timeout (default 1000)
    fail        true: end with err(error) instead of reporting it, as a
                scraper that cannot do without the network would
"""

import ipaddress
import socket

import wit_world
from scraper_helpers import GAUGE, collector, fail, family, param, sample

# Label values are capped by the host (4 KiB by default); an error text is
# one line and much shorter, so cap it well below that.
MAX_ERROR_CHARS = 300


class Stage:
    """The step in progress, for the error text."""

    name = "lookup"


class WitWorld(wit_world.WitWorld):
    @collector
    def collect(self, params):
        host = param(params, "host") or fail("parameter host is required")
        port = param(params, "port", type=int)
        if port is None:
            fail("parameter port is required")
        timeout = param(params, "timeout_ms", 1000, type=int) / 1000.0
        count = param(params, "count", 10000, type=int)
        if not 0 < port < 65536:
            fail(f"parameter port: {port} is not a port")
        target = f"{host}:{port}"
        mode = param(params, "mode", "connect")
        modes = {
            "connect": connect_once,
            "connects": lambda h, po, t, st: connect_many(h, po, t, count, st),
            "read": read_all,
            "udp": send_udp,
            "listen": listen,
        }
        if mode not in modes:
            fail(f"parameter mode: {mode!r} is not one of {', '.join(modes)}")
        stage = Stage()
        try:
            values = modes[mode](host, port, timeout, stage)
            error = ""
        except Exception as e:  # noqa: BLE001 - the refusal is the measurement
            values, error = getattr(e, "values", {}), describe(stage, e)
        if error and param(params, "fail", False, type=bool):
            fail(f"{target}: {error}")
        return report(mode, target, values, error)


def describe(stage, e):
    text = " ".join(f"{stage.name}: {type(e).__name__}: {e}".split())
    return text[:MAX_ERROR_CHARS]


def report(mode, target, values, error):
    names = {
        "connect": ("netprobe_connected", "Whether a TCP connection succeeded."),
        "connects": ("netprobe_connections", "TCP connections that succeeded in the loop."),
        "read": ("netprobe_received_bytes", "Bytes read from the connection."),
        "udp": ("netprobe_udp_sent", "Whether a UDP datagram was sent."),
        "listen": ("netprobe_listening", "Whether a listening socket was made."),
    }
    name, help_text = names[mode]
    f = family(name, help_text, GAUGE, ["target", "error"])
    sample(f, values.get("value", 0), target, error)
    out = [f]
    if mode == "connects":
        a = family("netprobe_attempts", "TCP connections tried in the loop.", GAUGE, ["target"])
        sample(a, values.get("attempts", 0), target)
        out.append(a)
    return out


def address(host, port, kind, stage):
    """(family, sockaddr) of host, looked up by the host if a name."""
    stage.name = "lookup"
    try:
        return (socket.AF_INET6 if ":" in host else socket.AF_INET,
                (str(ipaddress.ip_address(host)), port))
    except ValueError:
        # Bytes skip the IDNA codec, which the bundled standard library
        # may lack; what is probed is the lookup, not the encoding.
        af, _, _, _, addr = socket.getaddrinfo(host.encode("ascii"), port, type=kind)[0]
        return af, addr


def connect_once(host, port, timeout, stage):
    af, addr = address(host, port, socket.SOCK_STREAM, stage)
    stage.name = "socket"
    sock = socket.socket(af, socket.SOCK_STREAM)
    try:
        stage.name = "connect"
        sock.settimeout(timeout)
        sock.connect(addr)
    finally:
        sock.close()
    return {"value": 1}


class Partial(Exception):
    """An error after some progress, carrying the values so far."""

    def __init__(self, cause, values):
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.values = values


def connect_many(host, port, timeout, count, stage):
    af, addr = address(host, port, socket.SOCK_STREAM, stage)
    connected, first_error = 0, None
    for _ in range(count):
        try:
            stage.name = "socket"
            sock = socket.socket(af, socket.SOCK_STREAM)
            try:
                stage.name = "connect"
                sock.settimeout(timeout)
                sock.connect(addr)
                connected += 1
            finally:
                sock.close()
        except OSError as e:
            if first_error is None:
                first_error = (stage.name, e)
    values = {"value": connected, "attempts": count}
    if first_error is not None:
        stage.name = first_error[0]
        raise Partial(first_error[1], values)
    return values


def read_all(host, port, timeout, stage):
    af, addr = address(host, port, socket.SOCK_STREAM, stage)
    stage.name = "socket"
    sock = socket.socket(af, socket.SOCK_STREAM)
    received = 0
    try:
        stage.name = "connect"
        sock.settimeout(timeout)
        sock.connect(addr)
        stage.name = "recv"
        # Blocking reads: a server that trickles keeps the guest here until
        # the host's deadline.
        sock.settimeout(None)
        while True:
            try:
                chunk = sock.recv(1 << 16)
            except OSError as e:
                raise Partial(e, {"value": received}) from e
            if not chunk:
                return {"value": received}
            received += len(chunk)
    finally:
        sock.close()


def send_udp(host, port, timeout, stage):
    af, addr = address(host, port, socket.SOCK_DGRAM, stage)
    stage.name = "socket"
    sock = socket.socket(af, socket.SOCK_DGRAM)
    try:
        stage.name = "send"
        sock.sendto(b"netprobe", addr)
    finally:
        sock.close()
    return {"value": 1}


def listen(host, port, timeout, stage):
    stage.name = "socket"
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        stage.name = "bind"
        sock.bind((host, port))
        stage.name = "listen"
        sock.listen(1)
    finally:
        sock.close()
    return {"value": 1}
