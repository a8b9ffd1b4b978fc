/**
 * Attribution context: which cost center / team / feature a call is spent for.
 *
 * Sources, later wins: resource attributes (they stay on the resource; the collector merges them),
 * W3C baggage entries named after the span keys (`tokenledger.team`, ...) in the active context,
 * then `withAttribution` scopes (nested scopes merge, inner wins).
 */
import { context, createContextKey, propagation, type Attributes, type Context } from '@opentelemetry/api';
import { parseResourceAttributes } from './pipeline/resource';
import { ATTRIBUTION_KEYS, type Attribution, type AttributionField } from './semconv';

/** createContextKey uses Symbol.for, so every copy of this module shares the key. */
const ATTRIBUTION_CONTEXT_KEY = createContextKey('tokenledger.attribution');

const FIELDS = Object.keys(ATTRIBUTION_KEYS) as AttributionField[];

/**
 * Fields `withAttribution` also puts into W3C baggage, so a downstream service that calls the model
 * is charged to the same cost center. Baggage goes out with every instrumented outgoing request
 * (to third parties too), so customer, user and approval ids stay in-process.
 */
const PROPAGATED_FIELDS: readonly AttributionField[] = [
  'costCenter',
  'team',
  'department',
  'feature',
  'workflow',
  'userTier',
];
/** Span / baggage keys, in field order. */
const ATTRIBUTION_SPAN_KEYS: readonly string[] = FIELDS.map((f) => ATTRIBUTION_KEYS[f]);

interface AttributionEntry {
  /** Merged attribution of this scope and its parents (frozen). */
  readonly attribution: Readonly<Attribution>;
  /** The same, as [span key, value] pairs, computed once per scope so the hot path only copies. */
  readonly pairs: ReadonlyArray<readonly [string, string]>;
}

function entryOf(ctx: Context): AttributionEntry | undefined {
  return ctx.getValue(ATTRIBUTION_CONTEXT_KEY) as AttributionEntry | undefined;
}

/**
 * Runs `fn` within an OpenTelemetry context that carries `attrs`; every GenAI span started inside
 * (also across `await`, promise chains and timers) gets them as span attributes. Nested calls merge,
 * inner values win. Values that are not non-empty strings are ignored. Returns what `fn` returns.
 */
export function withAttribution<T>(attrs: Attribution, fn: () => T): T {
  let ctx: Context;
  try {
    const active = context.active();
    const parent = entryOf(active);
    const merged: Attribution = parent ? { ...parent.attribution } : {};
    if (attrs && typeof attrs === 'object') {
      for (const field of FIELDS) {
        const v = attrs[field];
        if (typeof v === 'string' && v !== '') merged[field] = v;
      }
    }
    const pairs: Array<readonly [string, string]> = [];
    for (const field of FIELDS) {
      const v = merged[field];
      if (v !== undefined) pairs.push([ATTRIBUTION_KEYS[field], v]);
    }
    ctx = active.setValue(ATTRIBUTION_CONTEXT_KEY, {
      attribution: Object.freeze(merged),
      pairs,
    } satisfies AttributionEntry);
    ctx = withBaggage(ctx, merged);
  } catch {
    return fn();
  }
  return context.with(ctx, fn);
}

/** The context with the propagated fields of `attribution` added to its W3C baggage. */
function withBaggage(ctx: Context, attribution: Attribution): Context {
  let baggage = propagation.getBaggage(ctx) ?? propagation.createBaggage();
  let changed = false;
  for (const field of PROPAGATED_FIELDS) {
    const v = attribution[field];
    if (v === undefined) continue;
    const key = ATTRIBUTION_KEYS[field];
    if (baggage.getEntry(key)?.value === v) continue;
    baggage = baggage.setEntry(key, { value: v });
    changed = true;
  }
  return changed ? propagation.setBaggage(ctx, baggage) : ctx;
}

let resourceAttribution: Attribution | undefined;

/** Attribution fields found in OTEL_RESOURCE_ATTRIBUTES (parsed once). */
function attributionFromResourceEnv(): Attribution {
  if (resourceAttribution) return resourceAttribution;
  const out: Attribution = {};
  const resource = parseResourceAttributes(process.env.OTEL_RESOURCE_ATTRIBUTES);
  for (let i = 0; i < FIELDS.length; i++) {
    const value = resource[ATTRIBUTION_SPAN_KEYS[i]!];
    if (typeof value === 'string' && value !== '') out[FIELDS[i]!] = value;
  }
  resourceAttribution = out;
  return out;
}

/**
 * The attribution in effect here: resource attributes from the environment, overridden by W3C
 * baggage entries in the active context, overridden by enclosing `withAttribution` scopes.
 */
export function getAttribution(): Attribution {
  const out: Attribution = { ...attributionFromResourceEnv() };
  try {
    const ctx = context.active();
    const baggage = propagation.getBaggage(ctx);
    if (baggage) {
      for (let i = 0; i < FIELDS.length; i++) {
        const e = baggage.getEntry(ATTRIBUTION_SPAN_KEYS[i]!);
        if (e && e.value !== '') out[FIELDS[i]!] = e.value;
      }
    }
    const entry = entryOf(ctx);
    if (entry) Object.assign(out, entry.attribution);
  } catch {
    // never throw into the app
  }
  return out;
}

/** The resource's attribution as [span key, value] pairs, when it must go on every span. */
let resourcePairs: ReadonlyArray<readonly [string, string]> | undefined;

/**
 * Under the app's tracer provider (`TOKENLEDGER_TRACER_PROVIDER=app`) the spans carry the app's
 * resource, which may not have tokenledger's cost-center attributes: they then go on every span.
 */
export function setAppProviderAttribution(): void {
  const fromEnv = attributionFromResourceEnv();
  resourcePairs = FIELDS.filter((f) => fromEnv[f] !== undefined).map(
    (f) => [ATTRIBUTION_KEYS[f], fromEnv[f]!] as const,
  );
}

/**
 * Hot path: copies baggage + withAttribution values of `ctx` into `attributes` as span attributes.
 * Resource attributes are left on tokenledger's resource (but see setAppProviderAttribution).
 */
export function addAttributionAttributes(ctx: Context, attributes: Attributes): void {
  if (resourcePairs) for (const [key, value] of resourcePairs) attributes[key] = value;
  const baggage = propagation.getBaggage(ctx);
  if (baggage) {
    for (let i = 0; i < ATTRIBUTION_SPAN_KEYS.length; i++) {
      const key = ATTRIBUTION_SPAN_KEYS[i]!;
      const e = baggage.getEntry(key);
      if (e && e.value !== '') attributes[key] = e.value;
    }
  }
  const entry = entryOf(ctx);
  if (entry) {
    const pairs = entry.pairs;
    for (let i = 0; i < pairs.length; i++) attributes[pairs[i]![0]] = pairs[i]![1];
  }
}
