/** Every fault scenario, in table order. A new scenario: a module in this folder, listed here. */
import type { FaultScenario } from '../types';
import { appSide } from './app-side';
import { brokenPart } from './broken-part';
import { diskFull } from './disk-full';
import { hostileInput } from './hostile-input';
import { killCollector } from './kill-collector';

export const SCENARIOS: FaultScenario[] = [killCollector, diskFull, hostileInput, appSide, brokenPart];
