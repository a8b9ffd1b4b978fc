#!/usr/bin/env node
/**
 * The docs check run by `npm run lint`:
 * - README.md stays a front page: at most README_MAX_BYTES bytes (new material goes in docs/);
 * - every relative link in README.md and docs/**\/*.md points to a file or folder that exists, and a
 *   `#fragment` on a Markdown target (or on the page itself) names a heading of that page.
 * Plain Node, no dependency. Exit 1 with one line per problem.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const README_MAX_BYTES = 12_288;

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** README.md and every .md file under docs/, as absolute paths. */
function pages() {
  const out = [path.join(ROOT, 'README.md')];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.md')) out.push(full);
    }
  };
  if (existsSync(path.join(ROOT, 'docs'))) walk(path.join(ROOT, 'docs'));
  return out;
}

/** The page's lines outside fenced code blocks (``` or ~~~), with their 1-based numbers. */
function proseLines(text) {
  const out = [];
  let fence;
  text.split('\n').forEach((line, i) => {
    const m = /^\s*(`{3,}|~{3,})/.exec(line);
    if (m) {
      if (!fence) fence = m[1];
      else if (m[1][0] === fence[0] && m[1].length >= fence.length) fence = undefined;
      return;
    }
    if (!fence) out.push({ line, n: i + 1 });
  });
  return out;
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
export function slug(heading) {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images: their text
    .replace(/<[^>]+>/g, '') // inline HTML tags
    .replace(/[`*]/g, '') // code and emphasis marks
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

const anchorCache = new Map();

/** The anchors a Markdown page defines: its headings (as GitHub numbers repeats) and `<a id>`/`name`. */
function anchorsOf(file) {
  if (anchorCache.has(file)) return anchorCache.get(file);
  const anchors = new Set();
  const seen = new Map();
  for (const { line } of proseLines(readFileSync(file, 'utf8'))) {
    const h = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (h) {
      const base = slug(h[1]);
      const count = seen.get(base) ?? 0;
      seen.set(base, count + 1);
      anchors.add(count === 0 ? base : `${base}-${count}`);
    }
    for (const a of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(a[1]);
  }
  anchorCache.set(file, anchors);
  return anchors;
}

/** Inline links and images `[text](target)` in prose (not in code spans), with line numbers. */
function linksOf(text) {
  const out = [];
  for (const { line, n } of proseLines(text)) {
    const prose = line.replace(/(`+)(?:(?!\1)[\s\S])*?\1/g, (code) => ' '.repeat(code.length));
    for (const m of prose.matchAll(/!?\[(?:[^\][]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      out.push({ target: m[1], n });
    }
  }
  return out;
}

export function check() {
  const problems = [];
  const readme = path.join(ROOT, 'README.md');
  const size = statSync(readme).size;
  if (size > README_MAX_BYTES) {
    problems.push(
      `README.md: ${size} bytes, over the ${README_MAX_BYTES}-byte front page; move the detail to a page under docs/ and link it`,
    );
  }
  for (const page of pages()) {
    const rel = path.relative(ROOT, page);
    for (const { target, n } of linksOf(readFileSync(page, 'utf8'))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:, …
      const hash = target.indexOf('#');
      const filePart = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
      const fragment = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
      const resolved = filePart === '' ? page : path.resolve(path.dirname(page), filePart);
      if (filePart !== '' && !existsSync(resolved)) {
        problems.push(`${rel}:${n}: link to ${target}: no file ${path.relative(ROOT, resolved)}`);
        continue;
      }
      if (fragment === undefined || fragment === '') continue;
      if (!resolved.endsWith('.md') || statSync(resolved).isDirectory()) continue;
      if (!anchorsOf(resolved).has(fragment)) {
        problems.push(
          `${rel}:${n}: link to ${target}: no heading #${fragment} in ${path.relative(ROOT, resolved)}`,
        );
      }
    }
  }
  return problems;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const problems = check();
  for (const p of problems) process.stderr.write(`check-docs: ${p}\n`);
  if (problems.length > 0) process.exit(1);
  process.stdout.write(`check-docs: README.md within ${README_MAX_BYTES} bytes, every docs link resolves\n`);
}
