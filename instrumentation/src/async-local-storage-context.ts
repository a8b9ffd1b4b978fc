import { ROOT_CONTEXT, type Context, type ContextManager } from '@opentelemetry/api';
import { AsyncLocalStorage } from 'node:async_hooks';
import { EventEmitter } from 'node:events';

type Listener = (...args: unknown[]) => unknown;
type ListenerMethod = (this: EventEmitter, event: string | symbol, listener: Listener) => EventEmitter;
const ADD_METHODS = ['addListener', 'on', 'once', 'prependListener', 'prependOnceListener'] as const;
const REMOVE_METHODS = ['removeListener', 'off'] as const;
/** Per bound emitter: event → listener → the listener bound to the context. */
const BOUND_LISTENERS = Symbol('tokenledger.context.boundListeners');

/**
 * OpenTelemetry's context manager for Node, on AsyncLocalStorage, as the SDK's
 * AsyncLocalStorageContextManager behaves (`bind` also binds an EventEmitter's listeners, as the
 * HTTP instrumentation expects), written on the public API so that it works with either API line.
 */
export class AsyncLocalStorageContextManager implements ContextManager {
  private readonly storage = new AsyncLocalStorage<Context>();
  /** Set while an add-listener method runs, so one that calls another binds once. */
  private adding = false;

  active(): Context {
    return this.storage.getStore() ?? ROOT_CONTEXT;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    context: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    const cb = thisArg == null ? fn : (fn.bind(thisArg) as F);
    return this.storage.run(context, cb, ...args);
  }

  bind<T>(context: Context, target: T): T {
    if (target instanceof EventEmitter) return this.bindEmitter(context, target) as T;
    if (typeof target === 'function') return this.bindFunction(context, target as unknown as Listener) as T;
    return target;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.storage.disable();
    return this;
  }

  private bindFunction(context: Context, target: Listener): Listener {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const manager = this;
    const bound = function (this: unknown, ...args: unknown[]): unknown {
      return manager.with(context, () => target.apply(this, args));
    };
    Object.defineProperty(bound, 'length', { configurable: true, value: target.length });
    return bound;
  }

  private bindEmitter(context: Context, emitter: EventEmitter): EventEmitter {
    const ee = emitter as EventEmitter & {
      [BOUND_LISTENERS]?: Map<string | symbol, WeakMap<Listener, Listener>>;
    };
    if (ee[BOUND_LISTENERS] !== undefined) return ee;
    const bound = new Map<string | symbol, WeakMap<Listener, Listener>>();
    Object.defineProperty(ee, BOUND_LISTENERS, { value: bound });
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const manager = this;
    for (const name of ADD_METHODS) {
      const original = ee[name] as unknown as ListenerMethod | undefined;
      if (typeof original !== 'function') continue;
      (ee as unknown as Record<string, ListenerMethod>)[name] = function (event, listener) {
        if (manager.adding) return original.call(this, event, listener);
        let listeners = bound.get(event);
        if (!listeners) bound.set(event, (listeners = new WeakMap()));
        const boundListener = manager.bind(context, listener);
        listeners.set(listener, boundListener);
        manager.adding = true;
        try {
          return original.call(this, event, boundListener);
        } finally {
          manager.adding = false;
        }
      };
    }
    for (const name of REMOVE_METHODS) {
      const original = ee[name] as unknown as ListenerMethod | undefined;
      if (typeof original !== 'function') continue;
      (ee as unknown as Record<string, ListenerMethod>)[name] = function (event, listener) {
        return original.call(this, event, bound.get(event)?.get(listener) ?? listener);
      };
    }
    const removeAll = ee.removeAllListeners;
    ee.removeAllListeners = function (this: EventEmitter, ...args: [event?: string | symbol]) {
      if (args.length === 0) bound.clear();
      else bound.delete(args[0]!);
      return removeAll.apply(this, args);
    };
    return ee;
  }
}
