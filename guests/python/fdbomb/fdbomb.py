"""fdbomb: tries to exhaust the host's file descriptors from inside the sandbox.

An adversarial guest for the sandbox tests. WASI 0.2 straight from Python
(componentize-py), so no preview1 adapter table stands between it and the
host: every open is a host descriptor. It opens `path` again and again,
keeping every file open, until an open fails or `count` are open, then
holds them for `hold_ms` and reports:

    fdbomb_opened{error="..."}  how many were open at once; `error` is the
                                failure that stopped it ("" if none)

Parameters:
    path     file to open (required)
    count    most opens to try (default 100000)
    hold_ms  how long to hold them all before returning (default 0)
"""

import time

import wit_world
from scraper_helpers import GAUGE, collector, fail, family, params_dict, sample

MAX_ERROR_CHARS = 200


class WitWorld(wit_world.WitWorld):
    @collector
    def collect(self, params):
        p = params_dict(params)
        path = p.get("path") or fail("parameter path is required")
        try:
            count = int(p.get("count", "100000"))
            hold_ms = int(p.get("hold_ms", "0"))
        except ValueError as e:
            fail(f"parameter count or hold_ms: {e}")
        opened = []
        error = ""
        try:
            while len(opened) < count:
                opened.append(open(path, "rb"))
        except OSError as e:
            error = " ".join(f"{type(e).__name__}: errno {e.errno}: {e.strerror}".split())
        held = len(opened)
        if hold_ms > 0:
            time.sleep(hold_ms / 1000.0)
        for f in opened:
            f.close()
        fam = family(
            "fdbomb_opened",
            "Files the guest held open at once before an open failed.",
            GAUGE,
            ["error"],
        )
        sample(fam, held, error[:MAX_ERROR_CHARS])
        return [fam]
