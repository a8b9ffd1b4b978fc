/**
 * Baselines found in the spans: when a feature's calls from a service start carrying a new
 * `service.version` (a release), a baseline "service.version X (service)" is stored at the first
 * such call — provided an earlier version of that service served the feature (its first version is
 * no change). Looks at the calls stored since its last look (the last 30 days the first time).
 */
import { Periodic } from '../../core/periodic';
import type { Storage } from '../../storage/client';
import { StorageError } from '../../storage/errors';
import { baselineId, BaselineStore } from './store';

interface VersionSeen {
  feature: string;
  service: string;
  version: string;
  first_ms: number;
}

const FIRST_LOOK_MS = 30 * 86_400_000;
/** Spans arrive late: each look starts this long before the previous one ended. */
const OVERLAP_MS = 3_600_000;

export class ServiceVersionBaselines {
  private lookedUntil: number | undefined;
  private known: Set<string> | undefined;
  private readonly looks = new Periodic(
    async () => {
      const found = await this.look();
      if (found.length > 0) this.log(`baselines: ${found.length} new service.version release(s) marked`);
    },
    (err) => this.log(`baselines: ${err.message}`),
  );

  constructor(
    private readonly storage: Storage,
    private readonly store: BaselineStore,
    private readonly now: () => Date = () => new Date(),
    private readonly log: (line: string) => void = () => undefined,
  ) {}

  /** Looks every `everyMs`, the first time one interval after start (the hot paths go first). */
  start(everyMs = 300_000): void {
    this.looks.start(everyMs, everyMs);
  }

  /** No look starts after this; resolves once the one in flight is done. */
  stop(): Promise<void> {
    return this.looks.stop();
  }

  /** One look; returns the baselines it stored. */
  async look(): Promise<string[]> {
    const now = this.now().getTime();
    const since = this.lookedUntil !== undefined ? this.lookedUntil - OVERLAP_MS : now - FIRST_LOOK_MS;
    this.known ??= await this.store.ids();
    const seen = await this.query<VersionSeen>(
      `SELECT feature, service, service_version AS version, toUnixTimestamp64Milli(min(start_time)) AS first_ms
       FROM ${this.storage.database}.llm_calls
       WHERE start_time >= fromUnixTimestamp64Milli({since:Int64}, 'UTC') AND feature != '' AND service_version != ''
       GROUP BY feature, service, version
       ORDER BY feature, service, first_ms`,
      { since },
    );
    const stored: string[] = [];
    for (const v of seen) {
      const at = new Date(Number(v.first_ms));
      const label = `service.version ${v.version}${v.service ? ` (${v.service})` : ''}`;
      const id = baselineId(v.feature, at, label);
      if (this.known.has(id) || this.known.has(`first:${v.feature}\u0000${v.service}\u0000${v.version}`))
        continue;
      if (!(await this.hadEarlierVersion(v))) {
        // The first version of this service for this feature: nothing changed.
        this.known.add(`first:${v.feature}\u0000${v.service}\u0000${v.version}`);
        continue;
      }
      await this.store.add([
        { id, feature: v.feature, at, label, source: 'service.version', createdBy: 'system' },
      ]);
      this.known.add(id);
      stored.push(id);
    }
    this.lookedUntil = now;
    return stored;
  }

  /** Another version of the service served the feature in the 30 days before this one appeared. */
  private async hadEarlierVersion(v: VersionSeen): Promise<boolean> {
    const [row] = await this.query<{ n: number }>(
      `SELECT count() AS n FROM ${this.storage.database}.llm_calls
       WHERE start_time >= fromUnixTimestamp64Milli({from:Int64}, 'UTC')
         AND start_time < fromUnixTimestamp64Milli({first:Int64}, 'UTC')
         AND feature = {feature:String} AND service = {service:String}
         AND service_version != '' AND service_version != {version:String}`,
      { from: Number(v.first_ms) - FIRST_LOOK_MS, first: Number(v.first_ms), ...v },
    );
    return Number(row?.n ?? 0) > 0;
  }

  private async query<T>(query: string, query_params: Record<string, unknown>): Promise<T[]> {
    try {
      const rs = await this.storage.client.query({
        query,
        query_params,
        format: 'JSONEachRow',
        clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
      });
      return await rs.json<T>();
    } catch (cause) {
      throw new StorageError('looking for new service versions', { cause });
    }
  }
}
