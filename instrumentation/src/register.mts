/**
 * `node --import tokenledger/register app.mjs`: registers the import-in-the-middle loader hook
 * (as re-exported by @opentelemetry/instrumentation) limited to the modules tokenledger patches,
 * so ESM imports of those packages can be instrumented, then runs the same start code as the
 * CommonJS entry (which also covers `require()` calls made by CommonJS code in the same process).
 */
import { createRequire, register } from 'node:module';

const require = createRequire(import.meta.url);

/** Packages (and files inside them) imported from ESM that tokenledger's instrumentations patch. */
function hookedModules(): Array<string | RegExp> {
  try {
    const m = require('./instrumentations/modules.js') as {
      HOOKED_MODULES: string[];
      HOOKED_FILES: RegExp[];
    };
    return [...m.HOOKED_MODULES, ...m.HOOKED_FILES];
  } catch {
    return ['openai'];
  }
}

const disabled = (process.env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true';
if (!disabled) {
  try {
    register('@opentelemetry/instrumentation/hook.mjs', import.meta.url, {
      data: { include: hookedModules() },
    });
  } catch {
    // Loader hooks unavailable: CommonJS instrumentation still works.
  }
}
try {
  require('./register.js');
} catch {
  // never throw into the app
}
