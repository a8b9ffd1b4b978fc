// An app as users write it: chat completions one after another on the openai SDK, which reads
// OPENAI_BASE_URL and OPENAI_API_KEY from the environment. It prints its calls' latencies and the
// moment its work is done; the fault suite times the exit from that moment.
const { performance } = require('node:perf_hooks');
const OpenAI = require('openai');

async function main() {
  const calls = Number(process.env.FAULT_APP_CALLS ?? 1000);
  const warmup = Number(process.env.FAULT_APP_WARMUP ?? 100);
  const client = new OpenAI();
  const messages = [{ role: 'user', content: 'Summarize the quarterly report.' }];
  const took = [];
  for (let i = 0; i < warmup + calls; i++) {
    const start = performance.now();
    await client.chat.completions.create({ model: 'gpt-4o-mini', messages });
    if (i >= warmup) took.push(performance.now() - start);
  }
  took.sort((a, b) => a - b);
  const at = (q) => took[Math.min(took.length - 1, Math.floor(q * took.length))];
  console.log(JSON.stringify({ calls: took.length, p50Ms: at(0.5), p90Ms: at(0.9), doneAt: Date.now() }));
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
