import { ClickHouseError } from '@clickhouse/client';

/** A storage operation failed; carries what was being done so logs and 503s say something useful. */
export class StorageError extends Error {
  constructor(
    readonly operation: string,
    options: { cause: unknown; detail?: string },
  ) {
    const cause = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super(`storage: ${operation}${options.detail ? ` (${options.detail})` : ''} failed: ${cause}`, {
      cause: options.cause,
    });
    this.name = 'StorageError';
  }
}

/**
 * The engine answered and refused the statement (it carries a ClickHouse error code: bad data,
 * limits), as opposed to not answering at all (connection refused, timeout).
 */
export function isRefusedByEngine(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof ClickHouseError) return true;
    // The embedded engine's connection (chdb) builds it from its own copy of the client's common
    // package: another class of the same shape.
    if (e.constructor.name === 'ClickHouseError' && typeof (e as { type?: unknown }).type === 'string') {
      return true;
    }
  }
  return false;
}

/** The engine refused for lack of disk space (its own guard or a full disk): not a row's fault. */
export function isOutOfSpace(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (/NOT_ENOUGH_SPACE|not enough space|No space left on device/i.test(e.message)) return true;
  }
  return false;
}
