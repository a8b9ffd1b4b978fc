/** Version of the tokenledger package, reported as the instrumentation scope version. */
export const VERSION = '0.1.0';
export const PACKAGE_NAME = 'tokenledger';
