// Public entry of the storage layer.
export { openStore, MAX_PAGE_SIZE, type StoreConfig, type TaskgridStore } from "./store.js";
export { openKnex, DEFAULT_PGLITE_DIR, type ConnectionConfig, type Dialect, type OpenedKnex } from "./connection.js";
export type { GroupCommitStats } from "./group-commit.js";
export type * from "./store-types.js";
