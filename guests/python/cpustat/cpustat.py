"""cpustat: CPU time and scheduler counts from /proc/stat.

    cpustat_cpu_seconds_total{cpu,mode}  time each CPU spent in each mode
    cpustat_context_switches_total       context switches since boot
    cpustat_forks_total                  processes and threads created since boot
    cpustat_boot_time_seconds            boot time, seconds since the epoch
    cpustat_procs_running                runnable processes
    cpustat_procs_blocked                processes blocked on I/O

Parameters:
    proc_dir   where the proc filesystem is granted in the guest (default
               /proc; nothing is there unless the operator grants it)
"""

import wit_world
from scraper_helpers import COUNTER, GAUGE, collector, fail, family, params_dict, read_text, sample

# /proc/stat counts in USER_HZ ticks, which the kernel fixes at 100 for
# user space on every architecture, whatever its internal HZ.
USER_HZ = 100.0

# The first eight columns of a cpuN line. The two after them (guest,
# guest_nice) are already included in user and nice, so they are left out
# rather than counted twice.
MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")

# Single-value lines: (key, metric, kind, help, unit).
SCALARS = (
    ("ctxt", "cpustat_context_switches_total", COUNTER, "Context switches since boot.", ""),
    ("processes", "cpustat_forks_total", COUNTER, "Processes and threads created since boot.", ""),
    ("btime", "cpustat_boot_time_seconds", GAUGE, "Boot time, in seconds since the Unix epoch.", "seconds"),
    ("procs_running", "cpustat_procs_running", GAUGE, "Processes in runnable state.", ""),
    ("procs_blocked", "cpustat_procs_blocked", GAUGE, "Processes blocked waiting for I/O.", ""),
)


class WitWorld(wit_world.WitWorld):
    @collector
    def collect(self, params):
        proc_dir = params_dict(params).get("proc_dir", "/proc").rstrip("/") or "/"
        path = f"{proc_dir}/stat"
        text = read_text(path)

        cpu = family(
            "cpustat_cpu_seconds_total",
            "Seconds each CPU spent in each mode.",
            COUNTER,
            ["cpu", "mode"],
            unit="seconds",
        )
        scalars = {key: None for key, *_ in SCALARS}
        for lineno, line in enumerate(text.splitlines(), start=1):
            fields = line.split()
            if not fields:
                continue
            key = fields[0]
            # The aggregate "cpu" line is the sum of the others: a query can
            # sum it, and serving it would double every sum over cpu.
            if key.startswith("cpu") and key[3:].isdigit():
                ticks = parse_ints(fields[1 : 1 + len(MODES)], path, lineno)
                if len(ticks) < 4:
                    fail(f"{path}:{lineno}: {key} has {len(ticks)} columns, expected at least 4")
                for mode, value in zip(MODES, ticks):
                    sample(cpu, value / USER_HZ, key[3:], mode)
            elif key in scalars:
                if len(fields) != 2:
                    fail(f"{path}:{lineno}: {key} should have one value")
                scalars[key] = parse_ints(fields[1:], path, lineno)[0]

        if not cpu.samples:
            fail(f"{path}: no cpuN lines")
        families = [cpu]
        for key, name, kind, help_text, unit in SCALARS:
            # Older kernels lack some lines; serve what is there.
            if scalars[key] is not None:
                f = family(name, help_text, kind, unit=unit)
                sample(f, scalars[key])
                families.append(f)
        return families


def parse_ints(fields, path, lineno):
    try:
        return [int(v) for v in fields]
    except ValueError as e:
        fail(f"{path}:{lineno}: {e}")
