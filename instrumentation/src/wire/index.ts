/**
 * The HTTP contract between the SDK and the collector (`tokenledger/wire`, types only): both sides
 * compile against these, so a field renamed on one side fails the build of the other. JSON field
 * names are snake_case.
 */
export type * from './approvals';
export type * from './audit';
export type * from './budgets';
export type * from './estimate';
export type * from './keys';
export type * from './leases';
export type * from './outcomes';

/** What the collector answers a request it refuses (4xx) or fails (5xx). */
export interface ErrorResponse {
  error: string;
}

/** A request body as received, before it is checked: the contract's fields, of any type. */
export type Unchecked<T> = { [K in keyof T]?: unknown };
