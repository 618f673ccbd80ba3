// The etcd store: the controller's durable state in an etcd cluster (3 or 5 members), shared by
// several controllers of which one leads. It uses the npm `etcd3` client against Debian's
// `etcd-server` (3.4). docs/store.md has the keys, transactions, epochs and timings.
//
// How a controller uses it:
//
//   const store = new EtcdStore({ endpoints: ['http://10.0.0.1:2379', …], cluster: 'prod', logger });
//   const term = await store.campaign('ctl-1', { signal, onLost: (why) => stopDeciding(why) });
//   // leader now: term.epoch is the fencing token every command carries;
//   // term.signal aborts when the term ends (lease lapsed, refused write, resign, close).
//   const record = await store.load();             // any controller may read
//   await store.append(events); await store.save(record); // only the leader's writes pass
//   …
//   await term.resign();                           // or store.close(): a follower takes over at once
//
// Keys, under /haven/<cluster>/:
//   leader               {"format":"haven-leader/1","name":…,"at":…}, attached to the leader's lease;
//                        its create revision is the epoch
//   record               {"format":"haven-controller-record/1","record":…}
//   events/<seq, 16 digits>  one event as JSON
//   fences/<seq, 16 digits>  one fence attempt as JSON (fence-history.ts)
//   configs/<version, 16 digits>  one configuration version as JSON (config-history.ts)
//
// Every write of the leader is one transaction whose first compare is "the leader key's create
// revision is still my epoch": once the lease lapsed (the key is deleted with it) or another
// controller created the key anew, the write changes nothing and fails with CONFLICT. An append
// also compares "no event key at or above my first seq exists" in the same transaction, so an
// event is never written twice, even by two controllers across a takeover.
//
// Leadership is a lease of `leaseTtlSeconds` (default 1 s; etcd raises it to its minimum, 1 s
// with a 500 ms election timeout, 2 s with the default 1 s) kept alive every quarter TTL. The
// leader gives its term up by itself when no renewal was acknowledged for 90 % of the TTL, before
// etcd can expire it, so two controllers never both believe they lead. A follower waits on a
// watch of the leader key (and re-checks every TTL in case a watch is lost) and creates the key
// the moment it is gone.

import { ConsecutiveBreaker, ConstantBackoff, ExponentialBackoff, circuitBreaker, handleWhen, isBrokenCircuitError, retry, type IBackoff } from 'cockatiel';
import {
  Etcd3,
  EtcdLeaseInvalidError,
  isRecoverableError,
  type ICompare,
  type IDuplexStream,
  type IKeyValue,
  type ILeaseKeepAliveRequest,
  type ILeaseKeepAliveResponse,
  type IRequestOp,
  type ITxnResponse,
  type Watcher,
} from 'etcd3';
import type { Logger } from 'pino';
import { HavenError } from '../errors.js';
import { checkFenceBatch, parseFenceRecord, type FenceHistoryQuery, type FenceRecord } from './fence-history.js';
import { checkConfigEntry, parseConfigVersion, type ConfigVersion } from './config-history.js';
import type { CampaignOptions, ControllerEvent, ControllerRecord, LeaderInfo, Leadership, Store } from './store.js';
import { checkEventBatch, parseEvent } from './validate.js';

const RECORD_FORMAT = 'haven-controller-record/1';
const LEADER_FORMAT = 'haven-leader/1';
/** etcd refuses a transaction of more than 128 operations (--max-txn-ops); stay well under. */
const EVENTS_PER_TXN = 100;
const SEQ_DIGITS = 16;

export interface EtcdStoreOptions {
  /** Client URLs of the etcd members, e.g. `http://10.0.0.1:2379`. */
  readonly endpoints: readonly string[];
  /** The cluster's name; every key lives under `/haven/<cluster>/`. Letters, digits, `.`, `_`, `-`. */
  readonly cluster: string;
  /** The leader lease's TTL to ask for, in whole seconds (default 1); etcd may grant more. */
  readonly leaseTtlSeconds?: number;
  /** Bound on one etcd request in ms (default 2000); a call gives up after at most two tries. */
  readonly requestTimeoutMs?: number;
  readonly logger?: Logger;
}

/** A keep-alive stream and the send times of its renewals not answered yet, oldest first. */
interface KeepAliveStream {
  readonly stream: IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>;
  pending: number[];
  failed: boolean;
}

interface Term {
  readonly info: LeaderInfo;
  readonly leaseId: string;
  readonly ttlMs: number;
  readonly controller: AbortController;
  readonly onLost: ((reason: Error) => void) | undefined;
  /** Local time until which etcd cannot have expired the lease (send time of the last acknowledged renewal + TTL). */
  validUntil: number;
  timer: NodeJS.Timeout | undefined;
  stream: IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse> | undefined;
}

export class EtcdStore implements Store {
  private readonly client: Etcd3;
  private readonly prefix: string;
  private readonly leaderKey: Buffer;
  private readonly recordKey: Buffer;
  private readonly eventsPrefix: string;
  private readonly eventsEnd: Buffer;
  private readonly fencesPrefix: string;
  private readonly configsPrefix: string;
  private readonly ttlSeconds: number;
  private readonly timeoutMs: number;
  private readonly endpoints: string;
  private readonly log: Logger | undefined;
  private term: Term | undefined;
  /** Why the last term ended; writes are refused with it until a new campaign. */
  private ended: HavenError | undefined;
  private campaigning = false;
  private closed = false;
  /** Aborted by close(): stops campaigns and observers. */
  private readonly closing = new AbortController();

  constructor(options: EtcdStoreOptions) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(options.cluster)) {
      throw new HavenError('USAGE', `etcd store: cluster name ${JSON.stringify(options.cluster)} is not usable in a key`, {
        hint: 'use letters, digits, ".", "_" and "-"',
      });
    }
    if (options.endpoints.length === 0) throw new HavenError('USAGE', 'etcd store: no endpoints given');
    for (const e of options.endpoints) {
      if (!/^https?:\/\/[^/\s]+$/.test(e)) {
        throw new HavenError('USAGE', `etcd store: endpoint ${JSON.stringify(e)} is not a client URL`, { hint: 'like http://10.0.0.1:2379' });
      }
    }
    const ttl = options.leaseTtlSeconds ?? 1;
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 60) throw new HavenError('USAGE', `etcd store: leaseTtlSeconds ${ttl} is not a whole number of seconds from 1 to 60`);
    const timeout = options.requestTimeoutMs ?? 2000;
    if (!(timeout >= 50 && timeout <= 60_000)) throw new HavenError('USAGE', `etcd store: requestTimeoutMs ${timeout} is not from 50 to 60000`);
    this.ttlSeconds = ttl;
    this.timeoutMs = timeout;
    this.endpoints = options.endpoints.join(',');
    this.log = options.logger?.child({ store: 'etcd', cluster: options.cluster });
    this.prefix = `/haven/${options.cluster}/`;
    this.leaderKey = Buffer.from(`${this.prefix}leader`);
    this.recordKey = Buffer.from(`${this.prefix}record`);
    this.eventsPrefix = `${this.prefix}events/`;
    this.eventsEnd = prefixEnd(Buffer.from(this.eventsPrefix));
    this.fencesPrefix = `${this.prefix}fences/`;
    this.configsPrefix = `${this.prefix}configs/`;
    this.client = new Etcd3({
      hosts: [...options.endpoints],
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeout }),
      faultHandling: {
        // A member that fails three calls in a row is skipped for a second; the calls go to the others.
        host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(3) }),
        // One more try on another member, so that a call gives up within about two request timeouts.
        global: retry(handleWhen(isRecoverableError), { maxAttempts: 1, backoff: new ConstantBackoff(50) }),
        // etcd3 calls next() on it, as on a factory; its type says an IBackoff.
        watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1000 }) as unknown as IBackoff<unknown>,
      },
    });
  }

  // --- leadership -------------------------------------------------------------------------

  async campaign(name: string, options: CampaignOptions = {}): Promise<Leadership> {
    if (name === '') throw new HavenError('USAGE', 'a campaign needs a non-empty name');
    this.assertOpen();
    if (this.campaigning || this.term) throw new HavenError('CONFLICT', `etcd store ${this.prefix}: this store already campaigns or leads`, { hint: 'resign the current term first' });
    this.campaigning = true;
    const signal = options.signal ? AbortSignal.any([options.signal, this.closing.signal]) : this.closing.signal;
    const value = Buffer.from(JSON.stringify({ format: LEADER_FORMAT, name, at: Date.now() }));
    let pause = 100;
    try {
      for (;;) {
        signal.throwIfAborted();
        let lease: { id: string; ttlMs: number; sent: number } | undefined;
        try {
          const sent = Date.now();
          const granted = await this.call('grant a lease', () => this.client.leaseClient.leaseGrant({ TTL: this.ttlSeconds }));
          lease = { id: granted.ID, ttlMs: Number(granted.TTL) * 1000, sent };
          const res = await this.call('campaign', () =>
            this.client.kv.txn({
              compare: [{ key: this.leaderKey, target: 'Create', result: 'Equal', create_revision: 0 }],
              success: [{ request_put: { key: this.leaderKey, value, lease: lease!.id } }],
              failure: [{ request_range: { key: this.leaderKey } }],
            }),
          );
          if (res.succeeded) return this.begin(name, Number(res.header.revision), lease, options.onLost);
          const holder = res.responses[0]?.response_range.kvs[0];
          // A retried campaign whose first try went through finds its own key.
          if (holder && holder.lease === lease.id) return this.begin(name, Number(holder.create_revision), lease, options.onLost);
          // Something else than a leader record in the key would be waited on for ever: refuse it.
          this.parseLeader(holder);
          this.revokeQuietly(lease.id);
          lease = undefined;
          pause = 100;
          await this.waitForChange(Number(res.header.revision) + 1, this.ttlSeconds * 1000, signal);
        } catch (err) {
          if (lease) this.revokeQuietly(lease.id);
          signal.throwIfAborted();
          if (!(err instanceof HavenError) || err.code !== 'UNREACHABLE') throw err;
          this.log?.warn({ err: err.message }, 'campaign: etcd unreachable, retrying');
          await sleep(pause, signal);
          pause = Math.min(pause * 2, 1000);
        }
      }
    } finally {
      this.campaigning = false;
    }
  }

  async leader(): Promise<LeaderInfo | undefined> {
    this.assertOpen();
    const res = await this.call('read the leader', () => this.client.kv.range({ key: this.leaderKey }));
    return this.parseLeader(res.kvs[0]);
  }

  observeLeader(onChange: (leader: LeaderInfo | undefined) => void, signal: AbortSignal): void {
    const stop = AbortSignal.any([signal, this.closing.signal]);
    let last: string | undefined;
    const loop = async (): Promise<void> => {
      while (!stop.aborted) {
        try {
          const res = await this.call('read the leader', () => this.client.kv.range({ key: this.leaderKey }));
          const now = this.parseLeader(res.kvs[0]);
          const key = JSON.stringify(now ?? null);
          if (key !== last && !stop.aborted) {
            last = key;
            onChange(now);
          }
          await this.waitForChange(Number(res.header.revision) + 1, this.ttlSeconds * 1000, stop);
        } catch {
          // Unreachable or damaged: a follower keeps watching.
          await sleep(500, stop).catch(() => undefined);
        }
      }
    };
    void loop();
  }

  private begin(name: string, epoch: number, lease: { id: string; ttlMs: number; sent: number }, onLost: CampaignOptions['onLost']): Leadership {
    const term: Term = {
      info: { name, epoch },
      leaseId: lease.id,
      ttlMs: lease.ttlMs,
      controller: new AbortController(),
      onLost,
      validUntil: lease.sent + lease.ttlMs,
      timer: undefined,
      stream: undefined,
    };
    this.term = term;
    this.ended = undefined;
    this.log?.info({ name, epoch, ttlMs: lease.ttlMs }, `${name} leads with epoch ${epoch}`);
    this.armLapse(term);
    void this.keepAlive(term);
    return { name, epoch, ttlMs: lease.ttlMs, signal: term.controller.signal, holds: () => this.holds(term), resign: () => this.resign(term) };
  }

  /** The term holds until 90 % of the TTL after the last acknowledged renewal's send; past that it ends now. */
  private holds(term: Term): boolean {
    if (this.term !== term) return false;
    if (Date.now() < term.validUntil - term.ttlMs * 0.1) return true;
    this.end(term, new HavenError('UNREACHABLE', `the leader lease of ${term.info.name} (epoch ${term.info.epoch}) was not renewed within its ${term.ttlMs} ms TTL`, {
      hint: 'etcd did not answer in time (or this process was paused); another controller may take over',
    }));
    this.revokePersistently(term.leaseId, term.ttlMs + 3000);
    return false;
  }

  private async resign(term: Term): Promise<void> {
    if (this.term !== term) return;
    this.end(term, new HavenError('CONFLICT', `${term.info.name} resigned as the leader (epoch ${term.info.epoch})`));
    // Revoking the lease deletes the leader key: a follower's watch fires at once.
    await this.call('resign', () => this.client.leaseClient.leaseRevoke({ ID: term.leaseId })).catch((err: unknown) => {
      if (!(err instanceof HavenError && err.cause instanceof EtcdLeaseInvalidError)) {
        this.log?.warn({ err: (err as Error).message }, 'resign: could not revoke the lease; it lapses by itself');
      }
    });
  }

  /** Ends the term locally (once): stops renewing, aborts the signal, tells the controller. */
  private end(term: Term, reason: HavenError): void {
    if (this.term !== term) return;
    this.term = undefined;
    this.ended = reason;
    clearTimeout(term.timer);
    // end(), not cancel(): a cancelled call counts as a failure of its member in the client.
    term.stream?.end();
    term.stream = undefined;
    this.log?.warn({ name: term.info.name, epoch: term.info.epoch }, `term ended: ${reason.message}`);
    term.controller.abort(reason);
    term.onLost?.(reason);
  }

  /** The leader steps down by itself at 90 % of the TTL after the last acknowledged renewal. */
  private armLapse(term: Term): void {
    clearTimeout(term.timer);
    const at = term.validUntil - term.ttlMs * 0.1;
    term.timer = setTimeout(() => {
      if (this.term !== term) return;
      if (Date.now() < at) return this.armLapse(term);
      this.end(term, new HavenError('UNREACHABLE', `the leader lease of ${term.info.name} (epoch ${term.info.epoch}) was not renewed within its ${term.ttlMs} ms TTL`, {
        hint: 'etcd did not answer in time; another controller may take over',
      }));
      this.revokePersistently(term.leaseId, term.ttlMs + 3000);
    }, Math.max(0, at - Date.now()));
  }

  /**
   * Renews the lease every quarter TTL on one keep-alive stream. Renewals are not dropped when
   * an answer is slow (a loaded machine, raft electing a leader): etcd answers them in order, and
   * each answer extends the term to the send time of the renewal it answers + TTL. A stream that
   * fails, or leaves a renewal unanswered for two intervals (a paused or cut-off member), is
   * replaced by one to any member.
   */
  private async keepAlive(term: Term): Promise<void> {
    const interval = Math.max(100, term.ttlMs / 4);
    let ks: KeepAliveStream | undefined;
    while (this.term === term) {
      const sent = Date.now();
      if (ks && (ks.failed || (ks.pending[0] !== undefined && sent - ks.pending[0] > 2 * interval))) {
        if (!ks.failed) ks.stream.cancel();
        if (term.stream === ks.stream) term.stream = undefined;
        ks = undefined;
      }
      try {
        ks ??= await this.openKeepAlive(term);
        if (this.term !== term) break;
        ks.pending.push(sent);
        ks.stream.write({ ID: term.leaseId });
      } catch {
        // No stream to any member this time: the next interval tries again.
        ks = undefined;
      }
      await sleep(Math.max(0, sent + interval - Date.now()));
    }
  }

  /** Opens a keep-alive stream whose answers extend `term` (or end it, once etcd says the lease expired). */
  private async openKeepAlive(term: Term): Promise<KeepAliveStream> {
    const stream = await this.client.leaseClient.leaseKeepAlive();
    const ks: KeepAliveStream = { stream, pending: [], failed: false };
    stream.on('data', (res: ILeaseKeepAliveResponse) => {
      const sentAt = ks.pending.shift();
      if (this.term !== term || sentAt === undefined) return;
      const ttl = Number(res.TTL);
      if (ttl <= 0) {
        this.end(term, new HavenError('CONFLICT', `the leader lease of ${term.info.name} (epoch ${term.info.epoch}) has expired in etcd`, {
          hint: 'another controller may lead now; campaign again',
        }));
        return;
      }
      term.validUntil = Math.max(term.validUntil, sentAt + ttl * 1000);
      this.armLapse(term);
    });
    stream.on('error', () => {
      ks.failed = true;
      ks.pending = [];
      if (term.stream === stream) term.stream = undefined;
    });
    term.stream = stream;
    return ks;
  }

  // --- the record and the event log --------------------------------------------------------

  async load(): Promise<ControllerRecord | undefined> {
    this.assertOpen();
    const res = await this.call('load the record', () => this.client.kv.range({ key: this.recordKey }));
    const kv = res.kvs[0];
    if (!kv) return undefined;
    let doc: { format?: unknown; record?: unknown };
    try {
      doc = JSON.parse(kv.value.toString('utf8')) as typeof doc;
    } catch (err) {
      throw new HavenError('IO', `etcd key ${this.recordKey.toString()} is not valid JSON (${(err as Error).message})`, {
        hint: 'Haven writes it whole, so it was written by something else; restore it from a backup (etcdctl snapshot)',
      });
    }
    if (typeof doc !== 'object' || doc === null || doc.format !== RECORD_FORMAT || typeof doc.record !== 'object' || doc.record === null) {
      throw new HavenError('IO', `etcd key ${this.recordKey.toString()} is not a Haven controller record (format ${JSON.stringify(doc?.format)})`, {
        hint: 'another program uses this key prefix; give this cluster another name or restore the key',
      });
    }
    return doc.record as ControllerRecord;
  }

  async save(record: ControllerRecord): Promise<void> {
    this.assertOpen();
    const value = Buffer.from(JSON.stringify({ format: RECORD_FORMAT, record }));
    await this.guarded('save the record', [], [{ request_put: { key: this.recordKey, value } }], []);
  }

  async append(events: readonly ControllerEvent[]): Promise<void> {
    this.assertOpen();
    checkEventBatch(events);
    await this.appendLog('append events', 'event', this.eventsPrefix, events);
  }

  async events(since: number, limit: number): Promise<ControllerEvent[]> {
    this.assertOpen();
    if (limit <= 0) return [];
    const from = Math.max(0, Math.floor(since)) + 1;
    const res = await this.call('read events', () => this.client.kv.range({ key: this.eventKey(from), range_end: this.eventsEnd, limit }));
    return res.kvs.map((kv) => this.parseEventKv(kv));
  }

  async lastSeq(): Promise<number> {
    this.assertOpen();
    return this.lastLogSeq(this.eventsPrefix, (kv) => this.parseEventKv(kv).seq);
  }

  // --- the fence history (fence-history.ts has the contract) -------------------------------

  async appendFenceRecords(records: readonly FenceRecord[]): Promise<void> {
    this.assertOpen();
    checkFenceBatch(records);
    if (records.some((r) => !Number.isSafeInteger(r.seq) || r.seq < 1)) throw new HavenError('INTERNAL', 'fence record seqs must be positive integers; nothing appended');
    await this.appendLog('record fence attempts', 'fence record', this.fencesPrefix, records);
  }

  async fenceHistory(query: FenceHistoryQuery): Promise<FenceRecord[]> {
    this.assertOpen();
    if (query.limit <= 0) return [];
    const out: FenceRecord[] = [];
    // Newest first, a page at a time, until `limit` records of the node are found.
    let end = prefixEnd(Buffer.from(this.fencesPrefix));
    for (;;) {
      const page = query.node === undefined ? query.limit : 500;
      const res = await this.call('read the fence history', () =>
        this.client.kv.range({ key: Buffer.from(this.fencesPrefix), range_end: end, limit: page, sort_order: 'Descend', sort_target: 'Key' }),
      );
      for (const kv of res.kvs) {
        const key = kv.key.toString('utf8');
        const r = parseFenceRecord(kv.value.toString('utf8'), `etcd key ${key}`);
        if (this.seqOf(kv, this.fencesPrefix) !== r.seq) throw new HavenError('IO', `etcd key ${key} holds fence record ${r.seq}`, { hint: 'written by something else than Haven' });
        if (query.node === undefined || r.node === query.node) out.push(r);
        if (out.length >= query.limit) return out.reverse();
      }
      if (!res.more || res.kvs.length === 0) return out.reverse();
      end = res.kvs[res.kvs.length - 1]!.key;
    }
  }

  async lastFenceSeq(): Promise<number> {
    this.assertOpen();
    return this.lastLogSeq(this.fencesPrefix, (kv) => this.seqOf(kv, this.fencesPrefix));
  }

  // --- the configuration history (config-history.ts has the contract) ---------------------

  async appendConfig(entry: ConfigVersion): Promise<void> {
    this.assertOpen();
    checkConfigEntry(entry);
    const key = seqKey(this.configsPrefix, entry.version);
    const value = JSON.stringify(entry);
    const end = prefixEnd(Buffer.from(this.configsPrefix));
    const res = await this.guarded(
      'record a configuration',
      [
        // No version at or above this one exists, and the one before it does: one step, no gap.
        { key, range_end: end, target: 'Version', result: 'Equal', version: 0 },
        ...(entry.version > 1 ? [{ key: seqKey(this.configsPrefix, entry.version - 1), target: 'Version' as const, result: 'Greater' as const, version: 0 }] : []),
      ],
      [{ request_put: { key, value: Buffer.from(value) } }],
      [{ request_range: { key } }],
    );
    if (res.succeeded) return;
    const found = res.responses[1]?.response_range.kvs[0];
    // The same entry again: a retry of a write whose outcome was unknown.
    if (found && found.value.toString('utf8') === value) return;
    const last = await this.lastConfigVersion();
    throw new HavenError('CONFLICT', found
      ? `configuration version ${entry.version} is already recorded (the newest is ${last}); nothing written`
      : `configuration version ${entry.version} does not follow the newest, ${last}; nothing written`, {
      hint: 'someone applied a configuration meanwhile; look at haven config history and apply again',
    });
  }

  async configVersion(version: number): Promise<ConfigVersion | undefined> {
    this.assertOpen();
    if (!Number.isSafeInteger(version) || version < 1) return undefined;
    const res = await this.call('read a configuration version', () => this.client.kv.range({ key: seqKey(this.configsPrefix, version) }));
    const kv = res.kvs[0];
    return kv ? this.parseConfigKv(kv) : undefined;
  }

  async configHistory(limit: number): Promise<ConfigVersion[]> {
    this.assertOpen();
    if (limit <= 0) return [];
    const res = await this.call('read the configuration history', () =>
      this.client.kv.range({ key: Buffer.from(this.configsPrefix), range_end: prefixEnd(Buffer.from(this.configsPrefix)), limit, sort_order: 'Descend', sort_target: 'Key' }),
    );
    return res.kvs.map((kv) => this.parseConfigKv(kv)).reverse();
  }

  async lastConfigVersion(): Promise<number> {
    this.assertOpen();
    return this.lastLogSeq(this.configsPrefix, (kv) => this.parseConfigKv(kv).version);
  }

  private parseConfigKv(kv: IKeyValue): ConfigVersion {
    const key = kv.key.toString('utf8');
    const v = parseConfigVersion(kv.value.toString('utf8'), `etcd key ${key}`);
    if (this.seqOf(kv, this.configsPrefix) !== v.version) throw new HavenError('IO', `etcd key ${key} holds configuration version ${v.version}`, { hint: 'written by something else than Haven; restore it from a backup' });
    return v;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.term) await this.resign(this.term);
    this.closed = true;
    this.closing.abort(new HavenError('UNREACHABLE', 'the etcd store was closed'));
    this.client.close();
  }

  // --- helpers -----------------------------------------------------------------------------

  /**
   * Runs a write as the leader: one transaction whose first compare is the leader key's create
   * revision (the epoch). Resolves with the response when the epoch held (the extra compares may
   * still have failed: `succeeded` says); throws CONFLICT, and ends the term, when it did not.
   */
  private async guarded(what: string, compares: ICompare[], success: IRequestOp[], failure: IRequestOp[]): Promise<ITxnResponse> {
    const term = this.term;
    if (!term) {
      throw new HavenError('CONFLICT', `cannot ${what}: this controller does not lead${this.ended ? ` (${this.ended.message})` : ' (it never campaigned)'}`, {
        hint: 'only the leader writes; campaign first',
      });
    }
    const res = await this.call(what, () =>
      this.client.kv.txn({
        compare: [{ key: this.leaderKey, target: 'Create', result: 'Equal', create_revision: term.info.epoch }, ...compares],
        success,
        failure: [{ request_range: { key: this.leaderKey } }, ...failure],
      }),
    );
    if (res.succeeded) return res;
    const holder = res.responses[0]?.response_range.kvs[0];
    if (holder && Number(holder.create_revision) === term.info.epoch) return res;
    const now = this.describeHolder(holder);
    const reason = new HavenError('CONFLICT', `cannot ${what}: epoch ${term.info.epoch} of ${term.info.name} is over (${now}); nothing written`, {
      hint: 'a newer controller took over or the lease lapsed; this one must stop deciding and campaign again',
    });
    this.end(term, reason);
    throw reason;
  }

  /**
   * Appends items to one of the logs (events, fence history) under `prefix`, 100 per
   * transaction, each guarded by the epoch and by "no key at or above my first seq exists".
   */
  private async appendLog(what: string, noun: string, prefix: string, items: readonly { readonly seq: number }[]): Promise<void> {
    const end = prefixEnd(Buffer.from(prefix));
    for (let i = 0; i < items.length; i += EVENTS_PER_TXN) {
      let chunk = items.slice(i, i + EVENTS_PER_TXN);
      for (let attempt = 0; chunk.length > 0; attempt++) {
        const first = seqKey(prefix, chunk[0]!.seq);
        const values = chunk.map((e) => JSON.stringify(e));
        const res = await this.guarded(
          what,
          // No item at or above the first seq exists: nothing is ever written twice or out of order.
          [{ key: first, range_end: end, target: 'Version', result: 'Equal', version: 0 }],
          chunk.map((e, j) => ({ request_put: { key: seqKey(prefix, e.seq), value: Buffer.from(values[j]!) } })),
          [{ request_range: { key: first, range_end: end, limit: chunk.length + 1 } }],
        );
        if (res.succeeded) break;
        // Items at or above the first seq exist. The same ones again (a retry after a failure
        // whose outcome was unknown) are skipped; anything else is refused.
        const found = res.responses[1]?.response_range.kvs ?? [];
        let same = 0;
        while (same < found.length && same < chunk.length && found[same]!.key.equals(seqKey(prefix, chunk[same]!.seq)) && found[same]!.value.toString('utf8') === values[same]) same++;
        if (same < found.length || attempt >= 3) {
          const last = await this.lastLogSeq(prefix, (kv) => this.seqOf(kv, prefix));
          throw new HavenError('CONFLICT', `${noun} ${chunk[same]?.seq ?? chunk[0]!.seq} conflicts with the log (last seq ${last}): a seq is never written twice; nothing of it appended`, {
            hint: 'seqs continue from the last one recorded',
          });
        }
        chunk = chunk.slice(same);
      }
    }
  }

  /** The highest seq under `prefix` (0 when none); `parse` checks the item found. */
  private async lastLogSeq(prefix: string, parse: (kv: IKeyValue) => number): Promise<number> {
    const res = await this.call('read the last seq', () =>
      this.client.kv.range({ key: Buffer.from(prefix), range_end: prefixEnd(Buffer.from(prefix)), limit: 1, sort_order: 'Descend', sort_target: 'Key' }),
    );
    const kv = res.kvs[0];
    return kv ? parse(kv) : 0;
  }

  private seqOf(kv: IKeyValue, prefix: string): number {
    const key = kv.key.toString('utf8');
    const seq = Number(key.slice(prefix.length));
    if (!Number.isSafeInteger(seq) || seq < 1 || key !== seqKey(prefix, seq).toString('utf8')) {
      throw new HavenError('IO', `etcd key ${key} is not a Haven log key`, { hint: 'written by something else than Haven; remove it' });
    }
    return seq;
  }

  private describeHolder(kv: IKeyValue | undefined): string {
    if (!kv) return 'nobody leads';
    try {
      const leader = this.parseLeader(kv);
      return leader ? `${leader.name} leads with epoch ${leader.epoch}` : 'nobody leads';
    } catch {
      return `the leader key holds something else (revision ${kv.create_revision})`;
    }
  }

  private parseLeader(kv: IKeyValue | undefined): LeaderInfo | undefined {
    if (!kv) return undefined;
    let doc: { format?: unknown; name?: unknown };
    try {
      doc = JSON.parse(kv.value.toString('utf8')) as typeof doc;
    } catch {
      doc = {};
    }
    if (typeof doc !== 'object' || doc === null || doc.format !== LEADER_FORMAT || typeof doc.name !== 'string' || doc.name === '') {
      throw new HavenError('IO', `etcd key ${this.leaderKey.toString()} is not a Haven leader record`, {
        hint: 'another program uses this key prefix; give this cluster another name',
      });
    }
    return { name: doc.name, epoch: Number(kv.create_revision) };
  }

  private parseEventKv(kv: IKeyValue): ControllerEvent {
    const key = kv.key.toString('utf8');
    const event = parseEvent(kv.value.toString('utf8'), `etcd key ${key}`);
    if (key !== this.eventKey(event.seq).toString('utf8')) {
      throw new HavenError('IO', `etcd key ${key} holds event seq ${event.seq}`, { hint: 'written by something else than Haven; restore the log from a backup' });
    }
    return event;
  }

  private eventKey(seq: number): Buffer {
    return seqKey(this.eventsPrefix, seq);
  }

  /** Resolves at the first change of the leader key from `revision` on, after `timeoutMs`, or when `signal` aborts. */
  private waitForChange(revision: number, timeoutMs: number, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      let watcher: Watcher | undefined;
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        if (watcher) void watcher.cancel().catch(() => undefined);
        watcher = undefined;
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal.addEventListener('abort', done, { once: true });
      if (signal.aborted) return done();
      try {
        const w = this.client.watch().key(this.leaderKey).startRevision(String(revision)).watcher();
        watcher = w;
        w.on('put', done);
        w.on('delete', done);
        w.on('error', () => undefined); // the timer re-checks
      } catch {
        // The client is closing: the timer or the signal ends the wait.
      }
    });
  }

  private revokeQuietly(leaseId: string): void {
    if (this.closed) return;
    void this.client.leaseClient.leaseRevoke({ ID: leaseId }).catch(() => undefined);
  }

  /**
   * Revokes the lease of a term that ended because etcd did not answer (raft electing a leader,
   * a loaded member), trying again every 200 ms for `forMs`: the first revoke that lands deletes
   * the leader key, so a follower takes over then rather than when the lease expires (after a
   * raft election etcd extends every lease by about its election timeout).
   */
  private revokePersistently(leaseId: string, forMs: number): void {
    const until = Date.now() + forMs;
    const attempt = (): void => {
      if (this.closed) return;
      this.client.leaseClient.leaseRevoke({ ID: leaseId }).then(
        () => undefined,
        (err: unknown) => {
          if (err instanceof EtcdLeaseInvalidError || Date.now() > until) return; // gone already, or expired by now
          setTimeout(attempt, 200).unref?.();
        },
      );
    };
    attempt();
  }

  private assertOpen(): void {
    if (this.closed) throw new HavenError('USAGE', `etcd store ${this.prefix} is closed`);
  }

  /** Runs one etcd call, turning its failures into HavenErrors that say what and where. */
  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.translate(what, err);
    }
  }

  private translate(what: string, err: unknown): HavenError {
    if (err instanceof HavenError) return err;
    const message = err instanceof Error ? err.message : String(err);
    if (isBrokenCircuitError(err) || (err instanceof Error && isRecoverableError(err)) || /no leader|timed out|unavailable|ECONNREFUSED/i.test(message)) {
      return new HavenError('UNREACHABLE', `cannot ${what}: no etcd member of ${this.endpoints} answered in time (${shorten(message)})`, {
        hint: 'check that a majority of the etcd members run and can reach each other (etcdctl endpoint health)',
        cause: err,
      });
    }
    return new HavenError('IO', `cannot ${what}: etcd refused it (${shorten(message)})`, { cause: err });
  }
}

function seqKey(prefix: string, seq: number): Buffer {
  return Buffer.from(`${prefix}${String(seq).padStart(SEQ_DIGITS, '0')}`);
}

/** The first key after every key that starts with `prefix`. */
function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

function shorten(message: string): string {
  const line = message.split('\n')[0] ?? '';
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
