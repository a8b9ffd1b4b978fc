/** `tokenledger estimate`: what a call or a batch job will cost, before it runs. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import Table from 'cli-table3';
import type { EstimateResponse } from 'tokenledger/wire';
import { CliError, postToCollector, resolveEndpoint } from './client';

interface EstimateOptions {
  model: string;
  provider?: string;
  inputTokens?: string;
  messages?: string;
  outputTokens: string;
  cachedInputTokens?: string;
  count?: string;
  json?: boolean;
  url?: string;
}

const int = (v: string | undefined, flag: string): number | undefined => {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new CliError(`${flag} must be a whole number, got "${v}"`);
  return Number(v);
};

export function registerEstimateCommand(program: Command): void {
  program
    .command('estimate')
    .description('pre-execution cost of a call or a batch job (list prices + policy overrides)')
    .requiredOption('--model <model>', 'e.g. gpt-4o, claude-sonnet-4-5')
    .option('--provider <provider>', 'provider hint, e.g. openai, anthropic')
    .option('--input-tokens <n>', 'input tokens per call')
    .option('--messages <file>', 'JSON file with the chat messages of one call (counted with a tokenizer)')
    .requiredOption('--output-tokens <n>', 'output tokens per call (the max_tokens the job sets)')
    .option('--cached-input-tokens <n>', 'of the input, tokens read from the prompt cache')
    .option('--count <n>', 'number of calls in the job', '1')
    .option('--json', 'JSON output')
    .option(
      '--url <url>',
      'collector URL (default: TOKENLEDGER_URL, OTEL_EXPORTER_OTLP_ENDPOINT, http://127.0.0.1:4318)',
    )
    .action(async (opts: EstimateOptions) => {
      if ((opts.inputTokens === undefined) === (opts.messages === undefined))
        throw new CliError('give one of --input-tokens and --messages');
      let messages: unknown;
      if (opts.messages !== undefined) {
        try {
          messages = JSON.parse(readFileSync(opts.messages, 'utf8'));
        } catch (err) {
          throw new CliError(`cannot read messages from ${opts.messages}: ${(err as Error).message}`);
        }
      }
      const body = {
        model: opts.model,
        provider: opts.provider,
        input_tokens: int(opts.inputTokens, '--input-tokens'),
        messages,
        output_tokens: int(opts.outputTokens, '--output-tokens'),
        cached_input_tokens: int(opts.cachedInputTokens, '--cached-input-tokens'),
        count: int(opts.count, '--count'),
      };
      const res = await postToCollector(resolveEndpoint(opts), '/v1/estimate', body);
      const e = (await res.json()) as EstimateResponse;
      if (opts.json) {
        process.stdout.write(JSON.stringify(e, null, 2) + '\n');
        return;
      }
      const table = new Table({ style: { head: [], border: [] } });
      table.push(
        {
          model: `${e.model}${e.priced_model && e.priced_model !== e.model ? ` (priced as ${e.priced_model})` : ''}`,
        },
        { provider: e.provider || '(any)' },
        { 'input tokens / call': String(e.input_tokens) + (e.tokenizer ? ` (${e.tokenizer})` : '') },
        { 'output tokens / call': String(e.output_tokens) },
        { calls: String(e.count) },
        { 'USD / call': e.cost_per_call_usd ?? 'unpriced' },
        { 'USD total': e.cost_usd ?? 'unpriced' },
      );
      process.stdout.write(table.toString() + '\n' + (e.note ? `note: ${e.note}\n` : ''));
    });
}
