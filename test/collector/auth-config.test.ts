import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  ensureCredentials,
  KeyConfigError,
  KeyRing,
  parseKeySpec,
  readCredentials,
} from '../../collector/src/govern/keys/keys';
import { KeyStore, keyStorePath } from '../../collector/src/govern/keys/store';
import { ConfigError, loadConfig } from '../../collector/src/service/config';
import { nanosToDateTime64 } from '../../collector/src/storage/rows';
import { tempDir } from '../support/temp-dirs';

describe('API keys', () => {
  it('parses role:key pairs and rejects unknown roles and short keys', () => {
    assert.deepEqual(parseKeySpec(' admin:aaaaaaaaaaaaaaaa , ingest:bbbbbbbbbbbbbbbb:with-colon '), [
      { role: 'admin', key: 'aaaaaaaaaaaaaaaa' },
      { role: 'ingest', key: 'bbbbbbbbbbbbbbbb:with-colon' },
    ]);
    assert.throws(
      () => parseKeySpec('root:aaaaaaaaaaaaaaaa'),
      /entry 1: expected role:key or role\/name:key with role one of/,
    );
    assert.throws(() => parseKeySpec('viewer:short'), /entry 1: key shorter than 16/);
    assert.deepEqual(parseKeySpec('approver/finance-lead@example.com:cccccccccccccccc'), [
      { role: 'approver', key: 'cccccccccccccccc', name: 'finance-lead@example.com' },
    ]);
    assert.throws(() => parseKeySpec('approver/:cccccccccccccccc'), /empty name/);
    assert.throws(() => parseKeySpec('aaaaaaaaaaaaaaaa'), KeyConfigError);
  });

  it('maps keys to roles and roles to scopes', () => {
    const ring = new KeyRing([
      { role: 'viewer', key: 'viewer-key-0123456789' },
      { role: 'admin', key: 'admin-key-0123456789' },
    ]);
    assert.equal(ring.roleOf('viewer-key-0123456789'), 'viewer');
    assert.equal(ring.roleOf('admin-key-0123456789'), 'admin');
    assert.equal(ring.roleOf('viewer-key-012345678'), undefined);
    assert.equal(ring.roleOf(''), undefined);
    const matrix = (['ingest', 'viewer', 'approver', 'admin'] as const).map((role) =>
      (['ingest', 'read', 'approve', 'admin'] as const).filter((scope) => KeyRing.allows(role, scope)),
    );
    assert.deepEqual(matrix, [
      ['ingest'],
      ['read'],
      ['read', 'approve'],
      ['ingest', 'read', 'approve', 'admin'],
    ]);
  });

  it('generates first-run credentials once, mode 0600, and reuses them', () => {
    const dir = path.join(tempDir('tl-keys-'), 'nested');
    const first = ensureCredentials(dir);
    assert.equal(first.created, true);
    assert.match(first.credentials.admin, /^tl_admin_[\w-]{32}$/);
    assert.match(first.credentials.ingest, /^tl_ingest_[\w-]{32}$/);
    assert.equal(statSync(first.file).mode & 0o777, 0o600);
    const second = ensureCredentials(dir);
    assert.equal(second.created, false);
    assert.deepEqual(second.credentials, first.credentials);
    assert.deepEqual(readCredentials(dir), first.credentials);
  });

  it('refuses a damaged credentials file without quoting it (it holds keys)', () => {
    const dir = tempDir('tl-keys-');
    writeFileSync(path.join(dir, 'credentials.json'), '{"admin": "tl_admin_SECRET", oops');
    assert.throws(
      () => readCredentials(dir),
      (err: Error) =>
        err instanceof KeyConfigError && /not valid JSON/.test(err.message) && !/SECRET/.test(err.message),
    );
    writeFileSync(path.join(dir, 'credentials.json'), '{"admin": 1}');
    assert.throws(() => readCredentials(dir), /not a tokenledger credentials file/);
    assert.equal(readCredentials(tempDir('tl-keys-')), undefined);
  });
});

describe('key store (tokenledger keys create | list | revoke)', () => {
  it('stores only digests, names the holder, and takes effect for the running ring within a second', async () => {
    const dir = tempDir('tl-keys-');
    const store = KeyStore.inDataDir(dir);
    const ring = new KeyRing([], store.entries);
    const secret = store.create('approver', 'finance-lead@example.com');
    assert.match(secret, /^tl_approver_/);
    assert.ok(!readFileSync(keyStorePath(dir), 'utf8').includes(secret), 'the secret is never stored');
    assert.equal(statSync(keyStorePath(dir)).mode & 0o777, 0o600);
    assert.deepEqual(ring.identify(secret), { role: 'approver', name: 'finance-lead@example.com' });
    assert.throws(() => store.create('viewer', 'finance-lead@example.com'), /exists/);
    assert.deepEqual(
      store.list().map((k) => [k.name, k.role]),
      [['finance-lead@example.com', 'approver']],
    );
    assert.equal(store.revoke('finance-lead@example.com'), true);
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal(ring.identify(secret), undefined);
  });
});

describe('collector configuration', () => {
  it('defaults: port 4318 on 127.0.0.1, ./.tokenledger, embedded, generated keys, 16 MB bodies', () => {
    const c = loadConfig({});
    assert.equal(c.port, 4318);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.dataDir, path.resolve('.tokenledger'));
    assert.equal(c.clickhouseUrl, undefined);
    assert.equal(c.apiKeys, undefined);
    assert.equal(c.maxBodyBytes, 16 * 1024 * 1024);
    assert.equal(c.policyFile, path.resolve('tokenledger.policy.yaml'));
  });

  it('reads the environment', () => {
    const c = loadConfig({
      PORT: '0',
      HOST: '0.0.0.0',
      TOKENLEDGER_DATA_DIR: '/var/lib/tokenledger',
      CLICKHOUSE_URL: 'http://u:p@ch:8123/finance',
      TOKENLEDGER_API_KEYS: 'ingest:aaaaaaaaaaaaaaaa,viewer:bbbbbbbbbbbbbbbb',
      TOKENLEDGER_MAX_BODY_BYTES: '1048576',
    });
    assert.equal(c.port, 0);
    assert.equal(c.host, '0.0.0.0');
    assert.equal(c.dataDir, '/var/lib/tokenledger');
    assert.equal(c.clickhouseUrl, 'http://u:p@ch:8123/finance');
    assert.deepEqual(
      c.apiKeys?.map((k) => k.role),
      ['ingest', 'viewer'],
    );
    assert.equal(c.maxBodyBytes, 1048576);
  });

  it('rejects bad values with messages that name the variable and never echo a password', () => {
    assert.throws(() => loadConfig({ PORT: '80a' }), /PORT must be 0-65535/);
    assert.throws(() => loadConfig({ PORT: '70000' }), ConfigError);
    assert.throws(() => loadConfig({ HOST: 'example.com' }), /HOST must be an IP address/);
    assert.throws(
      () => loadConfig({ CLICKHOUSE_URL: 'secret@ch:8123' }),
      (err: Error) => {
        assert.match(err.message, /CLICKHOUSE_URL is not a URL/);
        assert.doesNotMatch(err.message, /secret/);
        return true;
      },
    );
    assert.throws(() => loadConfig({ CLICKHOUSE_URL: 'tcp://u:secret@ch:9000' }), /must be http\(s\)/);
    assert.throws(
      () => loadConfig({ CLICKHOUSE_URL: 'http://u:secret@ch:8123/my-db' }),
      /database "my-db" must be letters/,
    );
    assert.throws(() => loadConfig({ TOKENLEDGER_API_KEYS: 'boss:aaaaaaaaaaaaaaaa' }), ConfigError);
    assert.throws(() => loadConfig({ TOKENLEDGER_API_KEYS: ',' }), /no role:key entries/);
    assert.throws(() => loadConfig({ TOKENLEDGER_MAX_BODY_BYTES: 'lots' }), /TOKENLEDGER_MAX_BODY_BYTES/);
    assert.throws(
      () => loadConfig({ TOKENLEDGER_MAX_INGEST_BYTES: '1000000' }),
      /TOKENLEDGER_MAX_INGEST_BYTES must be a whole number of at least 16777216 \(TOKENLEDGER_MAX_BODY_BYTES\)/,
    );
    assert.throws(
      () => loadConfig({ TOKENLEDGER_MAX_ATTRIBUTE_LENGTH: '8' }),
      /TOKENLEDGER_MAX_ATTRIBUTE_LENGTH must be a whole number of at least 32/,
    );
  });

  it('sizes ingest: memory for requests in flight (default: the receiver decides), and the cap on stored values', () => {
    const defaults = loadConfig({});
    assert.equal(defaults.maxIngestBytes, undefined);
    assert.equal(defaults.maxValueLength, 256);
    const c = loadConfig({
      TOKENLEDGER_MAX_INGEST_BYTES: '33554432',
      TOKENLEDGER_MAX_ATTRIBUTE_LENGTH: '1024',
    });
    assert.equal(c.maxIngestBytes, 33554432);
    assert.equal(c.maxValueLength, 1024);
  });

  it('collects garbage after every 16 MiB requests released, another amount or never (0) when told', () => {
    assert.equal(loadConfig({}).gcAfterBytes, 16 * 1024 * 1024);
    assert.equal(loadConfig({ TOKENLEDGER_GC_AFTER_BYTES: '0' }).gcAfterBytes, 0);
    assert.equal(loadConfig({ TOKENLEDGER_GC_AFTER_BYTES: '33554432' }).gcAfterBytes, 33554432);
    assert.throws(
      () => loadConfig({ TOKENLEDGER_GC_AFTER_BYTES: '16MB' }),
      /TOKENLEDGER_GC_AFTER_BYTES must be a whole number of at least 0, got "16MB"/,
    );
  });
});

describe('llm_calls rows', () => {
  it('writes span start times in the one text form DateTime64(9) reads exactly', () => {
    assert.equal(nanosToDateTime64('1763209200000000042'), '2025-11-15 12:20:00.000000042');
    assert.equal(nanosToDateTime64('915148800000000042'), '1999-01-01 00:00:00.000000042');
    assert.equal(nanosToDateTime64('0'), '1970-01-01 00:00:00.000000000');
    assert.equal(nanosToDateTime64('-1'), '1969-12-31 23:59:59.999999999');
  });
});
