/** Self time per function from a V8 .cpuprofile (node --cpu-prof), grouped by file:function. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, fmt, table } from './common.mjs';

function shortFile(url) {
  if (!url) return '(native/vm)';
  const file = url.replace(/^file:\/\//, '');
  const nm = file.lastIndexOf('node_modules/');
  if (nm >= 0) return file.slice(nm + 'node_modules/'.length);
  if (file.startsWith(REPO_ROOT)) return path.relative(REPO_ROOT, file);
  return file;
}

/** Returns [{ where, selfMs, share }] sorted by self time, and the total sampled ms. */
export function selfTimes(profileFile) {
  const prof = JSON.parse(readFileSync(profileFile, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let total = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    const node = byId.get(prof.samples[i]);
    const dt = (prof.timeDeltas[i] ?? 0) / 1000;
    total += dt;
    const cf = node.callFrame;
    const file = shortFile(cf.url);
    const where = `${file}:${cf.functionName || '(anonymous)'}${cf.url ? `:${cf.lineNumber + 1}` : ''}`;
    const entry = self.get(where) ?? { where, file, selfMs: 0 };
    entry.selfMs += dt;
    self.set(where, entry);
  }
  const rows = [...self.values()].map((e) => ({ ...e, share: e.selfMs / total }));
  rows.sort((a, b) => b.selfMs - a.selfMs);
  return { rows, totalMs: total };
}

/** Self time grouped by package / repo folder (first path segments). */
export function byPackage(rows) {
  const groups = new Map();
  for (const r of rows) {
    const file = r.file;
    const parts = file.split('/');
    const key = file.startsWith('(')
      ? file
      : file.startsWith('node:')
        ? 'node: internals (fetch/undici, streams, timers)'
        : parts[0].startsWith('@')
          ? `${parts[0]}/${parts[1]}`
          : parts[0] === 'instrumentation'
            ? 'tokenledger (instrumentation/)'
            : parts[0];
    groups.set(key, (groups.get(key) ?? 0) + r.selfMs);
  }
  return [...groups].sort((a, b) => b[1] - a[1]);
}

/** The profile's self time by package (top 10) and by function (top `functions`), as two tables. */
export function profileTables(profile, functions) {
  return [
    table(
      ['package / folder', 'self ms', 'share'],
      byPackage(profile.rows)
        .slice(0, 10)
        .map(([k, ms]) => [k, fmt(ms, 0), `${fmt((100 * ms) / profile.totalMs, 1)} %`]),
    ),
    table(
      ['file:function:line', 'self ms', 'share'],
      profile.rows.slice(0, functions).map((r) => [r.where, fmt(r.selfMs, 0), `${fmt(100 * r.share, 1)} %`]),
    ),
  ];
}
