// httpprobe: tries an HTTP request from inside the sandbox.
//
// An adversarial guest for the sandbox tests. It fetches `url` and reports
// what happened instead of failing, so a refusal shows up as a value:
//
//   httpprobe_status{url,error}       the HTTP status, 0 when the request failed
//   httpprobe_body_bytes{url,error}   bytes of the body read before the end or an error
//
// `error` is empty on success, else "STAGE: Name: message", STAGE being
// fetch (the request) or body (reading the answer).
//
// Parameters:
//   url        what to fetch (required)
//   redirect   follow (default) or manual, as fetch's option
//   follow     redirects to follow here, by fetching their Location (default
//              0), as a client that follows redirects itself would
//   host       a Host header to send (which the host must not honour)
import { GAUGE, collector, fail, family, paramsMap, sample } from '../lib/scraper.js';

export const collect = collector(async (params) => {
  const p = paramsMap(params);
  const url = p.get('url') ?? fail('parameter url is required');
  const init = { redirect: p.get('redirect') ?? 'follow' };
  if (p.has('host')) init.headers = { host: p.get('host') };
  let status = 0;
  let bytes = 0;
  let error = '';
  let stage = 'fetch';
  try {
    let response = await fetch(url, init);
    let hops = Number(p.get('follow') ?? '0');
    let at = url;
    while (hops-- > 0 && response.status >= 300 && response.status < 400 && response.headers.get('location')) {
      at = new URL(response.headers.get('location'), at).href;
      response = await fetch(at, init);
    }
    status = response.status;
    stage = 'body';
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.length;
    }
  } catch (e) {
    error = `${stage}: ${e?.name ?? 'Error'}: ${e?.message ?? e}`.slice(0, 300);
  }
  const s = family('httpprobe_status', 'HTTP status of the request, 0 if it failed.', GAUGE, ['url', 'error']);
  sample(s, status, url, error);
  const b = family('httpprobe_body_bytes', 'Bytes of the body read.', GAUGE, ['url', 'error']);
  sample(b, bytes, url, error);
  return [s, b];
});
