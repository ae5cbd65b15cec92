"""textfile: serves metrics that other programs write to *.prom files.

Like node_exporter's textfile collector: a cron job or a batch script writes
its results in the Prometheus text format into a directory, and this module
re-exposes every family it finds there, plus

    textfile_mtime_seconds{file}  when each file was last modified

so a query can tell a stale file from a fresh one.

Families of the same name in several files are merged into one: they must
agree on the type, a series may appear only once, and the first HELP (in
file name order) wins. Series with fewer
labels than others of their family get the missing ones as empty values,
which Prometheus treats as absent. Anything malformed fails the whole
collection with "FILE:LINE: reason": serving half a file would hide the
error behind plausible-looking numbers.

Parameters:
    dir   directory with the *.prom files (default /textfile), as granted
"""

import os
import re
import stat

import wit_world
from scraper_helpers import (
    COUNTER,
    GAUGE,
    UNTYPED,
    collector,
    fail,
    family,
    params_dict,
    read_text,
    sample,
)

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# Decimal floats and the special values as Go's ParseFloat (Prometheus'
# parser) reads them, without the underscores Python's float() also takes.
VALUE = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|(?i:inf|infinity|nan))\Z")
KINDS = {"gauge": GAUGE, "counter": COUNTER, "untyped": UNTYPED}
KIND_NAMES = {v: k for k, v in KINDS.items()}
MTIME = "textfile_mtime_seconds"


class WitWorld(wit_world.WitWorld):
    @collector
    def collect(self, params):
        directory = params_dict(params).get("dir", "/textfile").rstrip("/") or "/"
        try:
            names = sorted(n for n in os.listdir(directory) if n.endswith(".prom"))
        except OSError as e:
            fail(f"listing {directory}: {e.strerror or e}")

        families = Families()
        mtime = family(
            MTIME,
            "Last modification time of each textfile, seconds since the Unix epoch.",
            GAUGE,
            ["file"],
        )
        for name in names:
            path = f"{directory}/{name}"
            try:
                st = os.stat(path)
            except OSError as e:
                fail(f"{path}: {e.strerror or e}")
            if not stat.S_ISREG(st.st_mode):
                continue
            families.parse(path, read_text(path))
            sample(mtime, st.st_mtime, path)

        out = families.finish()
        if any(f.name == MTIME for f in out):
            fail(f"{families.origin[MTIME]}: {MTIME} is served by the collector itself")
        return out + [mtime] if mtime.samples else out


class Family:
    def __init__(self, name):
        self.name = name
        self.help = None
        self.kind = None
        # Where the type was decided, for conflict messages.
        self.kind_origin = None
        # (labels dict, value) in order of appearance.
        self.samples = []
        # Files with samples of this family, in order (dict keys keep it).
        self.files = {}


class Families:
    """The families of all files so far, merged by name."""

    def __init__(self):
        self.by_name = {}
        # Series key -> where it was first seen.
        self.series = {}
        # Family name -> first place it was mentioned.
        self.origin = {}
        # The file being parsed.
        self.path = None

    def parse(self, path, text):
        # Per file: families with a TYPE line, and families with samples, so
        # that a second TYPE or a TYPE after samples is caught as in
        # Prometheus' own parser.
        state = FileState()
        self.path = path
        for lineno, raw in enumerate(text.split("\n"), start=1):
            line = raw.rstrip("\r").strip(" \t")
            if not line:
                continue
            where = f"{path}:{lineno}"
            if line.startswith("#"):
                self.comment(line, where, state)
            else:
                self.sample_line(line, where, state)

    def get(self, name, where):
        fam = self.by_name.get(name)
        if fam is None:
            fam = self.by_name[name] = Family(name)
            self.origin[name] = where
        return fam

    def comment(self, line, where, state):
        rest = line[1:].lstrip(" \t")
        keyword, _, rest = partition_ws(rest)
        if keyword not in ("HELP", "TYPE"):
            return  # a plain comment
        name, _, rest = partition_ws(rest)
        if not name:
            fail(f"{where}: {keyword} without a metric name")
        check_metric_name(name, where)
        fam = self.get(name, where)
        if keyword == "HELP":
            if name in state.helped:
                fail(f"{where}: second HELP for {name}")
            state.helped.add(name)
            text = unescape(rest, "\\n", where, "HELP")
            if fam.help is None:
                fam.help = text
            return
        if name in state.typed:
            fail(f"{where}: second TYPE for {name}")
        if name in state.sampled:
            fail(f"{where}: TYPE for {name} after its samples")
        state.typed.add(name)
        kind_name = rest.strip(" \t")
        if kind_name in ("summary", "histogram"):
            fail(f"{where}: type {kind_name} of {name} is not supported (gauge, counter and untyped are)")
        kind = KINDS.get(kind_name)
        if kind is None:
            fail(f"{where}: unknown type {kind_name!r} for {name}")
        self.set_kind(fam, kind, where)

    def set_kind(self, fam, kind, where):
        if fam.kind is None:
            fam.kind, fam.kind_origin = kind, where
        elif fam.kind != kind:
            fail(
                f"{where}: {fam.name} is a {KIND_NAMES[kind]} here but a "
                f"{KIND_NAMES[fam.kind]} at {fam.kind_origin}"
            )

    def sample_line(self, line, where, state):
        name, labels, value = parse_sample(line, where)
        fam = self.get(name, where)
        if name not in state.typed:
            # Samples without a TYPE line in their file are untyped, as in
            # Prometheus, even if another file types the family.
            self.set_kind(fam, UNTYPED, where)
        state.sampled.add(name)
        fam.files[self.path] = None
        if fam.kind == COUNTER and value < 0:
            fail(f"{where}: counter {name} is negative ({value})")
        # Empty label values mean "no such label" in Prometheus, so they do
        # not tell two series apart.
        key = (name, tuple(sorted((k, v) for k, v in labels.items() if v != "")))
        first = self.series.get(key)
        if first is not None:
            fail(f"{where}: duplicate series {series_text(key)} (first at {first})")
        self.series[key] = where
        fam.samples.append((labels, value))

    def finish(self):
        out = []
        for name in sorted(self.by_name):
            fam = self.by_name[name]
            if not fam.samples:
                continue  # HELP or TYPE alone: nothing to serve
            label_names = sorted({k for labels, _ in fam.samples for k in labels})
            # Like node_exporter's textfile collector, a family without HELP
            # gets one saying where it came from.
            help_text = fam.help or "Metric read from " + ", ".join(fam.files)
            f = family(name, help_text, fam.kind, label_names)
            for labels, value in fam.samples:
                sample(f, value, *(labels.get(k, "") for k in label_names))
            out.append(f)
        return out


class FileState:
    def __init__(self):
        self.helped = set()
        self.typed = set()
        self.sampled = set()


def partition_ws(text):
    """Splits at the first run of blanks: (first token, blanks, rest)."""
    m = re.match(r"([^ \t]*)([ \t]*)(.*)\Z", text, re.S)
    return m.group(1), m.group(2), m.group(3)


def check_metric_name(name, where):
    if not METRIC_NAME.fullmatch(name):
        fail(f"{where}: invalid metric name {name!r}")
    if name.startswith("__"):
        fail(f"{where}: metric name {name} is reserved (starts with __)")


def unescape(text, allowed, where, what):
    """Resolves backslash escapes; `allowed` lists the escaped characters."""
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            nxt = text[i + 1 : i + 2]
            if not nxt or nxt not in allowed:
                fail(f"{where}: invalid escape sequence \\{nxt} in {what}")
            out.append("\n" if nxt == "n" else nxt)
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def parse_sample(line, where):
    """`name{label="value",...} value` -> (name, labels, value)."""
    m = METRIC_NAME.match(line)
    if not m:
        fail(f"{where}: expected a metric name, HELP, TYPE or comment")
    name = m.group(0)
    check_metric_name(name, where)
    i = m.end()
    labels = {}
    labels_given = line[i : i + 1] == "{"
    if labels_given:
        labels, i = parse_labels(line, i + 1, where)
    rest = line[i:]
    if not labels_given and rest[:1] not in (" ", "\t"):
        fail(f"{where}: expected a blank and a value after {name}")
    fields = rest.split()
    if not fields:
        fail(f"{where}: no value for {name}")
    if len(fields) == 2:
        fail(f"{where}: timestamps are not supported ({name} has one)")
    if len(fields) > 2:
        fail(f"{where}: unexpected text after the value of {name}")
    if not VALUE.match(fields[0]):
        fail(f"{where}: invalid value {fields[0]!r} for {name}")
    return name, labels, float(fields[0])


def parse_labels(line, i, where):
    """Parses `a="x",b="y"}` from index i; returns (labels, index after })."""
    labels = {}
    while True:
        i = skip_blanks(line, i)
        if line[i : i + 1] == "}":
            return labels, i + 1
        m = LABEL_NAME.match(line, i)
        if not m:
            fail(f"{where}: expected a label name or }} at column {i + 1}")
        label = m.group(0)
        if label.startswith("__"):
            fail(f"{where}: label name {label} is reserved (starts with __)")
        if label in labels:
            fail(f"{where}: label {label} given twice")
        i = skip_blanks(line, m.end())
        if line[i : i + 1] != "=":
            fail(f"{where}: expected = after label name {label}")
        i = skip_blanks(line, i + 1)
        if line[i : i + 1] != '"':
            fail(f'{where}: expected " to open the value of label {label}')
        value, i = parse_quoted(line, i + 1, where, label)
        labels[label] = value
        i = skip_blanks(line, i)
        if line[i : i + 1] == ",":
            i += 1
        elif line[i : i + 1] != "}":
            fail(f"{where}: expected , or }} after the value of label {label}")


def parse_quoted(line, i, where, label):
    """A label value up to its closing quote; returns (value, index after)."""
    start = i
    while i < len(line):
        c = line[i]
        if c == "\\":
            i += 2
        elif c == '"':
            return unescape(line[start:i], '\\"n', where, f"the value of label {label}"), i + 1
        else:
            i += 1
    fail(f"{where}: unterminated value of label {label}")


def skip_blanks(line, i):
    while line[i : i + 1] in (" ", "\t"):
        i += 1
    return i


def series_text(key):
    name, labels = key
    inner = ",".join(f'{k}="{v}"' for k, v in labels)
    return f"{name}{{{inner}}}" if inner else name
