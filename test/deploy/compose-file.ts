/**
 * Reads docker-compose.yml, the Dockerfile and .dockerignore the way Docker would, for tests that
 * check their references without a Docker engine: variables interpolated with their defaults
 * (`${VAR:-default}`, as a fresh checkout without .env gets them), volumes and ports parsed.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT } from '../support/collector-process';

export interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string; target?: string };
  environment?: Record<string, string> | string[];
  volumes?: Array<string | { type?: string; source?: string; target?: string }>;
  ports?: Array<string | number | { target?: number; published?: string | number }>;
  depends_on?: string[] | Record<string, unknown>;
  command?: string | string[];
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/** Compose interpolation with an empty environment: `${X:-d}` / `${X-d}` → d, `${X}` / `$X` → '', `$$` → `$`. */
export function interpolate(text: string): string {
  return text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (m, _n, def) => (m === '$$' ? '$' : (def ?? '')),
  );
}

export function loadCompose(file = path.join(REPO_ROOT, 'docker-compose.yml')): ComposeFile {
  return parse(interpolate(readFileSync(file, 'utf8'))) as ComposeFile;
}

export function environmentOf(service: ComposeService): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry) => {
        const eq = entry.indexOf('=');
        return eq < 0 ? [entry, ''] : [entry.slice(0, eq), entry.slice(eq + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
}

export interface Mount {
  source: string;
  target: string;
  /** A host path (bind mount), not a named volume. */
  bind: boolean;
}

export function mountsOf(service: ComposeService): Mount[] {
  return (service.volumes ?? []).map((v) => {
    if (typeof v === 'string') {
      const [source = '', target = ''] = v.split(':');
      return { source, target, bind: source.startsWith('.') || source.startsWith('/') };
    }
    return { source: v.source ?? '', target: v.target ?? '', bind: v.type === 'bind' };
  });
}

/** The host path a container path of a service comes from, through its bind mounts. */
export function hostPathOf(service: ComposeService, containerPath: string): string | undefined {
  for (const m of mountsOf(service)) {
    if (!m.bind) continue;
    const target = m.target.replace(/\/+$/, '');
    if (containerPath === target || containerPath.startsWith(`${target}/`)) {
      return path.join(REPO_ROOT, m.source, containerPath.slice(target.length));
    }
  }
  return undefined;
}

export interface PortMapping {
  published: number;
  target: number;
}

export function portsOf(service: ComposeService): PortMapping[] {
  return (service.ports ?? []).map((p) => {
    if (typeof p === 'object') return { published: Number(p.published), target: Number(p.target) };
    const parts = String(p).split(':');
    const target = Number(parts.at(-1)!.split('/')[0]);
    const published = parts.length > 1 ? Number(parts.at(-2)) : target;
    return { published, target };
  });
}

export function buildOf(service: ComposeService): { context: string; dockerfile: string } | undefined {
  if (!service.build) return undefined;
  const b = typeof service.build === 'string' ? { context: service.build } : service.build;
  const context = path.resolve(REPO_ROOT, b.context ?? '.');
  return { context, dockerfile: path.resolve(context, b.dockerfile ?? 'Dockerfile') };
}

export interface DockerStage {
  name: string;
  from: string;
  copies: Array<{ from?: string; sources: string[]; dest: string }>;
  instructions: Array<{ op: string; args: string }>;
}

/** Dockerfile → stages with their COPY instructions (continuation lines joined, comments dropped). */
export function parseDockerfile(file: string): DockerStage[] {
  const lines = readFileSync(file, 'utf8')
    .replace(/\\\r?\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: DockerStage[] = [];
  for (const line of lines) {
    const [op = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    const upper = op.toUpperCase();
    if (upper === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(args)!;
      stages.push({ name: m[2] ?? String(stages.length), from: m[1]!, copies: [], instructions: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) throw new Error(`${file}: ${op} before FROM`);
    stage.instructions.push({ op: upper, args });
    if (upper === 'COPY' || upper === 'ADD') {
      const words = rest.filter((w) => !w.startsWith('--') || w.startsWith('--from='));
      const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
      const paths = words.filter((w) => !w.startsWith('--from='));
      stage.copies.push({ from, sources: paths.slice(0, -1), dest: paths.at(-1)! });
    }
  }
  return stages;
}

/**
 * A stage as built: its own instructions and copies after those of the stages it is built FROM
 * (`FROM runtime-base AS server` inherits runtime-base's files, WORKDIR, CMD, …).
 */
export function resolvedStage(stages: DockerStage[], name: string): DockerStage {
  const stage = stages.find((s) => s.name === name);
  if (!stage) throw new Error(`Dockerfile has no stage ${name}`);
  if (!stages.some((s) => s.name === stage.from)) return stage;
  const base = resolvedStage(stages, stage.from);
  return {
    name,
    from: base.from,
    copies: [...base.copies, ...stage.copies],
    instructions: [...base.instructions, ...stage.instructions],
  };
}

/** .dockerignore patterns (the subset used here: exact paths, double-star prefixes, single-star globs). */
export function dockerIgnored(context: string): (relPath: string) => boolean {
  const file = path.join(context, '.dockerignore');
  if (!existsSync(file)) return () => false;
  const patterns = readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((p) => {
      const re = p
        .replace(/[\\^$.+()|{}[\]]/g, '\\$&')
        .replace(/\*\*\//g, '(?:.*/)?')
        .replace(/\*\*/g, '.*')
        .replace(/(?<!\.)\*/g, '[^/]*');
      return new RegExp(`^${re}(?:/.*)?$`);
    });
  return (relPath) => patterns.some((re) => re.test(relPath.replace(/^\.\//, '').replace(/\/+$/, '')));
}
