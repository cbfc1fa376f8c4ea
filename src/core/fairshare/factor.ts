// Slurm's classic fair-share factor (issue 15): F = 2^(-U_norm / S_norm). A project that used
// exactly its share of the fleet gets 0.5, one that used nothing gets 1, one that used far more than
// its share tends to 0. Normalising over the projects given (not over the whole history of
// projects) makes F a comparison between the projects that compete now.

/**
 * The fair-share factor of each of `projects` (duplicates count once). U_norm = its decayed usage
 * over the sum of the usage of the given projects (0 when nobody used anything); S_norm = its
 * shares over the sum of their shares. A project absent from `usage` used nothing; one absent from
 * `shares` has 1 share. Shares must be finite and > 0, usage finite and >= 0 (RangeError).
 * Every result is in (0, 1].
 */
export function fairShareFactors(projects: Iterable<string>, usage: ReadonlyMap<string, number>, shares: ReadonlyMap<string, number>): Map<string, number> {
  const names = new Set(projects);
  let usageSum = 0;
  let shareSum = 0;
  for (const project of names) {
    const u = usage.get(project) ?? 0;
    if (!(u >= 0) || !Number.isFinite(u)) throw new RangeError(`usage of project ${JSON.stringify(project)} must be a finite number >= 0, got ${u}`);
    const s = shares.get(project) ?? 1;
    if (!(s > 0) || !Number.isFinite(s)) throw new RangeError(`shares of project ${JSON.stringify(project)} must be a finite number > 0, got ${s}`);
    usageSum += u;
    shareSum += s;
  }
  const factors = new Map<string, number>();
  for (const project of names) {
    const uNorm = usageSum > 0 ? (usage.get(project) ?? 0) / usageSum : 0;
    const sNorm = (shares.get(project) ?? 1) / shareSum;
    // A tiny share next to huge ones could underflow to 0; F stays > 0 so that the ordering of
    // such projects among themselves (and "why it waits") still has a number to show.
    factors.set(project, Math.max(2 ** (-uNorm / sNorm), Number.MIN_VALUE));
  }
  return factors;
}
