/**
 * run-static on a real engine: nginx as mop on a read-only root serves the static sample (built by
 * build-static: `npm run build` renders src/ into dist/, which is published) from /mnt/app on PORT, with the
 * access log in /mnt/log/app.log and pid/temp files under /mnt/home.
 */
import { buildImage } from './support/docker';
import { describeRunImage } from './support/run-contract';
import { buildSampleInto, exec, httpGet, processes, waitFor } from './support/run';

jest.setTimeout(300_000);

describeRunImage({
  image: 'run-static',
  prepareApp: (appDir) => {
    buildSampleInto(buildImage('build-static'), 'static', appDir);
  },
  expectBody: /<html/i,
  // nginx's master is the app (start execs it).
  crash: ['pkill', '-KILL', '-f', '^nginx: master'],
  more: (context) => {
    test('nginx master and workers run as mop; config, pid and temp paths under /mnt/home/nginx', () => {
      const nginx = processes(context().container).filter((p) => p.args.startsWith('nginx:'));
      expect(nginx.length).toBeGreaterThanOrEqual(2);
      expect(nginx.every((p) => p.user === 'mop')).toBe(true);
      const listing = exec(context().container, ['sh', '-c', 'ls /mnt/home/nginx; cat /mnt/home/nginx/nginx.pid']).stdout.split('\n');
      expect(listing.slice(0, 7)).toEqual(['client_body', 'fastcgi', 'nginx.conf', 'nginx.pid', 'proxy', 'scgi', 'uwsgi']);
      const master = nginx.find((p) => p.args.startsWith('nginx: master'))!;
      expect(Number(listing[7])).toBe(master.pid);
    });

    test('access log lines land in /mnt/log/app.log', async () => {
      expect((await httpGet(context().port, '/?modulus-access-log-probe')).status).toBe(200);
      // nginx writes to supervisord's pipe; supervisord copies it into the file within its next poll.
      const probe = /"GET \/\?modulus-access-log-probe HTTP\/1\.1" 200 /;
      const log = await waitFor(() => (probe.test(context().volume.read('log/app.log')) ? context().volume.read('log/app.log') : ''), 10_000);
      expect(log).toMatch(probe);
    });

    test('missing files are 404, dot-files are not published', async () => {
      context().volume.write('app/.env', 'SECRET=1\n');
      expect((await httpGet(context().port, '/no-such-page.html')).status).toBe(404);
      expect((await httpGet(context().port, '/.env')).status).toBe(404);
    });
  },
});
