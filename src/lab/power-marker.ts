// <lab dir>/power/<host>: "on" or "off", written by the power switch (power.ts) alongside the
// state file, so that a host's simulated BMC (bmc.ts) answers a power status with a `cat` rather
// than a node start (0.1 s or more on the fence path, where fence_ipmilan asks before and after
// every power command). The order keeps it safe: a host is marked off only after it is off (its
// processes killed and its links down), and marked on before it is powered on, so the marker
// never says off while anything of the host may run.

import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export function powerMarker(labDir: string, host: string): string {
  return join(labDir, 'power', host);
}

/** Writes the marker atomically (a temporary file, then rename). */
export async function markPower(labDir: string, host: string, power: 'on' | 'off'): Promise<void> {
  const file = powerMarker(labDir, host);
  await mkdir(join(labDir, 'power'), { recursive: true, mode: 0o755 });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${power}\n`, { mode: 0o644 });
  await rename(tmp, file);
}
