// Small helpers for JavaScript scrapers: parameters, families, and reading
// granted files through WASI.
//
// Families (`family`, `sample`; GAUGE, COUNTER, UNTYPED), parameters
// (`paramsMap`, `paramNumber`, `paramBool`), errors (`fail`, `collector`)
// and files (`readText`). Histograms and summaries come with version 0.2 of
// the scraper world, whose metric model carries them (as kinds and a sample
// helper of their own).
//
// The host wants a failed collection as err("one line"), not as a trap: a
// trap is counted as a crash and its message is a wasm backtrace. ComponentizeJS
// turns a thrown string into err(string), so `fail` throws one, and
// `collector` turns anything else thrown into one too, with the stack on
// stderr (the host log).
import { getDirectories } from 'wasi:filesystem/preopens@0.2.12';

// Metric kinds of the scraper world (0.2.0, the version JS guests are
// built against).
export const GAUGE = 'gauge';
export const COUNTER = 'counter';
export const UNTYPED = 'untyped';
export const HISTOGRAM = 'histogram';
export const GAUGE_HISTOGRAM = 'gauge-histogram';
export const SUMMARY = 'summary';
export const INFO = 'info';
export const STATESET = 'stateset';

/** Ends the collection with err(reason). */
export function fail(reason) {
  throw String(reason).split(/\s+/).filter(Boolean).join(' ');
}

/** The operator's parameters by name (the last one wins on repeats). */
export function paramsMap(params) {
  return new Map(params.map((p) => [p.name, p.value]));
}

/**
 * Parameter `name` as a number, or `fallback` when the operator did not set
 * it; err naming the parameter when it is not a number.
 */
export function paramNumber(params, name, fallback) {
  const text = paramsMap(params).get(name);
  if (text === undefined) return fallback;
  const value = text.trim() === '' ? NaN : Number(text);
  if (Number.isNaN(value)) fail(`parameter ${name}: ${JSON.stringify(text)} is not a number`);
  return value;
}

/**
 * Parameter `name` as a boolean (true/false), or `fallback` when the
 * operator did not set it; err naming the parameter otherwise.
 */
export function paramBool(params, name, fallback) {
  const text = paramsMap(params).get(name);
  if (text === undefined) return fallback;
  const t = text.trim().toLowerCase();
  if (t === 'true' || t === '1') return true;
  if (t === 'false' || t === '0') return false;
  fail(`parameter ${name}: ${JSON.stringify(text)} is not a bool`);
}

/**
 * A family without samples, to be filled with `sample` (or `histogram`,
 * `summary`, `states`). `unit` ('seconds', 'bytes') must be the end of the
 * name, before `_total` for a counter.
 */
export function family(name, help, kind, labelNames = [], unit = '') {
  return { name, help, unit, kind, labelNames: [...labelNames], samples: [] };
}

/**
 * Appends one series holding a number (gauge, counter, untyped; 1 for an
 * INFO family); label values in the order of the family's names.
 */
export function sample(fam, value, ...labelValues) {
  fam.samples.push({ labelValues: labelValues.map(String), value: { tag: 'number', val: Number(value) } });
}

/**
 * Appends a histogram series to a HISTOGRAM or GAUGE_HISTOGRAM family.
 * `buckets` are [upper bound, cumulative count] pairs in ascending order;
 * the +Inf bucket is added with `count` unless the last bound is Infinity.
 * `count` defaults to the +Inf bucket's count (or the last one's); `sum`
 * is the sum of the observations, or undefined when unknown.
 */
export function histogram(fam, { buckets, count, sum }, ...labelValues) {
  const pairs = buckets.map(([le, n]) => [Number(le), BigInt(n)]);
  const total = count === undefined ? (pairs.length ? pairs[pairs.length - 1][1] : 0n) : BigInt(count);
  if (!pairs.length || pairs[pairs.length - 1][0] !== Infinity) pairs.push([Infinity, total]);
  fam.samples.push({
    labelValues: labelValues.map(String),
    value: {
      tag: 'histogram',
      val: {
        buckets: pairs.map(([upperBound, n]) => ({ upperBound, count: n })),
        count: total,
        sum: sum === undefined ? undefined : Number(sum),
      },
    },
  });
}

/**
 * Appends a summary series to a SUMMARY family: `quantiles` as
 * [quantile, value] pairs (NaN when nothing was observed), `count` and
 * `sum` of all observations.
 */
export function summary(fam, { quantiles, count, sum }, ...labelValues) {
  fam.samples.push({
    labelValues: labelValues.map(String),
    value: {
      tag: 'summary',
      val: {
        quantiles: quantiles.map(([quantile, value]) => ({ quantile: Number(quantile), value: Number(value) })),
        count: BigInt(count),
        sum: Number(sum),
      },
    },
  });
}

/**
 * Appends one series per state to a STATESET family: `enabled` maps each
 * state name to whether it holds. The family's label names include its own
 * name, which holds the state; `labelValues` are those of its other labels.
 */
export function states(fam, enabled, ...labelValues) {
  const at = fam.labelNames.indexOf(fam.name);
  if (at < 0) fail(`stateset ${fam.name} needs a label named ${fam.name} for its states`);
  for (const [state, on] of Object.entries(enabled)) {
    const values = [...labelValues];
    values.splice(at, 0, state);
    sample(fam, on ? 1 : 0, ...values);
  }
}

/** Wraps a collect function so that anything it throws becomes err. */
export function collector(collect) {
  return (params) => {
    try {
      return collect(params);
    } catch (e) {
      if (typeof e === 'string') throw e;
      console.error(e?.stack ?? String(e));
      fail(`${e?.name ?? 'Error'}: ${e?.message ?? e}`);
    }
  };
}

/**
 * The whole file at `path` as UTF-8 text, or err naming the file and the
 * cause.
 *
 * There is no file API in the component's JavaScript, so this opens the
 * file relative to the granted (preopened) directory that holds it, the
 * way wasi-libc's open() does for C. It reads until end of file rather
 * than by the size in stat: /proc files report a size of 0.
 */
export function readText(path) {
  let best = null;
  for (const [descriptor, guestPath] of getDirectories()) {
    const prefix = guestPath === '/' ? '' : guestPath.replace(/\/+$/, '');
    const inside = path === prefix || path.startsWith(prefix + '/');
    if (inside && (best === null || prefix.length > best.prefix.length)) {
      best = { descriptor, prefix };
    }
  }
  if (best === null) fail(`reading ${path}: no granted directory holds it`);
  const relative = path.slice(best.prefix.length).replace(/^\/+/, '') || '.';
  const chunks = [];
  let total = 0;
  try {
    const file = best.descriptor.openAt({}, relative, {}, { read: true });
    for (;;) {
      const [chunk, eof] = file.read(65536n, BigInt(total));
      chunks.push(chunk);
      total += chunk.length;
      if (eof || chunk.length === 0) break;
    }
  } catch (e) {
    // WASI errors arrive as their error-code name, e.g. "no-entry".
    fail(`reading ${path}: ${e?.payload ?? e?.message ?? e}`);
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    fail(`reading ${path}: not UTF-8`);
  }
}
