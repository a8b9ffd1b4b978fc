#!/usr/bin/env node
// The `tokenledger` command; a committed shim so npm links it before the TypeScript build exists.
require('../dist/cli/main.js');
