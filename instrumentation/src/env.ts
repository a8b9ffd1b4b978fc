/** The process environment, read the same way everywhere: a blank value counts as unset. */

export function envString(name: string): string | undefined {
  const v = process.env[name]?.trim();
  return v ? v : undefined;
}

/** A positive number, else undefined (unset, blank, zero, negative or not a number). */
export function envPositiveNumber(name: string): number | undefined {
  const n = Number(envString(name));
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/** A comma-separated list (`OTEL_PROPAGATORS=tracecontext,baggage`), trimmed and lower-cased. */
export function envList(name: string, fallback: string): string[] {
  return (envString(name) ?? fallback)
    .split(',')
    .map((item) => item.trim().toLowerCase())
    .filter(Boolean);
}
