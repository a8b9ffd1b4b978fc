/**
 * Process-wide memory settings the collector applies to itself before it loads the embedded engine,
 * so that `tokenledger collector` holds its memory ceiling without a variable the user must set
 * (docs/RELIABILITY.md#hostile-input-bounded-memory-and-clear-answers, decision 0074).
 *
 * - V8's young generation stays at its initial size: by default it grows to 3 × 16 MiB under a
 *   burst of decoding and keeps that, resident, for good. (`--max-semi-space-size` only works on
 *   the command line; the growth factor is read at every resize, so it works from here.)
 * - chdb embeds ClickHouse's jemalloc, which reads `JE_MALLOC_CONF` once, when the library is
 *   loaded: a background thread returns the engine's freed pages within a second instead of
 *   holding them until the next allocation in that arena happens to purge them.
 *
 * What the operator set already wins: their `JE_MALLOC_CONF`, or any semi-space flag of theirs on
 * the command line or in NODE_OPTIONS.
 */
import v8 from 'node:v8';

/** jemalloc options for the embedded engine (ClickHouse's own default keeps dirty pages 5 s). */
export const ENGINE_MALLOC_CONF = 'background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0';

/** V8 flag: the young generation does not grow past its initial 1 MiB semi-spaces. */
export const V8_YOUNG_GENERATION_FLAG = '--semi-space-growth-factor=1';

export function applyMemorySettings(
  env: NodeJS.ProcessEnv = process.env,
  execArgv: readonly string[] = process.execArgv,
  setV8Flag: (flag: string) => void = (flag) => v8.setFlagsFromString(flag),
): void {
  env.JE_MALLOC_CONF ??= ENGINE_MALLOC_CONF;
  const given = `${execArgv.join(' ')} ${env.NODE_OPTIONS ?? ''}`.replaceAll('_', '-');
  if (!given.includes('semi-space')) setV8Flag(V8_YOUNG_GENERATION_FLAG);
}
