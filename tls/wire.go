package tls

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// errWouldBlock is what Wire.Read returns on the loop when it holds no
// ciphertext. Its type is a net.Error whose Temporary() is true, which is
// the one way crypto/tls leaves a record read resumable: it checks the
// error with a type assertion (not errors.As), and Timeout() alone is not
// enough.
var errWouldBlock error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "tls: would block" }
func (wouldBlock) Timeout() bool   { return false }
func (wouldBlock) Temporary() bool { return true }

var _ net.Error = wouldBlock{}

// errHandshakeTimeout ends a handshake whose peer stopped sending.
var errHandshakeTimeout = errors.New("tls: handshake timed out")

// Wire is the net.Conn crypto/tls runs over: ciphertext in, fed by the
// loop; ciphertext out, handed to the loop. It has two modes:
//
//   - handshaking: Read blocks (on the handshake goroutine) until the loop
//     feeds bytes, the handshake's context ends or the Wire is closed;
//     Write hands a copy of each record to Send, in order.
//   - on the loop, after the handshake: Read returns errWouldBlock when
//     it is empty; Write appends to an output buffer the loop flushes.
//
// Safe for concurrent use by the loop and the handshake goroutine.
type Wire struct {
	mu     sync.Mutex
	cond   sync.Cond
	in     []byte // ciphertext fed and not yet read
	lent   bool   // in is the caller's slice (loop mode, lend): valid until unlend
	eof    bool   // the peer closed its side
	closed bool
	loop   bool // after the handshake: non-blocking

	out  []byte         // loop mode: ciphertext waiting to be sent
	send func(b []byte) // handshaking: where records go

	local, remote net.Addr
}

// newWire returns a Wire in handshaking mode.
func newWire(local, remote net.Addr, send func([]byte)) *Wire {
	w := &Wire{send: send, local: local, remote: remote}
	w.cond.L = &w.mu
	return w
}

// feed appends ciphertext from the socket. Loop side.
func (w *Wire) feed(b []byte) {
	if len(b) == 0 {
		return
	}
	w.mu.Lock()
	w.in = append(w.in, b...)
	w.cond.Signal()
	w.mu.Unlock()
}

// lend hands the loop's ciphertext to Read without a copy when nothing is
// buffered (loop mode; the common case: crypto/tls takes every byte into
// its own record buffer). unlend must run before b is reused. Loop side.
func (w *Wire) lend(b []byte) {
	if len(b) == 0 {
		return
	}
	w.mu.Lock()
	if len(w.in) == 0 {
		w.in, w.lent = b, true
	} else {
		w.in = append(w.in, b...)
	}
	w.mu.Unlock()
}

// unlend copies what Read left of a lent slice, if anything, into the
// Wire's own buffer; an empty buffer is released, so an idle connection
// holds none. Loop side.
func (w *Wire) unlend() {
	w.mu.Lock()
	if w.lent {
		w.lent = false
		if len(w.in) > 0 {
			w.in = append([]byte(nil), w.in...)
		} else {
			w.in = nil
		}
	} else if len(w.in) == 0 {
		w.in = nil
	}
	w.mu.Unlock()
}

// setEOF records that the peer closed its sending side.
func (w *Wire) setEOF() {
	w.mu.Lock()
	w.eof = true
	w.cond.Broadcast()
	w.mu.Unlock()
}

// toLoop switches to loop mode once the handshake goroutine is done.
func (w *Wire) toLoop() {
	w.mu.Lock()
	w.loop = true
	w.send = nil
	w.mu.Unlock()
}

// takeOut returns the ciphertext written on the loop and empties the
// buffer; the slice is valid until the next Write. Loop side.
func (w *Wire) takeOut() []byte {
	w.mu.Lock()
	out := w.out
	w.out = w.out[:0]
	w.mu.Unlock()
	return out
}

// buffered returns the ciphertext fed and not yet read.
func (w *Wire) buffered() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.in)
}

func (w *Wire) Read(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(w.in) == 0 {
		switch {
		case w.closed:
			return 0, net.ErrClosed
		case w.eof:
			return 0, io.EOF
		case w.loop:
			return 0, errWouldBlock
		}
		w.cond.Wait()
	}
	n := copy(p, w.in)
	if w.lent {
		w.in = w.in[n:]
		return n, nil
	}
	// Move the rest down: the buffer holds at most a few records.
	m := copy(w.in, w.in[n:])
	w.in = w.in[:m]
	if m == 0 && cap(w.in) > 64<<10 {
		w.in = nil // a burst passed: let the memory go
	}
	return n, nil
}

// Write never fails short: on the loop it appends to the output buffer,
// during the handshake it hands a copy to send.
func (w *Wire) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return 0, net.ErrClosed
	}
	if w.loop {
		w.out = append(w.out, p...)
		w.mu.Unlock()
		return len(p), nil
	}
	send := w.send
	w.mu.Unlock()
	send(append([]byte(nil), p...))
	return len(p), nil
}

// Close wakes a blocked Read; later calls fail.
func (w *Wire) Close() error {
	w.mu.Lock()
	w.closed = true
	w.cond.Broadcast()
	w.mu.Unlock()
	return nil
}

// abort ends a blocked handshake Read (the handshake's deadline).
func (w *Wire) abort() { _ = w.Close() }

func (w *Wire) LocalAddr() net.Addr  { return w.local }
func (w *Wire) RemoteAddr() net.Addr { return w.remote }

// SetDeadline and its kin are no-ops: the loop's timer wheel and the
// handshake's context bound the time instead.
func (w *Wire) SetDeadline(time.Time) error      { return nil }
func (w *Wire) SetReadDeadline(time.Time) error  { return nil }
func (w *Wire) SetWriteDeadline(time.Time) error { return nil }
