// Writing a small file so that a crash leaves either the old or the new content, never a torn
// one: write a temporary file beside it, fsync it, rename it over the target, fsync the
// directory. Saves are serialized and coalesced: while one write runs, later saves replace each
// other and only the newest is written next; every caller's promise settles once its content,
// or a newer one, is on disk.

import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

interface Waiter {
  readonly version: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

export class AtomicFile {
  private version = 0;
  private pending: string | undefined;
  private waiters: Waiter[] = [];
  private draining: Promise<void> | undefined;

  constructor(readonly path: string) {}

  /** Schedules `text` to replace the file; settles when it (or a newer save) is durable. */
  save(text: string): Promise<void> {
    this.version += 1;
    this.pending = text;
    const version = this.version;
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ version, resolve, reject }));
    this.draining ??= this.drain();
    return done;
  }

  /** Settles once every save scheduled so far has been written (or has failed). */
  async flushed(): Promise<void> {
    await this.draining;
  }

  private async drain(): Promise<void> {
    while (this.pending !== undefined) {
      const text = this.pending;
      const version = this.version;
      this.pending = undefined;
      let failure: unknown;
      try {
        await writeAtomically(this.path, text);
      } catch (err) {
        failure = err ?? new Error('write failed');
      }
      const settled = this.waiters.filter((w) => w.version <= version);
      this.waiters = this.waiters.filter((w) => w.version > version);
      for (const w of settled) {
        if (failure === undefined) w.resolve();
        else w.reject(failure);
      }
    }
    this.draining = undefined;
  }
}

/** tmp + fsync + rename + fsync(dir). */
export async function writeAtomically(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  const file = await open(tmp, 'w', 0o600);
  try {
    await file.writeFile(text, 'utf8');
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(tmp, path);
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
