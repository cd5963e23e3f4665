// Command bench is sluice's load-test harness: it runs scenarios × targets
// with wrk and reports throughput and, above all, requests per second of
// server CPU time relative to a baseline.
//
//	cd bench && go run . [-scenarios plaintext,pipelined,json,decode,storm,idle,tls,tls-handshake,tls-idle]
//	    [-targets reactor,reactor-inline,reactor-reuseport,reactor-shared,reactor-nostages,reactor-sample1,single,perconn,uring,uring-inline,nethttp,fasthttp,gnetraw,node]
//	    [-rounds 3] [-duration 5s] [-warmup 1s] [-conns 64] [-idle-conns 10000]
//	    [-baseline auto] [-quiet-wait 0] [-out results]
//
// # Targets
//
// Each target is a server process the harness builds, starts on a free
// port of 127.0.0.1 and recognises by its "listening on HOST:PORT" line.
// The sluice targets run ../examples/hello (built once) with -model
// reactor, single, perconn or uring, plus -inline (reactor-inline,
// uring-inline), -reuseport (reactor-reuseport: a SO_REUSEPORT listener
// per loop, which is the Reactor's default since 2026-11-27, so it now
// equals reactor; the results before that date have reactor on gnet's
// shared acceptor) or -accept shared (reactor-shared: gnet's acceptor);
// reactor-nostages is reactor with the stage timing off
// (-stage-sampling -1), reactor-sample1 with every request timed
// (-stage-sampling 1). The peers live in peers/: nethttp, fasthttp,
// gnetraw (the floor: gnet doing nothing but framing) and node (skipped
// when node is not on PATH). See package peers for their contract.
//
// For the TLS scenarios the harness writes one self-signed ECDSA P-256
// certificate for 127.0.0.1 and starts every target with -cert and -key,
// so all serve the same chain; gnetraw is skipped (gnet has no TLS).
//
// # Scenarios
//
//	plaintext  GET /plaintext, -conns connections
//	pipelined  the same, 16 requests per write (scripts/pipeline.lua)
//	json       GET /json
//	decode     POST /decode with a 294-byte JSON body (scripts/decode.lua)
//	storm      GET /plaintext with Connection: close, so every request
//	           costs an accept (scripts/storm.lua)
//	idle       -idle-conns keep-alive connections, one request each, held
//	           open; reports the server's VmRSS growth per connection
//	tls        GET /plaintext over HTTPS, keep-alive
//	tls-handshake
//	           GET /plaintext over HTTPS with Connection: close: a new
//	           connection and a full handshake per request; reports
//	           handshakes/s and server CPU per handshake
//	tls-idle   idle over TLS (crypto/tls client, X25519 like wrk): server
//	           VmRSS growth per connection after the handshake
//
// wrk resumes TLS sessions: it keeps one SSL object per connection slot
// and closes with SSL_shutdown and SSL_clear, which keep the session, so
// every reconnect offers it (against a Go server with tickets on, 4753 of
// 4769 handshakes were resumed; resumption cut the server's CPU per
// connection from about 330 to 260 µs). tls-handshake therefore starts
// each server with -no-session-tickets (crypto/tls has no server-side
// session cache, so without tickets nothing resumes) when it takes that
// flag (examples/hello is asked with -h), and before each run a Go client
// connects twice with a session cache and records whether the second
// handshake resumed; rows that did are flagged. (openssl s_client
// -reconnect cannot tell: it reconnects before reading TLS 1.3 tickets.)
//
// Each scenario with a goal from the issue (pipelined, tls, tls-handshake,
// tls-idle) ends its table with each sluice target's verdict.
//
// # Stages
//
// In the load scenarios every sluice target also gets -debug-addr on a
// free port: a net/http listener of its own serving GET /debug/stats (the
// server's sluice.Stats as JSON: per stage count, exact sum, min, max and
// quantiles; the counters) and GET /metrics (the same histograms with
// their bucket counts, Prometheus text format). Both are read right before
// the measured run (after the warm-up) and right after it, outside the
// CPU-time window, and the per-stage breakdown is their difference: the
// measured run only. The histograms are cumulative and the JSON has no
// buckets, so the window's p50 and p99 come from the difference of the
// Prometheus buckets (4 per octave: within ±12.5%; one bucket below
// 128 ns), counts and sums from the JSON (exact); the cumulative
// quantiles, warm-up included, are kept in the JSON results beside them.
// Under each load table: a row per target with p50 / p99 per stage that
// has samples (the peers: dashes), and each sluice target's culprit, the
// stage with the largest share of the time requests spent in the stages,
// estimated as sum/count × requests of the run (per connection for accept
// and accept_queue, per read for decrypt; parse lies inside read and is
// not counted apart, as in examples/stages). Rounds are pooled: their
// windows' counts, sums and buckets add. The idle scenarios measure
// memory and have no breakdown (a debug listener and its readings would
// add to the RSS they measure).
//
// Stage timing has a cost. A sluice target whose flags are another's plus
// -stage-sampling -1 is that target's timing-off twin (reactor-nostages
// for reactor and reactor-sample1); each load table lists the timed
// targets' req/CPU-s over their twin's, round by round, and the pipelined
// scenario judges the goal: the default sampling (1 in 100) costs
// at most 3% of req/CPU-s.
//
// Before each run a probe sends the scenario's request once and checks the
// status, headers and body (over TLS, trusting only the harness's
// certificate), so a server without the endpoint (404) is reported as
// failed instead of being measured.
//
// # Method
//
// Rounds are interleaved (round 1: every scenario × every target, then
// round 2, ...). Each cell starts a fresh server, warms it up with wrk for
// -warmup, then runs wrk for -duration with the server's utime+stime
// (/proc/PID/stat) read right before and right after. With two or more
// CPUs the server is pinned to the first allowed CPU and wrk (one thread)
// to the second, with taskset, so every server runs on one core (Go
// servers get GOMAXPROCS=1 from the affinity mask). Ratios to the baseline
// are taken within each round and their median is reported. The baseline
// is per scenario: -baseline auto (the default) is gnetraw, the floor, for
// plain HTTP and nethttp for TLS; a target name applies to every scenario,
// "" gives none.
//
// Every wrk cell also records wrk's own CPU use (near 100%, wrk and not
// the server set req/s: compare req/CPU-s) and how much of each pinned CPU
// other processes used during the run, from /proc/stat; above 10% the cell
// is flagged as run on a busy machine. -quiet-wait makes each cell first
// wait, up to that long, for the pinned CPUs to be quiet.
//
// The harness raises its RLIMIT_NOFILE to the hard limit (the servers
// inherit it) and spreads the idle connections over several 127.0.0.x
// source addresses. It stops only the processes it started, by process
// group, also on Ctrl-C.
//
// # Output
//
// A markdown table per scenario on stdout and in results/<stamp>.md, the
// raw cells (with each sluice cell's stage window: counts, sums, buckets,
// quantiles, estimated totals) and summaries in results/<stamp>.json, and
// the charts (CPU
// efficiency ratio, req/s, KiB per idle connection; gonum.org/v1/plot) in
// results/<stamp>.svg and .png.
package main
