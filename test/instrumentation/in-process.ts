/**
 * An instrumentation patched onto the real SDK inside the test process, recording to memory: for
 * the policy-guard tests, which look at what the SDK sends (or does not send) and at the span.
 */
import type { InstrumentationBase } from '@opentelemetry/instrumentation';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace';

export interface InProcessTracing {
  /** The spans ended so far in this test. */
  finishedSpans(): Promise<ReadableSpan[]>;
}

/**
 * Patches `instrumentation`'s module onto `sdk` for the suite (unpatched after it), with a tracer
 * provider that keeps finished spans in memory, cleared before each test.
 */
export function useInProcessInstrumentation(
  instrumentation: InstrumentationBase,
  sdk: unknown,
  version?: string,
): InProcessTracing {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const definition = instrumentation.getModuleDefinitions()[0]!;
  before(() => {
    instrumentation.setTracerProvider(provider);
    definition.patch!(sdk, version);
  });
  beforeEach(() => exporter.reset());
  after(() => {
    definition.unpatch!(sdk, version);
  });
  return {
    // SimpleSpanProcessor exports asynchronously.
    async finishedSpans() {
      await provider.forceFlush();
      return exporter.getFinishedSpans();
    },
  };
}
