"""Small helpers for Python scrapers on top of the componentize-py bindings.

Families (`family` with a kind and, in world 0.2.0, a unit), their series
(`sample`; `histogram`, `summary` and `states` in world 0.2.0), parameters
(`params_dict`, `param` with a type), errors (`fail`, `collector`) and files
(`read_text`).

The host wants a failed collection as `err("one line")`, not as a trap: a
trap is counted as a crash, and its message is a wasm backtrace that tells
the operator nothing. So every failure a scraper can foresee is raised as
`Err` with a reason naming the file, and `collector` turns anything it did
not foresee into `Err` as well, with the traceback on stderr (the host log).
"""

import functools
import math
import sys
import traceback

from componentize_py_types import Err
from wit_world.imports import types as _types
from wit_world.imports.types import MetricFamily, MetricKind, Sample

# The helpers serve both versions of the scraper world; the bindings say
# which one this guest is built against (only 0.2.0 has sample values with
# several parts).
WIT_0_2 = hasattr(_types, "SampleValue_Number")

GAUGE = MetricKind.GAUGE
COUNTER = MetricKind.COUNTER
UNTYPED = MetricKind.UNTYPED
if WIT_0_2:
    HISTOGRAM = MetricKind.HISTOGRAM
    GAUGE_HISTOGRAM = MetricKind.GAUGE_HISTOGRAM
    SUMMARY = MetricKind.SUMMARY
    INFO = MetricKind.INFO
    STATESET = MetricKind.STATESET


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


def family(name, help_text, kind, label_names=(), unit=""):
    """A family without samples, to be filled with `sample` (or `histogram`,
    `summary`, `states`). `unit` ("seconds", "bytes"; world 0.2.0) must be
    the end of the name, before `_total` for a counter."""
    if WIT_0_2:
        return MetricFamily(name, help_text, unit, kind, list(label_names), [])
    if unit:
        fail(f"{name}: units need world 0.2.0 (this guest is built against 0.1.0)")
    return MetricFamily(name, help_text, kind, list(label_names), [])


def _labels(label_values):
    return [str(v) for v in label_values]


def sample(fam, value, *label_values):
    """Appends one series holding a number to `fam` (gauge, counter, untyped;
    1 for an INFO family); label values in the order of its names."""
    value = float(value)
    if WIT_0_2:
        value = _types.SampleValue_Number(value)
    fam.samples.append(Sample(_labels(label_values), value))


def histogram(fam, buckets, *label_values, count=None, sum=None):
    """Appends a histogram series to a HISTOGRAM or GAUGE_HISTOGRAM family.

    `buckets` are (upper bound, cumulative count) pairs in ascending order;
    the +Inf bucket is added with `count` unless the last bound is already
    infinite. `count` defaults to the +Inf bucket's count (or the last
    one's); `sum` is the sum of the observations, or None when unknown.
    """
    pairs = [(float(le), int(n)) for le, n in buckets]
    if count is None:
        count = pairs[-1][1] if pairs else 0
    if not pairs or pairs[-1][0] != math.inf:
        pairs.append((math.inf, int(count)))
    value = _types.Histogram(
        [_types.Bucket(le, n) for le, n in pairs],
        int(count),
        None if sum is None else float(sum),
    )
    fam.samples.append(Sample(_labels(label_values), _types.SampleValue_Histogram(value)))


def summary(fam, quantiles, *label_values, count, sum):
    """Appends a summary series to a SUMMARY family. `quantiles` maps each
    quantile (0..1) to its value (NaN when nothing was observed), as a dict
    or as pairs; `count` and `sum` are those of all observations."""
    items = quantiles.items() if hasattr(quantiles, "items") else quantiles
    value = _types.Summary(
        [_types.Quantile(float(q), float(v)) for q, v in items],
        int(count),
        float(sum),
    )
    fam.samples.append(Sample(_labels(label_values), _types.SampleValue_Summary(value)))


def states(fam, enabled, *label_values):
    """Appends one series per state to a STATESET family: `enabled` maps each
    state name to whether it holds. The family's label names include its own
    name, which holds the state; `label_values` are those of its other
    labels, in order."""
    try:
        at = fam.label_names.index(fam.name)
    except ValueError:
        fail(f"stateset {fam.name} needs a label named {fam.name} for its states")
    for state, on in enabled.items():
        values = list(label_values)
        values.insert(at, state)
        sample(fam, 1 if on else 0, *values)


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
