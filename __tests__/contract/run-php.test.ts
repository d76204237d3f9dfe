/**
 * run-php on a real engine: php-fpm and nginx (both mop, sockets and pid files under /mnt/home) started as one
 * supervised pair by `start`, serving the php sample on PORT; memory_limit = 75 % of the container memory;
 * either half dying restarts the pair with a crash notification.
 */
import { buildImage } from './support/docker';
import { describeRunImage } from './support/run-contract';
import { buildSampleInto, exec, httpGet, processes, supervisorStates, waitFor, waitForHttp } from './support/run';

jest.setTimeout(300_000);

describeRunImage({
  image: 'run-php',
  prepareApp: (appDir) => {
    buildSampleInto(buildImage('build-php'), 'php', appDir);
  },
  expectBody: /modulus sample php app on PHP 8\./,
  extraArgs: ['--memory', '256m', '--memory-swap', '256m'],
  // php-fpm's master dying takes the pair down.
  crash: ['pkill', '-KILL', '-f', '^php-fpm: master'],
  more: (context) => {
    test('memory_limit is 75 % of the container memory (256m -> 192M); the app\'s php.ini wins', async () => {
      context().volume.write('app/limit.php', '<?php echo ini_get("memory_limit"), " ", ini_get("session.save_path");');
      const answer = await httpGet(context().port, '/limit.php');
      expect(answer).toEqual({ status: 200, body: '192M /mnt/home/php/sessions' });
      context().volume.write('app/php.ini', 'memory_limit = 64M\n');
      exec(context().container, ['supervisorctl', 'restart', 'app']);
      expect((await waitForHttp(context().port, '/limit.php')).body).toBe('64M /mnt/home/php/sessions');
      context().volume.write('app/php.ini', '; none\n');
      exec(context().container, ['supervisorctl', 'restart', 'app']);
      expect((await waitForHttp(context().port, '/limit.php')).body).toMatch(/^192M /);
    });

    test('php-fpm and nginx both run as mop; fpm socket and pid files under /mnt/home', () => {
      const procs = processes(context().container);
      expect(procs.filter((p) => /^(php-fpm|nginx):/.test(p.args)).every((p) => p.user === 'mop')).toBe(true);
      expect(procs.some((p) => p.args.startsWith('php-fpm: master'))).toBe(true);
      expect(procs.some((p) => p.args.startsWith('nginx: master'))).toBe(true);
      const files = exec(context().container, ['sh', '-c', 'cd /mnt/home && stat -c "%n %F" php/php-fpm.sock php/php-fpm.pid nginx/nginx.pid']).stdout;
      expect(files).toBe('php/php-fpm.sock socket\nphp/php-fpm.pid regular file\nnginx/nginx.pid regular file\n');
    });

    test('nginx dying also restarts the pair (with a crash notification)', async () => {
      const before = context().volume.notifications().length;
      expect(exec(context().container, ['pkill', '-KILL', '-f', '^nginx: master']).status).toBe(0);
      const note = await waitFor(() => context().volume.notifications()[before], 60_000);
      expect(note).toMatchObject({ type: 'crash', process: 'app', expected: false });
      await waitFor(() => supervisorStates(context().container).app === 'RUNNING', 60_000);
      expect((await waitForHttp(context().port)).status).toBe(200);
      // No stale nginx workers or fpm children of the old pair survive.
      const masters = processes(context().container).filter((p) => /^(php-fpm|nginx): master/.test(p.args));
      expect(masters).toHaveLength(2);
    });
  },
});
