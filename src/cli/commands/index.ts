// Every subcommand of `haven`, in the order `haven --help` lists them.

import type { Command } from 'commander';

export function registerCommands(_program: Command): void {}
