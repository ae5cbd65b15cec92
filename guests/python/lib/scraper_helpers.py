"""Small helpers for Python scrapers on top of the componentize-py bindings.

Families (`family`, `sample`; GAUGE, COUNTER, UNTYPED), parameters
(`params_dict`, `param` with a type), errors (`fail`, `collector`) and
files (`read_text`). Histograms and summaries come with version 0.2 of the
scraper world, whose metric model carries them (as `HISTOGRAM`/`SUMMARY`
kinds and a sample helper of their own).

The host wants a failed collection as `err("one line")`, not as a trap: a
trap is counted as a crash, and its message is a wasm backtrace that tells
the operator nothing. So every failure a scraper can foresee is raised as
`Err` with a reason naming the file, and `collector` turns anything it did
not foresee into `Err` as well, with the traceback on stderr (the host log).
"""

import functools
import sys
import traceback

from componentize_py_types import Err
from wit_world.imports.types import MetricFamily, MetricKind, Sample

GAUGE = MetricKind.GAUGE
COUNTER = MetricKind.COUNTER
UNTYPED = MetricKind.UNTYPED


def fail(reason):
    """Ends the collection with `err(reason)`."""
    raise Err(" ".join(str(reason).split()))


def params_dict(params):
    """The operator's parameters by name (the last one wins on repeats)."""
    return {p.name: p.value for p in params}


def _parse_bool(text):
    if text.strip().lower() in ("true", "1"):
        return True
    if text.strip().lower() in ("false", "0"):
        return False
    raise ValueError(text)


def param(params, name, default=None, type=str):
    """The value of parameter `name` converted with `type` (str, int, float
    or bool), or `default` when the operator did not set it; `err` naming
    the parameter when the value does not convert."""
    values = params_dict(params)
    if name not in values:
        return default
    text = values[name]
    try:
        return _parse_bool(text) if type is bool else type(text.strip() if type is not str else text)
    except ValueError:
        fail(f"parameter {name}: {text!r} is not a valid {type.__name__}")


def family(name, help_text, kind, label_names=()):
    """A family without samples, to be filled with `sample`."""
    return MetricFamily(name, help_text, kind, list(label_names), [])


def sample(fam, value, *label_values):
    """Appends one series to `fam`; label values in the order of its names."""
    fam.samples.append(Sample([str(v) for v in label_values], float(value)))


def read_text(path):
    """The whole file at `path`, or `err` naming the file and the cause.

    Files are read in one go rather than line by line: /proc files report a
    size of 0 and change between reads, so one read gives one snapshot.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        fail(f"reading {path}: {e.strerror or e}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        fail(f"reading {path}: not UTF-8 at byte {e.start}")


def collector(method):
    """Wraps a `collect` method so unforeseen exceptions become `err`."""

    @functools.wraps(method)
    def wrapped(self, params):
        try:
            return method(self, params)
        except Err:
            raise
        except Exception as e:  # noqa: BLE001 - reported to the host, not hidden
            traceback.print_exc(file=sys.stderr)
            fail(f"{type(e).__name__}: {e}")

    return wrapped
