/**
 * Every provider instrumentation `start()` enables. One line per provider folder.
 */
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { OpenAIInstrumentation } from './openai/instrumentation';
import { BedrockInstrumentation } from './bedrock/instrumentation';
import { AnthropicInstrumentation } from './anthropic/instrumentation';
import { GoogleGenAIInstrumentation } from './google-genai/instrumentation';
import { MistralInstrumentation } from './mistral/instrumentation';

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
  add(() => new AnthropicInstrumentation());
  add(() => new GoogleGenAIInstrumentation());
  add(() => new MistralInstrumentation());
  add(() => new BedrockInstrumentation());
  return all;
}
