/**
 * What reading the meter's Flex and Priority spend adds to a reconciliation (decision 0098): the
 * dashboards benchmark's calls (default 2 M over 30 days, every closed hour sealed), a share of
 * them stored again as served on Flex or Priority (a newer version of the same span, as a replaced
 * row is); then, for the month before now, the metered spend per day × model × service (the hourly
 * rollup: what reconciliation read before) beside the tier spend (the raw calls, tier rows only),
 * and the whole `reconcile()` of that month with an OpenAI bill covering it. Median of --rounds.
 *
 *   node bench/reconcile-tiers.mjs [--calls 2000000] [--days 30] [--tier-share 0.05] [--rounds 5]
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { seed } from './dashboards.mjs';
import { collectorDist as collector, fmt, median, table, withBenchStorage } from './support/common.mjs';

const { values: opts } = parseArgs({
  strict: false,
  options: {
    calls: { type: 'string', default: '2000000' },
    days: { type: 'string', default: '30' },
    'tier-share': { type: 'string', default: '0.05' },
    rounds: { type: 'string', default: '5' },
  },
});

async function timed(rounds, fn) {
  await fn(); // warm-up
  const ms = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

export async function run() {
  const calls = Number(opts.calls);
  const days = Number(opts.days);
  const share = Number(opts['tier-share']);
  const rounds = Number(opts.rounds);
  return withBenchStorage('tl-bench-recon-tiers-', async (storage) => {
    const db = storage.database;
    const now = Date.now();
    console.log(`seeding ${calls.toLocaleString('en-US')} calls over ${days} days …`);
    await seed(storage, now, days, calls);
    // A share of the calls again, as served on Flex (half) or Priority (half): a newer version of each.
    await storage.client.command({
      query: `INSERT INTO ${db}.llm_calls
        SELECT * REPLACE (if(cityHash64(span_id, 1) % 2 = 0, 'flex', 'priority') AS service_tier, now64(3) AS inserted_at)
        FROM ${db}.llm_calls WHERE cityHash64(span_id) % 1000000 < {share:UInt32}`,
      query_params: { share: Math.round(share * 1_000_000) },
    });
    const day = (ms) => new Date(ms).toISOString().slice(0, 10);
    const from = day(now - 30 * 86_400_000);
    const to = day(now);
    // An OpenAI bill covering the month (one line a day), so reconcile() compares every day.
    const start = Date.parse(`${from}T00:00:00Z`) / 1000;
    const page = {
      object: 'page',
      data: Array.from({ length: 30 }, (_, i) => ({
        object: 'bucket',
        start_time: start + i * 86_400,
        end_time: start + (i + 1) * 86_400,
        results: [
          {
            object: 'organization.costs.result',
            amount: { value: 100, currency: 'usd' },
            line_item: 'gpt-4o-2024-08-06, input',
            project_id: null,
          },
        ],
      })),
      has_more: false,
      next_page: null,
    };
    const { BillImporter } = collector('govern/bills/import');
    await new BillImporter(storage).import({
      bytes: Buffer.from(JSON.stringify(page)),
      fileName: 'openai-costs.json',
      importedBy: 'bench',
    });
    const { meteredSpendByDay, meteredTierSpendByDay } = collector('read/spend');
    const { reconcile } = collector('read/reconciliation');
    const tierRows = (await meteredTierSpendByDay(storage, from, to)).length;
    const spend = await timed(rounds, () => meteredSpendByDay(storage, from, to));
    const tiers = await timed(rounds, () => meteredTierSpendByDay(storage, from, to));
    const whole = await timed(rounds, () => reconcile(storage, { from, to }));
    const load = os
      .loadavg()
      .map((l) => fmt(l, 2))
      .join(' / ');
    const markdown = [
      `${calls.toLocaleString('en-US')} calls over ${days} days, ${fmt(share * 100)} % of them on Flex or Priority (${tierRows} tier rows per day × provider × model × service × tier); month ${from} – ${to}; median of ${rounds} rounds; load average ${load} (1 / 5 / 15 min).`,
      '',
      table(
        ['read', 'median ms'],
        [
          ['metered spend per day × model × service (spend_hourly)', fmt(spend)],
          ['Flex / Priority spend per day × model × service (raw calls, tier rows)', fmt(tiers)],
          ['reconcile() of the month, both reads and an OpenAI bill', fmt(whole)],
        ],
      ),
    ].join('\n');
    console.log(markdown);
    return { markdown };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
