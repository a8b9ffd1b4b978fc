/**
 * Installs the guard engine (called by start()): unless TOKENLEDGER_GUARD=off, creates the engine,
 * hooks it into every provider patch, counts ended spans, starts the background refresh and, at
 * exit, returns unused budget slices. Never throws.
 */
import { diag } from '@opentelemetry/api';
import { envPositiveNumber, envString } from '../env';
import { exportSpansSoon, onSpanEnded } from '../exit-flush';
import { warnOnce, SETTING_UNSUPPORTED } from '../warn-once';
import { GuardEngine, type FailMode } from './engine';
import { setGuard } from './hook';

const INSTALLED = Symbol.for('tokenledger.guard');

export function installGuard(): GuardEngine | undefined {
  try {
    if (envString('TOKENLEDGER_GUARD')?.toLowerCase() === 'off') return undefined;
    const g = globalThis as Record<symbol, GuardEngine | undefined>;
    if (g[INSTALLED]) return g[INSTALLED];
    const refreshMs = envPositiveNumber('TOKENLEDGER_GUARD_REFRESH_MS');
    const failAfterMs = envPositiveNumber('TOKENLEDGER_GUARD_FAIL_AFTER_MS');
    const waitMs = envPositiveNumber('TOKENLEDGER_GUARD_WAIT_MS');
    const engine = new GuardEngine({
      ...(refreshMs !== undefined ? { refreshMs } : {}),
      ...(failAfterMs !== undefined ? { failAfterMs } : {}),
      ...(waitMs !== undefined ? { waitMs } : {}),
      failBeforeAnswer: failModeFromEnv(),
      exportSoon: exportSpansSoon,
    });
    g[INSTALLED] = engine;
    setGuard(engine);
    onSpanEnded((span) => engine.onSpanEnded(span));
    let released = false;
    process.on('beforeExit', () => {
      if (released) return;
      released = true;
      engine.stop();
      void engine.releaseLeases();
    });
    engine.start();
    return engine;
  } catch (err) {
    diag.error('tokenledger: could not start the policy guard', err);
    return undefined;
  }
}

/** TOKENLEDGER_GUARD_FAIL: what calls do when the collector gave no first answer in time. */
function failModeFromEnv(): FailMode {
  const v = envString('TOKENLEDGER_GUARD_FAIL')?.toLowerCase();
  if (v === undefined || v === 'open') return 'open';
  if (v === 'closed') return 'closed';
  warnOnce(
    SETTING_UNSUPPORTED,
    `tokenledger: TOKENLEDGER_GUARD_FAIL=${v} is neither open nor closed; using open (calls go when the collector gives no first answer)`,
    'TOKENLEDGER_GUARD_FAIL',
  );
  return 'open';
}

/**
 * Resolves true once the guard holds the collector's policy and budget state and its first budget
 * slices, false after `timeoutMs` or when the guard is off. Not needed for enforcement: a guarded
 * call made before that waits for the state itself (TOKENLEDGER_GUARD_WAIT_MS); this lets a job
 * learn early that the collector is there.
 */
export function whenGuardReady(timeoutMs = 5_000): Promise<boolean> {
  const engine = (globalThis as Record<symbol, GuardEngine | undefined>)[INSTALLED];
  if (!engine) return Promise.resolve(false);
  return new Promise<boolean>((resolve) => {
    // Ref'd on purpose: the app is waiting for this (the refresh itself never holds the process).
    const timer = setTimeout(() => resolve(false), timeoutMs);
    void engine.firstState.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}
