/** Cost-center attribution of a call: resource attributes, overridden by the span's own. */
import {
  ATTR_DEPLOYMENT_ENVIRONMENT_DEPRECATED,
  ATTR_DEPLOYMENT_ENVIRONMENT_NAME,
  ATTR_ENDUSER_ID,
  ATTR_SERVICE_NAME,
  ATTR_TL_APPROVAL_ID,
  ATTR_TL_COST_CENTER,
  ATTR_TL_CUSTOMER,
  ATTR_TL_DEPARTMENT,
  ATTR_TL_FEATURE,
  ATTR_TL_TEAM,
  ATTR_TL_USER_TIER,
  ATTR_TL_WORKFLOW,
} from 'tokenledger/semconv';
import type { CallAttribution } from '../../core/call';
import type { Attributes } from '../otlp/types';
import { strAttr } from './attrs';

/** The span's value for `key` if it has one, else the resource's, else ''. */
function pick(span: Attributes, resource: Attributes, ...keys: string[]): string {
  return strAttr(span, ...keys) || strAttr(resource, ...keys);
}

export function attributionOf(span: Attributes, resource: Attributes): CallAttribution {
  return {
    team: pick(span, resource, ATTR_TL_TEAM),
    department: pick(span, resource, ATTR_TL_DEPARTMENT),
    costCenter: pick(span, resource, ATTR_TL_COST_CENTER),
    feature: pick(span, resource, ATTR_TL_FEATURE),
    workflow: pick(span, resource, ATTR_TL_WORKFLOW),
    customer: pick(span, resource, ATTR_TL_CUSTOMER),
    userTier: pick(span, resource, ATTR_TL_USER_TIER),
    // The current name wins over the deprecated one wherever either is set.
    environment:
      pick(span, resource, ATTR_DEPLOYMENT_ENVIRONMENT_NAME) ||
      pick(span, resource, ATTR_DEPLOYMENT_ENVIRONMENT_DEPRECATED),
    service: pick(span, resource, ATTR_SERVICE_NAME),
    endUser: pick(span, resource, ATTR_ENDUSER_ID),
    approvalId: pick(span, resource, ATTR_TL_APPROVAL_ID),
  };
}
