"""redis: a Redis server's INFO as redis_exporter's metrics, over plain TCP.

The plugin connects to `target` (HOST:PORT) with an ordinary socket (the
host's wasi:sockets, within the module's tcp grants), authenticates when a
`password` is given (from a file: the parameter is secret), sends
`INFO ALL` in RESP and turns the answer into a core subset of
redis_exporter's metrics, under the same names:

    redis_up                                 1 if INFO was read, else 0
    redis_instance_info{role,redis_version,redis_mode,os,tcp_port,...}  1
    redis_uptime_in_seconds, redis_start_time_seconds
    redis_connected_clients, redis_blocked_clients, redis_max_clients
    redis_memory_used_bytes, ..._rss_bytes, ..._peak_bytes, redis_memory_max_bytes
    redis_mem_fragmentation_ratio, redis_connected_slaves
    redis_rdb_changes_since_last_save, redis_rdb_last_save_timestamp_seconds
    redis_commands_processed_total, redis_connections_received_total,
    redis_net_input_bytes_total, redis_net_output_bytes_total,
    redis_keyspace_hits_total, redis_keyspace_misses_total,
    redis_expired_keys_total, redis_evicted_keys_total,
    redis_rejected_connections_total, redis_cpu_sys_seconds_total,
    redis_cpu_user_seconds_total
    redis_commands_total{cmd}, redis_commands_duration_seconds_total{cmd}
    redis_db_keys{db}, redis_db_keys_expiring{db}, redis_db_avg_ttl_seconds{db}

As redis_exporter does, a server that cannot be reached or refuses the
password is reported as `redis_up 0` (the reason goes to the exporter's
log); a connection the sandbox refuses fails the collection instead, so
that the operator sees `egress_denied`.

Parameters:
    target      HOST:PORT of the server (required; /probe?target= sets it)
    username    ACL user for AUTH (optional; needs password)
    password    secret: given by the operator as password_file
    timeout     connect and read timeout (default 1s; the module's own
                deadline bounds everything anyway)
"""

import ipaddress
import socket
import sys

import wit_world
from scraper_helpers import COUNTER, GAUGE, collector, fail, family, params_dict, sample

# INFO field -> (metric name, type, help), as redis_exporter names them.
GAUGES = {
    "uptime_in_seconds": ("redis_uptime_in_seconds", "Seconds since the server started."),
    "connected_clients": ("redis_connected_clients", "Client connections (excluding replicas)."),
    "blocked_clients": ("redis_blocked_clients", "Clients blocked in a blocking call."),
    "maxclients": ("redis_max_clients", "The maxclients setting."),
    "used_memory": ("redis_memory_used_bytes", "Bytes allocated by Redis."),
    "used_memory_rss": ("redis_memory_used_rss_bytes", "Resident set size of the server."),
    "used_memory_peak": ("redis_memory_used_peak_bytes", "Peak of used_memory."),
    "maxmemory": ("redis_memory_max_bytes", "The maxmemory setting (0: none)."),
    "mem_fragmentation_ratio": ("redis_mem_fragmentation_ratio", "used_memory_rss over used_memory."),
    "connected_slaves": ("redis_connected_slaves", "Connected replicas."),
    "rdb_changes_since_last_save": ("redis_rdb_changes_since_last_save", "Changes since the last dump."),
    "rdb_last_save_time": ("redis_rdb_last_save_timestamp_seconds", "When the last dump succeeded."),
}
COUNTERS = {
    "total_commands_processed": ("redis_commands_processed_total", "Commands processed by the server."),
    "total_connections_received": ("redis_connections_received_total", "Connections accepted by the server."),
    "total_net_input_bytes": ("redis_net_input_bytes_total", "Bytes read from the network."),
    "total_net_output_bytes": ("redis_net_output_bytes_total", "Bytes written to the network."),
    "keyspace_hits": ("redis_keyspace_hits_total", "Successful key lookups."),
    "keyspace_misses": ("redis_keyspace_misses_total", "Failed key lookups."),
    "expired_keys": ("redis_expired_keys_total", "Keys expired."),
    "evicted_keys": ("redis_evicted_keys_total", "Keys evicted by the maxmemory policy."),
    "rejected_connections": ("redis_rejected_connections_total", "Connections refused (maxclients)."),
    "used_cpu_sys": ("redis_cpu_sys_seconds_total", "System CPU time of the server."),
    "used_cpu_user": ("redis_cpu_user_seconds_total", "User CPU time of the server."),
}
INFO_LABELS = ["role", "redis_version", "redis_build_id", "redis_mode", "os", "maxmemory_policy",
               "tcp_port", "run_id", "process_id", "master_replid"]

# An INFO answer is a few KB; anything much larger is not Redis.
MAX_REPLY = 4 << 20


class RedisError(Exception):
    """The server answered with an error, or not in RESP."""


class WitWorld(wit_world.WitWorld):
    @collector
    def collect(self, params):
        p = params_dict(params)
        target = p.get("target") or fail("parameter target (HOST:PORT) is required")
        host, port = split_target(target)
        try:
            timeout = parse_seconds(p.get("timeout", "1s"))
        except ValueError as e:
            fail(f"parameter timeout: {e}")
        try:
            info = scrape(host, port, p.get("username"), p.get("password"), timeout)
        except PermissionError as e:
            # The sandbox refused the connection: a failure, not a down server.
            fail(f"connecting to {target}: {e}")
        except (OSError, RedisError) as e:
            print(f"redis at {target} is down: {type(e).__name__}: {e}", file=sys.stderr)
            up = family("redis_up", "Whether the last scrape of Redis succeeded.", GAUGE)
            sample(up, 0)
            return [up]
        return families(info)


def split_target(target):
    host, sep, port = target.rpartition(":")
    if not sep or not host:
        fail(f"target {target!r} is not HOST:PORT")
    try:
        port = int(port)
    except ValueError:
        fail(f"target {target!r}: {port!r} is not a port")
    return host.strip("[]"), port


def parse_seconds(text):
    """Seconds of a duration such as 500ms, 2s or 1m30s."""
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    total, rest = 0.0, text.replace(" ", "")
    while rest:
        digits = len(rest) - len(rest.lstrip("0123456789."))
        unit = next((u for u in ("ms", "s", "m", "h") if rest[digits:].startswith(u)), None)
        if digits == 0 or unit is None:
            raise ValueError(f"{text!r} is not a duration such as 500ms or 2s")
        total += float(rest[:digits]) * units[unit]
        rest = rest[digits + len(unit):]
    return total


def connect(host, port, timeout):
    """A connected socket: the address itself, or each address the host
    resolved the name to, in turn."""
    try:
        addresses = [(socket.AF_INET6 if ":" in host else socket.AF_INET,
                      (str(ipaddress.ip_address(host)), port))]
    except ValueError:
        # Names as bytes: the bundled standard library has no IDNA codec.
        addresses = [(af, addr) for af, _, _, _, addr in
                     socket.getaddrinfo(host.encode("ascii"), port, type=socket.SOCK_STREAM)]
    last = None
    for af, addr in addresses:
        sock = socket.socket(af, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(addr)
            return sock
        except PermissionError:
            sock.close()
            raise
        except OSError as e:
            sock.close()
            last = e
    raise last or OSError(f"{host} has no address")


class Resp:
    """Reads RESP replies from a socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise RedisError("the server closed the connection")
        self.buf += chunk
        if len(self.buf) > MAX_REPLY:
            raise RedisError(f"reply larger than {MAX_REPLY} bytes")

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RedisError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            if n > MAX_REPLY:
                raise RedisError(f"reply of {n} bytes")
            while len(self.buf) < n + 2:
                self._fill()
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data.decode(errors="replace")
        raise RedisError(f"unexpected reply {line[:40]!r}")


def command(sock, resp, *args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    sock.sendall(out)
    return resp.reply()


def scrape(host, port, username, password, timeout):
    sock = connect(host, port, timeout)
    try:
        resp = Resp(sock)
        if password:
            if username:
                command(sock, resp, "AUTH", username, password)
            else:
                command(sock, resp, "AUTH", password)
        info = command(sock, resp, "INFO", "ALL")
        if not isinstance(info, str):
            raise RedisError("INFO did not answer with text")
        return parse_info(info)
    finally:
        sock.close()


def parse_info(text):
    """INFO text as {section: {key: value}}."""
    sections, current = {}, None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#"):
            current = sections.setdefault(line[1:].strip(), {})
        elif line and current is not None and ":" in line:
            key, value = line.split(":", 1)
            current[key] = value
    return sections


def number(text):
    try:
        return float(text)
    except ValueError:
        return None


def families(info):
    flat = {}
    for section, fields in info.items():
        if section not in ("Keyspace", "Commandstats"):
            flat.update(fields)
    out = []
    up = family("redis_up", "Whether the last scrape of Redis succeeded.", GAUGE)
    sample(up, 1)
    out.append(up)
    labels = [flat.get(k, "") for k in INFO_LABELS]
    inst = family("redis_instance_info", "Information about the Redis instance.", GAUGE, INFO_LABELS)
    sample(inst, 1, *labels)
    out.append(inst)
    for table, kind in ((GAUGES, GAUGE), (COUNTERS, COUNTER)):
        for key, (name, help_text) in table.items():
            value = number(flat.get(key, ""))
            if value is not None:
                f = family(name, help_text, kind)
                sample(f, value)
                out.append(f)
    uptime = number(flat.get("uptime_in_seconds", ""))
    now = number(flat.get("server_time_usec", ""))
    if uptime is not None and now is not None:
        f = family("redis_start_time_seconds",
                   "Start time of the Redis instance since unix epoch in seconds.", GAUGE)
        sample(f, int(now / 1e6 - uptime))
        out.append(f)
    calls = family("redis_commands_total", "Total number of calls per command.", COUNTER, ["cmd"])
    spent = family("redis_commands_duration_seconds_total",
                   "Total amount of time in seconds spent per command.", COUNTER, ["cmd"])
    for key, value in info.get("Commandstats", {}).items():
        # cmdstat_get:calls=21,usec=175,usec_per_call=8.33,...
        if not key.startswith("cmdstat_"):
            continue
        fields = dict(kv.split("=", 1) for kv in value.split(",") if "=" in kv)
        if number(fields.get("calls", "")) is None or number(fields.get("usec", "")) is None:
            continue
        cmd = key[len("cmdstat_"):]
        sample(calls, float(fields["calls"]), cmd)
        sample(spent, float(fields["usec"]) / 1e6, cmd)
    out += [calls, spent]
    keys = family("redis_db_keys", "Total number of keys by DB.", GAUGE, ["db"])
    expiring = family("redis_db_keys_expiring", "Total number of expiring keys by DB.", GAUGE, ["db"])
    ttl = family("redis_db_avg_ttl_seconds", "Avg TTL in seconds.", GAUGE, ["db"])
    for db, value in info.get("Keyspace", {}).items():
        # db0:keys=1,expires=0,avg_ttl=0
        fields = dict(kv.split("=", 1) for kv in value.split(",") if "=" in kv)
        if not db.startswith("db") or number(fields.get("keys", "")) is None:
            continue
        sample(keys, float(fields["keys"]), db)
        sample(expiring, float(fields.get("expires", "0")), db)
        avg = number(fields.get("avg_ttl", ""))
        if avg is not None:
            sample(ttl, avg / 1000.0, db)
    out += [keys, expiring, ttl]
    return [f for f in out if f.samples]
