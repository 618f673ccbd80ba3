// A fake fence agent for tests: a small shell script speaking the fence-agents protocol (key=value
// lines on stdin, the exit code as the answer), with a power state per plug in a directory. Its
// `mode` param makes it succeed, fail, hang, or claim success while the plug stays on; it logs
// every call (`<device> <action> <plug>`) so a test reads the order devices ran in, and keeps
// the stdin and argv of its last call for the protocol checks.

import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FenceDevice } from '../model/config.js';

const SCRIPT = `#!/bin/sh
action= plug= mode=ok dir= name=
input=$(cat)
for line in $input; do
  key=\${line%%=*}; val=\${line#*=}
  case $key in
    action) action=$val;; plug) plug=$val;; mode) mode=$val;; dir) dir=$val;; name) name=$val;; password) password=$val;;
  esac
done
printf '%s\\n' "$input" > "$dir/last-stdin"
printf '%s\\n' "$0 $*" > "$dir/last-argv"
echo "$name $action $plug" >> "$dir/calls"
[ -n "$password" ] && echo "logging in with password $password"
case $mode in
  fail) echo "Failed: the BMC said no" >&2; exit 1;;
  hang) sleep 30; exit 0;;
  fail-$action) echo "Failed: $action refused" >&2; exit 1;;
esac
state="$dir/power-$plug"
case $action in
  off) [ "$mode" = still-on ] || echo off > "$state"; echo "Success: Powered OFF";;
  on) echo on > "$state"; echo "Success: Powered ON";;
  reboot) echo on > "$state"; echo "Success: Rebooted";;
  status) if [ "$(cat "$state" 2>/dev/null || echo on)" = off ]; then echo "Status: OFF"; exit 2; else echo "Status: ON"; exit 0; fi;;
  monitor) exit 0;;
  list) echo "h1,h1"; echo "h2,h2";;
  metadata) echo '<resource-agent name="fence_fake"/>';;
  *) echo "Failed: unknown action $action" >&2; exit 1;;
esac
exit 0
`;

export interface FakeAgents {
  /** Where fence_fake lives: pass as agentDir. */
  readonly dir: string;
  /** A device running fence_fake with these params (dir and name filled in). */
  device(id: string, nodes: string[], params?: Record<string, string>, extra?: Partial<FenceDevice>): FenceDevice;
  /** Every call so far: `<device> <action> <plug>`. */
  calls(): string[];
  power(plug: string): 'on' | 'off';
  lastStdin(): string;
  lastArgv(): string;
  cleanup(): void;
}

export function fakeAgents(): FakeAgents {
  const dir = mkdtempSync(join(tmpdir(), 'hvtest-fence-'));
  writeFileSync(join(dir, 'fence_fake'), SCRIPT);
  chmodSync(join(dir, 'fence_fake'), 0o755);
  const read = (f: string): string => {
    try {
      return readFileSync(join(dir, f), 'utf8');
    } catch {
      return '';
    }
  };
  return {
    dir,
    device: (id, nodes, params = {}, extra = {}) => ({ id, agent: 'fence_fake', nodes, params: { dir, name: id, ...params }, ...extra }),
    calls: () => read('calls').split('\n').filter((l) => l !== ''),
    power: (plug) => (read(`power-${plug}`).trim() === 'off' ? 'off' : 'on'),
    lastStdin: () => read('last-stdin'),
    lastArgv: () => read('last-argv'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
