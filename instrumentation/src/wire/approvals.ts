/** The approval workflow: `POST /v1/approvals`, `GET /v1/approvals[/:id]`, `POST /v1/approvals/:id/decision`. */

export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'exhausted';

/** An approval request as stored and answered. Money is exact decimal strings. */
export interface ApprovalView {
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

export interface ApprovalRequestBody {
  job: string;
  /** A positive amount: decimal string or JSON number. */
  estimated_cost_usd: string | number;
  cost_center: string;
  /** Who should decide (the name of an approver's key); absent = any approver of the policy. */
  approver?: string;
  justification: string;
}

export interface ApprovalDecisionBody {
  decision: 'approve' | 'reject';
  /** Grant a different amount than the estimate (approve only). */
  approved_usd?: string | number;
  comment?: string;
}

export interface ApprovalList {
  approvals: ApprovalView[];
}
