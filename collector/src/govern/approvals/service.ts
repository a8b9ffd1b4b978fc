/**
 * The approval workflow's rules: what a valid request is, who may decide, what is audited.
 * Storage is ApprovalStore's; HTTP is ../server/approvals.ts.
 */
import Decimal from 'decimal.js';
import type { Principal } from '../keys/keys';
import type {
  ApprovalDecisionBody,
  ApprovalRequestBody,
  ApprovalStatus,
  ApprovalView as Approval,
  Unchecked,
} from 'tokenledger/wire';
import { ApprovalError } from './model';
import type { ApprovalStore } from './store';

/** The policy that governs approvals for a cost center, if the policy file has one. */
export interface ApprovalRule {
  policy: string;
  aboveUsd: number;
  approvers: string[];
}

interface AuditEntry {
  actor: string;
  action: string;
  subject: string;
  details: Record<string, unknown>;
}

export interface ApprovalServiceOptions {
  ruleFor?: (costCenter: string) => ApprovalRule | undefined;
  audit?: (entry: AuditEntry) => Promise<void>;
}

const STATUSES: readonly ApprovalStatus[] = ['pending', 'approved', 'rejected', 'exhausted'];

/** A body field by its contract name (tokenledger/wire), so a renamed field fails the compile here. */
function text<B extends object>(body: B, field: keyof B & string, max: number, required: boolean): string {
  const v = (body as Record<string, unknown>)[field];
  if (v === undefined || v === null || v === '') {
    if (required) throw new ApprovalError(400, `${field} is required`);
    return '';
  }
  if (typeof v !== 'string') throw new ApprovalError(400, `${field} must be a string`);
  const t = v.trim();
  if (t.length > max) throw new ApprovalError(400, `${field} is longer than ${max} characters`);
  return t;
}

/** A positive USD amount given as a JSON number or decimal string; returned as a decimal string. */
function usd(value: unknown, field: string): string {
  const ok = typeof value === 'number' || (typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value));
  let d: Decimal | undefined;
  try {
    d = ok ? new Decimal(String(value).trim()) : undefined;
  } catch {
    d = undefined;
  }
  if (!d || !d.isFinite() || d.lte(0) || d.gt(1e12))
    throw new ApprovalError(400, `${field} must be a positive amount in USD, e.g. 120.50`);
  return d.toFixed();
}

export class ApprovalService {
  constructor(
    private readonly store: ApprovalStore,
    private readonly options: ApprovalServiceOptions = {},
  ) {}

  async request(body: unknown, requester: Principal): Promise<Approval> {
    if (body === null || typeof body !== 'object' || Array.isArray(body))
      throw new ApprovalError(400, 'expected a JSON object { job, estimated_cost_usd, cost_center, ... }');
    // The wire's snake_case fields, or the camelCase the SDK's own input uses.
    const b = body as Unchecked<ApprovalRequestBody> & { estimatedCostUsd?: unknown; costCenter?: unknown };
    const estimate = usd(b.estimated_cost_usd ?? b.estimatedCostUsd, 'estimated_cost_usd');
    const req = {
      job: text(b, 'job', 200, true),
      estimatedCostUsd: estimate,
      costCenter: text(b, b.cost_center !== undefined ? 'cost_center' : 'costCenter', 200, true),
      approver: text(b, 'approver', 200, false),
      justification: text(b, 'justification', 2000, true),
    };
    const rule = this.options.ruleFor?.(req.costCenter);
    if (rule && req.approver !== '' && !rule.approvers.includes(req.approver))
      throw new ApprovalError(
        400,
        `approver ${req.approver} is not an approver of policy ${rule.policy} (approvers: ${rule.approvers.join(', ')})`,
      );
    // At or below the policy's threshold no human needs to look at it.
    const auto = rule && new Decimal(estimate).lte(rule.aboveUsd) ? `policy:${rule.policy}` : undefined;
    const approval = await this.store.create(req, requester.name, auto);
    await this.audit(requester.name, 'approval.requested', approval);
    if (auto) await this.audit(auto, 'approval.approved', approval);
    return approval;
  }

  async get(id: string): Promise<Approval> {
    const a = await this.store.get(id);
    if (!a) throw new ApprovalError(404, `no approval ${id}`);
    return a;
  }

  async list(status: unknown): Promise<Approval[]> {
    if (status !== undefined && !STATUSES.includes(status as ApprovalStatus))
      throw new ApprovalError(400, `status must be one of ${STATUSES.join(', ')}`);
    return this.store.list(status as ApprovalStatus | undefined);
  }

  async decide(id: string, body: unknown, decider: Principal): Promise<Approval> {
    const b = (body !== null && typeof body === 'object' ? body : {}) as Unchecked<ApprovalDecisionBody>;
    const decision = b.decision;
    if (decision !== 'approve' && decision !== 'reject')
      throw new ApprovalError(400, 'decision must be "approve" or "reject"');
    const comment = text(b, 'comment', 2000, false);
    const approvedUsd =
      b.approved_usd !== undefined && decision === 'approve'
        ? usd(b.approved_usd, 'approved_usd')
        : undefined;
    const current = await this.get(id);
    if (decider.name === current.requester)
      throw new ApprovalError(403, 'a requester cannot approve or reject their own request');
    const rule = this.options.ruleFor?.(current.cost_center);
    const named = current.approver !== '' && decider.name === current.approver;
    const listed = rule?.approvers.includes(decider.name) ?? false;
    const unrestricted = current.approver === '' && !rule;
    if (!named && !listed && !unrestricted && decider.role !== 'admin') {
      const who = current.approver !== '' ? current.approver : (rule?.approvers.join(', ') ?? '');
      throw new ApprovalError(403, `approval ${id} must be decided by ${who}, not ${decider.name}`);
    }
    const next = await this.store.decide(
      current,
      decision === 'approve' ? 'approved' : 'rejected',
      decider.name,
      approvedUsd,
      comment,
    );
    await this.audit(decider.name, `approval.${next.status}`, next);
    return next;
  }

  private async audit(actor: string, action: string, a: Approval): Promise<void> {
    await this.options.audit?.({
      actor,
      action,
      subject: a.id,
      details: {
        job: a.job,
        cost_center: a.cost_center,
        estimated_usd: a.estimated_usd,
        approved_usd: a.approved_usd,
        approver: a.approver,
        status: a.status,
        comment: a.decision_comment,
      },
    });
  }
}
