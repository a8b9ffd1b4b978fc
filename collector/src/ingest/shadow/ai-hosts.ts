/**
 * Which HTTP destinations are AI APIs. The known public API hosts come from the extraction's host
 * table; `TOKENLEDGER_AI_HOSTS` adds an organisation's own (an internal LLM gateway, a
 * self-hosted model server): `host[:port]=provider` pairs, comma-separated, e.g.
 * `llm-gateway.internal=openai,10.0.0.7:8000=vllm`.
 */
import { normaliseProvider, providerFromHost } from '../../core/providers';

export type AiHostTable = ReadonlyMap<string, string>;

function parseAiHosts(spec: string | undefined): AiHostTable {
  const table = new Map<string, string>();
  for (const entry of (spec ?? '').split(',')) {
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    const host = entry.slice(0, eq).trim().toLowerCase();
    const provider = normaliseProvider(entry.slice(eq + 1));
    if (host !== '' && provider !== '') table.set(host, provider);
  }
  return table;
}

let fromEnv: AiHostTable | undefined;

/** The table from the environment, read once. */
export function aiHostsFromEnv(): AiHostTable {
  fromEnv ??= parseAiHosts(process.env.TOKENLEDGER_AI_HOSTS);
  return fromEnv;
}

/** The AI provider behind host (and port), '' when it is not a known AI API. */
export function aiProviderOf(host: string, port: number | undefined, extra: AiHostTable): string {
  const h = host.trim().toLowerCase().replace(/\.$/, '');
  if (h === '') return '';
  return (port !== undefined ? extra.get(`${h}:${port}`) : undefined) ?? extra.get(h) ?? providerFromHost(h);
}
