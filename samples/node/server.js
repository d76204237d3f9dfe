'use strict';
// Answers every request with 200 and the node version, on PORT (default 8080) and HOST (default 127.0.0.1:
// the platform's containers use host networking).
const http = require('http');

const port = Number(process.env.PORT || 8080);
const host = process.env.HOST || '127.0.0.1';

const server = http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end(`modulus sample node app on node ${process.version}\n`);
});

server.listen(port, host, () => {
  console.log(`listening on http://${host}:${port} with node ${process.version}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
