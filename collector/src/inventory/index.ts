export { aiHostsFromEnv, aiProviderOf, parseAiHosts, type AiHostTable } from './ai-hosts';
export type { AiHttpCall } from './model';
export { inventory, type Inventory } from './report';
export { findUninstrumentedAiCalls } from './shadow';
export { insertAiHttpCalls } from './store';
