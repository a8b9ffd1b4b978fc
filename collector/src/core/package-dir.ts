import path from 'node:path';

/**
 * The collector package's own folder (`src/core` and `dist/core` both sit two levels below it):
 * where the files it ships beside its code live — migrations, OTLP protos, the report page.
 */
export const PACKAGE_DIR = path.resolve(__dirname, '..', '..');
