/**
 * The built-in report page at `/`: static HTML/JS/CSS from `collector/public` plus Chart.js's UMD
 * build from node_modules (no CDN: collectors often run without internet access). Public, because
 * it holds no data: the page reads everything through the keyed panel API.
 */
import path from 'node:path';
import express, { Router } from 'express';
import { PACKAGE_DIR } from '../core/package-dir';

/** `collector/public`, from both `src/report-page` (tsx) and `dist/report-page` (built). */
export const PUBLIC_DIR = path.join(PACKAGE_DIR, 'public');

/** chart.js exports no subpath for its UMD file; it sits beside the CommonJS entry. */
const CHART_JS_UMD = path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.js');

// Scripts and styles only from the collector itself; the key never leaves via a referrer.
const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
};

const setSecurityHeaders = (res: { setHeader(name: string, value: string): unknown }): void => {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
};

export function reportPageRouter(): Router {
  const router = Router();
  router.get('/vendor/chart.umd.js', (_req, res) => {
    setSecurityHeaders(res);
    res.sendFile(CHART_JS_UMD, { maxAge: '1d' });
  });
  router.use(
    express.static(PUBLIC_DIR, { index: 'index.html', redirect: false, setHeaders: setSecurityHeaders }),
  );
  return router;
}
