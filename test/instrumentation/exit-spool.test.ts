/**
 * The exit spool (instrumentation/src/export/exit-spool.ts, decision 0120): batches written at exit
 * for the next process, bounded, private to the user, each taken by exactly one process.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ExitSpool } from '../../instrumentation/src/export/exit-spool';
import { tempDir } from '../support/temp-dirs';

const batch = (byte: number, bytes: number, spans: number) => ({
  body: new Uint8Array(bytes).fill(byte),
  spans,
});

describe('the exit spool', () => {
  it('keeps batches oldest first, private to the user, and gives each to one taker only', async () => {
    const dir = path.join(tempDir('tl-exit-spool-'), 'spans-x');
    const spool = new ExitSpool(dir, 'pb', 1024 * 1024);
    assert.deepEqual(spool.writeSync([batch(1, 100, 2), batch(2, 200, 3)]), { written: 5, dropped: 0 });
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    for (const f of readdirSync(dir)) assert.equal(statSync(path.join(dir, f)).mode & 0o777, 0o600);

    // Two processes starting at once: each batch goes to one of them.
    const [a, b] = await Promise.all([
      new ExitSpool(dir, 'pb', 1024 * 1024).take(1024 * 1024),
      new ExitSpool(dir, 'pb', 1024 * 1024).take(1024 * 1024),
    ]);
    const taken = [...a, ...b].map((t) => [t.body[0], t.body.byteLength, t.spans]);
    assert.deepEqual(
      taken.sort((x, y) => Number(x[0]) - Number(y[0])),
      [
        [1, 100, 2],
        [2, 200, 3],
      ],
    );
    assert.deepEqual(readdirSync(dir), []);
  });

  it('drops what does not fit its bound, and takes only what fits the taker and its encoding', async () => {
    const dir = path.join(tempDir('tl-exit-spool-'), 'spans-y');
    const spool = new ExitSpool(dir, 'pb', 1000);
    assert.deepEqual(spool.writeSync([batch(1, 600, 4), batch(2, 600, 5), batch(3, 300, 6)]), {
      written: 10,
      dropped: 5,
    });
    assert.deepEqual(
      await new ExitSpool(dir, 'json', 1000).take(10_000),
      [],
      'JSON exporters leave protobuf alone',
    );
    const first = await new ExitSpool(dir, 'pb', 1000).take(700);
    assert.deepEqual(
      first.map((t) => t.spans),
      [4],
    );
    const rest = await new ExitSpool(dir, 'pb', 1000).take(700);
    assert.deepEqual(
      rest.map((t) => t.spans),
      [6],
    );
  });

  it('gives back a batch whose taker died before reading it, and removes half a file whose writer died', async () => {
    const dir = path.join(tempDir('tl-exit-spool-'), 'spans-z');
    const spool = new ExitSpool(dir, 'pb', 1024 * 1024);
    spool.writeSync([batch(1, 100, 2), batch(2, 100, 3), batch(3, 100, 4)]);
    const [first, second, third] = readdirSync(dir).sort();
    // A process that has exited: its pid runs no more.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    renameSync(path.join(dir, first!), path.join(dir, `${first}.taken-${dead}`));
    // A live taker's claim is its own (this process's parent runs).
    renameSync(path.join(dir, second!), path.join(dir, `${second}.taken-${process.ppid}`));
    writeFileSync(
      path.join(dir, `${third!.replace(/-\d+-(\d+)-(\d+)\.pb$/, `-${dead}-$1-$2.pb`)}.part`),
      'half',
    );

    const taken = await new ExitSpool(dir, 'pb', 1024 * 1024).take(1024 * 1024);
    assert.deepEqual(
      taken.map((t) => t.spans),
      [2, 4],
      "the dead taker's batch is sent, the live taker's left to it",
    );
    assert.deepEqual(
      readdirSync(dir),
      [`${second}.taken-${process.ppid}`],
      'the dead writer’s half file removed',
    );
  });

  it('never throws where it cannot write', () => {
    const spool = new ExitSpool('/proc/tokenledger-cannot-write', 'pb', 1000);
    assert.deepEqual(spool.writeSync([batch(1, 10, 3)]), { written: 0, dropped: 3 });
  });
});
