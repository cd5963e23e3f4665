// Package engine is sluice's Accept and Read stages: it accepts
// connections, moves bytes between sockets and a per-connection input
// buffer, writes responses back, keeps per-loop timers and closes
// connections gracefully. It knows nothing of HTTP.
//
// # The transport contract
//
// Every connection model implements the same contract, so the layers above
// (HTTP parsing, TLS, handlers) run unchanged on each:
//
//   - Accept: Callbacks.OnOpen for every accepted connection, after the
//     max-connections check.
//   - Read: Callbacks.OnData with every unconsumed input byte of the
//     connection; it returns how many it consumed. The rest stays buffered
//     and is offered again, with the bytes that arrive next, so a request
//     split across reads is resumed, not rescanned. Conn.Resume offers it
//     again without new bytes.
//   - Write from the loop: Conn.Write / Conn.Writev. Write from any
//     goroutine: Conn.AsyncWritev, whose completion runs on the loop.
//   - Close: Conn.Close now, or Conn.CloseGraceful: flush, half-close,
//     drain briefly, close (RFC 9112 §9.6).
//   - State: Conn.SetContext / Conn.Context.
//   - Timers: Conn.SetTimeout arms the connection's single deadline on its
//     loop's timer wheel; Callbacks.OnTimeout fires on the loop.
//
// # Goroutines
//
// A loop is the goroutine that owns a connection: a gnet event loop for
// the Reactor and Single models, a goroutine locked to its OS thread and
// driving its own io_uring for Uring, the connection's own goroutine for
// PerConn. Every callback runs on the connection's
// loop; methods marked "Loop-only." may be called only from a callback (or
// from a function the loop runs, such as an AsyncWritev completion).
// Methods marked "Safe for concurrent use." may be called from anywhere.
// Code that runs on a loop must never block: every connection of that
// loop waits for it.
//
// One ticker goroutine per engine drives the timer wheels: at every tick
// it posts a task to each loop that has connections, and that task, on the
// loop, advances the loop's wheel. There is no timer and no goroutine per
// connection. Under Uring each ring has a multishot timeout instead, so
// the ticks need no goroutine and no task.
//
// # Uring
//
// The Uring model (uring_linux.go) keeps the same contract on io_uring:
// OnData's in is the kernel's receive buffer itself, which goes back to
// the ring when OnData returns (what it did not consume is copied to the
// connection's own buffer first); writes are queued and sent one
// operation at a time per connection; closing cancels the connection's
// operations before its descriptor is closed. CheckUring says whether the
// kernel allows it; New fails with the reason otherwise.
package engine
