/**
 * The limit a budget had over a period: from the stored policy versions where they cover it, else
 * from the budget snapshots written then, else today's limit — each segment says which.
 */
import type { Policy, PolicyFile } from 'tokenledger/policy';
import { Money } from '../../core/money';
import type { Storage } from '../../storage/client';
import { StorageError } from '../../storage/errors';
import { versionAt, type PolicyVersion } from '../policy/history';
import type { PeriodWindow } from './periods';

/**
 * Where a limit comes from: the policy version in force (`policy_history`), a budget snapshot of
 * the time (`snapshot`, before versions were stored), or today's policy file for want of either
 * (`current_policy`).
 */
export type LimitSource = 'policy_history' | 'snapshot' | 'current_policy';

export interface LimitSegment {
  /** In force from this instant (the first segment: the period's start). */
  from: Date;
  /** null: the policy had no budget then. */
  usd: Money | null;
  source: LimitSource;
}

/** The policies with a budget in force at `at`: from the stored versions, else today's file. */
export function budgetsAt(
  versions: readonly PolicyVersion[],
  current: PolicyFile | undefined,
  at: Date,
): Policy[] {
  const file = versionAt(versions, at)?.policy ?? current;
  return (file?.policies ?? []).filter((p) => p.budget);
}

const limitOf = (file: PolicyFile | undefined, name: string): Money | null => {
  const usd = file?.policies.find((p) => p.name === name)?.budget?.usd;
  return usd === undefined ? null : new Money(usd);
};

export async function limitTimeline(
  storage: Storage,
  versions: readonly PolicyVersion[],
  current: PolicyFile | undefined,
  name: string,
  window: PeriodWindow,
): Promise<LimitSegment[]> {
  const segments: LimitSegment[] = [];
  const atStart = versionAt(versions, window.start);
  if (atStart) {
    segments.push({ from: window.start, usd: limitOf(atStart.policy, name), source: 'policy_history' });
  } else {
    // Before the first stored version: the snapshots of this period say what the limit was.
    const firstVersion = versions[0]?.at;
    const until = firstVersion && firstVersion < window.end ? firstVersion : window.end;
    for (const s of await snapshotLimits(storage, name, window, until)) {
      segments.push({ from: segments.length === 0 ? window.start : s.at, usd: s.usd, source: 'snapshot' });
    }
    if (segments.length === 0 && (!firstVersion || firstVersion > window.start))
      segments.push({ from: window.start, usd: limitOf(current, name), source: 'current_policy' });
  }
  for (const v of versions) {
    if (v.at <= window.start || v.at >= window.end) continue;
    segments.push({ from: v.at, usd: limitOf(v.policy, name), source: 'policy_history' });
  }
  // One segment per change of limit; a limit confirmed by a later record says where it comes from
  // now (a policy stored mid-period with the same limit: the policy in force, not today's file).
  const same = (a: Money | null, b: Money | null): boolean => (a === null || b === null ? a === b : a.eq(b));
  const merged: LimitSegment[] = [];
  for (const s of segments) {
    const last = merged[merged.length - 1];
    if (last && same(last.usd, s.usd)) merged[merged.length - 1] = { ...last, source: s.source };
    else merged.push(s);
  }
  return merged;
}

/** The segment in force at `at`. */
export function limitAt(segments: readonly LimitSegment[], at: Date): LimitSegment | undefined {
  let found = segments[0];
  for (const s of segments) if (s.from.getTime() <= at.getTime()) found = s;
  return found;
}

/** Each change of limit the period's snapshots record before `until`, in order. */
async function snapshotLimits(
  storage: Storage,
  name: string,
  window: PeriodWindow,
  until: Date,
): Promise<Array<{ at: Date; usd: Money }>> {
  const db = storage.database;
  try {
    const rs = await storage.client.query({
      query: `SELECT at_ms, usd FROM (
                SELECT toUnixTimestamp64Milli(at) AS at_ms, toString(limit_usd) AS usd,
                       lagInFrame(toString(limit_usd), 1, '') OVER (ORDER BY at ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS previous
                FROM ${db}.budget_snapshots
                WHERE policy = {policy:String} AND period_start = toDateTime({start:UInt32}, 'UTC')
                  AND at < fromUnixTimestamp64Milli({until:Int64}, 'UTC'))
              WHERE usd != previous ORDER BY at_ms`,
      query_params: {
        policy: name,
        start: Math.floor(window.start.getTime() / 1000),
        until: until.getTime(),
      },
      format: 'JSONEachRow',
      clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
    });
    const rows = await rs.json<{ at_ms: number; usd: string }>();
    return rows.map((r) => ({ at: new Date(Number(r.at_ms)), usd: new Money(r.usd) }));
  } catch (cause) {
    throw new StorageError('reading budget snapshots', { cause, detail: `${db}.budget_snapshots` });
  }
}
