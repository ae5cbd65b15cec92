// loadavg: system load and process counts from /proc/loadavg.
//
//   loadavg_load1, loadavg_load5, loadavg_load15
//       run-queue length averaged over 1, 5 and 15 minutes
//   loadavg_processes_running   runnable threads right now
//   loadavg_processes           threads in the system right now
//
// Parameters:
//   proc_dir   where the proc filesystem is granted in the guest (default
//              /proc; nothing is there unless the operator grants it)
import { GAUGE, collector, fail, family, paramsMap, readText, sample } from '../lib/scraper.js';

const LOADS = [
  ['loadavg_load1', '1-minute load average.'],
  ['loadavg_load5', '5-minute load average.'],
  ['loadavg_load15', '15-minute load average.'],
];

export const collect = collector((params) => {
  const procDir = (paramsMap(params).get('proc_dir') ?? '/proc').replace(/\/+$/, '') || '/';
  const path = `${procDir}/loadavg`;
  // "0.52 0.58 0.59 2/345 12345": three averages, running/total, last pid.
  const fields = readText(path).trim().split(/\s+/);
  if (fields.length < 4) fail(`${path}:1: expected at least 4 fields, got ${fields.length}`);
  const number = (text, what) => {
    if (!/^\d+(\.\d+)?$/.test(text)) fail(`${path}:1: ${what} ${JSON.stringify(text)} is not a number`);
    return Number(text);
  };
  const families = LOADS.map(([name, help], i) => {
    const f = family(name, help, GAUGE);
    sample(f, number(fields[i], name));
    return f;
  });
  const procs = /^(\d+)\/(\d+)$/.exec(fields[3]);
  if (!procs) fail(`${path}:1: expected running/total, got ${JSON.stringify(fields[3])}`);
  const running = family('loadavg_processes_running', 'Runnable threads (kernel scheduling entities).', GAUGE);
  sample(running, Number(procs[1]));
  const total = family('loadavg_processes', 'Threads (kernel scheduling entities) in the system.', GAUGE);
  sample(total, Number(procs[2]));
  return [...families, running, total];
});
