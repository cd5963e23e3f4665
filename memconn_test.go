package sluice

import (
	"net"
	"time"

	"github.com/sluice-go/sluice/engine"
)

// memConn is an in-memory engine.Conn: what the server writes collects in
// out. It drives the pipeline without sockets or loops.
type memConn struct {
	loop    engine.Loop
	ctx     any
	out     []byte
	closed  bool
	timeout time.Duration
}

var memAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1234}

func (m *memConn) Write(b []byte) error { m.out = append(m.out, b...); return nil }
func (m *memConn) Writev(bs [][]byte) error {
	for _, b := range bs {
		m.out = append(m.out, b...)
	}
	return nil
}
func (m *memConn) Pending() int               { return 0 }
func (m *memConn) Buffered() int              { return 0 }
func (m *memConn) Readable() int              { return 0 }
func (m *memConn) WantBytes(int)              {}
func (m *memConn) PauseRead()                 {}
func (m *memConn) ResumeRead()                {}
func (m *memConn) Resume()                    {}
func (m *memConn) SetTimeout(d time.Duration) { m.timeout = d }
func (m *memConn) Close()                     { m.closed = true }
func (m *memConn) CloseGraceful()             { m.closed = true }
func (m *memConn) Context() any               { return m.ctx }
func (m *memConn) SetContext(v any)           { m.ctx = v }
func (m *memConn) RemoteAddr() net.Addr       { return memAddr }
func (m *memConn) LocalAddr() net.Addr        { return memAddr }
func (m *memConn) Loop() *engine.Loop         { return &m.loop }
func (m *memConn) AsyncClose() error          { m.closed = true; return nil }
func (m *memConn) Wake() error                { return nil }
func (m *memConn) AsyncWritev(bs [][]byte, done func(error)) error {
	m.Writev(bs)
	if done != nil {
		done(nil)
	}
	return nil
}

func (m *memConn) AsyncDo(fn func(closed bool)) error { fn(m.closed); return nil }
