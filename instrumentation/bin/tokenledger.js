#!/usr/bin/env node
// `npx tokenledger <command>` in an app that installed only the SDK. The commands (collector, report,
// keys, policy, …) live in @tokenledger/collector, which the SDK does not depend on so that apps stay
// light: run its CLI when it is installed beside the app (or beside this package), else say how.
'use strict';

function collectorCli() {
  for (const from of [process.cwd(), __dirname]) {
    try {
      return require.resolve('@tokenledger/collector/cli', { paths: [from] });
    } catch {
      // not installed there
    }
  }
  return undefined;
}

const cli = collectorCli();
if (cli) {
  require(cli);
} else {
  process.stderr.write(
    'tokenledger: the tokenledger commands come with the collector package, which is not installed here.\n' +
      '  install it beside the app:  npm install --save-dev @tokenledger/collector\n' +
      '  or run it once:             npx -p @tokenledger/collector tokenledger ' +
      (process.argv.slice(2).join(' ') || '--help') +
      '\n',
  );
  process.exit(1);
}
