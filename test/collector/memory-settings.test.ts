/**
 * The memory settings the collector applies to itself (collector/src/service/memory-settings.ts),
 * checked in child processes the way the CLI applies them: V8's young generation stays small under
 * a burst of allocation, the embedded engine's allocator accepts every option given to it, and an
 * operator's own JE_MALLOC_CONF is left alone.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  ENGINE_MALLOC_CONF,
  V8_MEMORY_FLAGS,
  applyMemorySettings,
} from '../../collector/src/service/memory-settings';
import { REPO_ROOT } from '../support/collector-process';
import { tempDir } from '../support/temp-dirs';

const run = promisify(execFile);
const MEMORY_FIRST = path.join(REPO_ROOT, 'collector', 'dist', 'cli', 'memory-first.js');

/** Allocates short-lived objects with many survivors (what decoding a flood of bodies does). */
const BURST = `
  let keep = [];
  for (let i = 0; i < 1.5e6; i++) { keep.push({ a: i, b: 'x' + i }); if (keep.length > 2e5) keep = []; }
  const s = require('node:v8').getHeapSpaceStatistics().find((x) => x.space_name === 'new_space');
  console.log(s.space_size);
`;

async function newSpaceAfterBurst(prelude: string): Promise<number> {
  const { stdout } = await run(process.execPath, ['-e', `${prelude}\n${BURST}`], { cwd: REPO_ROOT });
  return Number(stdout.trim());
}

describe('collector memory settings', function () {
  this.timeout(120_000);

  it("keeps V8's young generation at its initial size from the CLI's first module on", async () => {
    const without = await newSpaceAfterBurst('');
    const withSettings = await newSpaceAfterBurst(`require(${JSON.stringify(MEMORY_FIRST)});`);
    assert.ok(without > 8e6, `without the settings the young generation grows (${without} bytes)`);
    assert.ok(withSettings <= 4e6, `with them it stays small (${withSettings} bytes)`);
  });

  it("keeps V8's old generation near what survives while requests come and go", async () => {
    // Batches of objects that live for a few batches, then die: a crowd of decoded requests.
    const churn = `
      let most = 0; const live = [];
      for (let round = 0; round < 12; round++) {
        const batch = [];
        for (let i = 0; i < 60000; i++) batch.push({ id: 'span' + i + round, attrs: { a: 'x'.repeat(20) + i, b: i } });
        live.push(batch); if (live.length > 4) live.shift();
        most = Math.max(most, process.memoryUsage().heapTotal);
      }
      console.log(most);`;
    const heapOf = async (prelude: string): Promise<number> =>
      Number((await run(process.execPath, ['-e', `${prelude}\n${churn}`], { cwd: REPO_ROOT })).stdout.trim());
    const without = await heapOf('');
    const withSettings = await heapOf(`require(${JSON.stringify(MEMORY_FIRST)});`);
    assert.ok(
      withSettings < without * 0.75,
      `heap ${withSettings} bytes with the settings, ${without} without`,
    );
  });

  it("gives the embedded engine's jemalloc only options it accepts", async () => {
    // abort_conf: jemalloc aborts the process on an option it does not know or cannot apply.
    const dir = tempDir('tl-memory-settings-');
    try {
      const { stdout } = await run(
        process.execPath,
        [
          '-e',
          `require(${JSON.stringify(MEMORY_FIRST)});
           const { Session } = require('chdb');
           const s = new Session(${JSON.stringify(path.join(dir, 'db'))});
           console.log(s.query('SELECT 40 + 2', 'CSV').trim(), process.env.JE_MALLOC_CONF);
           s.close();`,
        ],
        { cwd: REPO_ROOT, env: { ...process.env, JE_MALLOC_CONF: `${ENGINE_MALLOC_CONF},abort_conf:true` } },
      );
      assert.equal(stdout.trim(), `42 ${ENGINE_MALLOC_CONF},abort_conf:true`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('leaves what the operator set alone', () => {
    const flags: string[] = [];
    const unset: NodeJS.ProcessEnv = {};
    applyMemorySettings(unset, [], (f) => flags.push(f));
    assert.equal(unset.JE_MALLOC_CONF, ENGINE_MALLOC_CONF);
    assert.deepEqual(
      flags,
      V8_MEMORY_FLAGS.map((f) => f.flag),
    );

    flags.length = 0;
    const own: NodeJS.ProcessEnv = {
      JE_MALLOC_CONF: 'dirty_decay_ms:0',
      NODE_OPTIONS: '--max-semi-space-size=8',
    };
    applyMemorySettings(own, [], (f) => flags.push(f));
    assert.equal(own.JE_MALLOC_CONF, 'dirty_decay_ms:0');
    assert.deepEqual(flags, ['--heap-growing-percent=50']);
    flags.length = 0;
    applyMemorySettings({}, ['--max_semi_space_size=8', '--heap-growing-percent=100'], (f) => flags.push(f));
    assert.deepEqual(flags, []);
  });
});
