/**
 * JSON Schema (draft-07) of the policy file; must stay in step with ./types.ts. Published as
 * `policies/policy.schema.json` (a test keeps the two equal) and printed by
 * `tokenledger policy schema`, so editors can validate the YAML as it is typed.
 * Custom format `iana-timezone` is checked by the collector; other validators ignore it.
 */
import type { PolicyAttributionField } from '../semconv';

const SELECTOR = {
  description: 'one value or a list of values (any of them matches)',
  oneOf: [
    { type: 'string', minLength: 1 },
    { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, uniqueItems: true },
  ],
};

const ADDRESSES = {
  oneOf: [
    { type: 'string', minLength: 1 },
    { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
  ],
};

const MODEL_LIST = { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, uniqueItems: true };

/** Attribution fields a policy can require on every call (snake_case, as in the span contract). */
export const ATTRIBUTION_FIELDS = [
  'team',
  'department',
  'cost_center',
  'feature',
  'workflow',
  'customer',
  'user_tier',
  'environment',
  'service',
  'user',
] as const satisfies readonly PolicyAttributionField[];

export const MATCH_FIELDS = [
  'team',
  'cost_center',
  'department',
  'feature',
  'workflow',
  'environment',
  'service',
  'customer',
  'model',
  'provider',
] as const;

const USD_PER_MTOK = { type: 'number', minimum: 0 };

export const POLICY_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://tokenledger.dev/policy.schema.json',
  title: 'tokenledger policy file',
  type: 'object',
  additionalProperties: false,
  required: ['version', 'policies'],
  properties: {
    version: { const: 1, description: 'file format version; 1' },
    kill_switch: { type: 'boolean', description: 'block every AI call of every service' },
    fail: { enum: ['open', 'closed'], description: 'guard behaviour when the collector is unreachable' },
    attribution: {
      type: 'object',
      additionalProperties: false,
      required: ['required'],
      properties: {
        required: { type: 'array', items: { enum: [...ATTRIBUTION_FIELDS] }, uniqueItems: true },
        on_missing: { enum: ['block', 'alert'] },
      },
    },
    policies: { type: 'array', items: { $ref: '#/definitions/policy' } },
    pricing: {
      type: 'object',
      additionalProperties: false,
      properties: {
        overrides: { type: 'array', items: { $ref: '#/definitions/price_override' } },
      },
    },
    channels: {
      type: 'object',
      additionalProperties: false,
      properties: {
        webhook: { type: 'array', items: { type: 'string', format: 'uri' } },
        email: { type: 'array', items: { type: 'string', format: 'email' } },
      },
    },
    savings: {
      type: 'object',
      additionalProperties: false,
      description: 'what the savings panel may offer instead of a model',
      properties: {
        alternatives: {
          type: 'object',
          description:
            'per model, the models acceptable instead (any provider); replaces "same family" for it',
          additionalProperties: MODEL_LIST,
        },
        include_preview: {
          type: 'boolean',
          description: 'offer preview / experimental models as alternatives (default false)',
        },
      },
    },
    reconciliation: { $ref: '#/definitions/reconciliation' },
  },
  definitions: {
    reconciliation: {
      type: 'object',
      additionalProperties: false,
      description: 'how imported provider bills are reconciled with the meter',
      properties: {
        tolerance_usd: { type: 'number', minimum: 0, description: 'a line matches within this many USD' },
        tolerance_share: {
          type: 'number',
          minimum: 0,
          maximum: 1,
          description: 'or within this share of the larger amount',
        },
        billing_delay_days: { type: 'integer', minimum: 0, maximum: 31 },
        alert_below: {
          type: 'number',
          exclusiveMinimum: 0,
          maximum: 1,
          description: 'alert when the meter covers less than this share of a provider bill',
        },
        currency_rates: {
          type: 'object',
          description: 'USD per unit of each currency, e.g. { EUR: 1.08 }',
          propertyNames: { pattern: '^[A-Z]{3}$' },
          additionalProperties: { type: 'number', exclusiveMinimum: 0 },
        },
        projects: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['project', 'service'],
            properties: {
              provider: { type: 'string', minLength: 1 },
              project: { type: 'string', minLength: 1 },
              service: SELECTOR,
            },
          },
        },
      },
    },
    policy: {
      type: 'object',
      additionalProperties: false,
      required: ['name'],
      properties: {
        name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$' },
        description: { type: 'string' },
        match: {
          type: 'object',
          additionalProperties: false,
          properties: Object.fromEntries(MATCH_FIELDS.map((f) => [f, SELECTOR])),
        },
        models: {
          type: 'object',
          additionalProperties: false,
          properties: { allow: MODEL_LIST, deny: MODEL_LIST },
        },
        budget: {
          type: 'object',
          additionalProperties: false,
          required: ['usd', 'period'],
          properties: {
            usd: { type: 'number', exclusiveMinimum: 0 },
            period: { enum: ['daily', 'weekly', 'monthly', 'quarterly'] },
            timezone: { type: 'string', format: 'iana-timezone' },
          },
        },
        rate_limit: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: {
            calls_per_minute: { type: 'integer', minimum: 1 },
            tokens_per_minute: { type: 'integer', minimum: 1 },
          },
        },
        max_tokens_per_call: { type: 'integer', minimum: 1 },
        on_max_tokens: { enum: ['clamp', 'reject'] },
        on_exceeded: { enum: ['block', 'alert', 'downgrade'] },
        downgrade_to: { type: 'string', minLength: 1 },
        alerts: {
          type: 'object',
          additionalProperties: false,
          required: ['at'],
          properties: {
            at: {
              type: 'array',
              minItems: 1,
              uniqueItems: true,
              items: { type: 'number', exclusiveMinimum: 0, maximum: 1.5 },
            },
            webhook: ADDRESSES,
            email: ADDRESSES,
          },
        },
        approval: {
          type: 'object',
          additionalProperties: false,
          required: ['above_usd', 'approvers'],
          properties: {
            above_usd: { type: 'number', minimum: 0 },
            approvers: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
          },
        },
        disabled: { type: 'boolean', description: 'kill switch for this policy: block every matching call' },
      },
      if: { required: ['on_exceeded'], properties: { on_exceeded: { const: 'downgrade' } } },
      then: { required: ['downgrade_to'] },
    },
    price_override: {
      type: 'object',
      additionalProperties: false,
      required: ['model'],
      properties: {
        provider: { type: 'string', minLength: 1 },
        model: { type: 'string', minLength: 1 },
        discount: { type: 'number', minimum: 0, maximum: 1 },
        input_mtok: USD_PER_MTOK,
        output_mtok: USD_PER_MTOK,
        cache_read_mtok: USD_PER_MTOK,
        cache_write_mtok: USD_PER_MTOK,
        cache_write_1h_mtok: USD_PER_MTOK,
      },
      // A 1-hour cache write is a kind of cache write: its price refines cache_write_mtok (as in the catalog).
      dependencies: { cache_write_1h_mtok: ['cache_write_mtok'] },
      anyOf: [
        { required: ['discount'] },
        { required: ['input_mtok'] },
        { required: ['output_mtok'] },
        { required: ['cache_read_mtok'] },
        { required: ['cache_write_mtok'] },
        { required: ['cache_write_1h_mtok'] },
      ],
    },
  },
} as const;
