// TLS for clients and agents: grpc-js channel credentials from PEM files, plus the PEM checks the
// master shares (master/tls.ts), so a wrong path or a file that is not what it should be fails at
// start with a message naming the option and the file, not later as an opaque handshake error.
import * as grpc from "@grpc/grpc-js";
import { createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { checkServerIdentity } from "node:tls";

export interface ClientTlsOptions {
  /** CA that signs the master's certificate (PEM). Unset: the system's trusted roots. */
  caFile?: string;
  /** Client certificate chain for mTLS (PEM); needs keyFile. */
  certFile?: string;
  /** Private key of certFile (PEM, unencrypted). */
  keyFile?: string;
  /**
   * Name the master's certificate is checked against instead of the host in the address (e.g. a
   * DNS name in the certificate while the address is an IP). Only the check: SNI is unchanged.
   */
  serverName?: string;
}

/** A TLS file that cannot be used; the message names the option and the file. */
export class TlsFileError extends Error {
  constructor(
    readonly option: string,
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${option} ${file}: ${reason}`);
    this.name = "TlsFileError";
  }
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function reasonOf(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === "ENOENT") return "no such file";
  if (e?.code === "EACCES") return "permission denied";
  if (e?.code === "EISDIR") return "is a directory";
  return e instanceof Error ? e.message : String(err);
}

/** Reads a file, or throws a TlsFileError naming it. */
export function readTlsFile(option: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new TlsFileError(option, file, `cannot be read (${reasonOf(err)})`);
  }
}

/** Every certificate in a PEM file (a chain or a CA bundle), first one first; at least one. */
export function parseCertificates(option: string, file: string, pem: Buffer): X509Certificate[] {
  const blocks = pem.toString("utf8").match(CERT_BLOCK) ?? [];
  if (blocks.length === 0) throw new TlsFileError(option, file, 'not a PEM certificate (no "-----BEGIN CERTIFICATE-----" block)');
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new TlsFileError(option, file, `certificate ${i + 1} is not valid PEM (${reasonOf(err)})`);
    }
  });
}

/** The private key in a PEM file (unencrypted). */
export function parsePrivateKey(option: string, file: string, pem: Buffer): KeyObject {
  const text = pem.toString("utf8");
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text))
    throw new TlsFileError(option, file, 'not a PEM private key (no "-----BEGIN ... PRIVATE KEY-----" block)');
  if (/ENCRYPTED/.test(text)) throw new TlsFileError(option, file, "is an encrypted private key; give an unencrypted one (mode 0600)");
  try {
    return createPrivateKey({ key: pem, format: "pem" });
  } catch (err) {
    throw new TlsFileError(option, file, `not a valid PEM private key (${reasonOf(err)})`);
  }
}

/** Checks that the key belongs to the first (leaf) certificate of the chain. */
export function checkKeyMatches(certOption: string, certFile: string, cert: X509Certificate, keyFile: string, key: KeyObject): void {
  if (!cert.checkPrivateKey(key)) throw new TlsFileError(certOption, certFile, `does not match the private key in ${keyFile}`);
}

/**
 * Channel credentials for a master address: undefined -> plaintext (the loopback default);
 * otherwise TLS, verifying the master against caFile (or the system roots), presenting
 * certFile/keyFile when given (mTLS). Throws a TlsFileError naming the file when one is unusable.
 */
export function channelCredentials(tls: ClientTlsOptions | undefined): grpc.ChannelCredentials {
  if (tls === undefined) return grpc.credentials.createInsecure();
  if (tls.certFile !== undefined && tls.keyFile === undefined) throw new TlsFileError("tls_cert", tls.certFile, "needs a private key too (tls_key)");
  if (tls.keyFile !== undefined && tls.certFile === undefined) throw new TlsFileError("tls_key", tls.keyFile, "needs a certificate too (tls_cert)");
  let ca: Buffer | null = null;
  if (tls.caFile !== undefined) {
    ca = readTlsFile("tls_ca", tls.caFile);
    parseCertificates("tls_ca", tls.caFile, ca);
  }
  let cert: Buffer | null = null;
  let key: Buffer | null = null;
  if (tls.certFile !== undefined && tls.keyFile !== undefined) {
    cert = readTlsFile("tls_cert", tls.certFile);
    key = readTlsFile("tls_key", tls.keyFile);
    const leaf = parseCertificates("tls_cert", tls.certFile, cert)[0]!;
    checkKeyMatches("tls_cert", tls.certFile, leaf, tls.keyFile, parsePrivateKey("tls_key", tls.keyFile, key));
  }
  const serverName = tls.serverName;
  const verify: grpc.VerifyOptions = serverName ? { checkServerIdentity: (_host, peer) => checkServerIdentity(serverName, peer) } : {};
  return grpc.credentials.createSsl(ca, key, cert, verify);
}
