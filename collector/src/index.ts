/**
 * `@tokenledger/collector` as a library: start the collector in a process of your own (the
 * `tokenledger collector` command does exactly this) with a configuration read from the environment.
 */
export { loadConfig, ConfigError, type CollectorConfig } from './service/config';
export { startCollector, type RunningCollector } from './service/start';
