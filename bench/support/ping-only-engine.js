// A stand-in Docker engine on a unix socket that answers only what the docker provider asks when it starts (`/_ping`
// and `/version`), for a from-scratch `terraform plan` that reads nothing from the engine. Every request path is appended to <log>, so
// the benchmark can check that nothing else was asked; any other request gets 501.
// Usage: node ping-only-engine.js <socket> <log>
const fs = require('fs');
const http = require('http');

const VERSION = { Version: '20.10.24', ApiVersion: '1.41', MinAPIVersion: '1.12', Os: 'linux', Arch: 'amd64' };
const [socket, log] = process.argv.slice(2);
const server = http.createServer((request, response) => {
  fs.appendFileSync(log, `${request.method} ${request.url}\n`);
  const route = /^(?:\/v[\d.]+)?\/(_ping|version)$/.exec(request.url.split('?')[0])?.[1];
  const body = route === '_ping' ? 'OK' : route === 'version' ? JSON.stringify(VERSION) : 'not implemented by the benchmark stand-in\n';
  response.writeHead(route ? 200 : 501, { 'Content-Type': route === 'version' ? 'application/json' : 'text/plain', 'Api-Version': '1.41', Ostype: 'linux' });
  response.end(body);
});
server.listen(socket);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
