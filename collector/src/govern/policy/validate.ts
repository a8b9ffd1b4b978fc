/**
 * JSON-Schema validation of a parsed policy file (ajv + ajv-formats), turning ajv's errors into
 * problems a person can act on: the field, a plain message, and a hint (the allowed values, the key
 * they probably meant).
 */
import Ajv, { type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import { POLICY_SCHEMA } from 'tokenledger/policy';
import type { Locate } from './locate';
import { fieldName, type PolicyProblem } from './problems';
import { didYouMean } from './suggest';
import { isTimeZone, TIME_ZONES } from './timezones';

const ajv = new Ajv({ allErrors: true, verbose: true, strict: false });
// ajv-formats is typed against its own copy of ajv's class; the runtime API is the same.
(addFormats as unknown as (a: Ajv) => void)(ajv);
ajv.addFormat('iana-timezone', { type: 'string', validate: isTimeZone });
const validate = ajv.compile(POLICY_SCHEMA);

const segmentsOf = (instancePath: string): Array<string | number> =>
  instancePath === ''
    ? []
    : instancePath
        .slice(1)
        .split('/')
        .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
        .map((s) => (/^\d+$/.test(s) ? Number(s) : s));

const show = (v: unknown): string => (typeof v === 'string' ? `'${v}'` : JSON.stringify(v));

export function schemaProblems(data: unknown, locate: Locate): PolicyProblem[] {
  if (validate(data)) return [];
  const errors = validate.errors ?? [];
  // A oneOf/anyOf is reported once, in its own words, instead of once per branch that failed.
  const alternatives = errors.filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf');
  const branch = (e: ErrorObject): boolean =>
    alternatives.some((a) => a !== e && e.schemaPath.startsWith(`${a.schemaPath}/`));
  const problems: PolicyProblem[] = [];
  for (const e of errors) {
    // A bad key under propertyNames is reported once, by its pattern.
    if (e.keyword === 'if' || e.keyword === 'propertyNames' || branch(e)) continue;
    const problem = describe(e, segmentsOf(e.instancePath), locate);
    if (problem) problems.push(problem);
  }
  return problems;
}

function describe(e: ErrorObject, segments: Array<string | number>, locate: Locate): PolicyProblem {
  const at = (segs: Array<string | number>, where: 'key' | 'value' = 'value') => ({
    ...locate(segs, where),
    path: fieldName(segs),
  });
  const params = e.params as Record<string, unknown>;
  const last = segments[segments.length - 1];
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const allowed = Object.keys((e.parentSchema as { properties?: object }).properties ?? {});
      return {
        ...at([...segments, key], 'key'),
        message: `unknown key '${key}'`,
        hint: didYouMean(key, allowed) ?? `allowed keys: ${allowed.join(', ')}`,
      };
    }
    case 'required': {
      const key = String(params.missingProperty);
      if (key === 'downgrade_to')
        return {
          ...at([...segments, 'on_exceeded']),
          message: 'on_exceeded: downgrade needs downgrade_to',
          hint: 'name the cheaper model to switch to, e.g. downgrade_to: gpt-4o-mini',
        };
      return { ...at(segments), message: `missing required key '${key}'` };
    }
    case 'dependencies':
      return {
        ...at([...segments, String(params.property)], 'key'),
        message: `${String(params.property)} needs ${String(params.missingProperty)}`,
        hint: 'cache_write_1h_mtok prices the 1-hour cache writes; cache_write_mtok the other (5-minute) ones',
      };
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map(String);
      const guess = typeof e.data === 'string' ? didYouMean(e.data, allowed) : undefined;
      return {
        ...at(segments),
        message: `${show(e.data)} is not allowed`,
        hint: `${guess ? `${guess} ` : ''}allowed: ${allowed.join(', ')}`,
      };
    }
    case 'const':
      return { ...at(segments), message: `must be ${show(params.allowedValue)}, got ${show(e.data)}` };
    case 'format':
      return formatProblem(String(params.format), e.data, at(segments));
    case 'oneOf':
    case 'anyOf':
      if (segments[0] === 'pricing')
        return {
          ...at(segments),
          message: 'an override needs a discount or a price',
          hint: 'discount: 0.15, or input_mtok / output_mtok / cache_read_mtok / cache_write_mtok / cache_write_1h_mtok in USD per million tokens',
        };
      return {
        ...at(segments),
        message: 'must be a value or a list of values',
        hint: 'e.g. search or [search, ads]',
      };
    case 'exclusiveMinimum':
    case 'maximum':
    case 'minimum':
      if (segments.includes('at') && typeof last === 'number')
        return {
          ...at(segments),
          message: `alert threshold ${show(e.data)} is outside (0, 1.5]`,
          hint: 'a fraction of the budget: 0.8 = 80 %, 1.0 = the whole budget',
        };
      return { ...at(segments), message: `${show(e.data)} ${e.message ?? 'is out of range'}` };
    case 'type':
      return { ...at(segments), message: `must be ${article(String(params.type))}, got ${show(e.data)}` };
    case 'uniqueItems':
      return { ...at(segments), message: 'lists the same value twice' };
    case 'pattern':
      if (segments.includes('currency_rates'))
        return {
          ...at(segments),
          message: `${show(e.data)} is not an ISO 4217 currency code`,
          hint: 'three capital letters, e.g. EUR: 1.08 (USD per euro)',
        };
      return {
        ...at(segments),
        message: `${show(e.data)} is not a valid name`,
        hint: 'letters, digits and _ . : - ; at most 100 characters',
      };
    default:
      return { ...at(segments), message: e.message ?? `fails ${e.keyword}` };
  }
}

function formatProblem(
  format: string,
  value: unknown,
  where: { line: number; column: number; path: string },
): PolicyProblem {
  if (format === 'iana-timezone') {
    const guess = typeof value === 'string' ? didYouMean(value, TIME_ZONES) : undefined;
    return {
      ...where,
      message: `${show(value)} is not an IANA time zone`,
      hint: guess ?? 'e.g. UTC, Europe/Berlin, America/New_York',
    };
  }
  if (format === 'email') return { ...where, message: `${show(value)} is not an e-mail address` };
  if (format === 'uri')
    return {
      ...where,
      message: `${show(value)} is not a URL`,
      hint: 'e.g. https://hooks.slack.com/services/…',
    };
  return { ...where, message: `${show(value)} is not a valid ${format}` };
}

function article(type: string): string {
  const noun = type === 'array' ? 'list' : type === 'object' ? 'mapping (key: value)' : type;
  return `${/^[aeiou]/.test(noun) ? 'an' : 'a'} ${noun}`;
}
