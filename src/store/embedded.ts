// The embedded store: the controller's record as one JSON file replaced atomically (write a
// temporary file, fsync, rename, fsync the directory), the event log as JSON lines appended and
// fsynced (so are the fence history and the configuration history: fence-history.jsonl,
// config-history.jsonl), and the leader (name and epoch) in leader.json, replaced atomically. For one
// controller: the lab default and tests. A torn or foreign file is refused with a clear error
// rather than read as empty, so nothing recorded is ever silently lost.
//
// Leadership here is a single controller's: `campaign` takes over at once with the next epoch
// (above both leader.json's and the record's, so that state directories from before leader
// election keep counting up) and every later write checks that leader.json still names this
// term. A second store opened on the same directory that campaigns thus fences the first one
// off, as etcd's leader key does; two live controllers on one directory are still not supported
// (the check and the write are not one atomic step across processes).

import { mkdir, open, readFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { writeAtomically } from '../atomic-file.js';
import { HavenError } from '../errors.js';
import type { CampaignOptions, ControllerEvent, ControllerRecord, LeaderInfo, Leadership, Store } from './store.js';
import { checkEventBatch, parseEvent } from './validate.js';
import { checkFenceBatch, parseFenceRecord, type FenceHistoryQuery, type FenceRecord } from './fence-history.js';
import { checkConfigEntry, parseConfigVersion, type ConfigVersion } from './config-history.js';

const FORMAT = 'haven-controller-record/1';
const LEADER_FORMAT = 'haven-leader/1';
/** How often `observeLeader` re-reads leader.json. */
const OBSERVE_INTERVAL_MS = 500;

interface LeaderFile {
  readonly epoch: number;
  /** null once the holder resigned: the epoch is kept so that it keeps counting up. */
  readonly name: string | null;
}

/** Who may write: anyone (never campaigned), one term, or nobody (the term ended). */
type Mode =
  | { readonly kind: 'unguarded' }
  | { readonly kind: 'leading'; readonly term: Term }
  | { readonly kind: 'ended'; readonly reason: HavenError };

interface Term {
  readonly info: LeaderInfo;
  readonly controller: AbortController;
  readonly onLost: ((reason: Error) => void) | undefined;
}

export class EmbeddedStore implements Store {
  private readonly recordPath: string;
  private readonly eventsPath: string;
  private readonly leaderPath: string;
  /** The fence history: one JSON line per attempt, appended and fsynced (fence-history.ts). */
  private readonly fencePath: string;
  private cachedFenceSeq: number | undefined;
  /** The configuration history: one JSON line per version, appended and fsynced (config-history.ts). */
  private readonly configPath: string;
  private cachedConfigVersion: number | undefined;
  private writing: Promise<void> = Promise.resolve();
  private cachedLastSeq: number | undefined;
  /** Whether a torn tail of events.jsonl (an append cut by a crash) was looked for. */
  private tailChecked = false;
  private mode: Mode = { kind: 'unguarded' };
  private campaigning = false;

  constructor(private readonly dir: string) {
    this.recordPath = join(dir, 'record.json');
    this.eventsPath = join(dir, 'events.jsonl');
    this.leaderPath = join(dir, 'leader.json');
    this.fencePath = join(dir, 'fence-history.jsonl');
    this.configPath = join(dir, 'config-history.jsonl');
  }

  campaign(name: string, options: CampaignOptions = {}): Promise<Leadership> {
    if (name === '') return Promise.reject(new HavenError('USAGE', 'a campaign needs a non-empty name'));
    if (this.campaigning || this.mode.kind === 'leading') {
      return Promise.reject(new HavenError('CONFLICT', `${this.dir}: this store already campaigns or leads`, { hint: 'resign the current term first' }));
    }
    options.signal?.throwIfAborted();
    this.campaigning = true;
    let leadership: Leadership | undefined;
    return this.serialize(async () => {
      await mkdir(this.dir, { recursive: true });
      const current = await this.readLeader();
      const record = await this.load();
      const epoch = Math.max(current?.epoch ?? 0, record?.epoch ?? 0) + 1;
      await writeAtomically(this.leaderPath, leaderText({ epoch, name }));
      const term: Term = { info: { name, epoch }, controller: new AbortController(), onLost: options.onLost };
      this.mode = { kind: 'leading', term };
      leadership = {
        name,
        epoch,
        ttlMs: 0,
        signal: term.controller.signal,
        holds: () => !term.controller.signal.aborted,
        resign: () => this.resign(term),
      };
    })
      .finally(() => {
        this.campaigning = false;
      })
      .then(() => leadership!);
  }

  async leader(): Promise<LeaderInfo | undefined> {
    const file = await this.readLeader();
    return file && file.name !== null ? { name: file.name, epoch: file.epoch } : undefined;
  }

  observeLeader(onChange: (leader: LeaderInfo | undefined) => void, signal: AbortSignal): void {
    let last: string | undefined;
    let timer: NodeJS.Timeout | undefined;
    const poll = async (): Promise<void> => {
      try {
        const now = await this.leader();
        const key = JSON.stringify(now ?? null);
        if (!signal.aborted && key !== last) {
          last = key;
          onChange(now);
        }
      } catch {
        // A damaged leader.json is reported by the writes and campaigns; an observer keeps polling.
      }
      if (!signal.aborted) timer = setTimeout(() => void poll(), OBSERVE_INTERVAL_MS);
    };
    signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
    if (!signal.aborted) void poll();
  }

  async load(): Promise<ControllerRecord | undefined> {
    await mkdir(this.dir, { recursive: true });
    let text: string;
    try {
      text = await readFile(this.recordPath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new HavenError('IO', `cannot read ${this.recordPath}: ${(err as Error).message}`);
    }
    let doc: { format?: unknown; record?: unknown };
    try {
      doc = JSON.parse(text) as { format?: unknown; record?: unknown };
    } catch (err) {
      throw new HavenError('IO', `${this.recordPath} is not valid JSON (${(err as Error).message})`, {
        hint: 'the file is replaced atomically, so this is damage from outside; restore it from a backup',
      });
    }
    if (typeof doc !== 'object' || doc === null || doc.format !== FORMAT || typeof doc.record !== 'object' || doc.record === null) {
      throw new HavenError('IO', `${this.recordPath} is not a Haven controller record (format ${JSON.stringify(doc?.format)})`);
    }
    return doc.record as ControllerRecord;
  }

  save(record: ControllerRecord): Promise<void> {
    const text = `${JSON.stringify({ format: FORMAT, record })}\n`;
    return this.serialize(async () => {
      await mkdir(this.dir, { recursive: true });
      await this.guard('save the record');
      await writeAtomically(this.recordPath, text);
    });
  }

  append(events: readonly ControllerEvent[]): Promise<void> {
    try {
      checkEventBatch(events);
    } catch (err) {
      return Promise.reject(err);
    }
    if (events.length === 0) return Promise.resolve();
    return this.serialize(async () => {
      await mkdir(this.dir, { recursive: true });
      await this.guard('append events');
      await this.cutTornTail();
      const last = await this.lastSeqNow();
      let fresh: readonly ControllerEvent[] = events;
      if (events[0]!.seq <= last) {
        // Already logged: fine when it is the same event again (a retry), refused otherwise.
        const logged = new Map((await this.readEvents()).map((e) => [e.seq, JSON.stringify(e)]));
        for (const e of events) {
          if (e.seq > last) break;
          if (logged.get(e.seq) !== JSON.stringify(e)) {
            throw new HavenError('CONFLICT', `event ${e.seq} is already in the log with another content (last seq ${last}); nothing appended`, {
              hint: 'seqs continue from lastSeq(); a seq is never written twice',
            });
          }
        }
        fresh = events.filter((e) => e.seq > last);
        if (fresh.length === 0) return;
      }
      const fh = await open(this.eventsPath, 'a');
      try {
        await fh.writeFile(fresh.map((e) => JSON.stringify(e)).join('\n') + '\n');
        await fh.sync();
      } finally {
        await fh.close();
      }
      this.cachedLastSeq = events[events.length - 1]!.seq;
    });
  }

  async events(since: number, limit: number): Promise<ControllerEvent[]> {
    await this.writing;
    const all = await this.readEvents();
    return all.filter((e) => e.seq > since).slice(0, limit);
  }

  async lastSeq(): Promise<number> {
    await this.writing;
    return this.lastSeqNow();
  }

  appendFenceRecords(records: readonly FenceRecord[]): Promise<void> {
    try {
      checkFenceBatch(records);
    } catch (err) {
      return Promise.reject(err);
    }
    if (records.length === 0) return Promise.resolve();
    const text = records.map((r) => JSON.stringify(r)).join('\n') + '\n';
    return this.serialize(async () => {
      await mkdir(this.dir, { recursive: true });
      await this.guard('record fence attempts');
      await this.cutTornFenceTail();
      const last = await this.lastFenceSeqNow();
      if (records[0]!.seq <= last) {
        throw new HavenError('CONFLICT', `fence record ${records[0]!.seq} is already in the history (last seq ${last}); nothing appended`);
      }
      const fh = await open(this.fencePath, 'a');
      try {
        await fh.writeFile(text);
        await fh.sync();
      } finally {
        await fh.close();
      }
      this.cachedFenceSeq = records[records.length - 1]!.seq;
    });
  }

  async fenceHistory(query: FenceHistoryQuery): Promise<FenceRecord[]> {
    await this.writing;
    const all = await this.readFenceRecords();
    const mine = query.node === undefined ? all : all.filter((r) => r.node === query.node);
    return query.limit <= 0 ? [] : mine.slice(-query.limit);
  }

  async lastFenceSeq(): Promise<number> {
    await this.writing;
    return this.lastFenceSeqNow();
  }

  private async lastFenceSeqNow(): Promise<number> {
    if (this.cachedFenceSeq !== undefined) return this.cachedFenceSeq;
    const all = await this.readFenceRecords();
    this.cachedFenceSeq = all.length ? all[all.length - 1]!.seq : 0;
    return this.cachedFenceSeq;
  }

  /** As for events: a record cut by a crash (no newline) was never acknowledged; cut it off before appending. */
  private async cutTornFenceTail(): Promise<void> {
    if (this.cachedFenceSeq !== undefined) return;
    let text: string;
    try {
      text = await readFile(this.fencePath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new HavenError('IO', `cannot read ${this.fencePath}: ${(err as Error).message}`);
    }
    if (text !== '' && !text.endsWith('\n')) await truncate(this.fencePath, Buffer.byteLength(text.slice(0, text.lastIndexOf('\n') + 1)));
  }

  private async readFenceRecords(): Promise<FenceRecord[]> {
    let text: string;
    try {
      text = await readFile(this.fencePath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new HavenError('IO', `cannot read ${this.fencePath}: ${(err as Error).message}`);
    }
    const lines = text.split('\n');
    // The piece after the last newline was cut by a crash mid-append: never acknowledged, skipped.
    lines.pop();
    return lines.map((line, i) => parseFenceRecord(line, `${this.fencePath}:${i + 1}`));
  }

  // --- the configuration history (config-history.ts has the contract) ---------------------

  appendConfig(entry: ConfigVersion): Promise<void> {
    try {
      checkConfigEntry(entry);
    } catch (err) {
      return Promise.reject(err);
    }
    const line = JSON.stringify(entry);
    return this.serialize(async () => {
      await mkdir(this.dir, { recursive: true });
      await this.guard('record a configuration');
      const all = await this.readConfigs(true);
      const last = all.length ? all[all.length - 1]!.version : 0;
      if (entry.version <= last) {
        // The same entry again is a retry of a write whose outcome was unknown: already there.
        if (JSON.stringify(all.find((v) => v.version === entry.version)) === line) return;
        throw new HavenError('CONFLICT', `configuration version ${entry.version} is already recorded (the newest is ${last}); nothing written`, {
          hint: 'someone applied a configuration meanwhile; look at haven config history and apply again',
        });
      }
      if (entry.version !== last + 1) {
        throw new HavenError('CONFLICT', `configuration version ${entry.version} does not follow the newest, ${last}; nothing written`);
      }
      const fh = await open(this.configPath, 'a');
      try {
        await fh.writeFile(line + '\n');
        await fh.sync();
      } finally {
        await fh.close();
      }
      this.cachedConfigVersion = entry.version;
    });
  }

  async configVersion(version: number): Promise<ConfigVersion | undefined> {
    await this.writing;
    return (await this.readConfigs(false)).find((v) => v.version === version);
  }

  async configHistory(limit: number): Promise<ConfigVersion[]> {
    await this.writing;
    return limit <= 0 ? [] : (await this.readConfigs(false)).slice(-limit);
  }

  async lastConfigVersion(): Promise<number> {
    await this.writing;
    if (this.cachedConfigVersion !== undefined) return this.cachedConfigVersion;
    const all = await this.readConfigs(false);
    this.cachedConfigVersion = all.length ? all[all.length - 1]!.version : 0;
    return this.cachedConfigVersion;
  }

  /**
   * Every recorded version, oldest first. A last line without its newline was cut by a crash
   * mid-append and never acknowledged: skipped, and with `cutTorn` (before an append) cut off.
   */
  private async readConfigs(cutTorn: boolean): Promise<ConfigVersion[]> {
    let text: string;
    try {
      text = await readFile(this.configPath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new HavenError('IO', `cannot read ${this.configPath}: ${(err as Error).message}`);
    }
    if (cutTorn && text !== '' && !text.endsWith('\n')) await truncate(this.configPath, Buffer.byteLength(text.slice(0, text.lastIndexOf('\n') + 1)));
    const lines = text.split('\n');
    lines.pop();
    let previous = 0;
    return lines.map((line, i) => {
      const where = `${this.configPath}:${i + 1}`;
      const v = parseConfigVersion(line, where);
      if (v.version !== previous + 1) {
        throw new HavenError('IO', `${where}: configuration version ${v.version} does not follow ${previous}`, {
          hint: 'the history is only appended to, so this is damage from outside; restore it from a backup',
        });
      }
      previous = v.version;
      return v;
    });
  }

  async close(): Promise<void> {
    await this.writing;
    if (this.mode.kind === 'leading') await this.resign(this.mode.term).catch(() => undefined);
  }

  private async lastSeqNow(): Promise<number> {
    if (this.cachedLastSeq !== undefined) return this.cachedLastSeq;
    const all = await this.readEvents();
    this.cachedLastSeq = all.length ? all[all.length - 1]!.seq : 0;
    return this.cachedLastSeq;
  }

  private resign(term: Term): Promise<void> {
    if (this.mode.kind !== 'leading' || this.mode.term !== term) return Promise.resolve();
    const reason = new HavenError('CONFLICT', `${term.info.name} resigned as the leader (epoch ${term.info.epoch})`);
    this.end(term, reason);
    return this.serialize(async () => {
      const current = await this.readLeader();
      // Only clear our own name: a later term must not be undone by an old one resigning.
      if (current?.epoch === term.info.epoch) await writeAtomically(this.leaderPath, leaderText({ epoch: term.info.epoch, name: null }));
    });
  }

  private end(term: Term, reason: HavenError): void {
    if (this.mode.kind !== 'leading' || this.mode.term !== term) return;
    this.mode = { kind: 'ended', reason };
    term.controller.abort(reason);
    term.onLost?.(reason);
  }

  /** Refuses a write unless this store may write: it never campaigned, or its term still holds. */
  private async guard(what: string): Promise<void> {
    const mode = this.mode;
    switch (mode.kind) {
      case 'unguarded':
        return;
      case 'ended':
        throw new HavenError('CONFLICT', `cannot ${what}: this controller no longer leads (${mode.reason.message})`, {
          hint: 'campaign again for a new term',
        });
      case 'leading': {
        const current = await this.readLeader();
        if (current?.epoch === mode.term.info.epoch && current.name === mode.term.info.name) return;
        const now = current?.name ? `${current.name} leads with epoch ${current.epoch}` : 'nobody leads';
        const reason = new HavenError('CONFLICT', `cannot ${what}: epoch ${mode.term.info.epoch} of ${mode.term.info.name} is over (${now}); nothing written`, {
          hint: 'a newer controller took over; this one must stop deciding and campaign again',
        });
        this.end(mode.term, reason);
        throw reason;
      }
      default: {
        const never: never = mode;
        throw new HavenError('INTERNAL', `unknown store mode ${JSON.stringify(never)}`);
      }
    }
  }

  private async readLeader(): Promise<LeaderFile | undefined> {
    let text: string;
    try {
      text = await readFile(this.leaderPath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new HavenError('IO', `cannot read ${this.leaderPath}: ${(err as Error).message}`);
    }
    let doc: { format?: unknown; epoch?: unknown; name?: unknown };
    try {
      doc = JSON.parse(text) as typeof doc;
    } catch (err) {
      throw new HavenError('IO', `${this.leaderPath} is not valid JSON (${(err as Error).message})`, {
        hint: 'the file is replaced atomically, so this is damage from outside; remove it only if no controller runs',
      });
    }
    if (
      typeof doc !== 'object' || doc === null || doc.format !== LEADER_FORMAT ||
      !Number.isSafeInteger(doc.epoch) || (doc.epoch as number) < 1 ||
      !(doc.name === null || (typeof doc.name === 'string' && doc.name !== ''))
    ) {
      throw new HavenError('IO', `${this.leaderPath} is not a Haven leader record (format ${JSON.stringify(doc?.format)})`);
    }
    return { epoch: doc.epoch as number, name: doc.name as string | null };
  }

  /**
   * An append cut by a crash leaves a last line without its newline. It was never acknowledged
   * (the append resolves after fsync), so it is cut off before the next append rather than
   * glued to it.
   */
  private async cutTornTail(): Promise<void> {
    if (this.tailChecked) return;
    let text: string;
    try {
      text = await readFile(this.eventsPath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        this.tailChecked = true;
        return;
      }
      throw new HavenError('IO', `cannot read ${this.eventsPath}: ${(err as Error).message}`);
    }
    if (text !== '' && !text.endsWith('\n')) {
      const keep = text.lastIndexOf('\n') + 1;
      await truncate(this.eventsPath, Buffer.byteLength(text.slice(0, keep)));
    }
    this.tailChecked = true;
  }

  private async readEvents(): Promise<ControllerEvent[]> {
    let text: string;
    try {
      text = await readFile(this.eventsPath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new HavenError('IO', `cannot read ${this.eventsPath}: ${(err as Error).message}`);
    }
    const lines = text.split('\n');
    // The piece after the last newline is an append in progress or cut by a crash: not an event yet.
    lines.pop();
    const out: ControllerEvent[] = [];
    let previous = 0;
    lines.forEach((line, i) => {
      const where = `${this.eventsPath}:${i + 1}`;
      const event = parseEvent(line, where);
      if (event.seq <= previous) {
        throw new HavenError('IO', `${where}: event seq ${event.seq} does not follow ${previous}`, {
          hint: 'the log is only appended to, so this is damage from outside; restore it from a backup',
        });
      }
      previous = event.seq;
      out.push(event);
    });
    return out;
  }

  /** Writes run one at a time, in the order asked. */
  private serialize(fn: () => Promise<void>): Promise<void> {
    const next = this.writing.then(fn, fn);
    this.writing = next.catch(() => undefined);
    return next;
  }
}

function leaderText(file: LeaderFile): string {
  return `${JSON.stringify({ format: LEADER_FORMAT, epoch: file.epoch, name: file.name })}\n`;
}
