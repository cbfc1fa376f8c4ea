// Preparing the data directory of an embedded (PGlite) database before the master opens it.
// Creating one (initdb) takes ~6 s and peaks near 700 MB RSS, and WebAssembly memory never
// shrinks, so a master that ran initdb itself would keep that footprint for its whole life. A
// fresh directory is therefore copied from the template (pglite-template.ts: initdb plus every
// migration, made once in a child process and cached); the master only ever reopens an existing
// data dir (~170 MB) and its migration check finds nothing to do. When no template can be had
// (an unwritable cache dir, a build that failed), the database is built straight into the data
// dir by the same child process, as before templates.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { buildPgliteDatabase, copyTemplate, ensureTemplate, removeTemplate, TemplateCorruptError, type TemplateOptions } from "./pglite-template.js";

/** How the data directory came to be: for tests, benchmarks and the curious. */
export interface DataDirOrigin {
  /** existing: it held a database already; template: copied; built: initdb in a child process. */
  origin: "existing" | "template" | "built";
  /** The template was made by this call (the first start on this machine, version and migration set). */
  templateBuilt: boolean;
  /** Why the template was not used (origin "built"), or why it was rebuilt (a damaged one). */
  templateProblem?: string;
}

export async function ensurePgliteDataDir(dataDir: string, options: TemplateOptions = {}): Promise<DataDirOrigin> {
  if (existsSync(join(dataDir, "PG_VERSION"))) return { origin: "existing", templateBuilt: false };
  let templateProblem: string | undefined;
  let templateBuilt = false;
  // Two tries: a damaged template is removed and built again once.
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const template = await ensureTemplate(options);
      templateBuilt ||= template.built;
      await copyTemplate(template.dir, dataDir);
      return { origin: "template", templateBuilt, ...(templateProblem ? { templateProblem } : {}) };
    } catch (err) {
      templateProblem = (err as Error).message;
      if (!(err instanceof TemplateCorruptError)) break;
      await removeTemplate(err.templateDir);
    }
  }
  await buildPgliteDatabase(dataDir);
  return { origin: "built", templateBuilt, templateProblem };
}
