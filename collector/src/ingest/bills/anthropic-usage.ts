/**
 * Anthropic's Usage & Cost Admin API messages usage report
 * (`GET /v1/organizations/usage_report/messages`, daily buckets with starting_at / ending_at and
 * results of uncached_input_tokens, cache_read_input_tokens, cache_creation
 * {ephemeral_5m_input_tokens, ephemeral_1h_input_tokens}, output_tokens, and — when grouped by
 * them — model, workspace_id, api_key_id, service_tier, context_window), saved as JSON (one page,
 * a list, or one page per line). Tokens, no money. The meter counts Anthropic input as uncached +
 * cache reads + cache writes, and so is it read here.
 */
import { PROVIDER_ANTHROPIC } from '../../core/providers';
import type { ParsedBill, UsageLine } from '../../core/bill';
import { forEachBucketResult, pageHasResults, periodOfDays, RowError, text, tokenCount } from './common';

export const isAnthropicUsagePage = (page: unknown): boolean =>
  pageHasResults(page, (results) => results.some((r) => !!r && 'uncached_input_tokens' in r), 'starting_at');

export function readAnthropicUsageJson(pages: unknown[]): ParsedBill {
  const usage: UsageLine[] = [];
  const { records, problems, covered } = forEachBucketResult(
    pages,
    { start: 'starting_at', end: 'ending_at' },
    (r, day, record) => {
      if (r.uncached_input_tokens === undefined)
        throw new RowError('uncached_input_tokens is missing: not a messages usage result');
      const creation = (r.cache_creation ?? {}) as Record<string, unknown>;
      if (typeof creation !== 'object') throw new RowError('cache_creation must be an object');
      const uncached = tokenCount(r.uncached_input_tokens, 'uncached_input_tokens');
      const cacheRead = tokenCount(r.cache_read_input_tokens, 'cache_read_input_tokens');
      const cacheWrite =
        tokenCount(creation.ephemeral_5m_input_tokens, 'cache_creation.ephemeral_5m_input_tokens') +
        tokenCount(creation.ephemeral_1h_input_tokens, 'cache_creation.ephemeral_1h_input_tokens');
      usage.push({
        sourceLine: record,
        provider: PROVIDER_ANTHROPIC,
        day,
        model: text(r.model),
        project: text(r.workspace_id),
        apiKey: text(r.api_key_id),
        tier: text(r.service_tier),
        inputTokens: uncached + cacheRead + cacheWrite,
        cachedInputTokens: cacheRead,
        cacheWriteTokens: cacheWrite,
        outputTokens: tokenCount(r.output_tokens, 'output_tokens'),
      });
    },
  );
  return {
    format: 'anthropic-usage-report',
    kind: 'usage',
    lines: [],
    usage,
    problems,
    rowsRead: records,
    rowsSkipped: 0,
    periods: periodOfDays(PROVIDER_ANTHROPIC, covered),
  };
}
