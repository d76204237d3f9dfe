const http = require('http');
http.createServer((request, response) => response.end('hello from host a\n')).listen(Number(process.env.PORT), process.env.HOST);
