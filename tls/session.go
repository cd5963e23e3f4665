package tls

import (
	"context"
	stdtls "crypto/tls"
	"errors"
	"io"
	"net"
	"sync/atomic"
)

// Session states.
const (
	stGate      uint32 = iota // buffering the ClientHello on the loop
	stQueued                  // waiting for a handshake slot
	stHandshake               // the handshake goroutine runs
	stFinishing               // the goroutine is done; Finish has not run yet
	stOpen                    // records on the loop
	stClosed
)

// Hooks connect a Session to the connection it serves. Both are called
// from the handshake goroutine.
type Hooks struct {
	// Send writes ciphertext records of the handshake, in order. It
	// must not block for long (queue the bytes for the loop).
	Send func(b []byte)
	// Done reports that the handshake ended; the callee arranges for
	// Session.Finish to run on the loop.
	Done func()
	// Scratch, if set, is a buffer shared by the Sessions of one loop:
	// records are decrypted into it, and only what the layer above leaves
	// unconsumed is copied into the Session's own memory (Detach), so an
	// idle connection holds no plaintext buffer. The loop only.
	Scratch *[]byte
}

// ErrClosed is returned once a Session is closed.
var ErrClosed = errors.New("tls: session closed")

// Session is the TLS state of one connection. Loop-owned: its methods are
// called from the connection's loop, except where noted; the handshake
// goroutine touches only the Wire and the fields it hands back through
// Hooks.Done.
type Session struct {
	srv   *Server
	hooks Hooks
	wire  *Wire
	conn  *stdtls.Conn
	state atomic.Uint32 // written by the loop, and by the goroutine before Done

	hello   []byte  // the first flight, buffered while gating
	plain   []byte  // decrypted bytes the layer above has not consumed
	scratch *[]byte // Hooks.Scratch: the loop's shared decryption buffer
	onLoop  bool    // plain is in *scratch: Detach moves it before the loop goes on
	hsErr   error   // set by the handshake goroutine before Done
	eof     bool    // the peer sent close_notify (or closed mid-stream)
}

// NewSession returns a Session for a new connection.
func (s *Server) NewSession(local, remote net.Addr, h Hooks) *Session {
	x := &Session{srv: s, hooks: h, scratch: h.Scratch}
	x.wire = newWire(local, remote, h.Send)
	x.conn = stdtls.Server(x.wire, s.cfg)
	return x
}

// Handshaking reports whether the handshake has not completed yet.
func (x *Session) Handshaking() bool { return x.state.Load() < stOpen }

// Feed takes ciphertext from the socket; the Session keeps it all. While
// gating it returns ErrNeedMore until the ClientHello is whole, a gate
// error, or nil once the handshake is started (or queued); during the
// handshake the bytes go to the handshake goroutine; once open, they are
// decrypted: read the result with Plain. Feeding an empty slice after
// the handshake just decrypts what is buffered. ErrHold and
// ErrHandshakeFlood bound what waits for a handshake (maxQueuedBytes).
func (x *Session) Feed(b []byte) error {
	switch x.state.Load() {
	case stGate:
		if len(x.hello)+len(b) > MaxClientHello+8*recordHeaderLen+maxRecordLen {
			return ErrClientHelloTooLarge
		}
		x.hello = append(x.hello, b...)
		if err := Gate(x.hello); err != nil {
			return err
		}
		x.wire.feed(x.hello)
		x.hello = nil
		if x.srv.acquire(x) {
			x.start()
		} else {
			x.state.Store(stQueued)
		}
		return nil
	case stQueued:
		if x.wire.buffered()+len(b) > maxQueuedBytes {
			return ErrHandshakeFlood
		}
		x.wire.feed(b)
		return nil
	case stHandshake, stFinishing:
		held := x.wire.buffered() + len(b)
		if held > maxHandshakeBytes {
			return ErrHandshakeFlood
		}
		x.wire.feed(b)
		if held > holdHandshakeBytes {
			return ErrHold
		}
		return nil
	case stOpen:
		x.wire.lend(b)
		err := x.decrypt()
		x.wire.unlend()
		return err
	}
	return ErrClosed
}

// What a Session buffers before its handshake completes is bounded, so a
// client cannot grow the server's memory while its handshake waits:
//   - queued for a slot (its ClientHello is already in), a client has
//     nothing legitimate to send until the server answers (a TLS 1.3
//     compatibility ChangeCipherSpec at most): above maxQueuedBytes
//     (64 KiB, generous) Feed fails with ErrHandshakeFlood;
//   - handshaking, or done and waiting for the loop, the client may
//     already send its first request behind its Finished (TLS 1.3, and
//     1.2 False Start), a large upload included: above
//     holdHandshakeBytes (64 KiB) Feed keeps the bytes but returns
//     ErrHold, and the caller stops reading the socket until the
//     handshake is done; what arrives before the pause takes effect (an
//     io_uring ring's worth, 512 KiB by default) still fits under
//     maxHandshakeBytes (1 MiB), past which Feed fails with
//     ErrHandshakeFlood.
const (
	maxQueuedBytes     = 64 << 10
	holdHandshakeBytes = 64 << 10
	maxHandshakeBytes  = 1 << 20
)

// startQueued starts a queued handshake with the slot release handed it;
// false if its connection has gone meanwhile. Called from a finishing
// handshake goroutine.
func (x *Session) startQueued() bool {
	if !x.state.CompareAndSwap(stQueued, stHandshake) {
		return false
	}
	go x.handshake()
	return true
}

func (x *Session) start() {
	x.state.Store(stHandshake)
	go x.handshake()
}

// handshake runs on its own goroutine.
func (x *Session) handshake() {
	ctx, cancel := context.WithTimeout(context.Background(), x.srv.timeout)
	err := x.conn.HandshakeContext(ctx)
	cancel()
	if err != nil {
		x.srv.failures.Add(1)
		if ctx.Err() != nil {
			err = errHandshakeTimeout
		}
	} else {
		x.srv.handshakes.Add(1)
	}
	x.hsErr = err
	x.state.CompareAndSwap(stHandshake, stFinishing)
	x.srv.release()
	x.hooks.Done()
}

// Finish completes the handshake on the loop after Hooks.Done: it returns
// the handshake's error, or switches to records on the loop and decrypts
// what arrived behind the client's Finished (Plain has it).
func (x *Session) Finish() error {
	if x.state.Load() != stFinishing {
		return ErrClosed
	}
	if x.hsErr != nil {
		x.state.Store(stClosed)
		return x.hsErr
	}
	x.wire.toLoop()
	x.state.Store(stOpen)
	// Records may already wait, read ahead during the handshake.
	err := x.decrypt()
	x.wire.unlend() // releases the handshake's input buffer
	return err
}

// decrypt reads records until the Wire would block.
func (x *Session) decrypt() error {
	for !x.eof {
		if len(x.plain) == cap(x.plain) {
			x.grow()
		}
		n, err := x.conn.Read(x.plain[len(x.plain):cap(x.plain)])
		x.plain = x.plain[:len(x.plain)+n]
		switch {
		case err == nil:
		case isWouldBlock(err):
			return nil
		case err == io.EOF:
			x.eof = true // close_notify
			return nil
		default:
			x.state.Store(stClosed)
			return err
		}
	}
	return nil
}

// scratchSize is a loop's decryption buffer: one full TLS record of
// plaintext (16 KiB) and room for what precedes it.
const scratchSize = 32 << 10

// grow makes room in plain: the loop's scratch buffer when plain is
// empty, else a buffer of the Session's own, twice as large.
func (x *Session) grow() {
	if len(x.plain) == 0 && x.scratch != nil && !x.onLoop {
		if cap(*x.scratch) < scratchSize {
			*x.scratch = make([]byte, scratchSize)
		}
		x.plain, x.onLoop = (*x.scratch)[:0], true
		return
	}
	nb := make([]byte, len(x.plain), max(4096, 2*cap(x.plain)))
	copy(nb, x.plain)
	x.plain, x.onLoop = nb, false
}

// Detach moves the plaintext left unconsumed out of the loop's scratch
// buffer into the Session's own memory. Call it after each Feed, Finish
// or Consume that the loop follows by serving other connections. Loop
// side.
func (x *Session) Detach() {
	if !x.onLoop {
		return
	}
	x.onLoop = false
	if len(x.plain) == 0 {
		x.plain = nil
		return
	}
	x.plain = append(make([]byte, 0, max(len(x.plain), 4096)), x.plain...)
}

func isWouldBlock(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Temporary() //nolint:staticcheck // Temporary is what crypto/tls checks
}

// Plain returns the decrypted bytes not yet consumed. Borrowed: valid
// until the next Feed, Consume or Detach.
func (x *Session) Plain() []byte { return x.plain }

// Consume drops the first n decrypted bytes (all of them, if the Session
// was closed meanwhile).
func (x *Session) Consume(n int) {
	if n >= len(x.plain) {
		if x.onLoop || x.scratch == nil {
			x.plain = x.plain[:0]
			if cap(x.plain) > 64<<10 {
				x.plain = nil // a large body passed: let the memory go
			}
		} else {
			x.plain = nil // the next records go to the loop's scratch buffer
		}
		return
	}
	m := copy(x.plain, x.plain[n:])
	x.plain = x.plain[:m]
}

// PeerClosed reports whether the peer ended the stream (close_notify).
func (x *Session) PeerClosed() bool { return x.eof }

// Write encrypts p and returns the records to send. Borrowed: valid until
// the next Write, Feed or CloseNotify.
func (x *Session) Write(p []byte) ([]byte, error) {
	if x.state.Load() != stOpen {
		return nil, ErrClosed
	}
	if _, err := x.conn.Write(p); err != nil {
		return nil, err
	}
	return x.wire.takeOut(), nil
}

// Pending returns records produced while reading (a TLS 1.3 KeyUpdate
// answer, an alert) that must be sent. Borrowed like Write's result.
func (x *Session) Pending() []byte { return x.wire.takeOut() }

// CloseNotify returns the close_notify alert to send before a graceful
// close, or nil before the handshake completed.
func (x *Session) CloseNotify() []byte {
	if x.state.Load() != stOpen {
		return nil
	}
	_ = x.conn.CloseWrite()
	return x.wire.takeOut()
}

// ConnectionState returns the negotiated parameters. Call it after
// Finish has succeeded.
func (x *Session) ConnectionState() stdtls.ConnectionState { return x.conn.ConnectionState() }

// Close releases the Session: a running handshake is aborted, a queued
// one forgotten.
func (x *Session) Close() {
	switch x.state.Swap(stClosed) {
	case stQueued:
		x.srv.forget(x)
	}
	x.wire.abort()
	x.plain = nil
	x.hello = nil
}
