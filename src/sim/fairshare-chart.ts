// The chart of docs/results/fairshare.md: cumulative starts over time of the noisy neighbour's
// projects A and B under each ordering, as a share of each project's tasks (A has 100x B's tasks,
// so counts on one axis would hide B). Two panels with the same curves: the first minutes, where
// multifactor serves B, and the whole run, where priority-FIFO makes B wait for all of A.
// Hand-written SVG, no library.
import type { TaskOutcome } from "./metrics.js";

export interface StartSeries {
  label: string;
  color: string;
  dashed: boolean;
  /** Start times (ms) of one project's tasks under one ordering. */
  startsMs: number[];
}

/** The series for `project` from a run's outcomes. */
export function startsOf(outcomes: readonly TaskOutcome[], project: string): number[] {
  return outcomes
    .filter((o) => o.project === project && o.startMs >= 0)
    .map((o) => o.startMs)
    .sort((a, b) => a - b);
}

interface Panel {
  x: number;
  title: string;
  spanS: number;
  tickS: number;
  unit: [string, number];
}

const W = 900;
const H = 380;
const TOP = 50;
const BOTTOM = 300;
const PANEL_W = 360;

function steps(series: StartSeries, spanS: number, x0: number): string {
  const n = series.startsMs.length;
  const sx = (s: number): number => x0 + (Math.min(s, spanS) / spanS) * PANEL_W;
  const sy = (k: number): number => BOTTOM - (k / n) * (BOTTOM - TOP);
  const points: string[] = [`${sx(0).toFixed(1)},${sy(0).toFixed(1)}`];
  let k = 0;
  for (let i = 0; i < n; ) {
    const t = series.startsMs[i] / 1000;
    if (t > spanS) break;
    let j = i;
    while (j < n && series.startsMs[j] === series.startsMs[i]) j++;
    points.push(`${sx(t).toFixed(1)},${sy(k).toFixed(1)}`, `${sx(t).toFixed(1)},${sy(j).toFixed(1)}`);
    k = j;
    i = j;
  }
  points.push(`${sx(spanS).toFixed(1)},${sy(k).toFixed(1)}`);
  const dash = series.dashed ? ' stroke-dasharray="6 4"' : "";
  return `<polyline fill="none" stroke="${series.color}" stroke-width="2"${dash} points="${points.join(" ")}"><title>${series.label}</title></polyline>`;
}

export function cumulativeStartsSvg(title: string, series: readonly StartSeries[], firstMinutes: number): string {
  const lastS = Math.max(...series.flatMap((s) => s.startsMs)) / 1000;
  const hours = Math.ceil((lastS + 60) / 3600);
  const panels: Panel[] = [
    { x: 60, title: `first ${firstMinutes} minutes`, spanS: firstMinutes * 60, tickS: 60 * Math.max(1, Math.round(firstMinutes / 10)), unit: ["min", 60] },
    { x: 500, title: `whole run (${hours} h)`, spanS: hours * 3600, tickS: 3600, unit: ["h", 3600] },
  ];
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${title}</text>`,
  ];
  for (const p of panels) {
    parts.push(`<text x="${p.x + PANEL_W / 2}" y="${TOP - 10}" text-anchor="middle">${p.title}</text>`);
    parts.push(`<rect x="${p.x}" y="${TOP}" width="${PANEL_W}" height="${BOTTOM - TOP}" fill="none" stroke="#333"/>`);
    for (const pct of [0, 25, 50, 75, 100]) {
      const y = BOTTOM - (pct / 100) * (BOTTOM - TOP);
      parts.push(`<line x1="${p.x}" y1="${y}" x2="${p.x + PANEL_W}" y2="${y}" stroke="#ddd"/>`);
      parts.push(`<text x="${p.x - 6}" y="${y + 4}" text-anchor="end">${pct}%</text>`);
    }
    for (let t = 0; t <= p.spanS; t += p.tickS) {
      const x = p.x + (t / p.spanS) * PANEL_W;
      parts.push(`<line x1="${x.toFixed(1)}" y1="${BOTTOM}" x2="${x.toFixed(1)}" y2="${BOTTOM + 5}" stroke="#333"/>`);
      parts.push(`<text x="${x.toFixed(1)}" y="${BOTTOM + 18}" text-anchor="middle">${t / p.unit[1]}</text>`);
    }
    parts.push(`<text x="${p.x + PANEL_W / 2}" y="${BOTTOM + 34}" text-anchor="middle">time (${p.unit[0]})</text>`);
    for (const s of series) parts.push(steps(s, p.spanS, p.x));
  }
  parts.push(
    `<text x="18" y="${(TOP + BOTTOM) / 2}" text-anchor="middle" transform="rotate(-90 18 ${(TOP + BOTTOM) / 2})">tasks started (% of the project's tasks)</text>`,
  );
  series.forEach((s, i) => {
    const x = 60 + i * 210;
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : "";
    parts.push(`<line x1="${x}" y1="${H - 14}" x2="${x + 28}" y2="${H - 14}" stroke="${s.color}" stroke-width="2"${dash}/>`);
    parts.push(`<text x="${x + 34}" y="${H - 10}">${s.label}</text>`);
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
