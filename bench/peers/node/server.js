// The Node.js peer of the load-test harness: the three benchmark endpoints
// on Node's http module (https with -cert and -key), one thread, JSON
// encoded per request. See bench/peers/doc.go for the contract.
// Run: node server.js -addr HOST:PORT [-cert FILE -key FILE [-no-session-tickets]]
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const https = require('https');

function flag(name, def) {
  const i = process.argv.indexOf('-' + name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}

const addr = flag('addr', '127.0.0.1:8080');
const certFile = flag('cert', '');
const keyFile = flag('key', '');
const noTickets = process.argv.includes('-no-session-tickets');
const colon = addr.lastIndexOf(':');
const host = addr.slice(0, colon);
const port = Number(addr.slice(colon + 1));

// maxBody bounds a /decode body: the benchmark sends about 300 bytes.
const maxBody = 1 << 20;

// Node adds Date (cached per second) itself.
function send(res, status, type, body) {
  res.writeHead(status, {
    'Server': 'node',
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

const isString = (v) => v === undefined || v === null || typeof v === 'string';

// valid mirrors what Go's encoding/json accepts for the decode struct:
// an object whose known fields, when present and not null, have the right
// types.
function valid(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v) &&
    isString(v.name) && isString(v.email) &&
    (v.tags === undefined || v.tags === null ||
      (Array.isArray(v.tags) && v.tags.every((t) => typeof t === 'string'))) &&
    (v.n === undefined || v.n === null || Number.isInteger(v.n));
}

function decode(req, res) {
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size <= maxBody) chunks.push(c);
  });
  req.on('end', () => {
    let v;
    try {
      v = JSON.parse(Buffer.concat(chunks));
    } catch (e) {
      v = undefined;
    }
    if (size > maxBody || !valid(v)) {
      send(res, 400, 'text/plain; charset=utf-8', '400 Bad Request');
      return;
    }
    send(res, 200, 'application/json', JSON.stringify({ ok: true, n: v.n || 0 }));
  });
}

function handle(req, res) {
  if (req.url === '/plaintext' && req.method === 'GET') {
    send(res, 200, 'text/plain; charset=utf-8', 'Hello, World!');
  } else if (req.url === '/json' && req.method === 'GET') {
    send(res, 200, 'application/json', JSON.stringify({ message: 'Hello, World!' }));
  } else if (req.url === '/decode' && req.method === 'POST') {
    decode(req, res);
  } else {
    send(res, 404, 'text/plain; charset=utf-8', '404 Not Found');
  }
}

// With -no-session-tickets, SSL_OP_NO_TICKET: no stateless tickets; the
// stateful sessions OpenSSL then issues (TLS 1.3) or the session IDs
// (TLS 1.2) cannot be resumed either, because Node keeps no server-side
// session cache unless 'resumeSession' is handled.
const server = certFile || keyFile
  ? https.createServer({
    cert: fs.readFileSync(certFile),
    key: fs.readFileSync(keyFile),
    secureOptions: noTickets ? crypto.constants.SSL_OP_NO_TICKET : 0,
  }, handle)
  : http.createServer(handle);

// No idle timeout (Node's default closes keep-alive connections after 5 s):
// the idle scenario keeps connections open, as the Go peers allow.
server.keepAliveTimeout = 0;

server.listen(port, host, () => {
  const a = server.address();
  console.log(`listening on ${a.address}:${a.port}`);
});

process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
