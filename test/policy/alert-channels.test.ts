/**
 * Alert delivery over SMTP is bounded: a mail server that accepts the connection and then says
 * nothing fails the delivery (retried on a later check) instead of holding the alert checks.
 */
import assert from 'node:assert/strict';
import { Mailer } from '../../collector/src/govern/alerts/channels';
import { startSilentServer, type SilentServer } from '../support/silent-server';

const MESSAGE = { subject: 's', text: 't', blocks: [] };

describe('alert e-mail to a mail server that never answers', () => {
  let silent: SilentServer;

  before(async () => {
    silent = await startSilentServer(); // accepts, never greets
  });
  after(() => silent.close());

  async function failsWithin(mailer: Mailer, ms: number): Promise<Error> {
    const started = Date.now();
    try {
      const err = await mailer.send('lead@example.com', MESSAGE).then(
        () => assert.fail('the send succeeded'),
        (e: unknown) => e as Error,
      );
      assert.ok(Date.now() - started < ms, `failed after ${Date.now() - started} ms`);
      return err;
    } finally {
      mailer.close();
    }
  }

  it('fails the delivery at the greeting timeout', async () => {
    const mailer = new Mailer(
      { url: `smtp://127.0.0.1:${silent.port}`, from: 'tokenledger@example.com' },
      { greetingTimeout: 300 },
    );
    assert.match((await failsWithin(mailer, 5_000)).message, /greeting/i);
  });

  it('takes a timeout from the URL over its own', async () => {
    const mailer = new Mailer({
      url: `smtp://127.0.0.1:${silent.port}?greetingTimeout=300`,
      from: 'tokenledger@example.com',
    });
    assert.match((await failsWithin(mailer, 5_000)).message, /greeting/i);
  });
});
