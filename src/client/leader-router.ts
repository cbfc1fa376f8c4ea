// Which master a client calls. Several masters share one database and one of them leads; the
// others (standbys) redirect writes. The router keeps the masters the client knows of (those it
// was given plus any leader a standby named), the one calls go to now, and one lazily opened
// connection per master, so following the leader never reconnects to a master already known.
import { ClientError } from "./errors.js";
import { DEFAULT_MASTER_ADDRESS } from "./master-address.js";

const CANCELLED = 1;

export class LeaderRouter<Connection> {
  private readonly known: string[];
  private currentIndex = 0;
  private readonly connections = new Map<string, Connection>();
  private closed = false;

  constructor(
    addresses: readonly string[],
    private readonly connect: (address: string) => Connection,
    private readonly disconnect: (connection: Connection) => void,
  ) {
    this.known = addresses.length > 0 ? [...addresses] : [DEFAULT_MASTER_ADDRESS];
  }

  /** Where calls go now: the leader as far as this client knows, else the next master to try. */
  get current(): string {
    return this.known[this.currentIndex];
  }

  /** Every master known: the given ones in their order, then leaders learned from standbys. */
  get addresses(): readonly string[] {
    return this.known;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The connection to `address`, opened on first use. */
  connectionTo(address: string): Connection {
    if (this.closed) throw new ClientError(CANCELLED, "the client is closed");
    let connection = this.connections.get(address);
    if (connection === undefined) {
      connection = this.connect(address);
      this.connections.set(address, connection);
    }
    return connection;
  }

  /**
   * Drops the connection to `address` (the next call there opens a fresh one). After a connection
   * could not be made, the old channel would sit in its reconnect backoff (a second and growing)
   * and fail every call at once even after the master is back, e.g. a restarted one.
   */
  reconnect(address: string): void {
    const connection = this.connections.get(address);
    if (connection === undefined) return;
    this.connections.delete(address);
    this.disconnect(connection);
  }

  /** A standby named the leader: calls go there from now on. Returns the new target. */
  follow(leader: string): string {
    let index = this.known.indexOf(leader);
    if (index < 0) index = this.known.push(leader) - 1;
    this.currentIndex = index;
    return this.current;
  }

  /**
   * `failed` did not serve a call and named no leader: calls go to the master after it. When another
   * call already moved away from `failed`, its choice stands (it learned something newer).
   */
  advancePast(failed: string): string {
    if (this.current === failed) this.currentIndex = (this.known.indexOf(failed) + 1) % this.known.length;
    return this.current;
  }

  /** Closes every connection; later calls fail. */
  close(): void {
    this.closed = true;
    for (const connection of this.connections.values()) this.disconnect(connection);
    this.connections.clear();
  }
}
