'use strict';
// `npm test` for RUN_TESTS=true builds: starts the server on a free port and expects a 200.
const { spawn } = require('child_process');
const http = require('http');
const net = require('net');

const probe = net.createServer().listen(0, '127.0.0.1', () => {
  const { port } = probe.address();
  probe.close(() => {
    const app = spawn(process.execPath, ['server.js'], { env: { ...process.env, PORT: String(port) }, stdio: 'inherit' });
    const deadline = Date.now() + 10000;
    const attempt = () => {
      http
        .get({ host: '127.0.0.1', port, path: '/' }, (res) => {
          app.kill();
          if (res.statusCode !== 200) {
            console.error(`expected 200, got ${res.statusCode}`);
            process.exit(1);
          }
          console.log('ok: GET / answered 200');
        })
        .on('error', (error) => {
          if (Date.now() > deadline) {
            app.kill();
            console.error(error.message);
            process.exit(1);
          }
          setTimeout(attempt, 100);
        });
    };
    attempt();
  });
});
