/**
 * The resource of tokenledger's spans, from its own configuration: what the OpenTelemetry SDK puts
 * on every resource by default, the process, tokenledger as the distribution, then
 * OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME (the standard variables, read as the SDK reads
 * them). The app's own provider and its resource are never consulted: cost-center attributes set
 * for tokenledger stay on tokenledger's spans whatever else instruments the process.
 */
import type { Attributes } from '@opentelemetry/api';
import { envString } from '../env';
import { VERSION } from '../version';

/** `key=value` pairs, comma-separated, percent-decoded; a malformed pair is skipped. */
export function parseResourceAttributes(raw: string | undefined): Attributes {
  const out: Attributes = {};
  if (!raw) return out;
  for (const part of raw.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    try {
      const key = decodeURIComponent(part.slice(0, eq).trim());
      const value = decodeURIComponent(part.slice(eq + 1).trim());
      if (key) out[key] = value;
    } catch {
      // not percent-encoded correctly: skipped, as the SDK does
    }
  }
  return out;
}

export function resourceFromEnv(): Attributes {
  const resource: Attributes = {
    'service.name': `unknown_service:${process.argv0}`,
    'telemetry.sdk.language': 'nodejs',
    'telemetry.sdk.name': 'tokenledger',
    'telemetry.sdk.version': VERSION,
    'process.pid': process.pid,
    'process.runtime.name': 'nodejs',
    'process.runtime.version': process.versions.node,
    'telemetry.distro.name': 'tokenledger',
    'telemetry.distro.version': VERSION,
    ...parseResourceAttributes(envString('OTEL_RESOURCE_ATTRIBUTES')),
  };
  const serviceName = envString('OTEL_SERVICE_NAME');
  if (serviceName) resource['service.name'] = serviceName;
  return resource;
}
