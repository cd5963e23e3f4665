package engine

import (
	"context"
	stdtls "crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sluice-go/sluice/stage"
)

// perConn runs the PerConn model: a net.Listener, an accept goroutine and
// one goroutine per connection with blocking reads, as net/http does. The
// connection's goroutine is its loop: every callback runs there.
type perConn struct {
	cfg   Config
	start time.Time

	started   atomic.Bool
	ln        net.Listener
	accepting atomic.Bool
	done      chan struct{}
	doneOnce  sync.Once
	acceptErr error // set before done is closed, when Accept failed for good

	mu    sync.Mutex
	conns map[*pconn]struct{} // guarded by mu
	wg    sync.WaitGroup      // the accept goroutine and every connection's

	open, accepted, refused atomic.Int64
}

func newPerConn(cfg Config) *perConn {
	return &perConn{cfg: cfg, done: make(chan struct{}), conns: make(map[*pconn]struct{})}
}

func (e *perConn) ListenAndServe(addr string) error {
	lc := net.ListenConfig{KeepAlive: -1} // set per connection below
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return err
	}
	if e.cfg.Backlog > 0 {
		e.applyBacklog(ln)
	}
	if err := e.Serve(ln); err != nil {
		ln.Close()
		return err
	}
	return nil
}

// applyBacklog re-listens with the configured backlog (Go listens with
// somaxconn) and warns when the kernel clips it.
func (e *perConn) applyBacklog(ln net.Listener) {
	if max := somaxconn(); e.cfg.Backlog > max {
		e.cfg.Logger.Warn("engine: listen backlog clipped by net.core.somaxconn",
			"requested", e.cfg.Backlog, "somaxconn", max)
	}
	sc, ok := ln.(syscallConner)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		if err := listenFD(int(fd), e.cfg.Backlog); err != nil {
			e.cfg.Logger.Warn("engine: cannot set the listen backlog", "err", err)
		}
	})
}

type syscallConner interface {
	SyscallConn() (rawConn, error)
}

func (e *perConn) Serve(ln net.Listener) error {
	if !e.started.CompareAndSwap(false, true) {
		return ErrStarted
	}
	e.ln = ln
	e.start = time.Now()
	e.accepting.Store(true)
	e.wg.Add(1)
	go e.acceptLoop()
	if e.cfg.WriteTimeout > 0 {
		go e.watchdog()
	}
	return nil
}

func (e *perConn) acceptLoop() {
	defer e.wg.Done()
	var backoff time.Duration
	for {
		nc, err := e.ln.Accept()
		if err != nil {
			if !e.accepting.Load() {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporaryAccept(err) {
				// EMFILE and friends: wait and retry, as net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				e.cfg.Logger.Warn("engine: accept failed; retrying", "err", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			e.acceptErr = err
			e.finish()
			return
		}
		backoff = 0
		if max := e.cfg.MaxConns; max > 0 && e.open.Load() >= int64(max) {
			e.refused.Add(1)
			e.cfg.refused(nc.RemoteAddr())
			if sc, ok := nc.(syscall.Conn); ok && len(e.cfg.RefuseMessage) > 0 {
				if raw, err := sc.SyscallConn(); err == nil {
					_ = raw.Write(func(fd uintptr) bool { refuseWrite(int(fd), e.cfg.RefuseMessage); return true })
				}
			}
			nc.Close()
			continue
		}
		e.open.Add(1)
		e.accepted.Add(1)
		c := newPConn(e, nc)
		c.accepted = time.Now()
		e.mu.Lock()
		e.conns[c] = struct{}{}
		e.mu.Unlock()
		e.wg.Add(1)
		go c.serve()
	}
}

func (e *perConn) Addr() net.Addr {
	if e.ln == nil {
		return nil
	}
	return e.ln.Addr()
}

func (e *perConn) Wait() error {
	<-e.done
	return e.acceptErr
}

func (e *perConn) finish() { e.doneOnce.Do(func() { close(e.done) }) }

func (e *perConn) StopAccepting() {
	if e.accepting.CompareAndSwap(true, false) && e.ln != nil {
		e.ln.Close()
	}
}

func (e *perConn) ForEach(fn func(c Conn)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for c := range e.conns {
		c.post(fn)
	}
}

func (e *perConn) Shutdown(ctx context.Context) error {
	e.StopAccepting()
	// done closes when the accept loop ends, not when the connections do.
	return errors.Join(waitDrained(ctx, &e.open, nil), e.Close())
}

func (e *perConn) Close() error {
	if e.ln == nil {
		return ErrClosed
	}
	e.StopAccepting()
	e.mu.Lock()
	for c := range e.conns {
		c.closeFromOutside()
	}
	e.mu.Unlock()
	e.waitConns()
	e.finish()
	return nil
}

// stuckGrace is how long Close waits for connection goroutines that are
// inside a handler: a goroutine cannot be stopped, and a handler that
// never returns must not keep Close (and Shutdown past its deadline) from
// returning. Their sockets are closed already; each goroutine ends when
// its handler returns.
const stuckGrace = time.Second

// waitConns waits for the connection goroutines to end, or, after
// stuckGrace, for all but those inside a handler.
func (e *perConn) waitConns() {
	ended := make(chan struct{})
	go func() { e.wg.Wait(); close(ended) }()
	grace := time.NewTimer(stuckGrace)
	defer grace.Stop()
	select {
	case <-ended:
		return
	case <-grace.C:
	}
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		e.mu.Lock()
		n, busy := len(e.conns), 0
		for c := range e.conns {
			if c.busy.Load() != 0 {
				busy++
			}
		}
		e.mu.Unlock()
		if n == busy {
			if n > 0 {
				e.cfg.Logger.Warn("engine: closed with handlers still running; their connections are closed and their goroutines end when they return", "handlers", n)
			}
			return
		}
		select {
		case <-ended:
			return
		case <-t.C:
		}
	}
}

// watchdog closes the socket of a connection whose handler has run past
// the write timeout without returning: the client learns at once, and
// the handler's later writes fail. One goroutine per engine, checking
// every quarter of the timeout (at most once a second), so a stuck
// handler is cut off within 1.25× WriteTimeout. Handlers on the worker
// pool are cut off by their connection's own deadline instead.
func (e *perConn) watchdog() {
	every := min(e.cfg.WriteTimeout/4, time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	var stuck []*pconn
	for {
		select {
		case <-e.done:
			return
		case <-t.C:
		}
		now := int64(time.Since(e.start))
		limit := int64(e.cfg.WriteTimeout)
		e.mu.Lock()
		for c := range e.conns {
			// A connection blocked in a write waits for its peer, not its
			// handler: the write's deadline ends it, as a write timeout.
			if b := c.busy.Load(); b != 0 && now-(b-1) > limit && !c.stuck.Load() && !c.writing.Load() {
				stuck = append(stuck, c)
			}
		}
		e.mu.Unlock()
		for _, c := range stuck {
			c.stuck.Store(true)
			if sh := c.loop.Shard; sh != nil {
				sh.Inc(stage.TimeoutsHandler)
			}
			e.cfg.Logger.Warn("engine: closing a connection whose handler has not returned within the write timeout", "remote", c.remote.String(), "timeout", e.cfg.WriteTimeout)
			c.raw.Close()
		}
		clear(stuck)
		stuck = stuck[:0]
	}
}

// AcceptQueue reads the listener's queue with TCP_INFO.
func (e *perConn) AcceptQueue() (depth, limit int) {
	sc, ok := e.ln.(syscallConner)
	if !ok || !e.accepting.Load() {
		return 0, 0
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, 0
	}
	_ = raw.Control(func(fd uintptr) { depth, limit = listenQueue(int(fd)) })
	return depth, limit
}

func (e *perConn) Stats() Stats {
	return Stats{Open: e.open.Load(), Accepted: e.accepted.Load(), Refused: e.refused.Load(), MaxConns: int64(e.cfg.MaxConns)}
}

// pconn is one connection of the PerConn model. Its goroutine owns every
// field not marked otherwise.
type pconn struct {
	e      *perConn
	nc     net.Conn                // the connection read and written: the TLS one under TLS
	raw    net.Conn                // the socket
	timed  *timedConn              // under TLS with a recorder: times the socket reads, for Decrypt
	tls    *stdtls.ConnectionState // after a TLS handshake; immutable
	loop   Loop
	ctx    any
	remote net.Addr // immutable
	local  net.Addr // immutable

	accepted time.Time // when accept(2) returned it
	buf      []byte    // unconsumed input is buf[off:]
	off      int
	want     int
	deadline time.Time // SetTimeout's deadline; zero when disarmed
	state    uint8
	inData   bool
	busy     atomic.Int64 // engine nanoseconds+1 when OnData began; 0 outside it (the watchdog reads it)
	stuck    atomic.Bool  // the watchdog closed the socket under a stuck OnData
	writing  atomic.Bool  // in a write: blocked on the peer, not on the handler; the write deadline rules
	woken    bool
	paused   bool
	drainEnd time.Time

	wmu  sync.Mutex   // serializes writes: the goroutine and AsyncWritev callers
	sent atomic.Int64 // bytes written (Sent); atomic, as writes may come from any goroutine holding wmu

	tmu    sync.Mutex     // guards tasks
	tasks  []func(c Conn) // posted by ForEach and Wake; run on the goroutine
	always []func(c Conn) // write completions: run even after a close
	kick   chan struct{}  // wakes the goroutine while it waits, paused
}

// pconnBuf is the first read buffer of a connection; it doubles as a
// request outgrows it.
const pconnBuf = 4 << 10

func newPConn(e *perConn, nc net.Conn) *pconn {
	c := &pconn{e: e, nc: nc, raw: nc, remote: nc.RemoteAddr(), local: nc.LocalAddr(), kick: make(chan struct{}, 1)}
	c.loop.ID = -1
	if rec := e.cfg.Stages; rec != nil {
		// A loop per connection: a shard by its number, its own sampler
		// (a shard's sampler belongs to one goroutine).
		id := e.accepted.Load()
		c.loop.Shard = rec.Shard(int(id % int64(rec.Shards())))
		c.loop.initSamplers(rec, uint64(id))
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		cfg := &e.cfg
		_ = tc.SetNoDelay(!cfg.Delay)
		if cfg.KeepAlive > 0 {
			_ = tc.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: cfg.KeepAlive})
		} else {
			_ = tc.SetKeepAlive(false)
		}
		if cfg.SocketReadBuffer > 0 {
			_ = tc.SetReadBuffer(cfg.SocketReadBuffer)
		}
		if cfg.SocketWriteBuffer > 0 {
			_ = tc.SetWriteBuffer(cfg.SocketWriteBuffer)
		}
	}
	return c
}

// serve is the connection's goroutine: read, deliver, run posted tasks,
// fire the deadline, until the connection closes.
func (c *pconn) serve() {
	e := c.e
	sh := c.loop.Shard
	if sh != nil {
		sh.Inc(stage.ConnsAccepted)
		sh.AddGauge(stage.ConnsOpen, 1)
		defer sh.AddGauge(stage.ConnsOpen, -1)
	}
	if e.cfg.TLS != nil {
		err := c.handshake()
		if sh != nil {
			if err != nil {
				sh.Inc(stage.TLSHandshakesFailed)
				if errors.Is(err, context.DeadlineExceeded) {
					sh.Inc(stage.TimeoutsHandshake)
				}
			} else {
				sh.Inc(stage.TLSHandshakesOK)
				sh.Record(stage.Handshake, time.Since(c.accepted)) // accept(2) to Finished, like the loop models
			}
		}
		if err != nil {
			c.raw.Close()
			e.mu.Lock()
			delete(e.conns, c)
			e.mu.Unlock()
			e.open.Add(-1)
			e.wg.Done()
			return
		}
	}
	var closeErr error
	defer func() {
		c.nc.Close()
		c.state = stClosed
		e.mu.Lock()
		delete(e.conns, c)
		e.mu.Unlock()
		e.open.Add(-1)
		c.tick()
		e.cfg.Callbacks.OnClose(c, closeErr)
		c.drainAlways()
		e.wg.Done()
	}()
	c.tick()
	sampled := false
	if sh != nil {
		if sampled = c.loop.Sample(); sampled {
			if fd, ok := c.fd(); ok {
				if d, ok := acceptWait(fd); ok {
					sh.Record(stage.AcceptQueue, d)
				}
			}
		}
	}
	e.cfg.Callbacks.OnOpen(c)
	if sampled {
		sh.Record(stage.Accept, time.Since(c.accepted)) // accept(2) to OnOpen done
	}
	for c.state == stOpen || c.state == stDraining {
		c.runTasks()
		if c.state == stOpen && c.woken {
			c.deliver() // clears woken
			continue
		}
		if c.state != stOpen && c.state != stDraining {
			break
		}
		if c.paused && c.state == stOpen {
			c.waitPaused()
			continue
		}
		// Re-check posted tasks after arming the deadline: a task posted
		// before it would otherwise have its wake-up overwritten.
		_ = c.nc.SetReadDeadline(c.readDeadline())
		if c.hasTasks() {
			continue
		}
		if len(c.buf) == cap(c.buf) {
			c.grow()
		}
		var t0 time.Time
		timed := c.timed != nil && c.loop.SampleRead()
		if timed {
			c.timed.on, c.timed.blocked = true, 0
			t0 = time.Now()
		}
		n, err := c.nc.Read(c.buf[len(c.buf):cap(c.buf)])
		if timed {
			// Decrypt: the TLS read minus the time blocked in the socket's.
			c.timed.on = false
			if d := time.Since(t0) - c.timed.blocked; n > 0 && d > 0 {
				sh.Record(stage.Decrypt, d)
			}
		}
		c.tick()
		if n > 0 && sh != nil {
			sh.Add(stage.BytesIn, uint64(n))
			sh.Inc(stage.Reads)
		}
		if n > 0 {
			c.buf = c.buf[:len(c.buf)+n]
			if c.state == stDraining {
				c.buf, c.off = c.buf[:0], 0
			} else {
				c.deliver()
			}
		}
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.onDeadline()
			continue
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
			closeErr = err
		}
		return
	}
}

// waitPaused blocks, not reading, until a task is posted, the deadline
// passes or the connection is closed from elsewhere.
func (c *pconn) waitPaused() {
	var timeout <-chan time.Time
	if !c.deadline.IsZero() {
		t := time.NewTimer(time.Until(c.deadline))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-c.kick:
	case <-timeout:
		c.tick()
		c.onDeadline()
	}
}

// handshake runs crypto/tls's server handshake on the connection's
// goroutine, within HandshakeTimeout. Plain HTTP sent to the TLS port is
// told so. On success the connection reads and writes through TLS.
func (c *pconn) handshake() error {
	var under net.Conn = c.raw
	if c.loop.Shard != nil {
		c.timed = &timedConn{Conn: c.raw}
		under = c.timed
	}
	tc := stdtls.Server(under, c.e.cfg.TLS)
	ctx, cancel := context.WithTimeout(context.Background(), c.e.cfg.HandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		var rh stdtls.RecordHeaderError
		if errors.As(err, &rh) && rh.Conn != nil && looksLikeHTTPRecord(rh.RecordHeader[:]) {
			_ = rh.Conn.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = io.WriteString(rh.Conn, plainHTTPResponse)
		}
		return err
	}
	cs := tc.ConnectionState()
	c.tls = &cs
	c.nc = tc
	return nil
}

// timedConn is the socket under crypto/tls when stages are recorded: while
// on, it adds the time spent in the socket's Read to blocked, so a TLS
// read's own work (record decryption) is the rest. The connection's
// goroutine only.
type timedConn struct {
	net.Conn
	on      bool
	blocked time.Duration
}

func (t *timedConn) Read(b []byte) (int, error) {
	if !t.on {
		return t.Conn.Read(b)
	}
	t0 := time.Now()
	n, err := t.Conn.Read(b)
	t.blocked += time.Since(t0)
	return n, err
}

// plainHTTPResponse answers a plain HTTP request sent to the TLS port.
const plainHTTPResponse = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 59\r\nConnection: close\r\n\r\n400 Bad Request: plain HTTP request sent to the HTTPS port\n"

func looksLikeHTTPRecord(h []byte) bool {
	for _, c := range h {
		if c < 'A' || c > 'Z' {
			return c == ' ' && len(h) > 1
		}
	}
	return true
}

// TLSConnectionState returns the TLS parameters, or nil for plain TCP.
func (c *pconn) TLSConnectionState() *stdtls.ConnectionState { return c.tls }

// readDeadline is the sooner of the connection's deadline and, while
// draining, the end of the drain.
func (c *pconn) readDeadline() time.Time {
	if c.state == stDraining {
		return c.drainEnd
	}
	return c.deadline
}

// onDeadline runs when a Read timed out: a posted task (handled at the
// top of the loop), the end of a drain, or the connection's deadline.
func (c *pconn) onDeadline() {
	now := time.Now()
	switch {
	case c.state == stDraining && !now.Before(c.drainEnd):
		c.Close()
	case c.state == stOpen && !c.deadline.IsZero() && !now.Before(c.deadline):
		c.deadline = time.Time{}
		if f := c.e.cfg.Callbacks.OnTimeout; f != nil {
			f(c)
		}
	}
}

func (c *pconn) tick() { c.loop.now = time.Since(c.e.start) }

func (c *pconn) grow() {
	if c.off > 0 { // move the unconsumed bytes to the front first
		n := copy(c.buf, c.buf[c.off:])
		c.buf, c.off = c.buf[:n], 0
		if n < cap(c.buf) {
			return
		}
	}
	size := max(2*cap(c.buf), pconnBuf)
	nb := make([]byte, len(c.buf), size)
	copy(nb, c.buf)
	c.buf = nb
}

func (c *pconn) deliver() {
	if c.state != stOpen || c.inData {
		return
	}
	in := c.buf[c.off:]
	woken := c.woken
	c.woken = false
	if len(in) == 0 && !woken || len(in) > 0 && c.want > 0 && len(in) < c.want {
		return
	}
	c.want = 0
	c.inData = true
	c.busy.Store(int64(time.Since(c.e.start)) + 1) // not loop.now: stale after a Wake
	n := c.e.cfg.Callbacks.OnData(c, in)
	c.busy.Store(0)
	c.inData = false
	c.off += n
	if c.off == len(c.buf) {
		c.buf, c.off = c.buf[:0], 0
		if cap(c.buf) > 64<<10 { // a large request passed: let the memory go
			c.buf = nil
		}
	}
}

func (c *pconn) post(fn func(c Conn)) {
	c.tmu.Lock()
	c.tasks = append(c.tasks, fn)
	c.tmu.Unlock()
	_ = c.nc.SetReadDeadline(time.Now()) // interrupt a blocked Read
	select {                             // or a paused wait
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *pconn) hasTasks() bool {
	c.tmu.Lock()
	defer c.tmu.Unlock()
	return len(c.tasks) > 0
}

func (c *pconn) runTasks() {
	c.tmu.Lock()
	tasks, always := c.tasks, c.always
	c.tasks, c.always = nil, nil
	c.tmu.Unlock()
	for _, fn := range always {
		fn(c)
	}
	for _, fn := range tasks {
		if c.state == stOpen {
			fn(c)
		}
	}
}

// drainAlways runs the completions of writes that finish after the close:
// their owners wait for them to release buffers. Writes from other
// goroutines may still be in progress, so it waits for the write lock.
func (c *pconn) drainAlways() {
	c.wmu.Lock() // no write is in progress after this
	c.wmu.Unlock()
	c.tmu.Lock()
	always := c.always
	c.always = nil
	c.tmu.Unlock()
	for _, fn := range always {
		fn(c)
	}
}

// postAlways is post for a task that must run even if the connection
// closes first (a write completion): it runs at the latest on the way out.
func (c *pconn) postAlways(fn func(c Conn)) {
	c.tmu.Lock()
	c.always = append(c.always, fn)
	c.tmu.Unlock()
	_ = c.nc.SetReadDeadline(time.Now())
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *pconn) Write(b []byte) error {
	if c.state == stClosed || c.state == stClosing {
		return net.ErrClosed
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if sh := c.loop.Shard; sh != nil {
		sh.Add(stage.BytesOut, uint64(len(b)))
	}
	return c.writeLocked(func() error {
		n, err := c.nc.Write(b)
		c.sent.Add(int64(n))
		return err
	})
}

func (c *pconn) Writev(bs [][]byte) error {
	if c.state == stClosed || c.state == stClosing {
		return net.ErrClosed
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writevLocked(bs)
}

func (c *pconn) writevLocked(bs [][]byte) error {
	if sh := c.loop.Shard; sh != nil {
		sh.Add(stage.BytesOut, uint64(vecLen(bs)))
	}
	return c.writeLocked(func() error {
		v := net.Buffers(bs)
		n, err := v.WriteTo(c.nc)
		c.sent.Add(n)
		return err
	})
}

// writeLocked runs w with the write deadline; a failed write closes the
// connection (the goroutine's Read then ends).
func (c *pconn) writeLocked(w func() error) error {
	if d := c.e.cfg.WriteTimeout; d > 0 {
		_ = c.nc.SetWriteDeadline(time.Now().Add(d))
	}
	c.writing.Store(true)
	err := w()
	c.writing.Store(false)
	if b := c.busy.Load(); b != 0 {
		// Time blocked on the peer is not the handler's: the watchdog
		// counts from here. (CompareAndSwap: OnData may end meanwhile.)
		c.busy.CompareAndSwap(b, int64(time.Since(c.e.start))+1)
	}
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// The peer did not take the output within WriteTimeout: the
			// write timeout of the event-loop models, counted alike.
			if sh := c.loop.Shard; sh != nil {
				sh.Inc(stage.TimeoutsWrite)
			}
			c.e.cfg.logEvent(c.remote, "engine: closing: output not read by the peer within the write timeout", "write_timeout", c.e.cfg.WriteTimeout)
		}
		c.nc.Close()
	}
	return err
}

func (c *pconn) Pending() int     { return 0 } // writes complete before they return
func (c *pconn) Sent() int64      { return c.sent.Load() }
func (c *pconn) Buffered() int    { return len(c.buf) - c.off }
func (c *pconn) WantBytes(n int)  { c.want = n }
func (c *pconn) Context() any     { return c.ctx }
func (c *pconn) SetContext(v any) { c.ctx = v }
func (c *pconn) Loop() *Loop      { return &c.loop }

func (c *pconn) RemoteAddr() net.Addr { return c.remote }
func (c *pconn) LocalAddr() net.Addr  { return c.local }

// fd returns the socket's descriptor, for TCP_INFO.
func (c *pconn) fd() (int, bool) {
	sc, ok := c.raw.(syscallConner)
	if !ok {
		return 0, false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	fd := -1
	_ = raw.Control(func(f uintptr) { fd = int(f) })
	return fd, fd >= 0
}

func (c *pconn) Readable() int {
	n := c.Buffered()
	if sc, ok := c.raw.(syscallConner); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			_ = raw.Control(func(fd uintptr) { n += kernelUnread(int(fd)) })
		}
	}
	return n
}

func (c *pconn) Resume() { c.deliver() }

func (c *pconn) PauseRead()  { c.paused = true }
func (c *pconn) ResumeRead() { c.paused = false }

func (c *pconn) SetTimeout(d time.Duration) {
	if d <= 0 {
		c.deadline = time.Time{}
		return
	}
	c.deadline = time.Now().Add(d)
}

func (c *pconn) Close() {
	if c.state == stClosed {
		return
	}
	c.state = stClosing
	c.nc.Close()
	select { // a paused goroutine must notice
	case c.kick <- struct{}{}:
	default:
	}
}

// CloseGraceful half-closes (writes here are already complete), then
// reads and discards until the peer closes or DrainTimeout passes.
func (c *pconn) CloseGraceful() {
	if c.state != stOpen {
		return
	}
	if tc, ok := c.nc.(*stdtls.Conn); ok {
		_ = tc.CloseWrite() // close_notify
	}
	tc, ok := c.raw.(*net.TCPConn)
	if !ok || tc.CloseWrite() != nil {
		c.Close()
		return
	}
	c.state = stDraining
	c.drainEnd = time.Now().Add(c.e.cfg.DrainTimeout)
	c.buf, c.off = c.buf[:0], 0
}

// AsyncWritev queues the write to the connection's goroutine, like
// AsyncDo, so the two keep their order; done runs there after it.
func (c *pconn) AsyncWritev(bs [][]byte, done func(error)) error {
	c.postAlways(func(Conn) {
		err := net.ErrClosed
		if c.state == stOpen || c.state == stDraining {
			c.wmu.Lock()
			err = c.writevLocked(bs)
			c.wmu.Unlock()
		}
		if done != nil {
			done(err)
		}
	})
	return nil
}

func (c *pconn) AsyncDo(fn func(closed bool)) error {
	c.postAlways(func(Conn) { fn(c.state != stOpen && c.state != stDraining) })
	return nil
}

func (c *pconn) AsyncClose() error {
	c.closeFromOutside()
	return nil
}

// closeFromOutside closes from another goroutine: the socket now (which
// ends a blocked Read or Write) and the goroutine's state via a task (which
// ends a paused wait).
func (c *pconn) closeFromOutside() {
	c.raw.Close()
	c.post(func(Conn) { c.Close() })
}

// Wake delivers the buffered input again on the connection's goroutine.
func (c *pconn) Wake() error {
	c.post(func(Conn) { c.woken = true })
	return nil
}
