package sluice

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-go/sluice/stage"
)

// TestHandlerNeverReturns: a handler that blocks past WriteTimeout gets
// its context ended, its connection is closed without a response, the
// timeout is counted, other clients are served meanwhile, its late write
// fails harmlessly, and Close does not wait for it forever. Handlers run
// on an event loop (reactor-inline, single) block that loop and are
// documented as forbidden to wait, so those modes are skipped.
func TestHandlerNeverReturns(t *testing.T) {
	var release atomic.Pointer[chan struct{}] // each mode's own
	ctxErr := make(chan error, 1)
	lateWrite := make(chan error, 1)
	m := NewMux()
	m.HandleFunc("GET /hello", func(c *Ctx) { _ = c.String(200, "hello") })
	m.HandleFunc("GET /stuck", func(c *Ctx) {
		ctx := c.Context()
		go func() { <-ctx.Done(); ctxErr <- ctx.Err() }()
		<-*release.Load()
		_, err := fmt.Fprint(c, "too late")
		lateWrite <- err
	})
	run(t, m, func(t *testing.T, s *harness) {
		if s.srv.cfg.Dispatch == DispatchInline && s.srv.cfg.Model != PerConn {
			t.Skip("handlers on an event loop must never block (Handler docs)")
		}
		rel := make(chan struct{})
		release.Store(&rel)
		c, r := s.dial()
		start := time.Now()
		fmt.Fprint(c, "GET /stuck HTTP/1.1\r\nHost: x\r\n\r\n")

		// The connection closes, with no response, near WriteTimeout.
		b, err := io.ReadAll(r)
		took := time.Since(start)
		if len(b) != 0 {
			t.Fatalf("got %q, want the connection closed without a response", b)
		}
		if err != nil && !errors.Is(err, io.EOF) && !isReset(err) {
			t.Fatalf("read: %v", err)
		}
		if took < 250*time.Millisecond || took > 5*time.Second {
			t.Fatalf("closed after %v, want about the 300 ms write timeout", took)
		}
		select {
		case err := <-ctxErr:
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				t.Fatalf("context ended with %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the handler's context did not end")
		}
		if n := s.srv.Stats().Counters[stage.TimeoutsHandler]; n != 1 {
			t.Fatalf("handler timeouts %d, want 1", n)
		}

		// Others are served while the handler is stuck.
		c2, r2 := s.dial()
		fmt.Fprint(c2, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
		if _, body := readResp(t, r2, "GET"); body != "hello" {
			t.Fatalf("other client got %q", body)
		}
		c2.Close()

		// Close returns within its grace, the handler still stuck.
		closed := make(chan error, 1)
		go func() { closed <- s.srv.Close() }()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatal("Close waits for a handler that never returns")
		}
		close(rel)
		select {
		case err := <-lateWrite:
			t.Logf("late write: %v", err) // whatever it says, it must not crash or block
		case <-time.After(5 * time.Second):
			t.Fatal("the released handler did not finish")
		}
		time.Sleep(50 * time.Millisecond) // its worker or goroutine ends
	}, func(c *Config) { c.WriteTimeout = 300 * time.Millisecond; c.Logger = discardLogger() })
}

// isReset reports a connection reset by the peer.
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET)
}
