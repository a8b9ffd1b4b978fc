/**
 * Which provider serves an `openai` SDK client, from its base URL: the `openai` package is the
 * client of many OpenAI-compatible APIs (Groq, DeepSeek, Together, OpenRouter, ...), and the
 * provider decides the price. `TOKENLEDGER_PROVIDER_HOSTS` adds or overrides hosts, e.g.
 * `TOKENLEDGER_PROVIDER_HOSTS=vllm.internal:8000=openai_compatible,llm.corp.example=groq`.
 */
import {
  GEN_AI_PROVIDER_AZURE_OPENAI,
  GEN_AI_PROVIDER_DEEPSEEK,
  GEN_AI_PROVIDER_FIREWORKS,
  GEN_AI_PROVIDER_GROQ,
  GEN_AI_PROVIDER_OPENAI,
  GEN_AI_PROVIDER_OPENAI_COMPATIBLE,
  GEN_AI_PROVIDER_OPENROUTER,
  GEN_AI_PROVIDER_PERPLEXITY,
  GEN_AI_PROVIDER_TOGETHER,
  GEN_AI_PROVIDER_X_AI,
} from '../../semconv';

const PROVIDER_HOSTS_ENV = 'TOKENLEDGER_PROVIDER_HOSTS';

/** Public API hosts of OpenAI-compatible providers (host name, lowercase). */
const KNOWN_HOSTS: ReadonlyArray<readonly [RegExp, string]> = [
  [/(^|\.)api\.openai\.com$/, GEN_AI_PROVIDER_OPENAI],
  [/\.openai\.azure\.com$/, GEN_AI_PROVIDER_AZURE_OPENAI],
  [/\.cognitiveservices\.azure\.com$/, GEN_AI_PROVIDER_AZURE_OPENAI],
  [/\.services\.ai\.azure\.com$/, GEN_AI_PROVIDER_AZURE_OPENAI],
  [/(^|\.)api\.groq\.com$/, GEN_AI_PROVIDER_GROQ],
  [/(^|\.)api\.deepseek\.com$/, GEN_AI_PROVIDER_DEEPSEEK],
  [/(^|\.)api\.together\.(xyz|ai)$/, GEN_AI_PROVIDER_TOGETHER],
  [/(^|\.)openrouter\.ai$/, GEN_AI_PROVIDER_OPENROUTER],
  [/(^|\.)api\.fireworks\.ai$/, GEN_AI_PROVIDER_FIREWORKS],
  [/(^|\.)api\.x\.ai$/, GEN_AI_PROVIDER_X_AI],
  [/(^|\.)api\.perplexity\.ai$/, GEN_AI_PROVIDER_PERPLEXITY],
];

/**
 * Loopback hosts are test doubles and local proxies of OpenAI far more often than not, so they keep
 * the `openai` name (a local vLLM is named with TOKENLEDGER_PROVIDER_HOSTS).
 */
const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|::1)$/;

export interface HostOverride {
  /** Lowercase host name, or a `*.suffix` pattern. */
  host: string;
  /** Port, or undefined for any port. */
  port: number | undefined;
  provider: string;
}

/**
 * Parses `host[:port]=provider` entries separated by commas; `[v6addr]:port` and `*.suffix`
 * hosts are accepted. Malformed entries are skipped (a typo must not break the app).
 */
export function parseProviderHosts(raw: string | undefined): HostOverride[] {
  const out: HostOverride[] = [];
  if (!raw) return out;
  for (const entry of raw.split(',')) {
    const eq = entry.lastIndexOf('=');
    if (eq <= 0) continue;
    const provider = entry
      .slice(eq + 1)
      .trim()
      .toLowerCase();
    const target = entry.slice(0, eq).trim().toLowerCase();
    if (provider === '' || target === '') continue;
    const parsed = splitHostPort(target);
    if (!parsed) continue;
    out.push({ ...parsed, provider });
  }
  return out;
}

/** `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address. */
function splitHostPort(target: string): { host: string; port: number | undefined } | undefined {
  let host = target;
  let port: string | undefined;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(target);
  if (bracket) {
    host = bracket[1]!;
    port = bracket[2];
  } else if (target.split(':').length === 2) {
    [host, port] = target.split(':') as [string, string];
    if (!/^\d+$/.test(port)) return undefined;
  }
  return host === '' ? undefined : { host, port: port === undefined ? undefined : Number(port) };
}

let overridesCache: { raw: string | undefined; parsed: HostOverride[] } | undefined;

function overridesFromEnv(): HostOverride[] {
  const raw = process.env[PROVIDER_HOSTS_ENV];
  if (overridesCache === undefined || overridesCache.raw !== raw) {
    overridesCache = { raw, parsed: parseProviderHosts(raw) };
  }
  return overridesCache.parsed;
}

function hostMatches(pattern: string, host: string): boolean {
  return pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) : pattern === host;
}

/**
 * gen_ai.provider.name for an OpenAI-compatible endpoint: overrides (host:port before host), then
 * the known public hosts, then `openai` for loopback, `openai_compatible` for any other host.
 */
export function providerForHost(
  host: string | undefined,
  port: number | undefined,
  overrides: HostOverride[] = overridesFromEnv(),
): string {
  if (host === undefined || host === '') return GEN_AI_PROVIDER_OPENAI;
  const h = host.toLowerCase().replace(/\.$/, '');
  let hostOnly: string | undefined;
  for (const o of overrides) {
    if (!hostMatches(o.host, h)) continue;
    if (o.port !== undefined) {
      if (o.port === port) return o.provider;
    } else {
      hostOnly ??= o.provider;
    }
  }
  if (hostOnly !== undefined) return hostOnly;
  for (const [re, provider] of KNOWN_HOSTS) if (re.test(h)) return provider;
  return LOOPBACK.test(h) ? GEN_AI_PROVIDER_OPENAI : GEN_AI_PROVIDER_OPENAI_COMPATIBLE;
}
