/**
 * `withApproval(approval, fn)`: runs an approved job, attributes its calls to the approval
 * (tokenledger.approval_id) and blocks them, before they leave, once the approved amount is spent.
 *
 * Spend under a grant = max(what the collector has stored for it, what it had when the job started
 * + this process's own calls since), refreshed every ~2 s, so other processes spending from the same
 * approval count too. The process's own calls are priced with the collector's prices (fetched once
 * per model); sums are integers of pico-dollars, never floats. Calls already in flight when the
 * amount runs out still complete: the overshoot is at most the job's concurrency times one call.
 */
import type { Span } from '@opentelemetry/api';
import { withAttribution } from '../attribution';
import { onSpanEnded } from '../exit-flush';
import { estimateCost } from '../estimate';
import { ApprovalRequiredError } from '../errors';
import {
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  ATTR_TL_APPROVAL_ID,
  ATTR_TL_USAGE_CACHE_CREATION_1H_INPUT_TOKENS,
} from '../semconv';
import { getApproval, type Approval } from './client';
import { pricesOf } from '../money/estimate-prices';
import { picoToUsd, usdToPico } from '../money/pico';
import { costPico, toUnitPrices, type UnitPrices } from '../money/unit-prices';

const REFRESH_MS = 2_000;

interface Grant {
  approval: Approval;
  approvedPico: bigint;
  /** Stored spend when this process started using the grant. */
  basePico: bigint;
  /** This process's calls since, as priced here. */
  localPico: bigint;
  /** Latest stored spend (all processes). */
  storedPico: bigint;
  users: number;
  timer: NodeJS.Timeout | undefined;
}

const grants = new Map<string, Grant>();
let listening = false;

function spentPico(g: Grant): bigint {
  const mine = g.basePico + g.localPico;
  return mine > g.storedPico ? mine : g.storedPico;
}

function exhaustedError(g: Grant): ApprovalRequiredError {
  const a = g.approval;
  return new ApprovalRequiredError(
    `tokenledger: approval ${a.id} for job "${a.job}" is used up: $${picoToUsd(g.approvedPico)} approved, ` +
      `$${picoToUsd(spentPico(g))} spent. Request a new approval (requestApproval / tokenledger approvals request) to continue.`,
  );
}

/** Called before every call that carries an approval id (see instrumentations/shared/guarded.ts). */
export function checkApprovalGrant(approvalId: string, model: string | undefined, provider: string): void {
  const g = grants.get(approvalId);
  if (g === undefined) return;
  if (spentPico(g) >= g.approvedPico) throw exhaustedError(g);
  // Fetch the model's prices while the call is in flight, so its cost counts as soon as it ends.
  if (model) void unitPrices(model, provider);
}

export function hasGrants(): boolean {
  return grants.size > 0;
}

/** A model's prices: from an earlier estimate, else asked once from the collector. */
function unitPrices(model: string, provider: string): Promise<UnitPrices | undefined> {
  return pricesOf(provider, model, async () => {
    const e = await estimateCost({ model, provider, inputTokens: 0, outputTokens: 0 });
    return e.unitPricesMtok ? toUnitPrices(e.unitPricesMtok) : undefined;
  });
}

function onEnded(span: Span): void {
  const attrs = (span as unknown as { attributes?: Record<string, unknown> }).attributes;
  const id = attrs?.[ATTR_TL_APPROVAL_ID];
  if (typeof id !== 'string') return;
  const g = grants.get(id);
  if (!g) return;
  const num = (k: string): number => (typeof attrs![k] === 'number' ? (attrs![k] as number) : 0);
  const model = String(attrs![ATTR_GEN_AI_RESPONSE_MODEL] ?? attrs![ATTR_GEN_AI_REQUEST_MODEL] ?? '');
  const provider = String(attrs![ATTR_GEN_AI_PROVIDER_NAME] ?? '');
  const input = num(ATTR_GEN_AI_USAGE_INPUT_TOKENS);
  const usage = {
    input,
    output: num(ATTR_GEN_AI_USAGE_OUTPUT_TOKENS),
    cacheRead: num(ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
    cacheWrite: num(ATTR_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS),
    cacheWrite1h: num(ATTR_TL_USAGE_CACHE_CREATION_1H_INPUT_TOKENS),
  };
  if (model === '' || usage.input + usage.output === 0) return;
  void unitPrices(model, provider).then((p) => {
    if (p) g.localPico += costPico(p, usage);
  });
}

function acquire(approval: Approval): Grant {
  let g = grants.get(approval.id);
  if (!g) {
    const stored = usdToPico(approval.spentUsd);
    g = {
      approval,
      approvedPico: usdToPico(approval.approvedUsd),
      basePico: stored,
      localPico: 0n,
      storedPico: stored,
      users: 0,
      timer: undefined,
    };
    const grant = g;
    grant.timer = setInterval(() => {
      getApproval(approval.id).then(
        (a) => {
          grant.storedPico = usdToPico(a.spentUsd);
          grant.approvedPico = a.status === 'approved' ? usdToPico(a.approvedUsd) : 0n;
        },
        () => undefined, // collector briefly unreachable: keep counting locally
      );
    }, REFRESH_MS);
    grant.timer.unref();
    grants.set(approval.id, grant);
  }
  g.users++;
  if (!listening) {
    listening = true;
    onSpanEnded(onEnded);
  }
  return g;
}

function release(g: Grant): void {
  if (--g.users > 0) return;
  if (g.timer) clearInterval(g.timer);
  grants.delete(g.approval.id);
}

/**
 * Runs `fn` as the approved job: its LLM calls carry the approval id and are blocked
 * (ApprovalRequiredError) once the approved amount is spent. Throws ApprovalRequiredError at once
 * when the request is not approved (yet).
 */
export async function withApproval<T>(approval: Approval | string, fn: () => T | Promise<T>): Promise<T> {
  const current = await getApproval(typeof approval === 'string' ? approval : approval.id);
  if (current.status !== 'approved') {
    const who = current.approver ? `${current.approver} ` : 'an approver ';
    throw new ApprovalRequiredError(
      current.status === 'pending'
        ? `tokenledger: approval ${current.id} for job "${current.job}" ($${current.estimatedUsd}) is pending: ` +
            `${who}can run \`tokenledger approvals approve ${current.id}\`; wait with waitForApproval().`
        : `tokenledger: approval ${current.id} for job "${current.job}" is ${current.status}; the job cannot run under it.`,
    );
  }
  const g = acquire(current);
  try {
    if (spentPico(g) >= g.approvedPico) throw exhaustedError(g);
    return await withAttribution({ approvalId: current.id }, fn);
  } finally {
    release(g);
  }
}
