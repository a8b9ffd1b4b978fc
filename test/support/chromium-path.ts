/**
 * Where the report page test finds a Chromium: `CHROMIUM_PATH`, else the usual names on PATH and the
 * macOS app bundles. playwright-core downloads no browser, so a missing one fails with what to install.
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

const NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];
const MAC_APPS = [
  '/Applications/Chromium.app/Contents/MacOS/Chromium',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
];

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.CHROMIUM_PATH?.trim();
  if (configured) {
    if (!isExecutable(configured)) throw new Error(`CHROMIUM_PATH=${configured} is not an executable file`);
    return configured;
  }
  const dirs = (env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const name of NAMES) {
    for (const dir of dirs) {
      const file = path.join(dir, name);
      if (isExecutable(file)) return file;
    }
  }
  const app = MAC_APPS.find(isExecutable);
  if (app) return app;
  throw new Error(
    'the report page test needs Chromium: install it (Debian/Ubuntu: sudo apt-get install chromium) ' +
      'or set CHROMIUM_PATH to a Chromium or Chrome executable',
  );
}
