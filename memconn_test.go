package sluice

import (
	"net"
	"time"

	"github.com/sluice-go/sluice/engine"
)

// memConn is an in-memory engine.Conn: what the server writes collects in
// out. It drives the pipeline without sockets or loops. With hold set,
// what is written stays pending (a peer that has not read it yet) until
// take.
type memConn struct {
	loop    engine.Loop
	ctx     any
	out     []byte
	closed  bool
	timeout time.Duration // the deadline's time on the loop's clock; zero when disarmed
	hold    bool
	pending int
	queued  int64
}

// wrote accounts for n bytes written.
func (m *memConn) wrote(n int) {
	m.queued += int64(n)
	if m.hold {
		m.pending += n
	}
}

// take is the peer reading everything pending.
func (m *memConn) take() { m.pending = 0 }

var memAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1234}

func (m *memConn) Write(b []byte) error { m.out = append(m.out, b...); m.wrote(len(b)); return nil }
func (m *memConn) Writev(bs [][]byte) error {
	for _, b := range bs {
		m.out = append(m.out, b...)
		m.wrote(len(b))
	}
	return nil
}
func (m *memConn) Pending() int  { return m.pending }
func (m *memConn) Sent() int64   { return m.queued - int64(m.pending) }
func (m *memConn) Buffered() int { return 0 }
func (m *memConn) Readable() int { return 0 }
func (m *memConn) WantBytes(int) {}
func (m *memConn) PauseRead()    {}
func (m *memConn) ResumeRead()   {}
func (m *memConn) Resume()       {}
func (m *memConn) SetTimeout(d time.Duration) {
	m.timeout = 0
	if d > 0 {
		m.timeout = m.loop.Now() + d
	}
}

// tick is the engine's timer tick: the loop's clock advances by d and a
// deadline that has passed fires.
func (m *memConn) tick(s *Server, d time.Duration) {
	m.loop.SetNow(m.loop.Now() + d)
	if m.timeout != 0 && m.loop.Now() >= m.timeout {
		m.timeout = 0
		s.onTimeout(m)
	}
}
func (m *memConn) Close()               { m.closed = true }
func (m *memConn) CloseGraceful()       { m.closed = true }
func (m *memConn) Context() any         { return m.ctx }
func (m *memConn) SetContext(v any)     { m.ctx = v }
func (m *memConn) RemoteAddr() net.Addr { return memAddr }
func (m *memConn) LocalAddr() net.Addr  { return memAddr }
func (m *memConn) Loop() *engine.Loop   { return &m.loop }
func (m *memConn) AsyncClose() error    { m.closed = true; return nil }
func (m *memConn) Wake() error          { return nil }
func (m *memConn) AsyncWritev(bs [][]byte, done func(error)) error {
	m.Writev(bs)
	if done != nil {
		done(nil)
	}
	return nil
}

func (m *memConn) AsyncDo(fn func(closed bool)) error { fn(m.closed); return nil }
