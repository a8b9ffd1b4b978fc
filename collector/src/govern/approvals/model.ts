/** Approval requests for expensive jobs: what is stored and what the API returns. */

export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'exhausted';

export interface Approval {
  id: string;
  job: string;
  /** Who asked (the name of the key that made the request). */
  requester: string;
  /** Who is asked to decide (an approver's name, e.g. e-mail); '' = any approver of the policy. */
  approver: string;
  cost_center: string;
  estimated_usd: string;
  /** The granted amount (defaults to the estimate); '0' until approved. */
  approved_usd: string;
  /** Spent so far by calls attributed to this approval (from stored calls). */
  spent_usd: string;
  status: ApprovalStatus;
  justification: string;
  created_at: string;
  decided_at: string | null;
  decided_by: string;
  decision_comment: string;
}

export interface ApprovalRequest {
  job: string;
  estimatedCostUsd: string;
  costCenter: string;
  approver: string;
  justification: string;
}

/** A request the API refuses, with the HTTP status to answer. */
export class ApprovalError extends Error {
  constructor(
    readonly status: 400 | 403 | 404 | 409,
    message: string,
  ) {
    super(message);
    this.name = 'ApprovalError';
  }
}
