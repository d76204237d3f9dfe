/**
 * Controls a deployed app the way the platform did: `docker exec` into its run container and drive
 * supervisorctl (the socket is mop's, and `docker exec` runs as the container's user, mop).
 *
 *   npm run ctl -- <app> status|start|stop|restart|tail
 *
 * tail follows /mnt/log/app.log (by name, so it survives supervisor's log rotation); Ctrl-C ends it.
 * The exit status is the command's (supervisorctl status exits 3 when the app is not running).
 */
import { spawnSync } from 'child_process';
import { runContainerName } from '../lib/run-container';

export const CTL_ACTIONS = ['status', 'start', 'stop', 'restart', 'tail'] as const;
export type CtlAction = (typeof CTL_ACTIONS)[number];

/** The run image's global supervisord configuration (images/run-base). */
export const SUPERVISORD_CONF = '/etc/supervisor/supervisord.conf';

const USAGE = `usage: npm run ctl -- <app> ${CTL_ACTIONS.join('|')}`;

/** The command line (argv) for one action on one app; throws on an unknown app name or action. */
export function ctlCommand(app: string, action: string): string[] {
  const container = runContainerName(app);
  if (!(CTL_ACTIONS as readonly string[]).includes(action)) {
    throw new Error(`unknown action '${action}': ${USAGE}`);
  }
  if (action === 'tail') {
    return ['docker', 'exec', container, 'tail', '-n', '100', '-F', '/mnt/log/app.log'];
  }
  return ['docker', 'exec', container, 'supervisorctl', '-c', SUPERVISORD_CONF, action, 'app'];
}

export function main(argv: string[]): number {
  if (argv.length !== 2 || argv.includes('-h') || argv.includes('--help')) {
    process.stderr.write(`${USAGE}\n`);
    return argv.includes('-h') || argv.includes('--help') ? 0 : 2;
  }
  let command: string[];
  try {
    command = ctlCommand(argv[0], argv[1]);
  } catch (error) {
    process.stderr.write(`ctl: ${(error as Error).message}\n`);
    return 2;
  }
  const result = spawnSync(command[0], command.slice(1), { stdio: 'inherit' });
  if (result.error) {
    process.stderr.write(`ctl: ${result.error.message}\n`);
    return 1;
  }
  if (result.signal) return 128 + (result.signal === 'SIGINT' ? 2 : 15);
  return result.status ?? 1;
}

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2));
}
