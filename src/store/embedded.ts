// The embedded store: the controller's record as one JSON file replaced atomically (write a
// temporary file, fsync, rename, fsync the directory) and the event log as JSON lines appended
// and fsynced. For one controller: the lab default and tests. A torn or foreign file is refused
// with a clear error rather than read as empty, so nothing recorded is ever silently lost.

import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeAtomically } from '../atomic-file.js';
import { HavenError } from '../errors.js';
import type { ControllerEvent, ControllerRecord, Store } from './store.js';

const FORMAT = 'haven-controller-record/1';

export class EmbeddedStore implements Store {
  private readonly recordPath: string;
  private readonly eventsPath: string;
  private writing: Promise<void> = Promise.resolve();
  private cachedLastSeq: number | undefined;

  constructor(private readonly dir: string) {
    this.recordPath = join(dir, 'record.json');
    this.eventsPath = join(dir, 'events.jsonl');
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
    if (doc.format !== FORMAT || typeof doc.record !== 'object' || doc.record === null) {
      throw new HavenError('IO', `${this.recordPath} is not a Haven controller record (format ${JSON.stringify(doc.format)})`);
    }
    return doc.record as ControllerRecord;
  }

  save(record: ControllerRecord): Promise<void> {
    const text = `${JSON.stringify({ format: FORMAT, record })}\n`;
    return this.serialize(async () => {
      await mkdir(this.dir, { recursive: true });
      await writeAtomically(this.recordPath, text);
    });
  }

  append(events: readonly ControllerEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    const text = events.map((e) => JSON.stringify(e)).join('\n') + '\n';
    return this.serialize(async () => {
      await mkdir(this.dir, { recursive: true });
      const fh = await open(this.eventsPath, 'a');
      try {
        await fh.writeFile(text);
        await fh.sync();
      } finally {
        await fh.close();
      }
      this.cachedLastSeq = events[events.length - 1]!.seq;
    });
  }

  async events(since: number, limit: number): Promise<ControllerEvent[]> {
    const all = await this.readEvents();
    return all.filter((e) => e.seq > since).slice(0, limit);
  }

  async lastSeq(): Promise<number> {
    if (this.cachedLastSeq !== undefined) return this.cachedLastSeq;
    const all = await this.readEvents();
    this.cachedLastSeq = all.length ? all[all.length - 1]!.seq : 0;
    return this.cachedLastSeq;
  }

  async close(): Promise<void> {
    await this.writing;
  }

  private async readEvents(): Promise<ControllerEvent[]> {
    await this.writing;
    let text: string;
    try {
      text = await readFile(this.eventsPath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new HavenError('IO', `cannot read ${this.eventsPath}: ${(err as Error).message}`);
    }
    const out: ControllerEvent[] = [];
    for (const line of text.split('\n')) {
      if (line === '') continue;
      try {
        out.push(JSON.parse(line) as ControllerEvent);
      } catch {
        // A line torn by a crash mid-append (only the last one can be): skip it.
      }
    }
    return out;
  }

  /** Writes run one at a time, in the order asked. */
  private serialize(fn: () => Promise<void>): Promise<void> {
    const next = this.writing.then(fn, fn);
    this.writing = next.catch(() => undefined);
    return next;
  }
}

