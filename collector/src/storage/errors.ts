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
