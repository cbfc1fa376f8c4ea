// A small parser for the Prometheus text exposition format (0.0.4), enough to check what /metrics
// serves: `# TYPE` lines and samples with labels. Test-only: used by the metrics and auth tests
// (directly and through helpers/metrics.ts).

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  /** Metric family name -> type ("counter", "gauge", "histogram", ...). */
  types: Map<string, string>;
  /** Metric family name -> HELP text. */
  help: Map<string, string>;
  samples: Sample[];
}

function unescapeLabel(s: string): string {
  return s.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
}

function parseValue(text: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  const n = Number(text);
  if (text === "" || Number.isNaN(n)) throw new Error(`bad sample value "${text}"`);
  return n;
}

/** Parses the exposition; throws on a malformed line (so a test fails on bad output). */
export function parsePrometheusText(text: string): Exposition {
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples: Sample[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    if (line.startsWith("#")) {
      const m = /^#\s+(TYPE|HELP)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(.*)$/.exec(line);
      if (m?.[1] === "TYPE") types.set(m[2], m[3]);
      else if (m?.[1] === "HELP") help.set(m[2], m[3]);
      continue; // other comments are allowed by the format
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$/.exec(line);
    if (!m) throw new Error(`line ${i + 1}: not a sample: ${line}`);
    const labels: Record<string, string> = {};
    const body = m[3] ?? "";
    const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y;
    for (let pos = 0; pos < body.length; ) {
      re.lastIndex = pos;
      const lm = re.exec(body);
      if (!lm) throw new Error(`line ${i + 1}: bad labels: ${body}`);
      labels[lm[1]] = unescapeLabel(lm[2]);
      pos = lm[3] === "" ? body.length : re.lastIndex;
    }
    samples.push({ name: m[1], labels, value: parseValue(m[4]) });
  }
  return { types, help, samples };
}

/** The metric family a sample belongs to (strips histogram/summary series suffixes when typed so). */
export function familyOf(exposition: Exposition, sampleName: string): string {
  if (exposition.types.has(sampleName)) return sampleName;
  const base = sampleName.replace(/_(bucket|sum|count)$/, "");
  return exposition.types.has(base) ? base : sampleName;
}
