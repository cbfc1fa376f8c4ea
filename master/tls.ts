// Server TLS (and mTLS with a client CA) through grpc-js' own certificate-provider credentials, so
// new certificates reach new connections without a restart: reload() (SIGHUP) or a change of one of
// the files re-reads them, checks them completely (PEM, key matches certificate, a secure context
// can be built) and only then hands them to grpc-js, which swaps the secure context of the
// listening server. Open connections and their streams keep their session; unusable files leave
// the previous certificates in place (logged). At start an unusable file is a clear error instead.
import * as grpc from "@grpc/grpc-js";
import { unwatchFile, watchFile, type Stats } from "node:fs";
import { createSecureContext } from "node:tls";
import { checkKeyMatches, parseCertificates, parsePrivateKey, readTlsFile, TlsFileError } from "../src/client/tls.js";
import type { TlsOptions } from "./config.js";
import type { Logger } from "./logger.js";

export interface ServerTls {
  credentials: grpc.ServerCredentials;
  /** Re-reads the PEM files; new connections use them, open streams are not dropped. Resolves false (and logs) when the files are unusable. */
  reload(): Promise<boolean>;
  /** Stops watching the files. */
  close(): void;
}

/** How often the files' stat is polled for changes. */
const WATCH_POLL_MS = 1_000;
/** A change waits this long for the rest of a rotation (cert and key are rarely written at once). */
const SETTLE_MS = 200;

type Identity = grpc.experimental.IdentityCertificateUpdate;
type Ca = grpc.experimental.CaCertificateUpdate;

interface Material {
  identity: Identity;
  ca: Ca | null;
  /** Serial and expiry of the leaf certificate, for the logs. */
  serial: string;
  subject: string;
  validTo: string;
  expired: boolean;
}

/** Reads and checks all files; throws a TlsFileError naming the first unusable one. */
function loadMaterial(options: TlsOptions): Material {
  const certificate = readTlsFile("tls_cert", options.certFile);
  const privateKey = readTlsFile("tls_key", options.keyFile);
  const chain = parseCertificates("tls_cert", options.certFile, certificate);
  const leaf = chain[0]!;
  checkKeyMatches("tls_cert", options.certFile, leaf, options.keyFile, parsePrivateKey("tls_key", options.keyFile, privateKey));
  let caCertificate: Buffer | undefined;
  if (options.clientCaFile !== undefined) {
    caCertificate = readTlsFile("tls_client_ca", options.clientCaFile);
    parseCertificates("tls_client_ca", options.clientCaFile, caCertificate);
  }
  try {
    // What grpc-js will do with them (setSecureContext): fails here, not on the live server.
    createSecureContext({ cert: certificate, key: privateKey, ca: caCertificate });
  } catch (err) {
    throw new TlsFileError(
      "tls_cert",
      options.certFile,
      `unusable with ${options.keyFile}${caCertificate ? ` and ${options.clientCaFile}` : ""} (${(err as Error).message})`,
    );
  }
  return {
    identity: { certificate, privateKey },
    ca: caCertificate ? { caCertificate } : null,
    serial: leaf.serialNumber,
    subject: leaf.subject.replace(/\n/g, ", "),
    validTo: leaf.validTo,
    expired: Date.parse(leaf.validTo) < Date.now(),
  };
}

function sameMaterial(a: Material, b: Material): boolean {
  return (
    a.identity.certificate.equals(b.identity.certificate) &&
    a.identity.privateKey.equals(b.identity.privateKey) &&
    (a.ca === null ? b.ca === null : b.ca !== null && a.ca.caCertificate.equals(b.ca.caCertificate))
  );
}

/**
 * Serves the latest good material to grpc-js. Like grpc-js' own FileWatcherCertificateProvider, a
 * new listener gets the current value on the next tick: the server registers its watcher right
 * after asking for listeners, and must be registered when the value arrives.
 */
class PemCertificateProvider implements grpc.experimental.CertificateProvider {
  private readonly caListeners = new Set<grpc.experimental.CaCertificateUpdateListener>();
  private readonly identityListeners = new Set<grpc.experimental.IdentityCertificateUpdateListener>();

  constructor(private material: Material) {}

  get current(): Material {
    return this.material;
  }

  /** New material for every listener: the CA first, so the identity update completes the switch. */
  update(material: Material): void {
    this.material = material;
    for (const listener of this.caListeners) listener(material.ca);
    for (const listener of this.identityListeners) listener(material.identity);
  }

  addCaCertificateListener(listener: grpc.experimental.CaCertificateUpdateListener): void {
    this.caListeners.add(listener);
    process.nextTick(() => {
      if (this.caListeners.has(listener)) listener(this.material.ca);
    });
  }

  removeCaCertificateListener(listener: grpc.experimental.CaCertificateUpdateListener): void {
    this.caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: grpc.experimental.IdentityCertificateUpdateListener): void {
    this.identityListeners.add(listener);
    process.nextTick(() => {
      if (this.identityListeners.has(listener)) listener(this.material.identity);
    });
  }

  removeIdentityCertificateListener(listener: grpc.experimental.IdentityCertificateUpdateListener): void {
    this.identityListeners.delete(listener);
  }
}

export async function createServerTls(options: TlsOptions, log: Logger): Promise<ServerTls> {
  const mtls = options.clientCaFile !== undefined;
  const first = loadMaterial(options); // throws: the master does not start with unusable files
  const provider = new PemCertificateProvider(first);
  // grpc-js' parameter names are swapped in its typings: the first is the identity provider, the
  // second the CA that client certificates must chain to (null: none requested).
  const credentials = grpc.experimental.createCertificateProviderServerCredentials(provider, mtls ? provider : null, mtls);
  log.info("tls enabled", {
    mtls,
    certFile: options.certFile,
    subject: first.subject,
    serial: first.serial,
    validTo: first.validTo,
    clientCaFile: options.clientCaFile ?? null,
  });
  if (first.expired) log.warn("tls certificate has expired; clients will refuse it", { certFile: options.certFile, validTo: first.validTo });

  let queue: Promise<boolean> = Promise.resolve(true);
  const reloadNow = (trigger: string): boolean => {
    let next: Material;
    try {
      next = loadMaterial(options);
    } catch (err) {
      log.error("tls reload failed; keeping the previous certificates", {
        trigger,
        error: err instanceof Error ? err.message : String(err),
        serial: provider.current.serial,
      });
      return false;
    }
    if (sameMaterial(next, provider.current)) {
      log.debug("tls files unchanged", { trigger, serial: next.serial });
      return true;
    }
    const previous = provider.current.serial;
    provider.update(next);
    log.info("tls certificates reloaded", { trigger, serial: next.serial, previousSerial: previous, subject: next.subject, validTo: next.validTo });
    if (next.expired) log.warn("tls certificate has expired; clients will refuse it", { certFile: options.certFile, validTo: next.validTo });
    return true;
  };
  // One reload at a time, in order (a SIGHUP during a watcher reload waits for it).
  const reload = (trigger: string): Promise<boolean> =>
    (queue = queue
      .then(() => reloadNow(trigger))
      .catch((err: unknown) => {
        log.error("tls reload failed", { trigger, error: err instanceof Error ? err.message : String(err) });
        return false;
      }));

  // Watch by polling stat: survives editors and `mv`-style replacement, works on any filesystem.
  // Not persistent: the watchers never keep the process alive.
  let closed = false;
  let settleTimer: NodeJS.Timeout | undefined;
  const files = [options.certFile, options.keyFile, ...(options.clientCaFile !== undefined ? [options.clientCaFile] : [])];
  const onChange = (file: string) => (curr: Stats, prev: Stats) => {
    if (closed) return;
    if (curr.mtimeMs === prev.mtimeMs && curr.size === prev.size && curr.ino === prev.ino) return;
    if (curr.nlink === 0 && curr.mtimeMs === 0) return; // removed for now (a replacement is on its way)
    clearTimeout(settleTimer);
    settleTimer = setTimeout(() => void reload(`file changed: ${file}`), SETTLE_MS);
    settleTimer.unref();
  };
  const listeners = files.map((file) => {
    const listener = onChange(file);
    watchFile(file, { persistent: false, interval: WATCH_POLL_MS }, listener);
    return { file, listener };
  });

  return {
    credentials,
    reload: () => reload("reload requested"),
    close: () => {
      if (closed) return;
      closed = true;
      clearTimeout(settleTimer);
      for (const { file, listener } of listeners) unwatchFile(file, listener);
    },
  };
}
