/** Cost-center attribution of a call: resource attributes, overridden by the span's own. */
import { ATTRIBUTION_TABLE, type AttributionTableField } from 'tokenledger/semconv';
import { recordField, type CallAttribution } from '../../core/call';
import type { Attributes } from '../otlp/types';
import { strAttr } from './attrs';

/** The span's value for `key` if it has one, else the resource's, else ''. */
function pick(span: Attributes, resource: Attributes, key: string): string {
  return strAttr(span, key) || strAttr(resource, key);
}

export function attributionOf(span: Attributes, resource: Attributes): CallAttribution {
  const out: Partial<CallAttribution> = {};
  for (const [field, row] of Object.entries(ATTRIBUTION_TABLE)) {
    // The current name wins over a deprecated one wherever either is set.
    out[recordField(field as AttributionTableField)] =
      pick(span, resource, row.key) ||
      ('deprecatedKey' in row ? pick(span, resource, row.deprecatedKey) : '');
  }
  return out as CallAttribution;
}
