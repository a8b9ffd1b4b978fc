/** Keys as the collector describes them to their holders (`GET /v1/budgets` → `key`). */

/**
 * What a scoped ingest key may report and lease for: per field, the values allowed. A span or
 * outcome claiming another value is filed under the first value listed (the claim is kept, flagged).
 */
export interface KeyScope {
  team?: string[];
  cost_center?: string[];
  department?: string[];
  service?: string[];
}

export interface KeyView {
  /** The key's holder name (`keys create --name`, `role/name:key`, or `<role>-<fingerprint>`). */
  name: string;
  role: string;
  /** null: the key may report for any cost center (the one-team setup). */
  scope: KeyScope | null;
}
