/**
 * What tokenledger registers globally when the app has not (yet): a tracer provider (its private
 * one, so an SDK that traces itself is still recorded), a context manager and a propagator. Each is
 * a stand-in that gives way to the app: the app's own later `trace.setGlobalTracerProvider`,
 * `context.setGlobalContextManager` or `propagation.setGlobalPropagator` (NodeSDK's `start()`,
 * `provider.register()`, OpenLIT's init) succeeds and takes the slot, whenever it comes, with nothing
 * to configure. A slot the app filled first is left alone. tokenledger's own instrumentations never
 * go through the global tracer provider, so they are not affected by who holds it.
 *
 * The API refuses a second registration in a slot, so the give-way is done on the API's own
 * singletons (`trace`, `context`, `propagation`), which the app shares with tokenledger: one
 * @opentelemetry/api in the app's folder (tokenledger's is a peer dependency).
 */
import {
  context,
  diag,
  propagation,
  trace,
  type ContextManager,
  type Span,
  type TextMapPropagator,
  type Tracer,
  type TracerOptions,
  type TracerProvider,
} from '@opentelemetry/api';

const API_GLOBAL = Symbol.for('opentelemetry.js.api.1');

type Slot = 'trace' | 'context' | 'propagation';

/** What some copy of @opentelemetry/api holds in a global slot. */
function registered(slot: Slot): unknown {
  const g = (globalThis as Record<symbol, Record<string, unknown> | undefined>)[API_GLOBAL];
  return g?.[slot];
}

function isGloballyRegistered(slot: Slot): boolean {
  return registered(slot) !== undefined;
}

/**
 * Replaces `api[method]` (on the singleton) with one that first lets `giveWay` release tokenledger's
 * stand-in when it still holds the slot; the original method is restored at the first call.
 */
function yieldOnRegistration<T extends object, K extends keyof T & string>(
  api: T,
  method: K,
  standsIn: () => boolean,
  giveWay: (incoming: unknown) => boolean | undefined,
): void {
  const original = api[method] as unknown as (this: T, incoming: unknown) => boolean;
  const own = Object.prototype.hasOwnProperty.call(api, method);
  const patched = function (this: T, incoming: unknown): boolean {
    if (own) (api as Record<string, unknown>)[method] = original;
    else delete (api as Record<string, unknown>)[method];
    try {
      if (standsIn()) {
        const done = giveWay(incoming);
        if (done !== undefined) return done;
      }
    } catch (err) {
      diag.debug(`tokenledger: could not give way in ${method}`, err);
    }
    return original.call(this, incoming);
  };
  Object.defineProperty(api, method, { configurable: true, writable: true, value: patched });
}

interface ProxyProvider extends TracerProvider {
  getDelegate?: () => TracerProvider;
  setDelegate?: (provider: TracerProvider) => void;
}

/**
 * The global stand-in around tokenledger's provider. The API hands out the delegate's tracers
 * directly (an instrumentation the app registers before starting its SDK keeps the tracer it got),
 * so each tracer handed out here resolves its provider per span: tokenledger's until the app
 * registers its own, the app's from then on.
 */
class GivingWayTracerProvider implements TracerProvider {
  private successor: TracerProvider | undefined;

  constructor(private readonly own: TracerProvider) {}

  current(): TracerProvider {
    return this.successor ?? this.own;
  }

  giveWay(successor: TracerProvider): void {
    this.successor = successor;
  }

  getTracer(name: string, version?: string, options?: TracerOptions): Tracer {
    return new GivingWayTracer(this, name, version, options);
  }
}

class GivingWayTracer implements Tracer {
  private from: TracerProvider | undefined;
  private tracer: Tracer | undefined;

  constructor(
    private readonly provider: GivingWayTracerProvider,
    private readonly name: string,
    private readonly version: string | undefined,
    private readonly options: TracerOptions | undefined,
  ) {}

  private resolve(): Tracer {
    const current = this.provider.current();
    if (current !== this.from || !this.tracer) {
      this.from = current;
      this.tracer = current.getTracer(this.name, this.version, this.options);
    }
    return this.tracer;
  }

  startSpan(...args: Parameters<Tracer['startSpan']>): Span {
    return this.resolve().startSpan(...args);
  }

  startActiveSpan: Tracer['startActiveSpan'] = ((...args: unknown[]) =>
    (this.resolve().startActiveSpan as (...a: unknown[]) => unknown)(...args)) as Tracer['startActiveSpan'];
}

/** Registers `provider` as the global tracer provider until the app registers its own. */
export function standInTracerProvider(provider: TracerProvider): boolean {
  const standIn = new GivingWayTracerProvider(provider);
  if (isGloballyRegistered('trace') || !trace.setGlobalTracerProvider(standIn)) return false;
  const proxy = trace.getTracerProvider() as ProxyProvider;
  yieldOnRegistration(
    trace,
    'setGlobalTracerProvider',
    () => proxy.getDelegate?.() === standIn && registered('trace') === proxy,
    (incoming) => {
      // The same proxy keeps the slot, so tracers taken from it before now reach the app's
      // provider too.
      if (typeof proxy.setDelegate !== 'function') return undefined;
      standIn.giveWay(incoming as TracerProvider);
      proxy.setDelegate(incoming as TracerProvider);
      return true;
    },
  );
  return true;
}

/**
 * Registers `instance` in `slot` (with `api[method]`) until the app registers its own: the app's call
 * first unregisters tokenledger's (`api.disable()`), then registers as usual.
 */
function standInReleasable<A extends { disable(): void }>(
  api: A,
  slot: Slot,
  method: keyof A & string,
  instance: unknown,
): boolean {
  const register = api[method] as unknown as (this: A, instance: unknown) => boolean;
  if (isGloballyRegistered(slot) || !register.call(api, instance)) return false;
  yieldOnRegistration(
    api,
    method,
    () => registered(slot) === instance,
    () => {
      api.disable();
      return undefined;
    },
  );
  return true;
}

/** Registers `manager` as the global context manager until the app registers its own. */
export const standInContextManager = (manager: ContextManager): boolean =>
  standInReleasable(context, 'context', 'setGlobalContextManager', manager);

/** Registers `propagator` as the global propagator until the app registers its own. */
export const standInPropagator = (propagator: TextMapPropagator): boolean =>
  standInReleasable(propagation, 'propagation', 'setGlobalPropagator', propagator);
