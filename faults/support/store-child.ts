/** Child process of `queryStore`: opens an embedded store, runs the queries given, prints JSON. */
import { openStorage } from '../../collector/src/storage/client';

async function main(): Promise<void> {
  const [dataDir, queriesJson] = process.argv.slice(2);
  const queries = JSON.parse(queriesJson!) as Record<string, string>;
  const storage = openStorage({ dataDir: dataDir! });
  const out: Record<string, unknown[]> = {};
  try {
    for (const [name, query] of Object.entries(queries)) {
      const rs = await storage.client.query({
        query: query.replaceAll('${DB}', storage.database),
        format: 'JSONEachRow',
        clickhouse_settings: {
          output_format_json_quote_64bit_integers: 1,
          output_format_json_quote_decimals: 1,
        },
      });
      out[name] = await rs.json();
    }
  } finally {
    await storage.close();
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
