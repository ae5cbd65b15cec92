"""netprobe: tries to reach the network from inside the sandbox.

An adversarial guest for the sandbox tests. It resolves `host` if it is not
an IP address, opens a TCP socket and connects to `host:port`, and reports
what happened instead of failing, so a denial shows up as a value:

    netprobe_connected{target="host:port",error="..."}  1 if connected, else 0

`error` is empty on success, else "STAGE: ExceptionType: message" where
STAGE is lookup, socket or connect: the step the sandbox refused.

Parameters:
    host        address or name to connect to (required)
    port        TCP port (required)
    timeout_ms  connect timeout (default 1000)
"""

import ipaddress
import socket

import wit_world
from scraper_helpers import GAUGE, collector, fail, family, param, sample

# Label values are capped by the host (4 KiB by default); an error text is
# one line and much shorter, so cap it well below that.
MAX_ERROR_CHARS = 300


class WitWorld(wit_world.WitWorld):
    @collector
    def collect(self, params):
        host = param(params, "host") or fail("parameter host is required")
        port = param(params, "port", type=int)
        if port is None:
            fail("parameter port is required")
        timeout = param(params, "timeout_ms", 1000, type=int) / 1000.0
        if not 0 < port < 65536:
            fail(f"parameter port: {port} is not a TCP port")

        connected, error = probe(host, port, timeout)
        f = family(
            "netprobe_connected",
            "Whether a TCP connection from inside the sandbox succeeded.",
            GAUGE,
            ["target", "error"],
        )
        sample(f, 1 if connected else 0, f"{host}:{port}", error)
        return [f]


def probe(host, port, timeout):
    """(connected, error text) of one connection attempt."""
    stage = "lookup"
    try:
        try:
            address = (str(ipaddress.ip_address(host)), port)
            family_ = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        except ValueError:
            # Bytes skip the IDNA codec, which the bundled standard library
            # may lack; what is probed is the lookup, not the encoding.
            family_, _, _, _, address = socket.getaddrinfo(
                host.encode("ascii"), port, type=socket.SOCK_STREAM
            )[0]
        stage = "socket"
        sock = socket.socket(family_, socket.SOCK_STREAM)
        try:
            stage = "connect"
            sock.settimeout(timeout)
            sock.connect(address)
        finally:
            sock.close()
        return True, ""
    except Exception as e:  # noqa: BLE001 - the refusal is the measurement
        text = " ".join(f"{stage}: {type(e).__name__}: {e}".split())
        return False, text[:MAX_ERROR_CHARS]
