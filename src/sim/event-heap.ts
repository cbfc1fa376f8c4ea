// A binary min-heap of simulation events ordered by (time, sequence number): events at the same
// simulated time come out in the order they were scheduled, so a run is fully deterministic.

export interface SimEvent {
  atMs: number;
  seq: number;
  type: 0 | 1; // 0 arrival, 1 attempt completion
  index: number; // task index (arrival) or running-attempt index (completion)
}

export class EventHeap {
  private readonly items: SimEvent[] = [];
  private seq = 0;

  get size(): number {
    return this.items.length;
  }

  push(atMs: number, type: 0 | 1, index: number): void {
    const e: SimEvent = { atMs, seq: this.seq++, type, index };
    const a = this.items;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(a[i], a[p])) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }

  peek(): SimEvent | undefined {
    return this.items[0];
  }

  pop(): SimEvent | undefined {
    const a = this.items;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && less(a[l], a[m])) m = l;
        if (r < a.length && less(a[r], a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}

function less(x: SimEvent, y: SimEvent): boolean {
  return x.atMs < y.atMs || (x.atMs === y.atMs && x.seq < y.seq);
}
