// What a benchmark module is: test/bench/run.ts runs each one and writes its section of
// docs/benchmarks.md. (Its own module so the benchmarks do not import the runner that imports them.)
export interface BenchResult {
  /** Printed to stdout. */
  text: string;
  /** Body of the section in docs/benchmarks.md (without the "## title" line). */
  markdown: string;
}

export interface BenchModule {
  /** Short name for `npm run bench -- NAME`. */
  name: string;
  /** Section title in docs/benchmarks.md ("## <section>"); the module owns that section. */
  section: string;
  run(env: BenchEnv): Promise<BenchResult> | BenchResult;
}

export interface BenchEnv {
  date: string;
  machine: string;
}
