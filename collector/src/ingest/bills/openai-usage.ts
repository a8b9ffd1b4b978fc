/**
 * OpenAI's organization Usage API (`GET /v1/organization/usage/completions` and
 * `/usage/embeddings`: daily buckets of `organization.usage.completions.result` /
 * `organization.usage.embeddings.result`) saved as JSON — one page, a list of pages, or one page
 * per line. Tokens, no money: `input_tokens` already includes cached and cache-write tokens, as the
 * meter counts them. `model`, `project_id`, `api_key_id`, `batch` and `service_tier` are set only
 * when the request grouped by them (`group_by=model&group_by=project_id`).
 */
import { PROVIDER_OPENAI } from '../../core/providers';
import type { ParsedBill, UsageLine } from '../../core/bill';
import { forEachBucketResult, pageHasResults, periodOfDays, RowError, text, tokenCount } from './common';

const USAGE_OBJECTS = ['organization.usage.completions.result', 'organization.usage.embeddings.result'];

export const isOpenAIUsagePage = (page: unknown): boolean =>
  pageHasResults(page, (results) => results.some((r) => USAGE_OBJECTS.includes(String(r?.object))));

export function readOpenAIUsageJson(pages: unknown[]): ParsedBill {
  const usage: UsageLine[] = [];
  const { records, problems, covered } = forEachBucketResult(
    pages,
    { start: 'start_time', end: 'end_time' },
    (r, day, record) => {
      if (!USAGE_OBJECTS.includes(String(r.object)))
        throw new RowError(
          `not a completions or embeddings usage result (object ${JSON.stringify(r.object ?? null)})`,
        );
      if (r.input_tokens === undefined || r.input_tokens === null)
        throw new RowError('input_tokens is missing');
      const batch = r.batch === true || r.batch === 'true';
      usage.push({
        sourceLine: record,
        provider: PROVIDER_OPENAI,
        day,
        model: text(r.model),
        project: text(r.project_id),
        apiKey: text(r.api_key_id),
        tier: batch ? 'batch' : text(r.service_tier),
        inputTokens: tokenCount(r.input_tokens, 'input_tokens'),
        cachedInputTokens: tokenCount(r.input_cached_tokens, 'input_cached_tokens'),
        cacheWriteTokens: tokenCount(r.input_cache_write_tokens, 'input_cache_write_tokens'),
        outputTokens: tokenCount(r.output_tokens, 'output_tokens'),
        requests: tokenCount(r.num_model_requests, 'num_model_requests'),
      });
    },
  );
  return {
    format: 'openai-usage',
    kind: 'usage',
    lines: [],
    usage,
    problems,
    rowsRead: records,
    rowsSkipped: 0,
    periods: periodOfDays(PROVIDER_OPENAI, covered),
  };
}
