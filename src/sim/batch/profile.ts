// Availability profile of a machine of identical nodes: free nodes as a step function of future
// time, built from running jobs' estimated ends and then carved by the jobs the planner places
// (started now or reserved). Estimated, never actual: a planner must not know real runtimes.

export class Profile {
  /** times[i] starts a segment with free[i] nodes that lasts until times[i + 1] (the last: forever). */
  private readonly times: number[];
  private readonly free: number[];

  /** `freeNow` nodes at `now`, and `ends` (estimated end, nodes) of the running jobs. */
  constructor(now: number, freeNow: number, ends: readonly { end: number; nodes: number }[]) {
    this.times = [now];
    this.free = [freeNow];
    let avail = freeNow;
    for (const e of [...ends].sort((a, b) => a.end - b.end)) {
      avail += e.nodes;
      const t = Math.max(now, e.end);
      if (this.times[this.times.length - 1] === t) this.free[this.free.length - 1] = avail;
      else {
        this.times.push(t);
        this.free.push(avail);
      }
    }
  }

  clone(): Profile {
    const p = Object.create(Profile.prototype) as Profile;
    (p as unknown as { times: number[] }).times = [...this.times];
    (p as unknown as { free: number[] }).free = [...this.free];
    return p;
  }

  /** Whether `nodes` stay free from `start` for `duration`. */
  fitsAt(start: number, nodes: number, duration: number): boolean {
    const end = start + Math.max(1, duration);
    for (let i = this.segmentAt(start); i < this.times.length && this.times[i] < end; i++) if (this.free[i] < nodes) return false;
    return true;
  }

  /** The earliest segment start (>= the profile's origin) where `nodes` stay free for `duration`. */
  earliest(nodes: number, duration: number): number {
    const d = Math.max(1, duration);
    let i = 0;
    while (i < this.times.length) {
      const start = this.times[i];
      let k = i;
      while (k < this.times.length && this.times[k] < start + d && this.free[k] >= nodes) k++;
      if (k === this.times.length || this.times[k] >= start + d) return start;
      i = k + 1; // no start before the blocking segment's end can pass it
    }
    return Number.POSITIVE_INFINITY; // more nodes than the machine has
  }

  /** Takes `nodes` from `start` for `duration`. */
  take(start: number, nodes: number, duration: number): void {
    const end = start + Math.max(1, duration);
    const a = this.split(start);
    const b = this.split(end);
    for (let i = a; i < b; i++) this.free[i] -= nodes;
  }

  /** Index of the segment containing t (t >= origin). */
  private segmentAt(t: number): number {
    let lo = 0;
    let hi = this.times.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.times[mid] <= t) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Makes t a segment boundary and returns its index. */
  private split(t: number): number {
    const i = this.segmentAt(t);
    if (this.times[i] === t) return i;
    this.times.splice(i + 1, 0, t);
    this.free.splice(i + 1, 0, this.free[i]);
    return i + 1;
  }
}
