// Jain's fairness index (Jain, Chiu, Hawe 1984) over share-normalised usage, as the simulator
// measures how evenly projects are served: J = (sum x)^2 / (n * sum x^2), 1 when every x is equal,
// 1/n when one project has everything.
//
// Which usage. x_p = U_p / S_p with U_p the project's decayed usage (the quantity fair share
// equalises, with the run's half-life and billing) and S_p its shares, over the projects with
// demand (a queued or running task) at that moment. Usage summed over a fixed window would not do:
// a project that asked for 50 GPU-minutes and got all of them at once would count as starved next
// to one that asked for 5,000. The meter keeps U_p exactly (not at the master's 5 s ticks): between
// two simulated instants what each project holds is constant, so U_p(t) is accrueUsage's closed
// form. J(t) is integrated over each interval by composite Simpson and averaged over the time when
// at least two projects had demand (with one, fairness between projects is moot).
//
// Two readings of "demand": any queued or running task (`jain`), or a queued task (`backloggedJain`:
// only projects that want more than they hold). A project whose few tasks all run counts as
// under-served in the first reading however promptly it was served; the second leaves it out,
// as max-min fairness would (it is satisfied).
import { accrueUsage } from "../core/fairshare/decay.js";

/** (sum x)^2 / (n * sum x^2); NaN for no values or when every x is 0 (nothing to compare). */
export function jainIndex(xs: readonly number[]): number {
  let sum = 0;
  let squares = 0;
  for (const x of xs) {
    sum += x;
    squares += x * x;
  }
  return xs.length === 0 || squares === 0 ? Number.NaN : (sum * sum) / (xs.length * squares);
}

export interface JainReading {
  /** Time-weighted mean of J over the time with >= 2 projects with demand; NaN when there was none. */
  mean: number;
  /** Simulated seconds with >= 2 projects with demand (the weight of `mean`). */
  contendedS: number;
  /** The lowest J sampled over that time. */
  min: number;
}

export interface FairnessSummary {
  /** Demand = a queued or running task. */
  jain: JainReading;
  /** Demand = a queued task. */
  backloggedJain: JainReading;
}

/** Time-weighted mean and minimum of J over the intervals it is given. */
class JainAccumulator {
  private weighted = 0;
  private weight = 0;
  private min = Number.POSITIVE_INFINITY;

  add(meanJ: number, minJ: number, dt: number): void {
    this.weighted += meanJ * dt;
    this.weight += dt;
    this.min = Math.min(this.min, minJ);
  }

  reading(): JainReading {
    const any = this.weight > 0;
    return { mean: any ? this.weighted / this.weight : Number.NaN, contendedS: this.weight / 1000, min: any ? this.min : Number.NaN };
  }
}

interface ProjectState {
  queued: number;
  running: number;
  /** Billing units per second held now. */
  rate: number;
  /** Decayed usage as of `atMs`. */
  usage: number;
  atMs: number;
}

/** Simpson panels per interval: one per 2 minutes of simulated time, between 1 and 8. */
const PANEL_MS = 120_000;
const MAX_PANELS = 8;

export class FairnessMeter {
  private readonly projects = new Map<string, ProjectState>();
  private lastMs = 0;
  private readonly all = new JainAccumulator();
  private readonly backlogged = new JainAccumulator();

  constructor(
    private readonly halfLifeMs: number,
    private readonly sharesOf: (project: string) => number,
  ) {}

  queuedDelta(project: string, delta: number): void {
    this.state(project).queued += delta;
  }

  /** An attempt of `project` holding `rate` billing units per second started (+1) or ended (-1). */
  runningDelta(project: string, delta: number, rate: number): void {
    const s = this.state(project);
    s.usage = this.usageAt(s, this.lastMs);
    s.atMs = this.lastMs;
    s.running += delta;
    s.rate = s.running > 0 ? Math.max(0, s.rate + delta * rate) : 0; // an idle project holds exactly nothing
  }

  /** Integrates J over the interval since the previous call; call before the events at `nowMs` change anything. */
  sample(nowMs: number): void {
    const from = this.lastMs;
    this.lastMs = nowMs;
    const dt = nowMs - from;
    if (!(dt > 0)) return;
    const withDemand: [ProjectState, number][] = [];
    for (const [project, s] of this.projects) if (s.queued > 0 || s.running > 0) withDemand.push([s, this.sharesOf(project)]);
    if (withDemand.length < 2) return;
    this.integrate(withDemand, from, dt, this.all);
    this.integrate(
      withDemand.filter(([s]) => s.queued > 0),
      from,
      dt,
      this.backlogged,
    );
  }

  summary(): FairnessSummary {
    return { jain: this.all.reading(), backloggedJain: this.backlogged.reading() };
  }

  /** Composite Simpson of J(t) over [from, from + dt] for these projects (constant holdings). */
  private integrate(projects: readonly [ProjectState, number][], from: number, dt: number, into: JainAccumulator): void {
    if (projects.length < 2) return;
    const panels = 2 * Math.min(MAX_PANELS, Math.max(1, Math.ceil(dt / PANEL_MS)));
    const xs = new Array<number>(projects.length);
    let integral = 0;
    let low = Number.POSITIVE_INFINITY;
    for (let k = 0; k <= panels; k++) {
      const t = from + (dt * k) / panels;
      for (let i = 0; i < projects.length; i++) xs[i] = this.usageAt(projects[i][0], t) / projects[i][1];
      const j = jainIndex(xs);
      // Nobody with demand has used anything yet: no unevenness to measure in this interval.
      if (Number.isNaN(j)) return;
      integral += j * (k === 0 || k === panels ? 1 : k % 2 === 1 ? 4 : 2);
      low = Math.min(low, j);
    }
    into.add(integral / (3 * panels), low, dt);
  }

  private state(project: string): ProjectState {
    let s = this.projects.get(project);
    if (s === undefined) this.projects.set(project, (s = { queued: 0, running: 0, rate: 0, usage: 0, atMs: this.lastMs }));
    return s;
  }

  private usageAt(s: ProjectState, t: number): number {
    return accrueUsage(s.usage, s.atMs, t, s.rate, this.halfLifeMs);
  }
}
