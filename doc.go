// Package sluice is a framework for high-throughput HTTP/1.1 services on
// event loops (gnet's epoll loops, or its own io_uring rings), with a
// strict zero-copy parser, TLS on the loops with crypto/tls, and the tools
// to see which stage of a request's journey is the bottleneck.
//
// # Quick start
//
//	mux := sluice.NewMux()
//	mux.HandleFunc("GET /hello/{name}", func(c *sluice.Ctx) {
//		c.String(200, "Hello, "+c.PathValue("name")+"!")
//	})
//	srv := &sluice.Server{Handler: mux}
//	log.Fatal(srv.ListenAndServe("127.0.0.1:8080"))
//
// # The pipeline and its goroutines
//
// Every request passes six stages. The boxes say which goroutine runs
// each one (Reactor model, pool dispatch):
//
//	 client
//	   |
//	+--v---------------------+   loop (gnet event loop; one per core)
//	| Accept   engine/       |   accept queue -> connection, max-conns check
//	| Read     engine/       |   socket -> per-connection input buffer
//	| Decrypt  tls/          |   records decrypted on the loop (handshakes:
//	|                        |   a short-lived goroutine, fed by the loop)
//	| Parse    codec/http1   |   strict RFC 9112 parse; views, no copies
//	+--+---------------------+
//	   | one task per read: the requests parsed, their bytes copied once
//	+--v---------------------+   worker (pool goroutine)
//	| Decode   codec/json... |   on demand, from the handler
//	| Process  your Handler  |   responses encoded into one buffer
//	+--+---------------------+
//	   | one asynchronous vectored write, completed on the loop
//	+--v---------------------+   loop
//	| Write    engine/       |   (encrypt on the loop) buffer -> socket;
//	|                        |   then the next read
//	+------------------------+
//
// A connection has at most one task with the workers; bytes that arrive
// meanwhile wait in its buffer (up to Config.MaxBufferedInput), and
// responses always leave in request order. With Inline handlers, or
// DispatchInline, or the Single model, Process runs on the loop itself:
// no hand-off, no copy, but the handler must never block.
//
// Ownership: a Ctx and every view it returns (headers, body, path values)
// are valid only until the handler returns. The bytes a handler sees are
// never changed or reused while it runs.
//
// Three kinds of goroutine exist: loops (owned by the engine; never block
// there), workers (run pool handlers) and callers (the application's own,
// which may call Server methods). Every exported type says which may use
// it.
package sluice
