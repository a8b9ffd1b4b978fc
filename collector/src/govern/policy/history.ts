/**
 * Every policy the collector loaded or reloaded, in full (`policy_versions`, migration 0019), so a
 * past budget period is judged by the rules in force then. Read back as the sequence of versions in
 * force, one entry per change (a restart that loads the same file again changes nothing).
 */
import type { PolicyFile } from 'tokenledger/policy';
import type { Storage } from '../../storage/client';
import { StorageError } from '../../storage/errors';
import type { LoadedPolicy } from './load';

export interface PolicyVersion {
  /** When it took effect. */
  at: Date;
  version: string;
  policy: PolicyFile;
}

/** Another collector on the same database may load a policy: look again at most this often. */
const REREAD_MS = 60_000;

export class PolicyHistory {
  private cached: { at: number; versions: PolicyVersion[] } | undefined;

  constructor(
    private readonly storage: Storage,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async record(loaded: LoadedPolicy, action: 'loaded' | 'reloaded'): Promise<void> {
    const { client, database } = this.storage;
    try {
      await client.insert({
        table: `${database}.policy_versions`,
        values: [
          {
            at: this.now().getTime(),
            version: loaded.version,
            action,
            file: loaded.file,
            policy: JSON.stringify(loaded.policy),
          },
        ],
        format: 'JSONEachRow',
      });
    } catch (cause) {
      throw new StorageError('recording the policy version', {
        cause,
        detail: `${database}.policy_versions`,
      });
    }
    this.cached = undefined;
  }

  /** The versions in force over time, oldest first, consecutive repeats folded. */
  async versions(): Promise<PolicyVersion[]> {
    const now = this.now().getTime();
    if (this.cached && now - this.cached.at < REREAD_MS) return this.cached.versions;
    const { client, database } = this.storage;
    let rows: Array<{ at_ms: string; version: string; policy: string }>;
    try {
      // The texts once per version, the times of every load: restarts add rows, not text to read.
      const rs = await client.query({
        query: `SELECT toUnixTimestamp64Milli(l.at) AS at_ms, l.version AS version, t.policy AS policy
                FROM (SELECT at, version, lagInFrame(version, 1, '') OVER (ORDER BY at, version
                        ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS previous
                      FROM ${database}.policy_versions) AS l
                INNER JOIN (SELECT version, any(policy) AS policy FROM ${database}.policy_versions
                            GROUP BY version) AS t ON t.version = l.version
                WHERE l.version != l.previous
                ORDER BY l.at`,
        format: 'JSONEachRow',
        clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
      });
      rows = await rs.json();
    } catch (cause) {
      throw new StorageError('reading the policy history', { cause, detail: `${database}.policy_versions` });
    }
    const versions = rows.map((r) => ({
      at: new Date(Number(r.at_ms)),
      version: r.version,
      policy: JSON.parse(r.policy) as PolicyFile,
    }));
    this.cached = { at: now, versions };
    return versions;
  }
}

/** The version in force at `at` (the latest taken into effect at or before it). */
export function versionAt(versions: readonly PolicyVersion[], at: Date): PolicyVersion | undefined {
  let found: PolicyVersion | undefined;
  for (const v of versions) {
    if (v.at.getTime() > at.getTime()) break;
    found = v;
  }
  return found;
}
