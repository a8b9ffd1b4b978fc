import assert from 'node:assert/strict';
import { ROOT_CONTEXT, createContextKey } from '@opentelemetry/api';
import { suppressTracing, isTracingSuppressed } from '@opentelemetry/core';
import { LazyAsyncLocalStorageContextManager } from '../../instrumentation/src/context-manager';

const KEY = createContextKey('test.key');
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('LazyAsyncLocalStorageContextManager', () => {
  let manager: LazyAsyncLocalStorageContextManager;
  beforeEach(() => {
    manager = new LazyAsyncLocalStorageContextManager().enable();
  });
  afterEach(() => manager.disable());

  it('propagates an entered context across await exactly like AsyncLocalStorage', async () => {
    const ctx = ROOT_CONTEXT.setValue(KEY, 'team-a');
    const seen = await manager.with(ctx, async () => {
      await tick();
      const inner = manager.with(manager.active().setValue(KEY, 'team-b'), () =>
        manager.active().getValue(KEY),
      );
      await tick();
      return [manager.active().getValue(KEY), inner];
    });
    assert.deepEqual(seen, ['team-a', 'team-b']);
    assert.equal(manager.active().getValue(KEY), undefined);
    assert.equal(manager.isEngaged(), true);
  });

  it('keeps a synchronous tracing-suppression scope (the exporter’s) off AsyncLocalStorage', () => {
    const inside = manager.with(suppressTracing(ROOT_CONTEXT), () => isTracingSuppressed(manager.active()));
    assert.equal(inside, true, 'the suppression is active for the synchronous part');
    assert.equal(isTracingSuppressed(manager.active()), false, 'and ends with it');
    assert.equal(manager.isEngaged(), false);
  });

  it('engages as soon as a suppression scope goes asynchronous, and for async callbacks', async () => {
    await manager.with(suppressTracing(ROOT_CONTEXT), () => tick());
    assert.equal(manager.isEngaged(), true);
    const fresh = new LazyAsyncLocalStorageContextManager().enable();
    try {
      const suppressedAfterAwait = await fresh.with(suppressTracing(ROOT_CONTEXT), async () => {
        await tick();
        return isTracingSuppressed(fresh.active());
      });
      assert.equal(suppressedAfterAwait, true);
      assert.equal(fresh.isEngaged(), true);
    } finally {
      fresh.disable();
    }
  });

  it('lets a context entered inside a synchronous scope propagate asynchronously', async () => {
    const result = await manager.with(suppressTracing(ROOT_CONTEXT), () =>
      manager.with(ROOT_CONTEXT.setValue(KEY, 'nested'), async () => {
        await tick();
        return manager.active().getValue(KEY);
      }),
    );
    assert.equal(result, 'nested');
  });
});
