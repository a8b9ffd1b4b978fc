/**
 * `node --require tokenledger/register app.js`: starts tokenledger before the app loads.
 * (For ESM apps, `node --import tokenledger/register app.mjs` loads register.mjs, which also hooks
 * `import` and then runs this same code.)
 */
import { start } from './start';

start();
