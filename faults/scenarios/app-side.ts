/**
 * Row 4: the app's side. The same app (sequential chat completions on the real openai SDK against a
 * local server speaking OpenAI's wire format) runs without tokenledger, then with
 * `node --require tokenledger/register` while its collector is down, hanging, answering 500 or
 * answering 503 + Retry-After (the collector's own answer when its disk is low). The policy guard reads
 * the same collector, so it meets the same fault.
 *
 * Checks: the app's p50 call latency at most 1.15x the app without tokenledger; from the app's last
 * statement to its exit at most 1.1 s when the collector is down, hanging or shedding, at most 200 ms
 * when it answers 500 (a final answer: nothing is retried); every call answered, nothing printed by
 * tokenledger's own failures. Those two are timings: the short run (CI's shared cores, where a
 * round's p50 moves 2x) prints them without judging them, and fails only an app held past
 * HANG_GUARD_MS, which is a hang, not a slow machine. Variants run interleaved over rounds, in rotated order, so drift on a
 * shared machine falls on all of them; the latency ratio is the median over rounds of each round's p50
 * against that round's p50 without tokenledger, the exit delay the worst round's.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../../test/support/collector-process';
import { startFakeOpenAI } from '../../test/support/fake-openai';
import { startSickCollector, type CollectorFault, type SickCollector } from '../support/sick-collector';
import { rowFrom, type FaultCheck, type FaultScenario } from '../types';

const APP = path.join(REPO_ROOT, 'faults', 'apps', 'sequential-chat.cjs');

/** The bars. */
const MAX_LATENCY_RATIO = 1.15;
const MAX_EXIT_DELAY_MS: Record<CollectorFault, number> = {
  down: 1_100,
  hanging: 1_100,
  'answering 503': 1_100,
  'answering 500': 200,
};
/** In the short run: a finished app held longer than this is hung, whatever the load. */
const HANG_GUARD_MS = 2_500;
const FAULTS: CollectorFault[] = ['down', 'hanging', 'answering 500', 'answering 503'];

interface Plan {
  rounds: number;
  calls: number;
  warmup: number;
}

// Calls span several of the batch processor's 1 s export rounds, so exports fail while calls run.
const PLANS: Record<'short' | 'full', Plan> = {
  short: { rounds: 3, calls: 2_000, warmup: 200 },
  full: { rounds: 5, calls: 5_000, warmup: 500 },
};

interface AppRun {
  p50Ms: number;
  p90Ms: number;
  exitDelayMs: number;
  /** Lines on stderr (tokenledger's own failures would show here). */
  stderr: string;
}

type Variant = { name: 'without tokenledger' } | { name: CollectorFault; collector: SickCollector };

function runApp(variant: Variant, env: NodeJS.ProcessEnv, plan: Plan): Promise<AppRun> {
  const args = variant.name === 'without tokenledger' ? [APP] : ['--require', 'tokenledger/register', APP];
  const endpoint = 'collector' in variant ? { OTEL_EXPORTER_OTLP_ENDPOINT: variant.collector.url } : {};
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: REPO_ROOT,
      env: {
        ...env,
        ...endpoint,
        FAULT_APP_CALLS: String(plan.calls),
        FAULT_APP_WARMUP: String(plan.warmup),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      const exitedAt = Date.now();
      if (code !== 0) {
        reject(new Error(`${variant.name}: the app exited ${code ?? signal}: ${stderr.slice(0, 500)}`));
        return;
      }
      const printed = JSON.parse(stdout.trim().split('\n').pop()!) as {
        calls: number;
        p50Ms: number;
        p90Ms: number;
        doneAt: number;
      };
      if (printed.calls !== plan.calls) reject(new Error(`${variant.name}: ${printed.calls} calls`));
      resolve({ p50Ms: printed.p50Ms, p90Ms: printed.p90Ms, exitDelayMs: exitedAt - printed.doneAt, stderr });
    });
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export const appSide: FaultScenario = {
  name: 'app-side',
  title: "the app's side: its collector down, hanging, answering 500 or 503",
  shortTimeoutMs: 10 * 60_000,
  async run({ short, log }) {
    const plan = PLANS[short ? 'short' : 'full'];
    const openai = await startFakeOpenAI();
    const collectors = await Promise.all(FAULTS.map(startSickCollector));
    const started = Date.now();
    try {
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        OPENAI_BASE_URL: openai.url,
        OPENAI_API_KEY: 'sk-fault-suite',
        OTEL_RESOURCE_ATTRIBUTES: 'service.name=fault-app,tokenledger.team=platform',
        TOKENLEDGER_API_KEY: 'tl-fault-suite-0123456789',
      };
      const variants: Variant[] = [
        { name: 'without tokenledger' },
        ...collectors.map((collector) => ({ name: collector.fault, collector })),
      ];
      const runs = new Map<string, AppRun[]>(variants.map((v) => [v.name, []]));
      for (let round = 0; round < plan.rounds; round++) {
        const order = variants.map((_, i) => variants[(i + round) % variants.length]!);
        for (const variant of order) {
          const run = await runApp(variant, env, plan);
          runs.get(variant.name)!.push(run);
          log(
            `app-side, round ${round + 1}: ${variant.name}: p50 ${run.p50Ms.toFixed(3)} ms, exit ${run.exitDelayMs} ms`,
          );
          openai.reset(); // the fake keeps every request; a round's worth is plenty
        }
      }

      const base = runs.get('without tokenledger')!;
      const baseP50 = median(base.map((r) => r.p50Ms));
      const baseExit = Math.max(...base.map((r) => r.exitDelayMs));
      const checks: FaultCheck[] = [];
      for (const collector of collectors) {
        const fault = collector.fault;
        const mine = runs.get(fault)!;
        const p50 = median(mine.map((r) => r.p50Ms));
        // Each round's p50 against the same round's app without tokenledger, the median of those:
        // load from other processes moves both runs of a round alike.
        const ratio = median(mine.map((r, round) => r.p50Ms / base[round]!.p50Ms));
        const exit = Math.max(...mine.map((r) => r.exitDelayMs));
        const noisy = mine.map((r) => r.stderr.trim()).filter((s) => s !== '');
        const reached = fault === 'down' || collector.received() > 0;
        checks.push(
          {
            check: `collector ${fault}: p50 call latency vs without tokenledger`,
            measured: `${ratio.toFixed(2)}x (${p50.toFixed(3)} ms)`,
            target: `≤ ${MAX_LATENCY_RATIO}x`,
            ok: ratio <= MAX_LATENCY_RATIO,
            judged: !short,
          },
          {
            check: `collector ${fault}: exit after the app's last statement (worst round)`,
            measured: `${exit} ms`,
            target: `≤ ${MAX_EXIT_DELAY_MS[fault].toLocaleString('en-US')} ms`,
            ok: exit <= MAX_EXIT_DELAY_MS[fault],
            judged: !short,
          },
        );
        if (short)
          checks.push({
            check: `collector ${fault}: finished app held (a hang)`,
            measured: `${exit} ms`,
            target: `≤ ${HANG_GUARD_MS.toLocaleString('en-US')} ms`,
            ok: exit <= HANG_GUARD_MS,
          });
        checks.push({
          check: `collector ${fault}: app unchanged (every call answered, nothing printed${fault === 'down' ? '' : ', collector reached'})`,
          measured:
            noisy.length > 0 ? `printed: ${noisy[0]!.slice(0, 120)}` : reached ? 'yes' : 'never reached',
          target: 'yes',
          ok: noisy.length === 0 && reached,
        });
      }
      const seconds = (Date.now() - started) / 1000;
      return rowFrom(
        'app-side',
        `${plan.rounds} rounds of ${plan.calls.toLocaleString('en-US')} sequential chat completions (openai SDK), with and without --require tokenledger/register`,
        checks,
        {
          note: `the app without tokenledger: p50 ${baseP50.toFixed(3)} ms, exit ${baseExit} ms (worst round); ${seconds.toFixed(0)} s`,
          seconds,
        },
      );
    } finally {
      await Promise.all(collectors.map((c) => c.close()));
      await openai.close();
    }
  },
};
