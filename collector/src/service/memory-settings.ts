/**
 * Process-wide memory settings the collector applies to itself before it loads the embedded engine,
 * so that `tokenledger collector` holds its memory ceiling without a variable the user must set
 * (docs/RELIABILITY.md#hostile-input-bounded-memory-and-clear-answers, decision 0074).
 *
 * - V8's young generation stays at its initial size: by default it grows to 3 × 16 MiB under a
 *   burst of decoding and keeps that, resident, for good. (`--max-semi-space-size` only works on
 *   the command line; the growth factor is read at every resize, so it works from here.)
 * - V8's old generation may grow to 1.5 × what survived the last full collection before the next
 *   one, instead of up to 4 × when collections are quick: the garbage of decoded requests is
 *   collected before it piles up (more full collections under a flood; see decision 0074).
 * - chdb embeds ClickHouse's jemalloc, which reads `JE_MALLOC_CONF` once, when the library is
 *   loaded: a background thread returns the engine's freed pages within a second instead of
 *   holding them until the next allocation in that arena happens to purge them.
 *
 * What the operator set already wins: their `JE_MALLOC_CONF`, or a V8 flag of theirs of the same
 * kind on the command line or in NODE_OPTIONS.
 */
import v8 from 'node:v8';

/** jemalloc options for the embedded engine (ClickHouse's own default keeps dirty pages 5 s). */
export const ENGINE_MALLOC_CONF = 'background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0';

/** V8 flags, each with the kind of flag of the operator's that replaces it. */
export const V8_MEMORY_FLAGS: ReadonlyArray<{ flag: string; kind: string }> = [
  { flag: '--semi-space-growth-factor=1', kind: 'semi-space' },
  { flag: '--heap-growing-percent=50', kind: 'heap-growing' },
];

export function applyMemorySettings(
  env: NodeJS.ProcessEnv = process.env,
  execArgv: readonly string[] = process.execArgv,
  setV8Flag: (flag: string) => void = (flag) => v8.setFlagsFromString(flag),
): void {
  env.JE_MALLOC_CONF ??= ENGINE_MALLOC_CONF;
  const given = `${execArgv.join(' ')} ${env.NODE_OPTIONS ?? ''}`.replaceAll('_', '-');
  for (const { flag, kind } of V8_MEMORY_FLAGS) if (!given.includes(kind)) setV8Flag(flag);
}
