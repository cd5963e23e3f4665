// Package peers holds nothing but this comment: each subdirectory is one
// peer server that the load-test harness (package main in bench/) builds
// and runs beside sluice's example server.
//
// Every peer serves the same three endpoints with the same response shapes
// and headers (Server, Date — fresh each second, Content-Type,
// Content-Length):
//
//	GET  /plaintext  text/plain; charset=utf-8  Hello, World!
//	GET  /json       application/json           {"message":"Hello, World!"} (encoded per request)
//	POST /decode     application/json           {"ok":true,"n":<n>} after decoding
//	                 {"name": str, "email": str, "tags": [str], "n": int}; 400 on malformed input
//
// Every peer takes -addr HOST:PORT and prints exactly one line, "listening
// on HOST:PORT", once it accepts connections. SIGTERM stops it.
//
// Every peer but gnetraw (gnet has no TLS) also serves HTTPS, the same
// endpoints on the same -addr, when given -cert FILE and -key FILE (PEM;
// the harness generates one ECDSA P-256 certificate for all targets). With
// -no-session-tickets as well it resumes no TLS session, so every
// handshake is a full one (net/http and fasthttp: SessionTicketsDisabled,
// crypto/tls keeping no session cache; node: SSL_OP_NO_TICKET).
//
//	nethttp   net/http
//	fasthttp  github.com/valyala/fasthttp, encoding/json for JSON
//	gnetraw   github.com/panjf2000/gnet/v2 doing the least any gnet server
//	          can: find the end of each request, write a fixed-shape
//	          response with a fresh Date. The floor, not a TechEmpower entry.
//	node      Node.js's http module (node/server.js)
package peers
