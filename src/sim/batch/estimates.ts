// Estimate correction: users over-ask (KTH-SP2 jobs use a fraction of their request), so planning
// on requests leaves holes no backfill can see. Learn, per user, actual/requested from that user's
// jobs that have already FINISHED (a job's own runtime is never read before it ends) and scale the
// requests of the user's waiting and running jobs by it. The mean of the last `window` ratios
// follows a user's current work (Tsafrir et al. used a user's last two jobs the same way).
// Predictions never exceed the request (the site's kill limit) and a user with no finished job
// keeps the request.
import type { BatchJob } from "./orders.js";

export class EstimateLearner {
  private readonly ratios = new Map<number, number[]>();

  constructor(private readonly window = 2) {}

  /** Records a job that has just finished: only now may its run time be read. */
  finished(j: BatchJob): void {
    if (j.user === undefined || !(j.reqTime > 0)) return;
    const r = this.ratios.get(j.user) ?? [];
    r.push(Math.min(1, j.run / j.reqTime));
    if (r.length > this.window) r.shift();
    this.ratios.set(j.user, r);
  }

  /** The corrected estimate of a job's runtime (seconds, at least 1, at most its request). */
  predict(j: BatchJob): number {
    const r = j.user === undefined ? undefined : this.ratios.get(j.user);
    if (r === undefined || r.length === 0) return j.reqTime;
    const mean = r.reduce((a, b) => a + b, 0) / r.length;
    return Math.max(1, Math.min(j.reqTime, Math.round(j.reqTime * mean)));
  }
}
