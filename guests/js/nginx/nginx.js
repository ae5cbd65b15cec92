// nginx: NGINX's stub_status page as nginx-prometheus-exporter's metrics.
//
// The plugin fetches `target` (the URL of a stub_status location) with the
// ordinary `fetch`, which the host serves through wasi:http within the
// module's http grants, and parses the page:
//
//   Active connections: 291
//   server accepts handled requests
//    16630948 16630948 31070465
//   Reading: 6 Writing: 179 Waiting: 106
//
// into the names nginx-prometheus-exporter uses:
//
//   nginx_up                       1 if the page was read and parsed, else 0
//   nginx_connections_active       active client connections
//   nginx_connections_accepted     accepted client connections (counter)
//   nginx_connections_handled      handled client connections (counter)
//   nginx_connections_reading      connections reading the request header
//   nginx_connections_writing      connections writing the response
//   nginx_connections_waiting      idle client connections
//   nginx_http_requests_total      requests (counter)
//
// As nginx-prometheus-exporter does, an NGINX that cannot be reached or
// answers something else is reported as `nginx_up 0`, with the reason in
// the exporter's log. (`fetch` says "NetworkError" whatever the cause, so a
// request the sandbox refused looks the same here; the host counts and logs
// the refusal itself.)
//
// Parameters:
//   target   URL of the stub_status page (required; /probe?target= sets it)
import { COUNTER, GAUGE, collector, fail, family, paramsMap, sample } from '../lib/scraper.js';

// A stub_status page is about 100 bytes; anything past this is not one.
const MAX_BODY = 64 * 1024;

export const collect = collector(async (params) => {
  const target = paramsMap(params).get('target') ?? fail('parameter target (a stub_status URL) is required');
  let stats;
  try {
    const response = await fetch(target, { redirect: 'manual' });
    if (response.status !== 200) {
      throw new Error(`HTTP status ${response.status}`);
    }
    const text = await response.text();
    if (text.length > MAX_BODY) throw new Error(`answer of ${text.length} bytes is not a stub_status page`);
    stats = parse(text);
  } catch (e) {
    console.error(`nginx at ${target} is down: ${e?.name ?? 'Error'}: ${e?.message ?? e}`);
    const up = family('nginx_up', 'Status of the last metric scrape', GAUGE);
    sample(up, 0);
    return [up];
  }
  const out = [];
  const add = (name, help, kind, value) => {
    const f = family(name, help, kind);
    sample(f, value);
    out.push(f);
  };
  add('nginx_up', 'Status of the last metric scrape', GAUGE, 1);
  add('nginx_connections_active', 'Active client connections', GAUGE, stats.active);
  add('nginx_connections_accepted', 'Accepted client connections', COUNTER, stats.accepted);
  add('nginx_connections_handled', 'Handled client connections', COUNTER, stats.handled);
  add('nginx_connections_reading', 'Connections where NGINX is reading the request header', GAUGE, stats.reading);
  add('nginx_connections_writing', 'Connections where NGINX is writing the response back to the client', GAUGE, stats.writing);
  add('nginx_connections_waiting', 'Idle client connections', GAUGE, stats.waiting);
  add('nginx_http_requests_total', 'Total http requests', COUNTER, stats.requests);
  return out;
});

/** The numbers of a stub_status page; throws naming what is missing. */
export function parse(text) {
  const number = (re, what) => {
    const m = re.exec(text);
    if (!m) throw new Error(`no ${what} in the answer (is the URL a stub_status location?)`);
    return m.slice(1).map(Number);
  };
  const [active] = number(/Active connections:\s*(\d+)/, '"Active connections"');
  const [accepted, handled, requests] = number(/server accepts handled requests\s+(\d+)\s+(\d+)\s+(\d+)/, 'accepts/handled/requests line');
  const [reading, writing, waiting] = number(/Reading:\s*(\d+)\s+Writing:\s*(\d+)\s+Waiting:\s*(\d+)/, 'Reading/Writing/Waiting line');
  return { active, accepted, handled, requests, reading, writing, waiting };
}
