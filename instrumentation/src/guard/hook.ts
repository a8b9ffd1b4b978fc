/**
 * The contract between provider patches and the policy guard.
 *
 * Every provider patch, before the request leaves the process:
 *   1. describes the call as a GuardedCall (provider, operation, model, max tokens, span attributes
 *      incl. attribution) and calls `guardCall()` (through `runGuard` in ../instrumentations/shared);
 *   2. if it throws a PolicyError, the request is NOT sent: the span is ended with
 *      `tokenledger.enforcement=blocked` and the error reaches the app the way the SDK surfaces its
 *      own errors (a rejected promise from the method);
 *   3. otherwise applies the verdict with the provider's own field names (model rewritten for a
 *      downgrade, max output tokens clamped) on a shallow copy of the request, never mutating the
 *      app's object, and adds `verdict.attributes` to the span;
 *   4. when the guard cannot decide yet (no state before the process's first answer, a budget slice
 *      waiting for more money) it returns a PendingVerdict: the patch still returns the SDK's own
 *      value at once (the same APIPromise, the same promise type), and sends the request only once
 *      the verdict resolves — or rejects the SDK's promise with the PolicyError, unsent. The wait is
 *      bounded (TOKENLEDGER_GUARD_WAIT_MS) and asynchronous: nothing blocks the event loop.
 * When the call ends, the patch calls `noteSpanEnded(span)` (../exit-flush), which lets the guard
 * count the process's own spend and tokens from the span's usage attributes.
 *
 * The guard engine (./engine) installs itself with `setGuard`; until then every call is allowed at
 * the cost of one null check.
 */
import type { Attributes } from '@opentelemetry/api';

export interface GuardedCall {
  /** gen_ai.provider.name, e.g. openai, anthropic, gcp.gemini, aws.bedrock, mistral_ai. */
  provider: string;
  /** gen_ai.operation.name: chat, embeddings, generate_content, ... */
  operation: string;
  /** The model the app asked for. */
  model: string | undefined;
  /** Max output tokens the app asked for, if any. */
  maxTokens: number | undefined;
  /** The span's attributes at start, attribution included (tokenledger.*, deployment.environment.name, ...). */
  attributes: Attributes;
  /** The call's span: what the guard reserved for the call is settled when this span ends. */
  span: object;
}

export interface GuardVerdict {
  /** Send this model instead (downgrade). */
  model?: string;
  /** Send this max output tokens instead (clamp, or a default cap when the app set none). */
  maxTokens?: number;
  /** Attributes for the span: tokenledger.enforcement, tokenledger.policy, tokenledger.original_model, ... */
  attributes?: Attributes;
}

/**
 * A verdict the guard cannot give synchronously: `promise` resolves to it, or rejects with the
 * PolicyError that blocks the call. It never rejects with anything else.
 */
export class PendingVerdict {
  constructor(readonly promise: Promise<GuardVerdict | undefined>) {}
}

export type GuardDecision = GuardVerdict | undefined | PendingVerdict;

export interface Guard {
  /**
   * Returns undefined to allow unchanged; throws a PolicyError to block; a PendingVerdict when it
   * must wait. Must be fast: it runs on every call.
   */
  check(call: GuardedCall): GuardDecision;
}

let current: Guard | undefined;

export function setGuard(guard: Guard | undefined): void {
  current = guard;
}

export function guardCall(call: GuardedCall): GuardDecision {
  return current === undefined ? undefined : current.check(call);
}

/** Whether a guard is installed: patches can skip building a GuardedCall when none is. */
export function guardActive(): boolean {
  return current !== undefined;
}
