/**
 * Every provider instrumentation `start()` enables. One line per provider folder.
 */
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { OpenAIInstrumentation } from './openai/instrumentation';

/** Constructing an instrumentation enables it (hooks `require` / `import` of its module). */
export function createInstrumentations(): Instrumentation[] {
  const all: Instrumentation[] = [];
  const add = (make: () => Instrumentation): void => {
    try {
      all.push(make());
    } catch {
      // one provider failing to set up must not take the others (or the app) down
    }
  };
  add(() => new OpenAIInstrumentation());
  // anthropic
  // google-genai
  // mistral
  // bedrock
  return all;
}
