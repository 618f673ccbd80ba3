// The `haven` command line: one subcommand per file in ./commands, registered here.
// Data goes to stdout, messages to stderr; exit codes are listed in docs/cli.md.

import { Command } from 'commander';
import { registerCommands } from './commands/index.js';

const program = new Command();
program
  .name('haven')
  .description('Haven: high availability and disaster recovery for cloud control planes')
  .version('0.1.0')
  .showHelpAfterError()
  // Options after a subcommand are that subcommand's (`haven fence history --json`, where
  // `fence` has a --json of its own); haven's own (--version, --help) come first.
  .enablePositionalOptions()
  .exitOverride((err) => {
    // commander's usage errors exit 2, like every usage error of Haven's.
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') process.exit(0);
    process.exit(2);
  });
registerCommands(program);
await program.parseAsync(process.argv);
