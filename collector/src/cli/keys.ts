/** `tokenledger keys show | create | list | revoke`: first-run keys and keys for people and services. */
import path from 'node:path';
import type { Command } from 'commander';
import Table from 'cli-table3';
import { readCredentials, ROLES, type Role } from '../govern/keys/keys';
import { KeyStore } from '../govern/keys/store';
import { CliError } from './client';

const dataDir = (): string => path.resolve(process.env.TOKENLEDGER_DATA_DIR?.trim() || '.tokenledger');

export function registerKeysCommand(program: Command): void {
  const keys = program
    .command('keys')
    .description('API keys (in TOKENLEDGER_DATA_DIR, next to the collector that uses them)');

  keys
    .command('show')
    .description('print a first-run key from <TOKENLEDGER_DATA_DIR>/credentials.json')
    .argument('[role]', 'admin or ingest', 'admin')
    .action((role: string) => {
      if (role !== 'admin' && role !== 'ingest')
        throw new CliError(`role must be admin or ingest, got "${role}"`);
      const creds = readCredentials(dataDir());
      if (!creds) throw new CliError(`no credentials in ${dataDir()}: start the collector once (npm start)`);
      process.stdout.write(creds[role] + '\n');
    });

  keys
    .command('create')
    .description('create a key for a person or service; prints the secret once (the collector picks it up)')
    .requiredOption('--role <role>', ROLES.join(' | '))
    .requiredOption('--name <name>', "holder, e.g. an approver's e-mail (approvals compare it)")
    .option(
      '--scope <field=values>',
      'ingest keys: limit what the key reports and leases, e.g. team=search or service=api|web (repeatable; fields team, cost_center, department, service)',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .action((opts: { role: string; name: string; scope?: string[] }) => {
      if (!ROLES.includes(opts.role as Role))
        throw new CliError(`--role must be one of ${ROLES.join(', ')}, got "${opts.role}"`);
      const secret = KeyStore.inDataDir(dataDir()).create(opts.role as Role, opts.name, opts.scope ?? []);
      process.stdout.write(secret + '\n');
    });

  keys
    .command('list')
    .description('keys created with `keys create` (names and roles, never secrets)')
    .option('--json', 'JSON output')
    .action((opts: { json?: boolean }) => {
      const list = KeyStore.inDataDir(dataDir()).list();
      if (opts.json) {
        process.stdout.write(JSON.stringify(list, null, 2) + '\n');
        return;
      }
      const table = new Table({ head: ['name', 'role', 'scope', 'created'] });
      for (const k of list) table.push([k.name, k.role, k.scope || '(all)', k.createdAt]);
      process.stdout.write(table.toString() + '\n');
    });

  keys
    .command('revoke')
    .description('revoke a key created with `keys create` (takes effect within a second)')
    .argument('<name>')
    .action((name: string) => {
      if (!KeyStore.inDataDir(dataDir()).revoke(name)) throw new CliError(`no key named "${name}"`);
      process.stdout.write(`revoked ${name}\n`);
    });
}
