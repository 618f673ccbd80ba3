// One queue per key: tasks with the same key run one after another, in the order they were
// submitted; tasks with different keys run in parallel. The agent keys by copy (instance), so
// a start, a monitor and a stop of one copy never overlap.

export class KeyedQueue {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `task` once every task submitted earlier for `key` has settled; resolves with its result. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Keys with a task queued or running. */
  busyKeys(): string[] {
    return [...this.tails.keys()];
  }

  /** Settles once every task submitted so far has settled. */
  async idle(): Promise<void> {
    await Promise.all([...this.tails.values()]);
  }
}
