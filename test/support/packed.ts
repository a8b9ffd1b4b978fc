/**
 * The packages as users install them: each workspace packed with `npm pack` (what the registry
 * would serve), then installed from those tarballs into a folder of its own outside the repository,
 * beside that folder's own dependencies — no workspace link, no hoisting from the monorepo.
 * Registry packages come from npm's cache when `npm ci` already fetched them (`--prefer-offline`).
 */
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './collector-process';
import { tempDir } from './temp-dirs';

const run = promisify(execFile);
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

export interface Tarballs {
  /** `tokenledger`: the SDK apps install. */
  sdk: string;
  /** `@tokenledger/collector`: the service and the CLI. */
  collector: string;
  /** `@tokenledger/dashboards`: the panel catalog the collector depends on. */
  dashboards: string;
}

let packing: Promise<Tarballs> | undefined;

/**
 * The environment for a user's command: this process's, without the `npm_*` variables that
 * `npm test` sets (a workspace, a prefix, the monorepo's package), which a user's shell has not.
 */
export function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.toLowerCase().startsWith('npm_')) env[k] = v;
  return { ...env, ...extra };
}

/** Packs the three packages once per test run (they must be built: `npm test` builds first). */
export function packedTarballs(): Promise<Tarballs> {
  packing ??= (async () => {
    const dest = tempDir('tl-packs-', { forRun: true });
    await run(
      NPM,
      ['pack', '-w', 'instrumentation', '-w', 'dashboards', '-w', 'collector', '--pack-destination', dest],
      { cwd: REPO_ROOT, env: userEnv(), maxBuffer: 64 * 1024 * 1024 },
    );
    const file = (prefix: string): string => {
      const name = readdirSync(dest).find((f) => f.startsWith(prefix) && /-\d+\.\d+\.\d+\.tgz$/.test(f));
      if (!name) throw new Error(`npm pack wrote no ${prefix}*.tgz in ${dest}`);
      return path.join(dest, name);
    };
    return {
      sdk: file('tokenledger-0'),
      collector: file('tokenledger-collector-'),
      dashboards: file('tokenledger-dashboards-'),
    };
  })();
  return packing;
}

/** The version of a registry package the repository itself installed (so the install hits the cache). */
export function repoVersionOf(pkg: string): string {
  const manifest = path.join(REPO_ROOT, 'node_modules', pkg, 'package.json');
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

/**
 * A new folder outside the repository with `packages` installed by `npm install` (tarball paths or
 * registry specs), as a user's app or an operator's collector folder would have them.
 */
export async function installedFolder(
  prefix: string,
  packages: string[],
  opts: { omitOptional?: boolean } = {},
): Promise<string> {
  const dir = tempDir(prefix);
  writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: path.basename(dir).toLowerCase(), private: true }, null, 2),
  );
  const args = ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];
  if (opts.omitOptional) args.push('--omit=optional');
  await run(NPM, [...args, ...packages], { cwd: dir, env: userEnv(), maxBuffer: 64 * 1024 * 1024 });
  return dir;
}
