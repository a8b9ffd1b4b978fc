export { Pricer, PriceOverrideError, type PriceOverride } from './pricer';
export { findModel, priceAt, catalogProviderId, type CatalogMatch } from './catalog';
export { computeCost, compileModelPrice, type CompiledPrice, type CallCost, type TokenUsage } from './cost';
export { formatUsd } from '../core/money';
export { batchFactor } from './batch';
