import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

describe('embedded engine lifecycle (child process: it closes its engine)', () => {
  it('reopens the same data directory after close(); a closed client makes ingest answer 503; close() waits for a query the engine still runs', async () => {
    const child = path.join(__dirname, '..', 'support', 'embedded-lifecycle-child.ts');
    const { stdout } = await run(process.execPath, ['--import', 'tsx', child], { timeout: 50_000 });
    assert.deepEqual(JSON.parse(stdout.trim().split('\n').pop()!), {
      stored: { status: 200, retryAfter: null },
      before: 1,
      closedClient: { status: 503, retryAfter: '5' },
      afterReopen: 1,
      migratedAgain: [],
      abortedQuery: 'rejected',
      otherDirAfterClose: 0,
    });
  });
});
