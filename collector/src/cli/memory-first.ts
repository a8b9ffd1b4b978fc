/**
 * Imported first by main.ts, so that the memory settings hold from the first module loaded: V8's
 * young generation would otherwise grow while the collector's modules load and stay grown, and the
 * engine's allocator reads its options once, when chdb is loaded.
 */
import { applyMemorySettings } from '../service/memory-settings';

applyMemorySettings();
