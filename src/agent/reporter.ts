// Delivers the agent's events to the controller: POST /v1/agents/report with an agentReport body,
// retried with exponential backoff until a 2xx acknowledges it. No batching delay: an event is
// sent the moment it is queued (events queued while a report is in flight go in the next one), and
// a new event cuts a backoff wait short, since a controller that is back should hear it at once.
//
// With several controllers, the one that acknowledged last is tried first, then the others in
// configured order; a round in which none acknowledged is followed by a backoff wait. Events of
// an earlier incarnation (persisted across a restart) are sent in their own report, so the
// controller's dedup key (node, incarnation, seq) stays true.

import type { Logger } from 'pino';
import type { AgentReport } from '../model/wire.js';
import type { PendingEvent } from './state-file.js';

export interface ReporterOptions {
  readonly node: string;
  /** Report endpoints, `http://host:port/v1/agents/report`, in order of preference. */
  readonly endpoints: readonly string[];
  readonly log: Logger;
  /** Called whenever the queue changes (an event queued or acknowledged), to persist it. */
  readonly onChange: () => void;
  /** First backoff wait; doubled after each failed round up to `maxBackoffMs`. Default 100 ms. */
  readonly initialBackoffMs?: number;
  /** Default 5 s. */
  readonly maxBackoffMs?: number;
  /** How long one POST may take before the next controller is tried. Default 2 s. */
  readonly requestTimeoutMs?: number;
  /** Events per report at most. Default 256. */
  readonly maxBatch?: number;
  readonly fetch?: typeof fetch;
}

export class Reporter {
  private queue: PendingEvent[] = [];
  private preferred = 0;
  private running = false;
  private closed = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private readonly stop = new AbortController();
  private delivered = 0;
  private attempts = 0;
  /** Whether the controllers are unreachable: retries are logged at debug until one acknowledges. */
  private failing = false;
  /** An event was queued since the current round began: retry at once rather than back off. */
  private arrived = false;

  constructor(private readonly opts: ReporterOptions) {}

  /** Events not acknowledged yet, oldest first. */
  pending(): readonly PendingEvent[] {
    return this.queue;
  }

  /** Counters for tests and logs. */
  stats(): { delivered: number; attempts: number; pending: number } {
    return { delivered: this.delivered, attempts: this.attempts, pending: this.queue.length };
  }

  /** Queues events loaded from the state dir (without calling onChange). */
  restore(events: readonly PendingEvent[]): void {
    this.queue.push(...events);
    this.kick();
  }

  /** Queues one event and sends it at once. */
  add(event: PendingEvent): void {
    if (this.closed) return;
    this.queue.push(event);
    this.arrived = true;
    this.opts.onChange();
    this.kick();
  }

  /** Begins delivering (events queued before are sent now). */
  start(): void {
    this.running = true;
    this.kick();
  }

  /** Stops delivering; what is still queued stays queued (and persisted) for the next incarnation. */
  async close(): Promise<void> {
    this.closed = true;
    this.running = false;
    this.stop.abort();
    this.wake?.();
    await this.loop;
  }

  private kick(): void {
    if (!this.running || this.closed) return;
    if (this.wake !== undefined) {
      this.wake();
      return;
    }
    this.loop ??= this.deliver().finally(() => {
      this.loop = undefined;
      // An event queued after the loop saw an empty queue but before it ended.
      if (this.queue.length > 0) this.kick();
    });
  }

  private async deliver(): Promise<void> {
    const initial = this.opts.initialBackoffMs ?? 100;
    const max = this.opts.maxBackoffMs ?? 5_000;
    let backoff = initial;
    while (this.running && this.queue.length > 0) {
      this.arrived = false;
      const batch = this.nextBatch();
      if (await this.sendRound(batch)) {
        const sent = new Set(batch);
        this.queue = this.queue.filter((e) => !sent.has(e));
        this.delivered += batch.length;
        this.opts.onChange();
        backoff = initial;
        continue;
      }
      if (!this.running || this.opts.endpoints.length === 0) return; // closed, or nowhere to send: keep them queued
      if (this.arrived) continue; // a new event while this round failed: send it now
      await this.sleep(backoff);
      backoff = Math.min(max, backoff * 2);
    }
  }

  /** The oldest events, all of one incarnation. */
  private nextBatch(): PendingEvent[] {
    const first = this.queue[0];
    if (first === undefined) return [];
    const limit = this.opts.maxBatch ?? 256;
    return this.queue.filter((e) => e.incarnation === first.incarnation).slice(0, limit);
  }

  /** Tries each controller once, the last one that acknowledged first. */
  private async sendRound(batch: readonly PendingEvent[]): Promise<boolean> {
    const endpoints = this.opts.endpoints;
    const first = batch[0];
    if (first === undefined) return true;
    const report: AgentReport = { node: this.opts.node, incarnation: first.incarnation, events: batch.map((e) => e.event) };
    const body = JSON.stringify(report);
    for (let k = 0; k < endpoints.length && this.running; k++) {
      const index = (this.preferred + k) % endpoints.length;
      const url = endpoints[index] as string;
      this.attempts += 1;
      try {
        const signal = AbortSignal.any([this.stop.signal, AbortSignal.timeout(this.opts.requestTimeoutMs ?? 2_000)]);
        const res = await (this.opts.fetch ?? fetch)(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal });
        await res.body?.cancel().catch(() => undefined);
        if (res.ok) {
          this.preferred = index;
          this.failing = false;
          this.opts.log.info({ url, incarnation: first.incarnation, seqs: batch.map((e) => e.event.seq) }, 'report acknowledged');
          return true;
        }
        this.complain({ url, status: res.status, events: batch.length }, 'report refused; will retry');
      } catch (err) {
        if (this.closed) return false;
        this.complain({ url, err: describeFetchError(err), events: batch.length }, 'report not delivered; will retry');
      }
    }
    return false;
  }

  /** The first failure of a streak at warn, the retries at debug: an absent controller is not news every second. */
  private complain(fields: Record<string, unknown>, msg: string): void {
    if (this.failing) this.opts.log.debug(fields, msg);
    else this.opts.log.warn(fields, msg);
    this.failing = true;
  }

  /** Waits `ms`, or less when a new event arrives or the reporter closes. */
  private sleep(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    }).finally(() => {
      this.wake = undefined;
    });
  }
}

/** `fetch failed` says little; its cause says ECONNREFUSED or a timeout. */
function describeFetchError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  const code = (cause as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') return `${err.message}: ${code}`;
  if (cause instanceof Error) return `${err.message}: ${cause.message}`;
  return err.name === 'TimeoutError' ? 'timed out' : err.message;
}
