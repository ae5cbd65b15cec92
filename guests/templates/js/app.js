// {{name}}: a wasm_exporter plugin in JavaScript.
//
// collect() runs once per scrape in a fresh sandbox. Read files with
// readText (lib/scraper.js), only under the directories the manifest asks
// for (capabilities.dirs) and the operator grants; emit only the metrics the
// manifest declares. On failure, call fail('...') naming what went wrong:
// the exporter counts a guest_error and serves none of this plugin's series
// for that scrape.
import { INFO, collector, family, paramsMap, sample } from './lib/scraper.js';

export const collect = collector((params) => {
  const info = family('{{metric}}_info', 'A constant, to show the shape of a plugin.', INFO, ['greeting']);
  sample(info, 1, paramsMap(params).get('greeting') ?? 'hello');
  return [info];
});
