/**
 * Approval requests in ClickHouse. Each state change inserts a new version of the row
 * (ReplacingMergeTree(version)); reads use FINAL. What was spent under an approval is read from the
 * calls attributed to it (tokenledger.approval_id), so it is the same number the reports show.
 */
import { createHash, randomBytes } from 'node:crypto';
import Decimal from 'decimal.js';
import type { Storage } from '../../storage/client';
import { StorageError } from '../../storage/errors';
import type { ApprovalView as Approval, ApprovalStatus } from 'tokenledger/wire';
import { ApprovalError, type ApprovalRequest } from './model';

interface ApprovalRow extends Omit<Approval, 'spent_usd'> {
  spent_usd: string;
  version: string | number;
}

/** ClickHouse DateTime64(3) text form of a JS date, UTC. */
const dateTime64 = (d: Date): string => d.toISOString().replace('T', ' ').replace('Z', '');

/** The API's ISO form of a stored DateTime64 text value. */
const isoOf = (v: string | null): string | null => (v === null ? null : `${v.replace(' ', 'T')}Z`);

const newApprovalId = (): string => `apr_${randomBytes(9).toString('base64url')}`;

export class ApprovalStore {
  constructor(private readonly storage: Storage) {}

  async create(req: ApprovalRequest, requester: string, autoApprovedBy?: string): Promise<Approval> {
    const now = new Date();
    const approval: Approval = {
      id: newApprovalId(),
      job: req.job,
      requester,
      approver: req.approver,
      cost_center: req.costCenter,
      estimated_usd: req.estimatedCostUsd,
      approved_usd: autoApprovedBy ? req.estimatedCostUsd : '0',
      spent_usd: '0',
      status: autoApprovedBy ? 'approved' : 'pending',
      justification: req.justification,
      created_at: now.toISOString(),
      decided_at: autoApprovedBy ? now.toISOString() : null,
      decided_by: autoApprovedBy ?? '',
      decision_comment: autoApprovedBy ? 'below the policy threshold: approved automatically' : '',
    };
    await this.write(approval, 1);
    return approval;
  }

  async get(id: string): Promise<Approval | undefined> {
    const rows = await this.select('id = {id:String}', { id });
    const row = rows[0];
    if (!row) return undefined;
    return { ...row, spent_usd: await this.spentUsd(row) };
  }

  async list(status?: ApprovalStatus, limit = 100): Promise<Approval[]> {
    const rows = await this.select(
      status ? 'status = {status:String}' : '1',
      { status: status ?? '' },
      limit,
    );
    return Promise.all(rows.map(async (r) => ({ ...r, spent_usd: await this.spentUsd(r) })));
  }

  /** Records a decision on a pending request. The caller has checked who may decide. */
  async decide(
    current: Approval,
    decision: 'approved' | 'rejected',
    decidedBy: string,
    approvedUsd: string | undefined,
    comment: string,
  ): Promise<Approval> {
    if (current.status !== 'pending')
      throw new ApprovalError(409, `approval ${current.id} is already ${current.status}`);
    // The version decided on is the stored one now, and it must still be pending: a decision made
    // since `current` was read (here or on another collector) is not overwritten.
    const version = await this.versionOf(current.id);
    const stored = await this.atVersion(current.id, version);
    if (stored !== undefined && stored.status !== 'pending')
      throw new ApprovalError(
        409,
        `approval ${current.id} is already ${stored.status} by ${stored.decided_by}`,
      );
    const next: Approval = {
      ...current,
      status: decision,
      approved_usd: decision === 'approved' ? (approvedUsd ?? current.estimated_usd) : '0',
      decided_at: new Date().toISOString(),
      decided_by: decidedBy,
      decision_comment: comment,
    };
    // Deciders racing on this version write blocks with one deduplication token: the engine keeps
    // the first, and each reads back whose decision that was (ClickHouse has no compare-and-set).
    const token = createHash('sha256')
      .update(`approval\u0000${current.id}\u0000${version + 1}`)
      .digest('hex');
    await this.write(next, version + 1, token);
    const kept = await this.atVersion(current.id, version + 1);
    if (
      kept === undefined ||
      kept.status !== next.status ||
      kept.decided_by !== next.decided_by ||
      kept.decided_at !== dateTime64(new Date(next.decided_at!))
    )
      throw new ApprovalError(
        409,
        `approval ${current.id} was decided at the same moment by ${kept?.decided_by ?? 'another approver'}: ${kept?.status ?? 'unknown'}`,
      );
    return next;
  }

  /** The stored row of one version: its status and decision (undefined for none). */
  private async atVersion(
    id: string,
    version: number,
  ): Promise<{ status: ApprovalStatus; decided_by: string; decided_at: string | null } | undefined> {
    try {
      const rs = await this.storage.client.query({
        query: `SELECT status, decided_by, if(isNull(decided_at), NULL, toString(decided_at)) AS decided_at
                FROM ${this.storage.database}.approvals
                WHERE id = {id:String} AND version = {version:UInt64}
                LIMIT 1`,
        query_params: { id, version },
        format: 'JSONEachRow',
      });
      const [row] = (await rs.json()) as Array<{
        status: ApprovalStatus;
        decided_by: string;
        decided_at: string | null;
      }>;
      return row;
    } catch (cause) {
      throw new StorageError('reading an approval', { cause, detail: id });
    }
  }

  private async spentUsd(a: Pick<Approval, 'id' | 'created_at'>): Promise<string> {
    try {
      const rs = await this.storage.client.query({
        query: `SELECT toString(sum(cost_usd)) AS spent FROM ${this.storage.database}.llm_calls FINAL
                WHERE approval_id = {id:String} AND start_time >= {since:DateTime64(3)}`,
        query_params: { id: a.id, since: dateTime64(new Date(Date.parse(a.created_at) - 60_000)) },
        format: 'JSONEachRow',
      });
      const rows = (await rs.json()) as Array<{ spent: string }>;
      return new Decimal(rows[0]?.spent ?? '0').toFixed();
    } catch (cause) {
      throw new StorageError('reading spend under an approval', { cause, detail: a.id });
    }
  }

  private async versionOf(id: string): Promise<number> {
    const rs = await this.storage.client.query({
      query: `SELECT max(version) AS v FROM ${this.storage.database}.approvals WHERE id = {id:String}`,
      query_params: { id },
      format: 'JSONEachRow',
    });
    const rows = (await rs.json()) as Array<{ v: string | number }>;
    return Number(rows[0]?.v ?? 0);
  }

  private async select(where: string, params: Record<string, unknown>, limit = 1): Promise<Approval[]> {
    try {
      const rs = await this.storage.client.query({
        query: `SELECT id, job, requester, approver, cost_center,
                       toString(estimated_usd) AS estimated_usd, toString(approved_usd) AS approved_usd,
                       toString(spent_usd) AS spent_usd, status, justification,
                       toString(created_at) AS created_at,
                       if(isNull(decided_at), NULL, toString(decided_at)) AS decided_at,
                       decided_by, decision_comment, version
                FROM ${this.storage.database}.approvals FINAL
                WHERE ${where}
                ORDER BY created_at DESC
                LIMIT {limit:UInt32}`,
        query_params: { ...params, limit },
        format: 'JSONEachRow',
      });
      const rows = (await rs.json()) as ApprovalRow[];
      return rows.map((r) => ({
        id: r.id,
        job: r.job,
        requester: r.requester,
        approver: r.approver,
        cost_center: r.cost_center,
        estimated_usd: new Decimal(r.estimated_usd).toFixed(),
        approved_usd: new Decimal(r.approved_usd).toFixed(),
        spent_usd: new Decimal(r.spent_usd).toFixed(),
        status: r.status,
        justification: r.justification,
        created_at: isoOf(r.created_at)!,
        decided_at: isoOf(r.decided_at),
        decided_by: r.decided_by,
        decision_comment: r.decision_comment,
      }));
    } catch (cause) {
      throw new StorageError('reading approvals', { cause });
    }
  }

  private async write(a: Approval, version: number, dedupToken?: string): Promise<void> {
    try {
      await this.storage.client.insert({
        // The token in the statement (as the call writer does: chdb applies clickhouse_settings
        // session-wide); it is our own hex digest.
        table:
          dedupToken === undefined
            ? `${this.storage.database}.approvals`
            : `${this.storage.database}.approvals SETTINGS insert_deduplication_token = '${dedupToken}'`,
        values: [
          {
            ...a,
            created_at: dateTime64(new Date(a.created_at)),
            decided_at: a.decided_at === null ? null : dateTime64(new Date(a.decided_at)),
            version,
          },
        ],
        format: 'JSONEachRow',
      });
    } catch (cause) {
      throw new StorageError('writing an approval', { cause, detail: a.id });
    }
  }
}
