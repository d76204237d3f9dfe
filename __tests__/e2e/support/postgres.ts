import { spawnSync } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { freePort } from '../../../harness/ports';
import { ensurePackages } from '../../../harness/testbed/packages';
import { bash, ok } from '../../../harness/shell';

/**
 * A throw-away PostgreSQL server for the state tests: Debian's `postgresql` package (installed with apt-get when
 * missing, as on a fresh CI machine), its own data folder under a temporary folder, listening on a free port of
 * 127.0.0.1 and a unix socket in that folder, run as the unprivileged `postgres` user (`nobody` if the package
 * did not create it). `stop()` shuts it down and removes the folder.
 */
export interface Postgres {
  /** postgres://state:<password>@127.0.0.1:<port>/state?sslmode=disable, for Terraform through PG_CONN_STR. */
  readonly connStr: string;
  readonly password: string;
  readonly port: number;
  /** Runs SQL as the superuser over the unix socket in the state database; returns psql's unaligned, tuples-only output. */
  sql(query: string): string;
  stop(): void;
}

/** The newest PostgreSQL server installed from Debian's packages, installing `postgresql` when there is none. */
function binDir(): string {
  const find = () =>
    fs.existsSync('/usr/lib/postgresql')
      ? fs
          .readdirSync('/usr/lib/postgresql')
          .filter((version) => fs.existsSync(`/usr/lib/postgresql/${version}/bin/pg_ctl`))
          .sort((a, b) => Number(a) - Number(b))
      : [];
  if (find().length === 0) ensurePackages(['postgresql']);
  const versions = find();
  if (versions.length === 0) throw new Error('postgresql installed, but no /usr/lib/postgresql/<version>/bin/pg_ctl');
  return `/usr/lib/postgresql/${versions[versions.length - 1]}/bin`;
}

export async function startPostgres(): Promise<Postgres> {
  const bin = binDir();
  const user = spawnSync('id', ['-u', 'postgres']).status === 0 ? 'postgres' : 'nobody';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'modulus-pg-'));
  const data = path.join(dir, 'data');
  const port = await freePort();
  const password = randomBytes(18).toString('base64url');
  // The server's user owns its folder; nothing else on the machine can read it.
  ok(bash('chown "$PGUSER_OS" "$DIR" && chmod 0700 "$DIR"', { env: { PGUSER_OS: user, DIR: dir } }), 'chown the data folder');
  const asUser = (script: string, env: Record<string, string> = {}) =>
    ok(bash(`runuser -u "$PGUSER_OS" -- ${script}`, { env: { PGUSER_OS: user, BIN: bin, DIR: dir, DATA: data, ...env } }), script);
  // The superuser `admin` may connect without a password over the unix socket only; TCP needs a password.
  asUser('"$BIN/initdb" -D "$DATA" -U admin --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-instructions >/dev/null');
  let running = false;
  const stop = () => {
    if (running) {
      bash('runuser -u "$PGUSER_OS" -- "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null', { env: { PGUSER_OS: user, BIN: bin, DATA: data } });
      running = false;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    asUser('"$BIN/pg_ctl" -D "$DATA" -l "$DIR/server.log" -w -t 60 -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR" start >/dev/null', {
      PORT: String(port),
    });
    running = true;
    const sql = (query: string, database = 'state') =>
      ok(
        bash('"$BIN/psql" -X -v ON_ERROR_STOP=1 -At -h "$DIR" -p "$PORT" -U admin -d "$DB"', {
          env: { BIN: bin, DIR: dir, PORT: String(port), DB: database },
          input: query,
        }),
        `psql: ${query.slice(0, 80)}`,
      ).trim();
    // The password reaches psql on stdin, never on a command line.
    sql(`CREATE ROLE state LOGIN PASSWORD '${password}'`, 'postgres');
    sql('CREATE DATABASE state OWNER state', 'postgres');
    return { connStr: `postgres://state:${password}@127.0.0.1:${port}/state?sslmode=disable`, password, port, sql, stop };
  } catch (error) {
    const log = fs.existsSync(path.join(dir, 'server.log')) ? fs.readFileSync(path.join(dir, 'server.log'), 'utf8') : '';
    stop();
    throw new Error(`${(error as Error).message}\n--- server.log\n${log}`);
  }
}
