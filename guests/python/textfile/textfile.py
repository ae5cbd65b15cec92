"""textfile: serves the metrics that other programs write to *.prom files,
like node_exporter's textfile collector.

A cron job or a batch script writes its results in the Prometheus text
format into a directory; this plugin re-exposes every family it finds there
(counters, gauges, untyped, histograms and summaries), plus

    node_textfile_mtime_seconds{file}  when each file read was last modified
    node_textfile_scrape_error         1 if a file or the directory could not
                                       be read or a family was dropped, else 0

with node_exporter's names, help texts and label values, so that its
dashboards and alerts keep working.

Each file is parsed as node_exporter 1.5 parses it (the Go text parser of
prometheus/common, rule by rule, with the same messages). A broken file is
reported on stderr (the exporter's log) and skipped, and the rest are
served: one bad file costs only its own series. A file is broken when it
does not parse, has timestamps, or holds what the OpenMetrics rules forbid
(a negative counter, histogram buckets that are not cumulative, a summary
quantile outside [0, 1]...), which node_exporter would serve as it is.

Families of the same name in several files are merged: the first file (in
name order) decides the type and the help text, a file that says otherwise
loses that family (reported), a series already served is dropped from the
later file (reported). Series without a label that others of their family
have get it empty, which Prometheus treats as absent.

Parameters:
    dir        the directory of the *.prom files as the plugin sees it
               (default /textfile, the granted directory); may be a glob
               (/textfile/*) to read several, as node_exporter's flag
    label_dir  the directory written in the `file` label and in generated
               help texts instead of the part of `dir` before any glob; set
               it to the host directory to get node_exporter's label values
"""

import glob
import math
import os
import re
import stat
import sys

import wit_world
from scraper_helpers import (
    COUNTER,
    GAUGE,
    HISTOGRAM,
    SUMMARY,
    UNTYPED,
    collector,
    family,
    histogram,
    params_dict,
    sample,
    summary,
)

MTIME = "node_textfile_mtime_seconds"
MTIME_HELP = "Unixtime mtime of textfiles successfully read."
ERROR = "node_textfile_scrape_error"
ERROR_HELP = "1 if there was an error opening or reading a file, 0 otherwise"
OWN = (MTIME, ERROR)

KINDS = {"COUNTER": COUNTER, "GAUGE": GAUGE, "UNTYPED": UNTYPED, "HISTOGRAM": HISTOGRAM, "SUMMARY": SUMMARY}

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
BLANKS = re.compile(r"[ \t]*")
TOKEN = re.compile(r"[^ \t]*")
# A label value up to its closing quote: escaped characters or anything but
# a quote, a backslash and the end of the line.
LABEL_VALUE = re.compile(r'(?:[^"\\]|\\.)*')
# Go's strconv.ParseFloat: decimal numbers and the special values, but not
# the hexadecimal floats, underscores or "+nan" it refuses (or that
# prometheus/common refuses on top: p, P and _).
FLOAT = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|(?i:inf|infinity))\Z|(?i:nan)\Z")
INT = re.compile(r"[+-]?\d+\Z")
# The escapes of label values and of help texts.
LABEL_ESCAPES = '"\\n'
HELP_ESCAPES = "\\n"
# Names the exporter serves itself (its process metrics and its own).
RESERVED_PREFIXES = ("__", "wasm_exporter_", "process_")
U64_MAX = 2**64 - 1


class ParseError(Exception):
    """A reason a file is skipped; `line` is 0 when it concerns the file."""

    def __init__(self, line, message):
        super().__init__(message)
        self.line = line
        self.message = message


def go_quote(text):
    """Go's %q of a string, for messages that match node_exporter's."""
    out = []
    for c in text:
        if c in '"\\':
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif c == "\r":
            out.append("\\r")
        elif ord(c) < 0x20:
            out.append(f"\\x{ord(c):02x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def go_quote_char(c):
    """Go's %q of a byte."""
    names = {"\n": "'\\n'", "\t": "'\\t'", "\r": "'\\r'", "'": "'\\''", "\\": "'\\\\'"}
    return names.get(c, f"'{c}'")


def parse_float(text):
    """strconv.ParseFloat as prometheus/common calls it, or None."""
    if not FLOAT.match(text):
        return None
    value = float(text)
    if math.isinf(value) and "inf" not in text.lower():
        return None  # out of range: Go reports an error
    return value


class Metric:
    """One metric of a parsed family, as the Go parser builds it."""

    def __init__(self):
        self.labels = []  # [name, value] in the order written
        self.value = None
        self.count = None
        self.sum = None
        self.quantiles = {}
        self.buckets = {}
        self.timestamped = False


class ParsedFamily:
    def __init__(self, name):
        self.name = name
        self.help = None
        self.type = None
        self.metrics = []
        # Summary and histogram metrics by their label set (le and quantile
        # left out), as the Go parser groups their lines.
        self.grouped = {}


class Cursor:
    """One line of a file. Reading at the end of the line reads its newline,
    or for the last line of a file that has none, the end of the input,
    which the Go parser reports as an error wherever it happens."""

    def __init__(self, text, lineno, terminated):
        self.s = text
        self.i = 0
        self.lineno = lineno
        self.terminated = terminated

    def cur(self):
        if self.i < len(self.s):
            return self.s[self.i]
        if not self.terminated:
            raise ParseError(self.lineno, "unexpected end of input stream")
        return "\n"

    def advance(self):
        self.i += 1

    def skip_blanks(self):
        self.i = BLANKS.match(self.s, self.i).end()

    def advance_and_skip_blanks(self):
        self.advance()
        self.skip_blanks()

    def match(self, regex):
        m = regex.match(self.s, self.i)
        self.i = m.end() if m else self.i
        return m.group(0) if m else ""

    def rest(self):
        """Everything up to the newline."""
        text = self.s[self.i :]
        self.i = len(self.s)
        self.cur()
        return text

    def error(self, message):
        raise ParseError(self.lineno, message)


class Parser:
    """prometheus/common's expfmt.TextParser (v0.37, as in node_exporter 1.5)."""

    def __init__(self):
        self.families = {}

    def parse(self, text):
        lines = text.split("\n")
        for index, line in enumerate(lines):
            terminated = index + 1 < len(lines)
            c = Cursor(line, index + 1, terminated)
            c.skip_blanks()
            if c.i == len(line):
                continue  # an empty line, or the end of the input
            if line[c.i] == "#":
                self.comment(c)
            else:
                self.sample(c)
        return {name: f for name, f in self.families.items() if f.metrics}

    def family(self, name):
        """setOrCreateCurrentMF: `x_count` and `x_sum` belong to a summary
        or histogram `x`, `x_bucket` to a histogram `x`, if declared so."""
        if name in self.families:
            return self.families[name], False, False
        is_count = len(name) > 6 and name.endswith("_count")
        is_sum = len(name) > 4 and name.endswith("_sum")
        is_bucket = len(name) > 7 and name.endswith("_bucket")
        base = name[:-6] if is_count else name[:-4] if is_sum else name
        f = self.families.get(base)
        if f is not None and f.type == "SUMMARY":
            return f, is_count, is_sum
        base = name[:-7] if is_bucket else base
        f = self.families.get(base)
        if f is not None and f.type == "HISTOGRAM":
            return f, is_count, is_sum
        f = self.families[name] = ParsedFamily(name)
        return f, False, False

    def comment(self, c):
        c.advance_and_skip_blanks()
        if c.cur() == "\n":
            return
        keyword = c.match(TOKEN)
        if c.cur() == "\n":
            return
        if keyword not in ("HELP", "TYPE"):
            c.rest()
            return
        c.skip_blanks()
        name = c.match(METRIC_NAME)
        if c.cur() == "\n":
            return
        if c.cur() not in " \t":
            c.error("invalid metric name in comment")
        f, _, _ = self.family(name)
        c.skip_blanks()
        if c.cur() == "\n":
            return
        if keyword == "HELP":
            if f.help is not None:
                c.error(f"second HELP line for metric name {go_quote(f.name)}")
            f.help = unescape(c.rest(), HELP_ESCAPES, c)
        else:
            if f.type is not None:
                c.error(
                    f"second TYPE line for metric name {go_quote(f.name)}, or TYPE reported after samples"
                )
            token = c.rest()
            if token.upper() not in KINDS:
                c.error(f"unknown metric type {go_quote(token)}")
            f.type = token.upper()

    def sample(self, c):
        name = c.match(METRIC_NAME)
        if not name:
            c.error("invalid metric name")
        f, is_count, is_sum = self.family(name)
        if f.type is None:
            f.type = "UNTYPED"
        metric = Metric()
        c.skip_blanks()
        grouped = f.type in ("SUMMARY", "HISTOGRAM")
        identity = {}
        special = None  # the quantile or the bucket bound
        if c.cur() == "{":
            c.advance_and_skip_blanks()
            while c.cur() != "}":
                label = c.match(LABEL_NAME)
                if not label:
                    c.error(f"invalid label name for metric {go_quote(f.name)}")
                if label == "__name__":
                    c.error('label name "__name__" is reserved')
                consumed = (f.type == "SUMMARY" and label == "quantile") or (
                    f.type == "HISTOGRAM" and label == "le"
                )
                if not consumed:
                    metric.labels.append([label, None])
                c.skip_blanks()
                if c.cur() != "=":
                    c.error(f"expected '=' after label name, found {go_quote_char(c.cur())}")
                names = [n for n, _ in metric.labels]
                if len(set(names)) != len(names):
                    c.error(f"duplicate label names for metric {go_quote(f.name)}")
                c.advance_and_skip_blanks()
                if c.cur() != '"':
                    c.error(f"expected '\"' at start of label value, found {go_quote_char(c.cur())}")
                c.advance()
                raw = c.match(LABEL_VALUE)
                value = unescape(raw, LABEL_ESCAPES, c)
                if c.i + 1 == len(c.s) and c.s[c.i] == "\\":
                    # A backslash ending the line escapes its newline.
                    c.advance()
                    c.cur()
                    c.error("invalid escape sequence '\\\n'")
                if c.i == len(c.s):
                    c.cur()  # the end of the input, if the file ends here
                    c.error(f"label value {go_quote(value)} contains unescaped new-line")
                if not consumed:
                    metric.labels[-1][1] = value
                if grouped:
                    if consumed:
                        special = parse_float(value)
                        if special is None:
                            kind = "quantile" if f.type == "SUMMARY" else "le"
                            c.error(f"expected float as value for '{kind}' label, got {go_quote(value)}")
                    else:
                        identity[label] = value
                c.advance_and_skip_blanks()
                if c.cur() == ",":
                    c.advance_and_skip_blanks()
                elif c.cur() != "}":
                    c.error(f"unexpected end of label value {go_quote(value)}")
            c.advance_and_skip_blanks()
        if grouped:
            key = tuple(sorted(identity.items()))
            existing = f.grouped.get(key)
            if existing is None:
                f.grouped[key] = metric
                f.metrics.append(metric)
            else:
                metric = existing
        else:
            f.metrics.append(metric)
        token = c.match(TOKEN)
        c.cur()  # the end of the input, if the file ends here
        value = parse_float(token)
        if value is None:
            c.error(f"expected float as value, got {go_quote(token)}")
        if not grouped:
            metric.value = value
        elif is_count:
            metric.count = value
        elif is_sum:
            metric.sum = value
        elif special is not None and not math.isnan(special):
            (metric.quantiles if f.type == "SUMMARY" else metric.buckets)[special] = value
        if c.cur() == "\n":
            return
        c.advance_and_skip_blanks()
        stamp = c.match(TOKEN)
        if not INT.match(stamp) or not -(2**63) <= int(stamp) < 2**63:
            c.error(f"expected integer as timestamp, got {go_quote(stamp)}")
        metric.timestamped = True
        spurious = c.rest()
        if spurious:
            c.error(f"spurious string after timestamp: {go_quote(spurious)}")


def unescape(text, allowed, c):
    """Resolves backslash escapes; `allowed` lists the escaped characters."""
    if "\\" not in text:
        return text
    out = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            nxt = text[i + 1 : i + 2]
            if not nxt:
                c.cur()  # the end of the line or of the input
                nxt = "\n"
            if nxt not in allowed:
                c.error(f"invalid escape sequence '\\{nxt}'")
            out.append("\n" if nxt == "n" else nxt)
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def whole_count(value, what):
    """A count as Go's uint64() of the float, where that is well defined."""
    if value is None:
        return None
    if math.isnan(value) or value < 0 or value > U64_MAX:
        raise ParseError(0, f"{what} is {value}, not a count")
    return int(value)


class Series:
    def __init__(self, labels, value):
        self.labels = labels  # {name: value}
        self.value = value  # float, or ("histogram", buckets, count, sum), or ("summary", ...)


def check_histogram(name, buckets, count, total):
    """The rules the exporter enforces (OpenMetrics'), in the file's terms."""
    previous = None
    for le, n in buckets:
        if previous is not None and n < previous[1]:
            raise ParseError(
                0,
                f"histogram {name}: buckets are not cumulative (le={le} counts {n}, fewer than le={previous[0]})",
            )
        previous = (le, n)
    if buckets[-1][1] != count:
        raise ParseError(0, f"histogram {name}: the +Inf bucket counts {buckets[-1][1]} but _count is {count}")
    if total is None:
        return
    if math.isnan(total) or total < 0:
        raise ParseError(0, f"histogram {name}: _sum is {total}; OpenMetrics wants it neither negative nor NaN")
    if buckets[0][0] < 0:
        raise ParseError(0, f"histogram {name}: a bucket bound is negative, so OpenMetrics allows no _sum")


def convert(f):
    """A parsed family as (kind, help, [Series]); ParseError when it breaks
    a rule the exporter enforces."""
    name = f.name
    if name.startswith(RESERVED_PREFIXES):
        raise ParseError(0, f"metric name {name} is reserved: the exporter serves it, or could")
    series = []
    for m in f.metrics:
        labels = {}
        for label, value in m.labels:
            if label.startswith("__"):
                raise ParseError(0, f"label name {label} of {name} is reserved")
            labels[label] = value
        if f.type == "HISTOGRAM":
            buckets = {le: whole_count(n, f"a bucket of {name}") for le, n in m.buckets.items()}
            count = whole_count(m.count, f"_count of {name}")
            if count is None:
                # No _count line: node_exporter would serve 0; the +Inf
                # bucket holds the true count.
                count = buckets.get(math.inf, 0)
            buckets.setdefault(math.inf, count)
            ordered = sorted(buckets.items())
            # No _sum line: node_exporter would serve 0, and so does this
            # plugin, except where a bound is negative: OpenMetrics allows no
            # sum there.
            total = m.sum
            if total is None and ordered[0][0] >= 0:
                total = 0.0
            check_histogram(name, ordered, count, total)
            series.append(Series(labels, ("histogram", ordered, count, total)))
        elif f.type == "SUMMARY":
            count = whole_count(m.count, f"_count of {name}") or 0
            total = 0.0 if m.sum is None else m.sum
            if math.isnan(total) or total < 0:
                raise ParseError(0, f"summary {name}: _sum is {total}; OpenMetrics wants it neither negative nor NaN")
            for q, v in m.quantiles.items():
                if not 0 <= q <= 1:
                    raise ParseError(0, f"summary {name}: quantile {q} is not between 0 and 1")
                if v < 0:
                    raise ParseError(0, f"summary {name}: quantile {q} has the negative value {v}")
            series.append(Series(labels, ("summary", sorted(m.quantiles.items()), count, total)))
        else:
            if f.type == "COUNTER" and (m.value < 0 or math.isnan(m.value)):
                raise ParseError(0, f"counter {name} has the value {m.value}; counters are neither negative nor NaN")
            series.append(Series(labels, m.value))
    return KINDS[f.type], f.help, series


def taken_names(name, kind):
    """The names a family takes in the exposition (see host/src/model.rs)."""
    suffixes = {
        COUNTER: ("", "_total", "_created"),
        HISTOGRAM: ("", "_bucket", "_count", "_sum", "_created"),
        SUMMARY: ("", "_count", "_sum", "_created"),
    }.get(kind, ("",))
    base = name[:-6] if kind == COUNTER and name.endswith("_total") else name
    return [base + s for s in suffixes]


class Merged:
    def __init__(self, name, kind, help_text):
        self.name = name
        self.kind = kind
        self.help = help_text
        self.series = []
        self.keys = set()


class Collection:
    """The families of all files read so far, merged by name."""

    def __init__(self):
        self.families = {}
        self.claims = {}  # name taken -> family
        self.files = {}  # family name -> files it appeared in
        self.errors = 0

    def report(self, message):
        self.errors += 1
        print(f"textfile: {message}", file=sys.stderr)

    def add_file(self, label, parsed):
        converted = []
        for f in parsed.values():
            try:
                converted.append((f.name, convert(f)))
            except ParseError as e:
                raise ParseError(0, e.message) from None
        for name, _ in converted:
            self.files.setdefault(name, []).append(label)
        for name, (kind, help_text, series) in converted:
            self.add_family(label, name, kind, help_text, series)

    def add_family(self, label, name, kind, help_text, series):
        if name in OWN:
            self.report(f"{label}: {name} is served by the collector itself; the file's is dropped")
            return
        merged = self.families.get(name)
        if merged is None:
            clash = next((self.claims[n] for n in taken_names(name, kind) if n in self.claims), None)
            if clash is not None:
                self.report(f"{label}: {name} clashes with {clash}, whose samples use its name; dropped")
                return
            merged = self.families[name] = Merged(name, kind, help_text)
            for n in taken_names(name, kind):
                self.claims[n] = name
        elif merged.kind != kind:
            self.report(f"{label}: {name} is a {kind_name(kind)} here but a {kind_name(merged.kind)} before; dropped")
            return
        elif help_text is not None and merged.help is not None and help_text != merged.help:
            self.report(f"{label}: {name} has another help text than before ({help_text!r}); dropped")
            return
        elif merged.help is None:
            merged.help = help_text
        for s in series:
            # Empty label values mean "no such label" in Prometheus, so
            # they do not tell two series apart.
            key = tuple(sorted((k, v) for k, v in s.labels.items() if v != ""))
            if key in merged.keys:
                self.report(f"{label}: a series of {name} {dict(key)} was already read; dropped")
                continue
            merged.keys.add(key)
            merged.series.append(s)

    def output(self):
        out = []
        for name in sorted(self.families):
            m = self.families[name]
            if not m.series:
                continue
            label_names = sorted({k for s in m.series for k in s.labels})
            help_text = m.help
            if help_text is None:
                help_text = "Metric read from " + ", ".join(self.files[name])
            fam = family(name, help_text, m.kind, label_names)
            for s in m.series:
                values = [s.labels.get(k, "") for k in label_names]
                if isinstance(s.value, tuple) and s.value[0] == "histogram":
                    _, buckets, count, total = s.value
                    histogram(fam, buckets, *values, count=count, sum=total)
                elif isinstance(s.value, tuple):
                    _, quantiles, count, total = s.value
                    summary(fam, quantiles, *values, count=count, sum=total)
                else:
                    sample(fam, s.value, *values)
            out.append(fam)
        return out


def kind_name(kind):
    return next(k.lower() for k, v in KINDS.items() if v == kind)


def static_prefix(pattern):
    """The part of a path before its first glob component."""
    parts = pattern.split("/")
    for i, part in enumerate(parts):
        if glob.has_magic(part):
            return "/".join(parts[:i])
    return pattern


class WitWorld(wit_world.WitWorld):
    @collector
    def collect(self, params):
        p = params_dict(params)
        pattern = p.get("dir", "/textfile").rstrip("/") or "/"
        root = static_prefix(pattern)
        label_root = p.get("label_dir", "").rstrip("/") or root
        directories = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]

        collection = Collection()
        mtimes = []
        for directory in directories or [pattern]:
            try:
                names = sorted(n for n in os.listdir(directory) if n.endswith(".prom"))
            except OSError as e:
                collection.report(f"reading the directory {directory}: {e.strerror or e}")
                continue
            for name in names:
                path = f"{directory}/{name}"
                label = label_root + path[len(root) :]
                try:
                    mtime = read_file(collection, path, label)
                except ParseError as e:
                    where = f"{label}:{e.line}" if e.line else label
                    collection.report(f"{where}: {e.message}; the file is skipped")
                    continue
                mtimes.append((label, mtime))

        out = collection.output()
        if mtimes:
            f = family(MTIME, MTIME_HELP, GAUGE, ["file"])
            for label, mtime in mtimes:
                sample(f, mtime, label)
            out.append(f)
        error = family(ERROR, ERROR_HELP, GAUGE)
        sample(error, 1 if collection.errors else 0)
        out.append(error)
        return out


def read_file(collection, path, label):
    """Parses the file at `path` into `collection`; returns its mtime in
    whole seconds, or raises ParseError."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise ParseError(0, "not a regular file")
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as e:
        raise ParseError(0, f"failed to open textfile data file: {e.strerror or e}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ParseError(0, f"not UTF-8 at byte {e.start}") from None
    parsed = Parser().parse(text)
    if any(m.timestamped for f in parsed.values() for m in f.metrics):
        raise ParseError(0, "contains unsupported client-side timestamps, skipping entire file")
    collection.add_file(label, parsed)
    # Whole seconds, as node_exporter reports them.
    return st.st_mtime_ns // 10**9
