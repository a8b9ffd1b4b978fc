/** A key setting that cannot be used (TOKENLEDGER_API_KEYS, keys.json, `keys create`), with what to fix. */
export class KeyConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyConfigError';
  }
}
