// The master addresses a client is given: one "host:port", a comma-separated list of them (several
// masters: one leads, the others stand by), or an array.

export const DEFAULT_MASTER_ADDRESS = "127.0.0.1:50051";

/** The addresses in order, trimmed, without empties or repeats; none given: the default. */
export function masterAddressList(address: string | readonly string[] | undefined): string[] {
  const parts = (typeof address === "string" ? [address] : (address ?? [])).flatMap((a) => a.split(","));
  const list = [...new Set(parts.map((a) => a.trim()).filter((a) => a !== ""))];
  return list.length > 0 ? list : [DEFAULT_MASTER_ADDRESS];
}
