// The refresh loop of `taskgrid top`: fetch, draw, wait the interval (or less, on quit or resize).
// On a terminal it draws in the alternate screen like htop and restores the screen on exit; piped,
// it prints plain frames one after another. q, Ctrl-C, SIGINT and SIGTERM end it cleanly.
import type { FrameOptions, TopView } from "./render-top.js";

/** Alternate screen + hidden cursor on entry; the reverse on exit, so the shell looks as before. */
export const ENTER_SCREEN = "\x1b[?1049h\x1b[?25l";
export const LEAVE_SCREEN = "\x1b[?25h\x1b[?1049l";
/** Home, then each line clears its rest and the end clears below: no full clear, so no flicker.
 * Lines end in \r\n because stdin in raw mode may leave the terminal without newline translation. */
export const HOME = "\x1b[H";
const CLEAR_LINE_END = "\x1b[K";
const CLEAR_BELOW = "\x1b[J";

export interface LiveTerminal {
  /** Whether to draw in place with ANSI codes (stdout is a terminal). */
  readonly ansi: boolean;
  write(text: string): void;
  size(): { rows?: number; columns?: number };
  /**
   * Starts listening for the ways to quit (and for resizes, which redraw at once); returns a
   * function that stops listening and gives the keyboard back.
   */
  listen(events: { quit: () => void; redraw: () => void }): () => void;
}

export interface LiveOptions {
  term: LiveTerminal;
  intervalMs: number;
  fetch: () => Promise<TopView>;
  render: (view: TopView, options: FrameOptions) => string;
  /** How a failed refresh reads in the frame ("UNAVAILABLE: ..."). */
  describeError: (err: unknown) => string;
}

/** Resolves when the user quits; rejects when the very first fetch fails (nothing to show yet). */
export async function runLiveView(o: LiveOptions): Promise<void> {
  const { term } = o;
  let quit = false;
  let wake = () => {};
  let resolveQuit!: () => void;
  const quitting = new Promise<void>((resolve) => (resolveQuit = resolve));
  const stopListening = term.listen({
    quit: () => {
      quit = true;
      resolveQuit();
      wake();
    },
    redraw: () => wake(),
  });

  if (term.ansi) term.write(ENTER_SCREEN);
  try {
    let last: TopView | undefined;
    let first = true;
    while (!quit) {
      let error: string | undefined;
      try {
        // A quit while the master is slow to answer must not wait for the call's deadline.
        const fetching = o.fetch();
        fetching.catch(() => {}); // Abandoned on quit: its late failure is nobody's business.
        const view = await Promise.race([fetching, quitting.then(() => undefined)]);
        if (view === undefined) break;
        last = view;
      } catch (err) {
        if (last === undefined) throw err;
        error = o.describeError(err);
      }
      const frame = o.render(last, { intervalMs: o.intervalMs, ...(term.ansi ? term.size() : {}), error });
      if (term.ansi) term.write(HOME + frame.replace(/\n/g, `${CLEAR_LINE_END}\r\n`) + CLEAR_BELOW);
      else term.write((first ? "" : "\n") + frame);
      first = false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, o.intervalMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
        if (quit) wake();
      });
      wake = () => {};
    }
  } finally {
    stopListening();
    if (term.ansi) term.write(LEAVE_SCREEN);
  }
}

/** The real terminal: stdout for frames, stdin keys in raw mode when it is a terminal, signals. */
export function processTerminal(): LiveTerminal {
  const out = process.stdout;
  return {
    ansi: Boolean(out.isTTY),
    write: (text) => void out.write(text),
    // A terminal that reports no size (0 under some ptys) is treated as unbounded rather than as empty.
    size: () => ({ ...(out.rows > 0 ? { rows: out.rows } : {}), ...(out.columns > 0 ? { columns: out.columns } : {}) }),
    listen({ quit, redraw }) {
      const onKey = (data: Buffer) => {
        const key = data.toString();
        // q, Q, Ctrl-C (raw mode turns it into a byte, not a SIGINT), Ctrl-D.
        if (key === "q" || key === "Q" || key === "\x03" || key === "\x04") quit();
      };
      const stdin = process.stdin;
      const raw = Boolean(stdin.isTTY) && out.isTTY;
      if (raw) {
        stdin.setRawMode(true);
        stdin.on("data", onKey);
        stdin.resume();
      }
      process.on("SIGINT", quit);
      process.on("SIGTERM", quit);
      out.on("resize", redraw);
      return () => {
        process.off("SIGINT", quit);
        process.off("SIGTERM", quit);
        out.off("resize", redraw);
        if (raw) {
          stdin.off("data", onKey);
          stdin.setRawMode(false);
          stdin.pause();
        }
      };
    },
  };
}
