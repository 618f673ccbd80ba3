// Every subcommand of `haven`, in the order `haven --help` lists them.

import type { Command } from 'commander';
import { registerAgent } from './agent.js';
import { registerCheck } from './check.js';
import { registerConfig } from './config.js';
import { registerController } from './controller.js';
import { registerFence } from './fence.js';
import { registerConvert } from './convert.js';
import { registerLab } from './lab.js';
import { registerOperate } from './operate.js';
import { registerPlan } from './plan.js';

export function registerCommands(program: Command): void {
  registerCheck(program);
  registerPlan(program);
  registerConvert(program);
  registerLab(program);
  registerAgent(program);
  registerController(program);
  registerOperate(program);
  registerConfig(program);
  registerFence(program);
}
