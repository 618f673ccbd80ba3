// The chaos suite's probe: runs in the lab's client namespace (started there by the harness with
// `ip netns exec`) and probes several services at once with src/lab/probe.ts, printing every
// answer as it ends, one JSON line each, so the harness sees a service come back as it happens:
//
//   node probe-main.js http://10.200.0.100:8080/@10 http://10.200.0.1:8081/@50 …
//   → {"i":0,"s":1732…,"d":1732…,"ok":1,"h":"h2"}   (i: the target's index; s, d: sent and done, epoch ms)
//   → {"i":1,"s":…,"d":…,"ok":0,"e":"refused"}
//
// It runs until SIGTERM or SIGINT. Each target is TARGET@INTERVAL_MS.

import { probeHere, type ProbeOptions } from '../probe.js';

const lines: string[] = [];
let timer: NodeJS.Timeout | undefined;
function emit(line: string): void {
  lines.push(line);
  // A few answers per write, not one write per answer.
  timer ??= setTimeout(() => {
    timer = undefined;
    process.stdout.write(`${lines.join('\n')}\n`);
    lines.length = 0;
  }, 20);
}

async function main(): Promise<void> {
  const specs = process.argv.slice(2).map((arg) => {
    const at = arg.lastIndexOf('@');
    const interval = Number(arg.slice(at + 1));
    if (at < 0 || !(interval > 0)) throw new Error(`probe-main: "${arg}" is not TARGET@INTERVAL_MS`);
    return { target: arg.slice(0, at), intervalMs: interval };
  });
  if (specs.length === 0) throw new Error('probe-main: no target');
  const ac = new AbortController();
  process.on('SIGTERM', () => ac.abort());
  process.on('SIGINT', () => ac.abort());
  await Promise.all(
    specs.map((spec, i) => {
      const opts: ProbeOptions = {
        target: spec.target,
        intervalMs: spec.intervalMs,
        timeoutMs: 200,
        signal: ac.signal,
        onAnswer: (a) => {
          const now = Date.now();
          const sent = Math.round(now - (a.doneMs - a.sentMs));
          emit(JSON.stringify(a.ok ? { i, s: sent, d: now, ok: 1, ...(a.host === undefined ? {} : { h: a.host }) } : { i, s: sent, d: now, ok: 0, e: a.error ?? 'error' }));
        },
      };
      return probeHere(opts);
    }),
  );
  if (timer !== undefined) clearTimeout(timer);
  if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
