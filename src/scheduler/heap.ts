// A binary min-heap of node indexes with lazily refreshed keys: a node's key only changes when
// something is assigned to it, so stale entries are detected by version and pushed again.

export class NodeHeap {
  private readonly idx: number[] = [];
  private readonly ver: number[] = [];
  private readonly k1: number[] = [];

  constructor(
    /** Primary key (lower is better) of a node now. */
    private readonly key: (node: number) => number,
    /** Current version of a node; bumped by the caller whenever the node's key may have changed. */
    private readonly version: (node: number) => number,
  ) {}

  push(node: number): void {
    this.idx.push(node);
    this.ver.push(this.version(node));
    this.k1.push(this.key(node));
    this.up(this.idx.length - 1);
  }

  get size(): number {
    return this.idx.length;
  }

  /** Removes and returns the best node whose entry is current, or undefined when empty. */
  pop(): number | undefined {
    while (this.idx.length > 0) {
      const node = this.idx[0]!;
      const ver = this.ver[0]!;
      this.removeTop();
      if (ver === this.version(node)) return node;
      this.push(node);
    }
    return undefined;
  }

  private less(a: number, b: number): boolean {
    const ka = this.k1[a]!;
    const kb = this.k1[b]!;
    return ka < kb || (ka === kb && this.idx[a]! < this.idx[b]!);
  }

  private swap(a: number, b: number): void {
    const { idx, ver, k1 } = this;
    [idx[a], idx[b]] = [idx[b]!, idx[a]!];
    [ver[a], ver[b]] = [ver[b]!, ver[a]!];
    [k1[a], k1[b]] = [k1[b]!, k1[a]!];
  }

  private up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  private removeTop(): void {
    const last = this.idx.length - 1;
    this.swap(0, last);
    this.idx.pop();
    this.ver.pop();
    this.k1.pop();
    let i = 0;
    const n = this.idx.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.less(l, m)) m = l;
      if (r < n && this.less(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
  }
}
