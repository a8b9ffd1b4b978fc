// One fresh app process for bench/first-call.mjs: its first (and only) OpenAI call, timed inside the
// process. FIRST_CALL=none makes no call (a script that only loads the SDK and exits).
'use strict';
const OpenAI = require('openai');

async function main() {
  if (process.env.FIRST_CALL === 'none') {
    process.stdout.write('{}\n');
    return;
  }
  const client = new OpenAI({ baseURL: process.env.OPENAI_BASE_URL, apiKey: 'sk-bench', maxRetries: 0 });
  const started = performance.now();
  let outcome = 'ok';
  try {
    await client.chat.completions.create({
      model: 'gpt-4o-mini',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'hello' }],
    });
  } catch (err) {
    outcome = err.name;
  }
  process.stdout.write(JSON.stringify({ firstCallMs: performance.now() - started, outcome }) + '\n');
}
main();
