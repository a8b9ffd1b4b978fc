/**
 * What tokenledger registers globally when the app has not (yet): a context manager and a
 * propagator, so `withAttribution`, baggage and trace context work in an app without
 * OpenTelemetry. Never a tracer provider: tokenledger's spans go through its private one, and an
 * SDK that traces itself stays a no-op, as it is without tokenledger.
 *
 * Each stand-in gives way to the app: the app's own later `context.setGlobalContextManager` or
 * `propagation.setGlobalPropagator` (NodeSDK's `start()`, `provider.register()`, OpenLIT's init)
 * succeeds and takes the slot, whenever it comes, with nothing to configure. A slot the app filled
 * first is left alone.
 *
 * The API refuses a second registration in a slot, so the give-way is done on the API's own
 * singletons (`context`, `propagation`), which the app shares with tokenledger: one
 * @opentelemetry/api in the app's folder (tokenledger's is a peer dependency).
 */
import { context, diag, propagation, type ContextManager, type TextMapPropagator } from '@opentelemetry/api';

const API_GLOBAL = Symbol.for('opentelemetry.js.api.1');

type Slot = 'context' | 'propagation';

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
