package sluice

import (
	stdtls "crypto/tls"
	"net"
	"sync/atomic"
	"time"

	"github.com/sluice-go/sluice/codec/http1"
	"github.com/sluice-go/sluice/engine"
	"github.com/sluice-go/sluice/stage"
	"github.com/sluice-go/sluice/tls"
)

// tlsConn is a connection of the event-loop models seen through TLS: the
// HTTP layer reads and writes plaintext through it, the engine carries
// the ciphertext. Encryption and decryption happen only on the loop, so
// record order is byte order. Loop-owned, except where the engine.Conn
// contract says otherwise.
type tlsConn struct {
	engine.Conn // the socket's connection
	sess        *tls.Session
	srv         *Server
	ctx         any
	state       atomic.Pointer[stdtls.ConnectionState] // made on the first TLSConnectionState: most handlers never ask
	open        bool                                   // the HTTP layer has been told of the connection
	held        bool                                   // reading paused while the handshake catches up (tls.ErrHold)
	want        int                                    // WantBytes of the HTTP layer, in plaintext bytes
	inData      bool                                   // inside the HTTP layer's OnData
	woken       atomic.Bool                            // Wake was called: deliver even with no plaintext
	opened      time.Time                              // accepted: the Handshake stage starts here
}

// tlsCallbacks wraps the HTTP layer's engine callbacks with TLS.
func (s *Server) tlsCallbacks(inner engine.Callbacks) engine.Callbacks {
	return engine.Callbacks{
		OnOpen: func(ec engine.Conn) {
			t := &tlsConn{Conn: ec, srv: s, opened: time.Now()}
			t.sess = s.tls.NewSession(ec.LocalAddr(), ec.RemoteAddr(), tls.Hooks{
				Send: func(b []byte) { _ = ec.AsyncWritev([][]byte{b}, nil) },
				Done: func() {
					_ = ec.AsyncDo(func(closed bool) {
						if !closed {
							t.handshakeDone(inner)
						}
					})
				},
				Scratch: &s.loopState(ec.Loop()).tlsBuf,
			})
			ec.SetContext(t)
			ec.SetTimeout(s.cfg.HeaderReadTimeout) // the first flight's deadline
		},
		OnData: func(ec engine.Conn, in []byte) int {
			t := ec.Context().(*tlsConn)
			t.read(in, inner)
			return len(in)
		},
		OnTimeout: func(ec engine.Conn) {
			t := ec.Context().(*tlsConn)
			if !t.open {
				sh := t.shard()
				sh.Inc(stage.TimeoutsHandshake)
				sh.Inc(stage.TLSHandshakesFailed)
				t.Conn.Close() // no ClientHello, or a stalled handshake
				return
			}
			inner.OnTimeout(t)
		},
		OnClose: func(ec engine.Conn, err error) {
			t := ec.Context().(*tlsConn)
			t.sess.Close()
			if t.open {
				inner.OnClose(t, err)
			}
		},
	}
}

// shard is where the connection records: its loop's.
func (t *tlsConn) shard() *stage.Shard {
	if sh := t.Conn.Loop().Shard; sh != nil {
		return sh
	}
	return t.srv.stages.Shard(0)
}

// read feeds ciphertext to the session and plaintext to the HTTP layer.
// A sampled read of an open session times the decryption (Decrypt).
func (t *tlsConn) read(in []byte, inner engine.Callbacks) {
	defer t.sess.Detach() // the loop's scratch buffer is the next connection's
	var start time.Time
	timed := t.open && t.Conn.Loop().SampleRead()
	if timed {
		start = time.Now()
	}
	err := t.sess.Feed(in)
	if timed {
		t.shard().Record(stage.Decrypt, time.Since(start))
	}
	switch {
	case err == tls.ErrNeedMore:
		return
	case err == tls.ErrHold:
		// The client sends ahead of its handshake (a request behind its
		// Finished): stop reading until handshakeDone.
		t.held = true
		t.Conn.PauseRead()
		t.flushPending()
		return
	case err == tls.ErrPlainHTTP:
		t.shard().Inc(stage.TLSHandshakesFailed)
		t.srv.logConn(t.Conn, "plain HTTP on the TLS port")
		_ = t.Conn.Write(http1.AppendError(nil, 400, "plain HTTP request sent to the HTTPS port"))
		t.Conn.CloseGraceful()
		return
	case err != nil:
		if !t.open {
			t.shard().Inc(stage.TLSHandshakesFailed)
		}
		t.srv.logConn(t.Conn, "TLS: %v", err)
		t.flushPending()
		t.Conn.Close()
		return
	}
	t.flushPending()
	if t.open {
		t.deliver(inner)
	}
}

// handshakeDone runs on the loop when the handshake goroutine is done.
// Every handshake is timed (stage Handshake), from the accept to here: one clock
// read against ~300 µs of handshake.
func (t *tlsConn) handshakeDone(inner engine.Callbacks) {
	sh := t.shard()
	if err := t.sess.Finish(); err != nil {
		sh.Inc(stage.TLSHandshakesFailed)
		t.srv.logConn(t.Conn, "TLS: %v", err)
		t.flushPending() // the alert, when the records behind Finished fail
		t.Conn.Close()
		return
	}
	sh.Inc(stage.TLSHandshakesOK)
	sh.Record(stage.Handshake, time.Since(t.opened))
	t.open = true
	if t.held {
		t.held = false
		t.Conn.ResumeRead() // before the layer above pauses it for its own reasons
	}
	inner.OnOpen(t)
	t.flushPending()
	t.deliver(inner)
	t.sess.Detach()
}

// deliver hands the decrypted bytes to the HTTP layer.
func (t *tlsConn) deliver(inner engine.Callbacks) {
	if t.inData {
		return
	}
	plain := t.sess.Plain()
	if t.want > 0 && len(plain) < t.want {
		return
	}
	t.want = 0
	if len(plain) > 0 || t.woken.Swap(false) {
		t.inData = true
		n := inner.OnData(t, plain)
		t.inData = false
		t.sess.Consume(n)
	}
	if t.sess.PeerClosed() && len(t.sess.Plain()) == 0 {
		// close_notify: nothing more will come; answer in kind.
		t.CloseGraceful()
	}
}

// flushPending sends records produced while reading (KeyUpdate answers,
// alerts).
func (t *tlsConn) flushPending() {
	if p := t.sess.Pending(); len(p) > 0 {
		_ = t.Conn.Write(p)
	}
}

// Write encrypts p on the loop and writes the records.
func (t *tlsConn) Write(p []byte) error {
	ct, err := t.sess.Write(p)
	if err != nil {
		return err
	}
	return t.Conn.Write(ct)
}

func (t *tlsConn) Writev(bs [][]byte) error {
	for _, b := range bs {
		if err := t.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// AsyncWritev hands plaintext to the loop, which encrypts it there:
// records are never built off the loop.
func (t *tlsConn) AsyncWritev(bs [][]byte, done func(error)) error {
	return t.Conn.AsyncDo(func(closed bool) {
		var err error = net.ErrClosed
		if !closed {
			err = t.Writev(bs)
		}
		if done != nil {
			done(err)
		}
	})
}

func (t *tlsConn) Buffered() int    { return len(t.sess.Plain()) }
func (t *tlsConn) Readable() int    { return len(t.sess.Plain()) + t.Conn.Readable() }
func (t *tlsConn) WantBytes(n int)  { t.want = n }
func (t *tlsConn) Context() any     { return t.ctx }
func (t *tlsConn) SetContext(v any) { t.ctx = v }

// Resume offers the decrypted bytes again.
func (t *tlsConn) Resume() {
	t.deliver(t.srv.innerCallbacks)
}

// Wake schedules a delivery of the decrypted bytes, even none, for a
// layer whose consumer caught up (engine.Conn.Wake).
func (t *tlsConn) Wake() error {
	t.woken.Store(true)
	return t.Conn.Wake()
}

// CloseGraceful sends close_notify, then closes in stages.
func (t *tlsConn) CloseGraceful() {
	if cn := t.sess.CloseNotify(); len(cn) > 0 {
		_ = t.Conn.Write(cn)
	}
	t.Conn.CloseGraceful()
}

// TLSConnectionState returns the negotiated parameters, for Ctx.TLS: made
// on first use and kept (~200 bytes not spent on connections whose
// handlers never ask). Any goroutine, once the handshake is done (handlers
// run only then); crypto/tls guards its own state.
func (t *tlsConn) TLSConnectionState() *stdtls.ConnectionState {
	if p := t.state.Load(); p != nil {
		return p
	}
	cs := t.sess.ConnectionState()
	t.state.Store(&cs)
	return &cs
}
