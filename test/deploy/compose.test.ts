/**
 * docker-compose.yml, the Dockerfile and the Grafana provisioning hold together: every host path
 * and COPY source exists, the collector and Grafana point at the ClickHouse service as it is
 * configured, ports line up, the runtime image has every folder the collector reads at run time,
 * and the provisioned dashboards are the catalog's. There is no Docker engine here; this is what
 * can be checked without one.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { CLICKHOUSE_PLUGIN_VERSION } from '@tokenledger/dashboards';
import { parseKeySpec } from '../../collector/src/govern/keys/keys';
import { runDashboards } from '../../collector/src/cli/dashboards';
import { loadPolicyFile } from '../../collector/src/govern/policy/load';
import { loadConfig } from '../../collector/src/service/config';
import { PUBLIC_DIR } from '../../collector/src/http/report-page';
import { MIGRATIONS_DIR } from '../../collector/src/storage/migrations';
import { REPO_ROOT } from '../support/collector-process';
import {
  buildOf,
  dockerIgnored,
  environmentOf,
  hostPathOf,
  loadCompose,
  mountsOf,
  parseDockerfile,
  resolvedStage,
  portsOf,
  type ComposeService,
  type DockerStage,
} from './compose-file';
import { tempDir } from '../support/temp-dirs';

const GRAFANA_PROVISIONING = '/etc/grafana/provisioning';
const CLICKHOUSE_PORTS = { http: 8123, native: 9000 } as const;
const DASHBOARD_UIDS = ['tokenledger-cfo', 'tokenledger-team', 'tokenledger-models', 'tokenledger-budgets'];

const compose = loadCompose();
const service = (name: string): ComposeService => {
  const s = compose.services[name];
  assert.ok(s, `docker-compose.yml has no "${name}" service`);
  return s;
};

/** Every YAML file under a provisioning subfolder (datasources, dashboards, alerting). */
function provisioningFiles(kind: string): Array<{ file: string; doc: Record<string, unknown> }> {
  const dir = hostPathOf(service('grafana'), `${GRAFANA_PROVISIONING}/${kind}`);
  assert.ok(dir, `grafana mounts nothing at ${GRAFANA_PROVISIONING}/${kind}`);
  assert.ok(existsSync(dir), `${path.relative(REPO_ROOT, dir)} does not exist`);
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => ({ file: path.join(dir, f), doc: parse(readFileSync(path.join(dir, f), 'utf8')) }));
}

interface ProvisionedDataSource {
  uid?: string;
  type?: string;
  jsonData?: {
    host?: string;
    port?: number | string;
    protocol?: 'http' | 'native';
    defaultDatabase?: string;
    username?: string;
  };
  secureJsonData?: { password?: string };
}

interface DashboardProvider {
  options?: { path?: string };
}

/** The arguments of a stage's last instruction of a kind (the one Docker goes by). */
const lastInstruction = (stage: DockerStage, op: string): string | undefined =>
  [...stage.instructions].reverse().find((i) => i.op === op)?.args;

/** All files under a folder, as relative path → content. */
function filesUnder(dir: string, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const rel = path.posix.join(prefix, entry.name);
    if (entry.isDirectory()) for (const [k, v] of filesUnder(path.join(dir, entry.name), rel)) out.set(k, v);
    else out.set(rel, readFileSync(path.join(dir, entry.name), 'utf8'));
  }
  return out;
}

describe('docker-compose.yml', () => {
  it('runs ClickHouse, the collector and Grafana, every image pinned, every dependency a service', () => {
    for (const name of ['clickhouse', 'collector', 'grafana']) service(name);
    for (const [name, s] of Object.entries(compose.services)) {
      if (!s.build) {
        assert.ok(s.image, `${name} has neither image nor build`);
        assert.match(s.image, /:\d+(\.\d+)+$/, `${name}'s image ${s.image} is not pinned to a version`);
      }
      const deps = Array.isArray(s.depends_on) ? s.depends_on : Object.keys(s.depends_on ?? {});
      for (const d of deps) assert.ok(compose.services[d], `${name} depends on unknown service ${d}`);
      for (const m of mountsOf(s)) {
        if (m.bind)
          assert.ok(existsSync(path.join(REPO_ROOT, m.source)), `${name} mounts missing ${m.source}`);
        else
          assert.ok(
            compose.volumes && m.source in compose.volumes,
            `${name} uses undeclared volume ${m.source}`,
          );
      }
    }
  });

  it('builds the collector from a Dockerfile whose COPY sources exist and are in the build context', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      const build = buildOf(s);
      if (!build) continue;
      assert.ok(existsSync(build.dockerfile), `${name}: ${build.dockerfile} missing`);
      const ignored = dockerIgnored(build.context);
      const stages = parseDockerfile(build.dockerfile);
      for (const stage of stages) {
        for (const copy of stage.copies) {
          if (copy.from) {
            assert.ok(
              stages.some((st) => st.name === copy.from),
              `COPY --from=${copy.from}: no such stage`,
            );
            continue;
          }
          for (const src of copy.sources) {
            assert.ok(
              existsSync(path.join(build.context, src)),
              `Dockerfile COPY ${src}: not in the repository`,
            );
            assert.ok(!ignored(src), `Dockerfile COPY ${src}: excluded by .dockerignore`);
          }
        }
      }
    }
  });

  it('gives npm ci every workspace manifest and the lockfile before installing', () => {
    const build = parseDockerfile(path.join(REPO_ROOT, 'Dockerfile'))[0]!;
    const npmCi = build.instructions.findIndex((i) => i.op === 'RUN' && /\bnpm ci\b/.test(i.args));
    assert.ok(npmCi >= 0, 'the build stage runs npm ci');
    // COPY a/b/package.json a/b/  →  a/b/package.json in the image's working directory.
    const copiedBefore = build.instructions
      .slice(0, npmCi)
      .filter((i) => i.op === 'COPY')
      .flatMap((i) => {
        const words = i.args.split(/\s+/);
        const dest = words.at(-1)!;
        return words
          .slice(0, -1)
          .map((src) =>
            dest === './' ? path.posix.basename(src) : path.posix.join(dest, path.posix.basename(src)),
          );
      });
    const root = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
      workspaces: string[];
    };
    for (const manifest of [
      'package.json',
      'package-lock.json',
      ...root.workspaces.map((w) => `${w}/package.json`),
    ]) {
      assert.ok(
        copiedBefore.includes(manifest),
        `Dockerfile copies ${manifest} only after npm ci (or never)`,
      );
    }
  });

  it('puts every folder the collector reads at run time into both runtime images, where the code looks', () => {
    const stages = parseDockerfile(path.join(REPO_ROOT, 'Dockerfile'));
    // The default target (the last stage) is the embedded one; `server` is built on demand.
    assert.equal(stages.at(-1)!.name, 'embedded');
    for (const target of ['embedded', 'server']) {
      const runtime = resolvedStage(stages, target);
      const workdir = lastInstruction(runtime, 'WORKDIR');
      assert.equal(workdir, '/app');
      const copied = runtime.copies.map((c) => path.posix.join(workdir, c.dest.replace(/\/$/, '')));
      const needed = [
        MIGRATIONS_DIR,
        PUBLIC_DIR,
        path.join(REPO_ROOT, 'collector', 'proto'),
        path.join(REPO_ROOT, 'collector', 'dist'),
        path.join(REPO_ROOT, 'dashboards', 'dist'),
        path.join(REPO_ROOT, 'instrumentation', 'dist'),
        path.join(REPO_ROOT, 'node_modules'),
      ];
      for (const dir of needed) {
        const inImage = path.posix.join(workdir, path.relative(REPO_ROOT, dir).split(path.sep).join('/'));
        assert.ok(
          copied.includes(inImage),
          `${target} image lacks ${inImage} (copied: ${copied.join(', ')})`,
        );
      }
      const cmd = lastInstruction(runtime, 'CMD') ?? '';
      assert.match(cmd, /collector\/dist\/cli\/main\.js", "collector"/);
      assert.equal(lastInstruction(runtime, 'USER'), 'node');
    }
  });

  it('leaves the optional embedded engine out of the server image only; compose, on a ClickHouse server, builds that one', () => {
    const stages = parseDockerfile(path.join(REPO_ROOT, 'Dockerfile'));
    const pruneOf = (target: string): string => {
      const deps = resolvedStage(stages, target).copies.find((c) => c.dest === 'node_modules')?.from;
      assert.ok(deps, `${target}: node_modules is copied from a stage`);
      const prune =
        resolvedStage(stages, deps)
          .instructions.filter((i) => i.op === 'RUN')
          .at(-1)?.args ?? '';
      assert.match(prune, /npm prune --omit=dev/);
      return prune;
    };
    assert.match(pruneOf('server'), /--omit=optional/);
    assert.doesNotMatch(pruneOf('embedded'), /--omit=optional/);
    for (const name of ['collector', 'demo-traffic']) {
      const build = compose.services[name]?.build;
      if (!build) continue;
      assert.equal(typeof build === 'object' && build.target, 'server', `${name} builds the server image`);
    }
  });

  it('points the collector at the ClickHouse service with its user, password and database', () => {
    const ch = environmentOf(service('clickhouse'));
    const env = environmentOf(service('collector'));
    const url = new URL(env.CLICKHOUSE_URL!);
    assert.equal(url.hostname, 'clickhouse');
    assert.equal(Number(url.port), CLICKHOUSE_PORTS.http);
    assert.equal(url.pathname, `/${ch.CLICKHOUSE_DB}`);
    assert.equal(decodeURIComponent(url.username), ch.CLICKHOUSE_USER);
    assert.equal(decodeURIComponent(url.password), ch.CLICKHOUSE_PASSWORD);
    assert.ok(ch.CLICKHOUSE_PASSWORD, 'ClickHouse needs a password once its default user is not used');
    // The collector's own validation accepts the environment as compose gives it.
    const config = loadConfig(env);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.clickhouseUrl, env.CLICKHOUSE_URL);
  });

  it("publishes the collector's OTLP/API port, which the image exposes and the collector listens on", () => {
    const env = environmentOf(service('collector'));
    const config = loadConfig(env);
    const ports = portsOf(service('collector'));
    assert.ok(
      ports.some((p) => p.target === config.port && p.published === 4318),
      `collector must publish 4318 → ${config.port}`,
    );
    const runtime = resolvedStage(parseDockerfile(path.join(REPO_ROOT, 'Dockerfile')), 'server');
    assert.ok(
      runtime.instructions.some(
        (i) => i.op === 'EXPOSE' && i.args.split(/\s+/).includes(String(config.port)),
      ),
    );
    assert.ok(portsOf(service('grafana')).some((p) => p.target === 3000));
  });

  it('gives the collector admin, ingest and viewer keys, and the demo traffic its ingest key', () => {
    const keys = parseKeySpec(environmentOf(service('collector')).TOKENLEDGER_API_KEYS!);
    const byRole = (role: string) => keys.find((k) => k.role === role)?.key;
    for (const role of ['admin', 'ingest', 'viewer']) assert.ok(byRole(role), `no ${role} key`);
    const demo = compose.services['demo-traffic'];
    if (demo) {
      const env = environmentOf(demo);
      assert.equal(env.TOKENLEDGER_API_KEY, byRole('ingest'));
      const url = new URL(env.TOKENLEDGER_URL!);
      assert.equal(url.hostname, 'collector');
      assert.equal(Number(url.port), loadConfig(environmentOf(service('collector'))).port);
      const script = [demo.command].flat().find((a) => a?.endsWith('.cjs'));
      assert.ok(script, 'demo-traffic runs no script');
      assert.ok(hostPathOf(demo, path.posix.join('/app', script)), `demo script ${script} is not mounted`);
    }
  });

  it('installs a pinned ClickHouse plugin in Grafana and mounts the provisioning folder', () => {
    const env = environmentOf(service('grafana'));
    const plugins = (env.GF_PLUGINS_PREINSTALL_SYNC ?? env.GF_INSTALL_PLUGINS ?? '').split(',');
    // The version the generated dashboards and alert rules are written for.
    assert.ok(
      plugins.some((p) => p.trim() === `grafana-clickhouse-datasource@${CLICKHOUSE_PLUGIN_VERSION}`),
      `ClickHouse plugin not installed at ${CLICKHOUSE_PLUGIN_VERSION}: ${plugins.join(',')}`,
    );
    assert.ok(hostPathOf(service('grafana'), GRAFANA_PROVISIONING), 'provisioning not mounted');
  });

  it('provisions a ClickHouse data source pointing at the ClickHouse service', () => {
    const ch = environmentOf(service('clickhouse'));
    const grafanaEnv = environmentOf(service('grafana'));
    const sources = provisioningFiles('datasources').flatMap(
      ({ doc }) => (doc.datasources ?? []) as ProvisionedDataSource[],
    );
    const clickhouse = sources.filter((s) => s.type === 'grafana-clickhouse-datasource');
    assert.equal(clickhouse.length, 1, 'exactly one ClickHouse data source');
    const ds = clickhouse[0]!;
    const json = ds.jsonData ?? {};
    assert.equal(json.host, 'clickhouse');
    const protocol: 'http' | 'native' = json.protocol ?? 'native';
    assert.equal(Number(json.port), CLICKHOUSE_PORTS[protocol], `${protocol} port`);
    assert.equal(json.defaultDatabase, ch.CLICKHOUSE_DB);
    assert.equal(json.username, ch.CLICKHOUSE_USER);
    // Grafana expands $VAR in provisioning files from its own environment.
    const password = String(ds.secureJsonData?.password ?? '').replace(
      /^\$\{?(\w+)\}?$/,
      (_m, v) => grafanaEnv[v] ?? '',
    );
    assert.equal(password, ch.CLICKHOUSE_PASSWORD);
  });

  it("provisions the catalog's dashboards from a folder that exists, on the provisioned data source", () => {
    const dsUids = provisioningFiles('datasources').flatMap(({ doc }) =>
      ((doc.datasources ?? []) as Array<{ uid?: string }>).map((d) => d.uid),
    );
    const providers = provisioningFiles('dashboards').flatMap(
      ({ doc }) => (doc.providers ?? []) as DashboardProvider[],
    );
    assert.ok(providers.length > 0, 'no dashboard provider');
    const found = new Set<string>();
    for (const provider of providers) {
      const dir = hostPathOf(service('grafana'), provider.options?.path ?? '');
      assert.ok(
        dir && existsSync(dir) && statSync(dir).isDirectory(),
        `provider path ${provider.options?.path} not mounted`,
      );
      for (const f of readdirSync(dir).filter((n) => n.endsWith('.json'))) {
        const dashboard = JSON.parse(readFileSync(path.join(dir, f), 'utf8'));
        found.add(dashboard.uid);
        const refs = JSON.stringify(dashboard).match(/"datasource":\{[^}]*"uid":"([^"]+)"/g) ?? [];
        assert.ok(refs.length > 0, `${f} queries no data source`);
        for (const ref of refs) {
          const uid = /"uid":"([^"]+)"/.exec(ref)![1]!;
          assert.ok(
            uid.startsWith('$') || uid === '-- Grafana --' || dsUids.includes(uid),
            `${f} uses unknown data source ${uid}`,
          );
        }
      }
    }
    for (const uid of DASHBOARD_UIDS) assert.ok(found.has(uid), `dashboard ${uid} is not provisioned`);
    const home = environmentOf(service('grafana')).GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH;
    if (home)
      assert.ok(existsSync(hostPathOf(service('grafana'), home) ?? ''), `home dashboard ${home} missing`);
  });

  it('provisions alerting files that are valid YAML with apiVersion and known sections', () => {
    const files = provisioningFiles('alerting');
    assert.ok(files.length > 0, 'no alerting provisioning');
    for (const { file, doc } of files) {
      assert.equal(doc.apiVersion, 1, `${file}: apiVersion`);
      const sections = Object.keys(doc).filter((k) => k !== 'apiVersion');
      const known = [
        'groups',
        'contactPoints',
        'policies',
        'templates',
        'muteTimes',
        'deleteRules',
        'deleteContactPoints',
        'resetPolicies',
      ];
      assert.ok(
        sections.length > 0 && sections.every((s) => known.includes(s)),
        `${file}: sections ${sections.join(', ')}`,
      );
    }
  });

  it('gives the collector the demo policy file, valid, through a mount', async () => {
    const file = environmentOf(service('collector')).TOKENLEDGER_POLICY_FILE!;
    const host = hostPathOf(service('collector'), file);
    assert.ok(host && existsSync(host), `${file} is not mounted from the repository`);
    const policy = await loadPolicyFile(host);
    assert.ok(
      policy.policies.some((p) => p.budget),
      'the demo policy has budgets for the budget board',
    );
  });

  it('commits exactly what `tokenledger dashboards` generates from that policy', async () => {
    const policyFile = hostPathOf(
      service('collector'),
      environmentOf(service('collector')).TOKENLEDGER_POLICY_FILE!,
    )!;
    const out = tempDir('tl-grafana-');
    await runDashboards({ out, policy: policyFile }, () => undefined);
    const generated = filesUnder(out);
    const committed = filesUnder(path.join(REPO_ROOT, 'deploy', 'grafana'));
    assert.deepEqual([...committed.keys()].sort(), [...generated.keys()].sort());
    for (const [rel, content] of generated) {
      assert.equal(
        committed.get(rel),
        content,
        `deploy/grafana/${rel} is stale: run npx tokenledger dashboards --out deploy/grafana --policy deploy/tokenledger/tokenledger.policy.yaml`,
      );
    }
  });
});
