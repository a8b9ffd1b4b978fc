/** The approval workflow from the app: ask, look, wait. Decisions are made by people (CLI / API). */
import { collectorRequest } from '../collector-api';
import type { ApprovalRequestBody, ApprovalStatus, ApprovalView } from '../wire';

export type { ApprovalStatus };

export interface Approval {
  id: string;
  job: string;
  requester: string;
  approver: string;
  costCenter: string;
  /** Decimal strings (exact). */
  estimatedUsd: string;
  approvedUsd: string;
  spentUsd: string;
  status: ApprovalStatus;
  justification: string;
  createdAt: string;
  decidedAt: string | null;
  decidedBy: string;
}

export interface ApprovalRequestInput {
  job: string;
  estimatedCostUsd: number | string;
  costCenter: string;
  /** Who should decide (the name of an approver's key, e.g. their e-mail). */
  approver?: string;
  justification: string;
}

const fromJson = (a: ApprovalView): Approval => ({
  id: a.id,
  job: a.job,
  requester: a.requester,
  approver: a.approver,
  costCenter: a.cost_center,
  estimatedUsd: a.estimated_usd,
  approvedUsd: a.approved_usd,
  spentUsd: a.spent_usd,
  status: a.status,
  justification: a.justification,
  createdAt: a.created_at,
  decidedAt: a.decided_at,
  decidedBy: a.decided_by,
});

/** Asks for approval of a job; resolves with the pending (or, below the policy threshold, approved) request. */
export async function requestApproval(input: ApprovalRequestInput): Promise<Approval> {
  return fromJson(
    await collectorRequest<ApprovalView>('POST', '/v1/approvals', {
      job: input.job,
      estimated_cost_usd: String(input.estimatedCostUsd),
      cost_center: input.costCenter,
      approver: input.approver,
      justification: input.justification,
    } satisfies ApprovalRequestBody),
  );
}

export async function getApproval(id: string): Promise<Approval> {
  return fromJson(await collectorRequest<ApprovalView>('GET', `/v1/approvals/${encodeURIComponent(id)}`));
}

/** Polls until the request is decided (or `timeoutMs` passes); resolves with its latest state. */
export async function waitForApproval(
  id: string,
  options: { timeoutMs?: number; pollMs?: number } = {},
): Promise<Approval> {
  const deadline = Date.now() + (options.timeoutMs ?? 60 * 60_000);
  const poll = options.pollMs ?? 2_000;
  for (;;) {
    const a = await getApproval(id);
    if (a.status !== 'pending' || Date.now() >= deadline) return a;
    await new Promise((r) => setTimeout(r, Math.min(poll, Math.max(0, deadline - Date.now()))));
  }
}
