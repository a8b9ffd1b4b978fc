/**
 * The embedded engine binds one data directory per process, so every in-process suite shares one
 * directory and isolates itself with its own database instead.
 */
import { openStorage, type Storage } from '../../collector/src/storage/client';
import { migrate } from '../../collector/src/storage/migrations';
import { tempDir } from './temp-dirs';

let sharedDir: string | undefined;
let counter = 0;

/** A new database in the shared directory, migrated unless asked not to. */
export async function freshStorage(opts: { migrate?: boolean } = {}): Promise<Storage> {
  sharedDir ??= tempDir('tl-test-', { forRun: true });
  const storage = openStorage({ dataDir: sharedDir }, `t${process.pid}_${++counter}`);
  if (opts.migrate !== false) await migrate(storage);
  return storage;
}

/** The parameters of one `client.query` call. */
export type QueryParams = Parameters<Storage['client']['query']>[0];

/** `storage` whose client shows `see` every query before running it (what a component asked). */
export function seeingQueries(storage: Storage, see: (params: QueryParams) => void): Storage {
  const query = storage.client.query.bind(storage.client);
  return {
    ...storage,
    client: new Proxy(storage.client, {
      get(target, prop, receiver) {
        if (prop !== 'query') return Reflect.get(target, prop, receiver) as unknown;
        return (params: QueryParams) => {
          see(params);
          return query(params);
        };
      },
    }),
  };
}
