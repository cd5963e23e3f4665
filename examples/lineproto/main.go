// Lineproto serves a small line protocol straight on sluice's engine, with
// no HTTP: it shows the transport alone — reading input that arrives in
// arbitrary pieces, answering pipelined requests, per-connection state,
// idle timeouts and graceful closes.
//
// Usage:
//
//	lineproto [-addr 127.0.0.1:8080] [-model reactor|single|perconn] [-idle 60s]
//
// It prints "listening on HOST:PORT" once it accepts connections, and
// stops cleanly on SIGINT or SIGTERM. Try it with nc 127.0.0.1 8080.
//
// # Protocol
//
// Each request is one line ending in "\n"; a "\r" before the "\n" is
// stripped. The command is the line up to the first space, and its
// argument is the rest. Every request gets exactly one response line, in
// request order:
//
//	PING          PONG
//	ECHO <text>   <text>
//	INCR <key>    the new value of this connection's counter for key (from 1)
//	TIME          the server's time in RFC 3339
//	QUIT          BYE, then the server closes the connection
//	anything else ERR unknown command <name>
//
// Command names are case-sensitive; PING, TIME and QUIT ignore an
// argument. INCR answers "ERR missing key" without a key and "ERR too many
// keys" past 1000 keys. A line of more than 4096 bytes (not counting its
// "\r\n" or "\n") is answered with "ERR line too long", and the connection
// is closed. A connection that sends nothing for the -idle duration is
// closed; -idle 0 keeps idle connections open.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/sluice-go/sluice/engine"
)

const (
	// maxLine bounds a request line, and so the input buffered per
	// connection while a line is incomplete; it also keeps the rescan of
	// an incomplete line on every read cheap.
	maxLine = 4096
	// maxKeys bounds the INCR counters of one connection: 1000 keys of up
	// to 4 KiB each is at most about 4 MiB.
	maxKeys = 1000
	// maxPending is how many response bytes may wait for a peer that sends
	// requests without reading the answers before it is disconnected: the
	// event loops' output queues are otherwise unbounded. (PerConn writes
	// block instead, until the engine's WriteTimeout.)
	maxPending = 1 << 20
	// shutdownGrace is how long connections get to close on SIGINT or
	// SIGTERM before they are closed outright.
	shutdownGrace = 5 * time.Second
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on (port 0 picks a free one)")
	modelName := flag.String("model", "reactor", "connection model: reactor, single or perconn")
	idle := flag.Duration("idle", 60*time.Second, "close connections idle this long (0: never)")
	flag.Parse()

	model, err := engine.ParseModel(*modelName)
	if err == nil {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err = serve(ctx, os.Stdout, *addr, model, *idle)
		stop()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lineproto:", err)
		os.Exit(1)
	}
}

// serve listens on addr, prints "listening on HOST:PORT" to out, and
// serves until ctx is done; then it closes every connection gracefully and
// stops.
func serve(ctx context.Context, out io.Writer, addr string, model engine.Model, idle time.Duration) error {
	eng, err := engine.New(engine.Config{Model: model, Callbacks: callbacks(idle)})
	if err != nil {
		return err
	}
	if err := eng.ListenAndServe(addr); err != nil {
		return err
	}
	fmt.Fprintf(out, "listening on %s\n", eng.Addr())

	stopped := make(chan error, 1)
	go func() { stopped <- eng.Wait() }()
	select {
	case err := <-stopped:
		return err // the engine failed on its own
	case <-ctx.Done():
	}

	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	// Stop accepting first, so that no connection opens after ForEach
	// has passed; Shutdown then waits for the graceful closes.
	eng.StopAccepting()
	eng.ForEach(func(c engine.Conn) { c.CloseGraceful() })
	return eng.Shutdown(sctx)
}

// callbacks returns the engine callbacks that speak the protocol.
func callbacks(idle time.Duration) engine.Callbacks {
	return engine.Callbacks{
		OnOpen: func(c engine.Conn) {
			c.SetContext(new(session))
			c.SetTimeout(idle)
		},
		OnData: func(c engine.Conn, in []byte) int {
			s := c.Context().(*session)
			buf := outBuf(c.Loop())
			out, n, quit := s.answer((*buf)[:0], in)
			*buf = out
			if len(out) > 0 {
				// One Write for every response of this read.
				if err := c.Write(out); err != nil {
					return n // the engine has closed the connection
				}
			}
			switch {
			case quit:
				c.CloseGraceful()
			case c.Pending() > maxPending:
				c.Close() // the peer does not read its answers
			default:
				c.SetTimeout(idle) // any input restarts the idle clock
			}
			return n
		},
		OnTimeout: func(c engine.Conn) { c.CloseGraceful() },
		OnClose:   func(engine.Conn, error) {},
	}
}

// outBuf returns the response buffer of loop l. One per loop is enough:
// a loop serves one connection at a time, and Write is done with its
// argument when it returns. Loop-only.
func outBuf(l *engine.Loop) *[]byte {
	b, ok := l.Data.(*[]byte)
	if !ok {
		b = new([]byte)
		l.Data = b
	}
	return b
}

// session is one connection's state, kept with Conn.SetContext.
// Loop-owned.
type session struct {
	counters map[string]int64 // INCR's counters; nil until the first INCR
}

// answer appends to out the response to every complete line at the start
// of in, in order, and returns out, how many bytes of in it consumed, and
// whether the connection must be closed once the responses are written.
// An incomplete last line is left unconsumed, to be offered again with
// the bytes that complete it.
func (s *session) answer(out, in []byte) (_ []byte, consumed int, quit bool) {
	for !quit {
		raw, _, complete := bytes.Cut(in[consumed:], []byte("\n"))
		line := bytes.TrimSuffix(raw, []byte("\r"))
		if len(line) > maxLine {
			// Checked before the line is complete, so that a peer
			// cannot make us buffer an endless line.
			return append(out, "ERR line too long\n"...), len(in), true
		}
		if !complete {
			break
		}
		consumed += len(raw) + 1
		out, quit = s.do(out, line)
	}
	return out, consumed, quit
}

// do appends the response to one request line, and reports whether the
// connection must be closed after it.
func (s *session) do(out, line []byte) (_ []byte, quit bool) {
	name, arg, _ := bytes.Cut(line, []byte(" "))
	switch string(name) {
	case "PING":
		out = append(out, "PONG"...)
	case "ECHO":
		out = append(out, arg...)
	case "INCR":
		out = s.incr(out, arg)
	case "TIME":
		out = time.Now().AppendFormat(out, time.RFC3339)
	case "QUIT":
		out, quit = append(out, "BYE"...), true
	default:
		out = append(append(out, "ERR unknown command "...), name...)
	}
	return append(out, '\n'), quit
}

// incr adds one to the counter of key and appends its new value.
func (s *session) incr(out, key []byte) []byte {
	n, ok := s.counters[string(key)]
	switch {
	case len(key) == 0:
		return append(out, "ERR missing key"...)
	case !ok && len(s.counters) >= maxKeys:
		return append(out, "ERR too many keys"...)
	case s.counters == nil:
		s.counters = make(map[string]int64)
	}
	s.counters[string(key)] = n + 1
	return strconv.AppendInt(out, n+1, 10)
}
