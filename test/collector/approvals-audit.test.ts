/**
 * The approval workflow's rules on the real engine: every request and decision lands in the
 * append-only audit log; a policy's approval block names who may decide and approves small jobs
 * automatically.
 */
import assert from 'node:assert/strict';
import { ApprovalError } from '../../collector/src/govern/approvals/model';
import { ApprovalService } from '../../collector/src/govern/approvals/service';
import { ApprovalStore } from '../../collector/src/govern/approvals/store';
import { AuditLog } from '../../collector/src/govern/audit';
import type { Storage } from '../../collector/src/storage/client';
import { freshStorage } from '../support/embedded-storage';

describe('approvals: policy rules and the audit log', () => {
  let storage: Storage;
  let audit: AuditLog;
  let service: ApprovalService;
  const rule = { policy: 'bulk-jobs', aboveUsd: 50, approvers: ['finance-lead@example.com'] };

  before(async () => {
    storage = await freshStorage();
    audit = new AuditLog(storage);
    service = new ApprovalService(new ApprovalStore(storage), {
      ruleFor: (cc) => (cc === 'data:platform' ? rule : undefined),
      audit: (e) => audit.audit(e),
    });
  });

  const job = (estimated: number, approver?: string) => ({
    job: 'backfill',
    estimated_cost_usd: estimated,
    cost_center: 'data:platform',
    justification: 'quarterly backfill',
    ...(approver ? { approver } : {}),
  });

  it('approves below the policy threshold automatically, and audits request and approval', async () => {
    const a = await service.request(job(12.5), { role: 'ingest', name: 'batch-runner' });
    assert.equal(a.status, 'approved');
    assert.equal(a.decided_by, 'policy:bulk-jobs');
    assert.equal(a.approved_usd, '12.5');
    const entries = (await audit.recent({ action: 'approval.' })).filter((e) => e.subject === a.id);
    assert.deepEqual(entries.map((e) => [e.actor, e.action]).sort(), [
      ['batch-runner', 'approval.requested'],
      ['policy:bulk-jobs', 'approval.approved'],
    ]);
  });

  it('lets only the policy approvers decide a larger job, never the requester, and audits the decision', async () => {
    await assert.rejects(
      service.request(job(120, 'someone@example.com'), { role: 'ingest', name: 'batch-runner' }),
      (e: unknown) =>
        e instanceof ApprovalError &&
        e.status === 400 &&
        /not an approver of policy bulk-jobs/.test(e.message),
    );
    const a = await service.request(job(120), { role: 'approver', name: 'finance-lead@example.com' });
    assert.equal(a.status, 'pending');
    await assert.rejects(
      service.decide(a.id, { decision: 'approve' }, { role: 'approver', name: 'finance-lead@example.com' }),
      (e: unknown) => e instanceof ApprovalError && e.status === 403 && /own request/.test(e.message),
    );
    await assert.rejects(
      service.decide(a.id, { decision: 'approve' }, { role: 'approver', name: 'cto@example.com' }),
      (e: unknown) =>
        e instanceof ApprovalError && e.status === 403 && /finance-lead@example\.com/.test(e.message),
    );
    const decided = await service.decide(
      a.id,
      { decision: 'approve', approved_usd: '100', comment: 'cap at 100' },
      { role: 'admin', name: 'ops-admin' },
    );
    assert.equal(decided.status, 'approved');
    assert.equal(decided.approved_usd, '100');
    await assert.rejects(
      service.decide(a.id, { decision: 'reject' }, { role: 'admin', name: 'ops-admin' }),
      (e: unknown) => e instanceof ApprovalError && e.status === 409,
    );
    const entries = (await audit.recent({ action: 'approval.' })).filter((e) => e.subject === a.id);
    assert.deepEqual(entries.map((e) => [e.actor, e.action]).sort(), [
      ['finance-lead@example.com', 'approval.requested'],
      ['ops-admin', 'approval.approved'],
    ]);
    const approved = entries.find((e) => e.action === 'approval.approved')!;
    assert.equal(approved.details.approved_usd, '100');
    assert.equal(approved.details.comment, 'cap at 100');
    // Stored state is the latest version.
    assert.equal((await service.get(a.id)).status, 'approved');
  });
});
