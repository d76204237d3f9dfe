import { spawnSync } from 'child_process';
import * as path from 'path';
import { CTL_ACTIONS, SUPERVISORD_CONF, ctlCommand, main } from '../../scripts/ctl';

const REPO_ROOT = path.resolve(__dirname, '../..');

describe('npm run ctl', () => {
  it('drives supervisorctl in the run container through docker exec', () => {
    for (const action of ['status', 'start', 'stop', 'restart']) {
      expect(ctlCommand('shop', action)).toEqual(['docker', 'exec', 'modulus-app-shop', 'supervisorctl', '-c', SUPERVISORD_CONF, action, 'app']);
    }
    expect(SUPERVISORD_CONF).toBe('/etc/supervisor/supervisord.conf');
  });

  it('tails the app log by name (it survives rotation)', () => {
    expect(ctlCommand('shop', 'tail')).toEqual(['docker', 'exec', 'modulus-app-shop', 'tail', '-n', '100', '-F', '/mnt/log/app.log']);
  });

  it('knows exactly the five actions', () => {
    expect([...CTL_ACTIONS]).toEqual(['status', 'start', 'stop', 'restart', 'tail']);
  });

  it('refuses unknown actions and invalid app names with usage (exit 2), without running anything', () => {
    expect(() => ctlCommand('shop', 'reload')).toThrow("unknown action 'reload': usage: npm run ctl -- <app> status|start|stop|restart|tail");
    expect(() => ctlCommand('Shop;rm', 'status')).toThrow("invalid app name 'Shop;rm'");
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(main(['shop'])).toBe(2);
      expect(main(['shop', 'reload'])).toBe(2);
      expect(main(['../x', 'status'])).toBe(2);
      expect(main(['--help'])).toBe(0);
    } finally {
      stderr.mockRestore();
    }
  });

  it('is the package.json "ctl" script and exits with usage when called without arguments', () => {
    const pkg = require(path.join(REPO_ROOT, 'package.json'));
    expect(pkg.scripts.ctl).toBe('ts-node scripts/ctl.ts');
    const result = spawnSync(path.join(REPO_ROOT, 'node_modules/.bin/ts-node'), ['scripts/ctl.ts'], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(result.status).toBe(2);
    expect(result.stderr).toBe('usage: npm run ctl -- <app> status|start|stop|restart|tail\n');
  });
});
