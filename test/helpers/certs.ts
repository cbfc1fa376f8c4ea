// Test PKI made with the openssl CLI in a fresh temp dir (the same commands docs/operations.md
// shows): a CA, a server certificate for 127.0.0.1/localhost, a client certificate, and a second,
// unrelated CA with its own client certificate. EC P-256 keys: the whole set takes well under a second.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface IssuedCert {
  cert: string;
  key: string;
  /** Serial number as X509Certificate.serialNumber prints it (upper-case hex). */
  serial: string;
}

export interface TestCerts {
  dir: string;
  ca: IssuedCert;
  server: IssuedCert;
  client: IssuedCert;
  /** A CA nobody trusts, and a client certificate it signed. */
  otherCa: IssuedCert;
  otherClient: IssuedCert;
  /** Issues another server certificate (new key, new serial) from the first CA into `name`.pem/.key. */
  issueServer(name: string): IssuedCert;
  cleanup(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

function newKey(dir: string, name: string): string {
  const key = join(dir, `${name}.key`);
  openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key], dir);
  return key;
}

/** A random positive 64-bit serial (first byte below 0x80, so it prints without a leading 00). */
function newSerial(): string {
  const bytes = randomBytes(8);
  bytes[0] = (bytes[0]! & 0x7f) | 0x10;
  return bytes.toString("hex").toUpperCase();
}

function makeCa(dir: string, name: string, cn: string): IssuedCert {
  const key = newKey(dir, name);
  const cert = join(dir, `${name}.pem`);
  const serial = newSerial();
  openssl(
    [
      "req",
      "-x509",
      "-new",
      "-key",
      key,
      "-out",
      cert,
      "-days",
      "3650",
      "-subj",
      `/CN=${cn}`,
      "-set_serial",
      `0x${serial}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ],
    dir,
  );
  return { cert, key, serial };
}

function issue(dir: string, ca: IssuedCert, name: string, cn: string, extensions: string): IssuedCert {
  const key = newKey(dir, name);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  const cert = join(dir, `${name}.pem`);
  const serial = newSerial();
  writeFileSync(ext, extensions);
  openssl(["req", "-new", "-key", key, "-out", csr, "-subj", `/CN=${cn}`], dir);
  openssl(["x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-set_serial", `0x${serial}`, "-days", "825", "-out", cert, "-extfile", ext], dir);
  return { cert, key, serial };
}

const SERVER_EXT = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n";
const CLIENT_EXT = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n";

export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), "taskgrid-certs-"));
  try {
    const ca = makeCa(dir, "ca", "Taskgrid test CA");
    const otherCa = makeCa(dir, "other-ca", "Unrelated test CA");
    return {
      dir,
      ca,
      server: issue(dir, ca, "server", "localhost", SERVER_EXT),
      client: issue(dir, ca, "client", "agent-1", CLIENT_EXT),
      otherCa,
      otherClient: issue(dir, otherCa, "other-client", "intruder", CLIENT_EXT),
      issueServer: (name) => issue(dir, ca, name, "localhost", SERVER_EXT),
      cleanup: () => rmSync(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
