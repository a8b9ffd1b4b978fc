/**
 * Import boundaries (`npm run lint`). Type-only imports count: they are dependencies too.
 *
 * The collector's folders are layers in the order data moves; a module imports only from its own
 * layer or a lower one. In the SDK, provider folders share code only through instrumentations/shared,
 * the guard and approvals stand on money/ without importing each other, and nothing is circular.
 */
const COLLECTOR_LAYERS = [
  'core',
  'ingest',
  'pricing',
  'storage',
  'govern',
  'read',
  'http',
  'service',
  'cli',
  'index.ts', // the package entry, when there is one: top
];

const layerRules = COLLECTOR_LAYERS.slice(0, -1).map((layer, i) => ({
  name: `collector-${layer}-imports-upward`,
  comment: `collector/src/${layer} may import only from ${COLLECTOR_LAYERS.slice(0, i + 1).join(', ')} (layers: ${COLLECTOR_LAYERS.join(' < ')})`,
  severity: 'error',
  from: { path: `^collector/src/${layer}(/|\\.ts$)` },
  to: {
    path: `^collector/src/(${COLLECTOR_LAYERS.slice(i + 1)
      .join('|')
      .replace(/\./g, '\\.')})(/|$)`,
  },
}));

const SDK = '^instrumentation/src';

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'sdk-provider-imports-another-provider',
      comment:
        'a provider folder under instrumentations/ takes shared code from instrumentations/shared only',
      severity: 'error',
      from: { path: `${SDK}/instrumentations/([^/]+)/` },
      to: {
        path: `${SDK}/instrumentations/[^/]+/`,
        pathNot: `${SDK}/instrumentations/($1|shared)/`,
      },
    },
    {
      name: 'sdk-guard-imports-approvals',
      comment: 'the guard and approvals both stand on money/ and errors.ts, never on each other',
      severity: 'error',
      from: { path: `${SDK}/guard/` },
      to: { path: `${SDK}/approvals/` },
    },
    {
      name: 'sdk-approvals-imports-guard',
      comment: 'the guard and approvals both stand on money/ and errors.ts, never on each other',
      severity: 'error',
      from: { path: `${SDK}/approvals/` },
      to: { path: `${SDK}/guard/` },
    },
    {
      name: 'sdk-money-or-wire-imports-a-user',
      comment: 'money/ and wire/ are what the guard and approvals stand on: they import neither',
      severity: 'error',
      from: { path: `${SDK}/(money|wire)/` },
      to: { path: `${SDK}/(guard|approvals)/` },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'an import that resolves to nothing would escape every rule above',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'no-circular',
      comment: 'modules that import each other, directly or around a loop',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    doNotFollow: { path: 'node_modules' },
    // The SDK's subpaths (tokenledger/semconv, /policy, /wire) resolve through its exports map.
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['types', 'import', 'require', 'node', 'default'],
      extensions: ['.ts', '.mts', '.d.ts', '.js', '.mjs', '.cjs'],
    },
    exclude: { path: '(^|/)dist/' },
  },
};
