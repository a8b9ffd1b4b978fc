/**
 * Approval requests for expensive jobs. What is stored and what the API returns is the wire's
 * ApprovalView (tokenledger/wire).
 */

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
