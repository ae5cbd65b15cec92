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

export const GAUGE = 'gauge';
export const COUNTER = 'counter';
export const UNTYPED = 'untyped';

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

/** A family without samples, to be filled with `sample`. */
export function family(name, help, kind, labelNames = []) {
  return { name, help, kind, labelNames: [...labelNames], samples: [] };
}

/** Appends one series; label values in the order of the family's names. */
export function sample(fam, value, ...labelValues) {
  fam.samples.push({ labelValues: labelValues.map(String), value: Number(value) });
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
