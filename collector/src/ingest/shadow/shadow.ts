/**
 * Uninstrumented ("shadow") AI traffic: HTTP client spans (instrumentation-http, -undici, ...) to
 * a known AI API host that no GenAI span in the same trace covers. A GenAI span covers an HTTP
 * span when it is its parent (OpenLIT, contrib), its child, or a sibling whose time overlaps it
 * (tokenledger keeps its span out of the active context, so the HTTP span is its sibling), and
 * names the same provider or none. The caller passes the GenAI spans of this export request and
 * those earlier requests brought in the same traces (the collector's trace window).
 */
import {
  ATTR_DEPLOYMENT_ENVIRONMENT_DEPRECATED,
  ATTR_DEPLOYMENT_ENVIRONMENT_NAME,
  ATTR_HTTP_HOST_OLD,
  ATTR_HTTP_METHOD_OLD,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_STATUS_CODE_OLD,
  ATTR_HTTP_TARGET_OLD,
  ATTR_HTTP_URL_OLD,
  ATTR_NET_PEER_NAME_OLD,
  ATTR_NET_PEER_PORT_OLD,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
  ATTR_URL_FULL,
  ATTR_URL_PATH,
} from 'tokenledger/semconv';
import { intAttr, strAttr } from '../extract/attrs';
import type { GenAiSpanRef } from '../extract/extract';
import type { Attributes, OtlpSpan, OtlpTraceRequest } from '../otlp/types';
import { SPAN_KIND_CLIENT } from '../otlp/types';
import { aiProviderOf, type AiHostTable } from './ai-hosts';
import type { AiHttpCall } from '../../core/ai-http-call';

/** GenAI spans grouped by trace id. */
export function spansByTrace(genaiSpans: GenAiSpanRef[]): Map<string, GenAiSpanRef[]> {
  const byTrace = new Map<string, GenAiSpanRef[]>();
  for (const g of genaiSpans) {
    let list = byTrace.get(g.traceId);
    if (!list) byTrace.set(g.traceId, (list = []));
    list.push(g);
  }
  return byTrace;
}

/** `earlier`: the GenAI spans earlier export requests brought in a trace. */
export function findUninstrumentedAiCalls(
  req: OtlpTraceRequest,
  genaiSpans: GenAiSpanRef[],
  hosts: AiHostTable,
  earlier: (traceId: string) => Iterable<GenAiSpanRef> = () => [],
): AiHttpCall[] {
  const byTrace = spansByTrace(genaiSpans);
  const out: AiHttpCall[] = [];
  for (const rs of req.resourceSpans) {
    for (const ss of rs.scopeSpans) {
      for (const span of ss.spans) {
        const target = aiTargetOf(span, hosts);
        if (target === undefined) continue;
        const covering = (g: GenAiSpanRef): boolean => covers(g, span, target.provider);
        if ((byTrace.get(span.traceId) ?? []).some(covering)) continue;
        if ([...earlier(span.traceId)].some(covering)) continue;
        out.push(toAiHttpCall(span, rs.resource, ss.scope.name, target));
      }
    }
  }
  return out;
}

interface AiTarget {
  host: string;
  provider: string;
  url: URL | undefined;
}

/** The AI API an HTTP client span called, or undefined when it is not one. */
function aiTargetOf(span: OtlpSpan, hosts: AiHostTable): AiTarget | undefined {
  const a = span.attributes;
  if (span.kind !== SPAN_KIND_CLIENT || strAttr(a, ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_METHOD_OLD) === '') {
    return undefined;
  }
  const url = parseUrl(strAttr(a, ATTR_URL_FULL, ATTR_HTTP_URL_OLD));
  const host = (
    strAttr(a, ATTR_SERVER_ADDRESS, ATTR_NET_PEER_NAME_OLD) ||
    url?.hostname ||
    hostOnly(a)
  ).toLowerCase();
  const port =
    intAttr(a, ATTR_SERVER_PORT, ATTR_NET_PEER_PORT_OLD) ?? (url?.port ? Number(url.port) : undefined);
  const provider = aiProviderOf(host, port, hosts);
  return provider === '' ? undefined : { host, provider, url };
}

function hostOnly(a: Attributes): string {
  return strAttr(a, ATTR_HTTP_HOST_OLD).replace(/:\d+$/, '');
}

function parseUrl(text: string): URL | undefined {
  if (text === '') return undefined;
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

/** Where an HTTP span sits in its trace. */
export type HttpSpanRef = Pick<
  OtlpSpan,
  'traceId' | 'spanId' | 'parentSpanId' | 'startTimeUnixNano' | 'endTimeUnixNano'
>;

/** Whether the GenAI span `g` records the request of the HTTP span `http` to `provider`. */
export function covers(g: GenAiSpanRef, http: HttpSpanRef, provider: string): boolean {
  if (g.traceId !== http.traceId) return false;
  if (g.provider !== '' && g.provider !== provider) return false;
  if (g.spanId === http.parentSpanId || g.parentSpanId === http.spanId) return true;
  return g.parentSpanId === http.parentSpanId && overlaps(g, http);
}

function overlaps(g: GenAiSpanRef, http: HttpSpanRef): boolean {
  return (
    BigInt(g.startTimeUnixNano) <= BigInt(http.endTimeUnixNano) &&
    BigInt(http.startTimeUnixNano) <= BigInt(g.endTimeUnixNano)
  );
}

function toAiHttpCall(span: OtlpSpan, resource: Attributes, scope: string, t: AiTarget): AiHttpCall {
  const a = span.attributes;
  const pick = (...keys: string[]): string => strAttr(a, ...keys) || strAttr(resource, ...keys);
  const ns = Number(span.endTimeUnixNano) - Number(span.startTimeUnixNano);
  return {
    traceId: span.traceId,
    spanId: span.spanId,
    parentSpanId: span.parentSpanId,
    startTimeUnixNano: span.startTimeUnixNano,
    endTimeUnixNano: span.endTimeUnixNano,
    durationMs: ns > 0 ? Math.round(ns / 1e3) / 1e3 : 0,
    service: pick(ATTR_SERVICE_NAME),
    environment: pick(ATTR_DEPLOYMENT_ENVIRONMENT_NAME) || pick(ATTR_DEPLOYMENT_ENVIRONMENT_DEPRECATED),
    host: t.host,
    provider: t.provider,
    method: strAttr(a, ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_METHOD_OLD).toUpperCase(),
    path: t.url?.pathname || (strAttr(a, ATTR_URL_PATH, ATTR_HTTP_TARGET_OLD).split('?')[0] ?? ''),
    statusCode: intAttr(a, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_HTTP_STATUS_CODE_OLD) ?? 0,
    source: scope,
  };
}
