package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	gneterrors "github.com/panjf2000/gnet/v2/pkg/errors"

	"github.com/sluice-go/sluice/stage"
)

// reactor runs the Reactor and Single models on gnet event loops.
type reactor struct {
	gnet.BuiltinEventEngine

	cfg   Config       // immutable after New
	start time.Time    // engine clock origin; set before the loops run
	clock atomic.Int64 // engine time published by the ticker (Loop.Now)

	eng gnet.Engine // set in OnBoot
	// protoAddr is the address given to gnet.Run, the key of gnet's
	// registry of engines (forgetEngine). Set before Run.
	protoAddr string
	addr      *net.TCPAddr
	booted    chan struct{}
	done      chan struct{}
	runErr    error // set before done is closed
	started   atomic.Bool

	mu    sync.Mutex
	lnFDs []int                    // guarded by mu: the listeners, found at boot
	loops map[gnet.EventLoop]*Loop // guarded by mu
	list  []*Loop                  // guarded by mu; the ticker's copy is taken under mu

	accepting atomic.Bool
	open      atomic.Int64
	accepted  atomic.Int64
	refused   atomic.Int64

	stopTick chan struct{}
	tickOnce sync.Once
}

func newReactor(cfg Config) *reactor {
	return &reactor{
		cfg:      cfg,
		booted:   make(chan struct{}),
		done:     make(chan struct{}),
		loops:    make(map[gnet.EventLoop]*Loop),
		stopTick: make(chan struct{}),
	}
}

// loopData is the engine's part of a Loop.
type loopData struct {
	gl    gnet.EventLoop
	epfd  int   // gnet's epoll descriptor for pausing reads, or -1
	conns rconn // sentinel of the loop's connection list
	tick  gnet.RunnableFunc
}

func (r *reactor) ListenAndServe(addr string) error {
	if !r.started.CompareAndSwap(false, true) {
		return ErrStarted
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	if port != "0" && port != "" && !r.cfg.ReusePort {
		// gnet reports a taken address as "setsockopt: bad file
		// descriptor"; binding first gives the real reason.
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("engine: %w", err)
		}
		ln.Close()
	}
	if r.cfg.ReusePort && (port == "0" || port == "") {
		p, err := freePort(host)
		if err != nil {
			return fmt.Errorf("engine: %w", err)
		}
		addr = net.JoinHostPort(host, fmt.Sprint(p))
	}
	nodelay := gnet.TCPNoDelay
	if r.cfg.Delay {
		nodelay = gnet.TCPDelay
	}
	opts := []gnet.Option{
		gnet.WithMulticore(true),
		gnet.WithNumEventLoop(r.cfg.Loops),
		gnet.WithReusePort(r.cfg.ReusePort),
		gnet.WithLoadBalancing(gnet.LoadBalancing(r.cfg.LoadBalancing)),
		gnet.WithTCPNoDelay(nodelay),
		gnet.WithSocketRecvBuffer(r.cfg.SocketReadBuffer),
		gnet.WithSocketSendBuffer(r.cfg.SocketWriteBuffer),
		gnet.WithLogger(gnetLogger{r.cfg.Logger}),
	}
	if r.cfg.KeepAlive > 0 {
		opts = append(opts, gnet.WithTCPKeepAlive(r.cfg.KeepAlive))
	}
	r.start = time.Now()
	r.protoAddr = "tcp://" + addr
	r.accepting.Store(true)
	go func() {
		err := gnet.Run(r, r.protoAddr, opts...)
		forgetEngine(r.eng, r.protoAddr)
		select {
		case <-r.booted:
		default:
			close(r.booted) // failed before OnBoot: wake ListenAndServe
		}
		r.runErr = err
		r.tickOnce.Do(func() { close(r.stopTick) })
		close(r.done)
	}()
	<-r.booted
	if r.addr == nil {
		<-r.done
		if r.runErr == nil {
			r.runErr = ErrClosed
		}
		return fmt.Errorf("engine: listen %s: %w", addr, r.runErr)
	}
	go r.ticker()
	return nil
}

// OnBoot runs once gnet has bound its first listener: find its address,
// apply the backlog, and let ListenAndServe return.
func (r *reactor) OnBoot(eng gnet.Engine) gnet.Action {
	r.eng = eng
	fd, err := eng.Dup()
	if err == nil {
		r.addr, err = localAddr(fd)
		closeFD(fd)
	}
	if err != nil {
		r.cfg.Logger.Error("engine: cannot read the listener address", "err", err)
		close(r.booted)
		return gnet.Shutdown
	}
	r.applyBacklog()
	close(r.booted)
	return gnet.None
}

// applyBacklog sets the listen backlog on every listener (gnet listens
// with somaxconn) and warns when the kernel clips the requested value.
func (r *reactor) applyBacklog() {
	max := somaxconn()
	if fds, err := listenerFDs(r.addr); err == nil {
		r.mu.Lock()
		r.lnFDs = fds // with ReusePort, the other loops' listeners come later
		r.mu.Unlock()
	}
	if r.cfg.Backlog == 0 {
		return
	}
	if r.cfg.Backlog > max {
		r.cfg.Logger.Warn("engine: listen backlog clipped by net.core.somaxconn",
			"requested", r.cfg.Backlog, "somaxconn", max)
	}
	fds, err := listenerFDs(r.addr)
	if err != nil {
		r.cfg.Logger.Warn("engine: cannot find the listeners to set the backlog", "err", err)
		return
	}
	for _, fd := range fds {
		if err := listenFD(fd, r.cfg.Backlog); err != nil {
			r.cfg.Logger.Warn("engine: cannot set the listen backlog", "err", err)
		}
	}
}

func (r *reactor) Serve(net.Listener) error { return ErrServeUnsupported }

func (r *reactor) Addr() net.Addr {
	if r.addr == nil {
		return nil
	}
	return r.addr
}

func (r *reactor) Wait() error {
	<-r.done
	return r.runErr
}

// AcceptQueue reads the listeners' queues with TCP_INFO. The listener
// list is looked up again while it may still grow (ReusePort binds one per
// loop after boot).
func (r *reactor) AcceptQueue() (depth, limit int) {
	if r.addr == nil || !r.accepting.Load() {
		return 0, 0
	}
	r.mu.Lock()
	fds := r.lnFDs
	if len(fds) < r.cfg.Loops && r.cfg.ReusePort {
		if found, err := listenerFDs(r.addr); err == nil {
			r.lnFDs, fds = found, found
		}
	}
	r.mu.Unlock()
	for _, fd := range fds {
		d, l := listenQueue(fd)
		depth += d
		limit += l
	}
	return depth, limit
}

func (r *reactor) Stats() Stats {
	return Stats{Open: r.open.Load(), Accepted: r.accepted.Load(), Refused: r.refused.Load(), MaxConns: int64(r.cfg.MaxConns)}
}

// StopAccepting closes the listening sockets so new connections are
// refused at once by the kernel; connections already accepted go on.
func (r *reactor) StopAccepting() {
	if !r.accepting.CompareAndSwap(true, false) || r.addr == nil {
		return
	}
	fds, err := listenerFDs(r.addr)
	if err != nil {
		r.cfg.Logger.Warn("engine: cannot find the listeners to close", "err", err)
		return
	}
	for _, fd := range fds {
		if err := closeListener(fd); err != nil {
			r.cfg.Logger.Warn("engine: cannot close a listener", "err", err)
		}
	}
}

func (r *reactor) ForEach(fn func(c Conn)) {
	r.mu.Lock()
	loops := append([]*Loop(nil), r.list...)
	r.mu.Unlock()
	for _, l := range loops {
		ld := l.engineData()
		_ = ld.gl.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
			for c := ld.conns.next; c != &ld.conns; {
				next := c.next // fn may close c
				fn(c)
				c = next
			}
			return nil
		}))
	}
}

func (r *reactor) Shutdown(ctx context.Context) error {
	r.StopAccepting()
	return errors.Join(waitDrained(ctx, &r.open, r.done), r.Close())
}

func (r *reactor) Close() error {
	select {
	case <-r.done:
		return nil
	default:
	}
	if r.addr == nil {
		return ErrClosed
	}
	r.tickOnce.Do(func() { close(r.stopTick) })
	// Stop starts the shutdown, then polls every 500 ms for its end; with
	// a cancelled context it returns at once and r.done says when.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := r.eng.Stop(ctx)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	if err := waitStopped(r.done); err != nil {
		return err
	}
	if errors.Is(err, gneterrors.ErrEngineInShutdown) || errors.Is(err, gneterrors.ErrEmptyEngine) {
		err = nil
	}
	return err
}

// ticker posts a wheel tick to every loop that has served a connection.
func (r *reactor) ticker() {
	t := time.NewTicker(r.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-r.stopTick:
			return
		case <-t.C:
		}
		r.clock.Store(int64(time.Since(r.start))) // Loop.Now
		r.mu.Lock()
		for _, l := range r.list {
			ld := l.engineData()
			_ = ld.gl.Execute(context.Background(), ld.tick)
		}
		r.mu.Unlock()
	}
}

// loopFor returns the Loop of gl, creating it on its first connection.
// Runs on gl.
func (r *reactor) loopFor(gl gnet.EventLoop) *Loop {
	r.mu.Lock()
	defer r.mu.Unlock()
	if l, ok := r.loops[gl]; ok {
		return l
	}
	l := &Loop{ID: len(r.list)}
	if rec := r.cfg.Stages; rec != nil {
		l.Shard = rec.Shard(l.ID % rec.Shards())
		l.initSamplers(rec, uint64(l.ID)+1)
	}
	l.wheel = new(wheel)
	l.wheel.init()
	l.shared = &r.clock
	ld := &loopData{gl: gl, epfd: epollFD(gl)}
	ld.conns.next, ld.conns.prev = &ld.conns, &ld.conns
	ld.tick = func(context.Context) error {
		l.now = time.Since(r.start)
		l.wheel.advance(int64(l.now / r.cfg.Tick))
		return nil
	}
	l.eng = ld
	l.now = time.Since(r.start)
	l.wheel.tick = int64(l.now / r.cfg.Tick)
	r.loops[gl] = l
	r.list = append(r.list, l)
	return l
}

func (l *Loop) engineData() *loopData { return l.eng.(*loopData) }

func (r *reactor) OnOpen(g gnet.Conn) ([]byte, gnet.Action) {
	if max := r.cfg.MaxConns; max > 0 && r.open.Load() >= int64(max) {
		r.refused.Add(1)
		r.cfg.refused(g.RemoteAddr())
		refuseWrite(g.Fd(), r.cfg.RefuseMessage)
		return nil, gnet.Close
	}
	r.open.Add(1)
	r.accepted.Add(1)
	c := &rconn{g: g, r: r, loop: r.loopFor(g.EventLoop()), remote: g.RemoteAddr()}
	// The loop's clock moves with the ticks, which wait while the loop is
	// busy; a connection accepted after a long callback (Single accepts
	// on its loop) would have its first deadline armed from a stale clock
	// and expire at the ticks that were waiting. One clock read per
	// accept keeps it exact.
	c.loop.now = time.Since(r.start)
	var start time.Time
	if sh := c.loop.Shard; sh != nil {
		sh.Inc(stage.ConnsAccepted)
		sh.AddGauge(stage.ConnsOpen, 1)
		if c.loop.Sample() {
			start = time.Now()
			if d, ok := acceptWait(g.Fd()); ok {
				sh.Record(stage.AcceptQueue, d)
			}
		}
	}
	c.tm.owner = c
	ld := c.loop.engineData()
	c.prev, c.next = ld.conns.prev, &ld.conns
	ld.conns.prev.next = c
	ld.conns.prev = c
	g.SetContext(c)
	c.inCallback = true
	r.cfg.Callbacks.OnOpen(c)
	c.inCallback = false
	if !start.IsZero() {
		c.loop.Shard.Record(stage.Accept, time.Since(start))
	}
	if c.state == stClosing {
		return nil, gnet.Close
	}
	return nil, gnet.None
}

func (r *reactor) OnTraffic(g gnet.Conn) gnet.Action {
	c, ok := g.Context().(*rconn)
	if !ok {
		return gnet.Close
	}
	c.inCallback = true
	c.deliver()
	c.inCallback = false
	if c.state == stClosing {
		return gnet.Close
	}
	return gnet.None
}

func (r *reactor) OnClose(g gnet.Conn, err error) gnet.Action {
	c, ok := g.Context().(*rconn)
	if !ok {
		return gnet.None
	}
	c.state = stClosed
	if sh := c.loop.Shard; sh != nil {
		sh.AddGauge(stage.ConnsOpen, -1)
	}
	c.loop.wheel.set(&c.tm, 0)
	c.prev.next, c.next.prev = c.next, c.prev
	c.prev, c.next = nil, nil
	r.open.Add(-1)
	r.cfg.Callbacks.OnClose(c, err)
	return gnet.None
}

// Connection states.
const (
	stOpen     uint8 = iota
	stFlushing       // CloseGraceful: waiting for queued output
	stDraining       // half-closed: discarding input until DrainTimeout
	stClosing        // Close asked for: gnet closes when the callback returns
	stClosed         // OnClose has run
)

// rconn is a gnet connection. Loop-owned, except for the fields and
// methods documented as safe for concurrent use.
type rconn struct {
	g      gnet.Conn
	r      *reactor
	loop   *Loop
	remote net.Addr // immutable
	ctx    any

	tm         timer
	want       int         // WantBytes: don't call OnData below this much input
	left       int         // input offered to OnData and not consumed: not counted again
	paused     bool        // PauseRead: the socket's read interest is off
	woken      atomic.Bool // Wake: deliver even with no input; set off the loop
	state      uint8
	inCallback bool          // inside a gnet callback: close by returning gnet.Close
	inData     bool          // inside OnData: Resume must not re-enter it
	flushUntil time.Duration // stFlushing: when to give up waiting
	queued     int64         // bytes handed to gnet to write: Sent is this less its outbound buffer

	prev, next *rconn // the loop's connection list
}

// deliver offers the buffered input to OnData, or discards it while
// draining.
func (c *rconn) deliver() {
	switch c.state {
	case stDraining:
		_, _ = c.g.Discard(-1)
		return
	case stOpen:
	default:
		return
	}
	if c.want > 0 && c.g.InboundBuffered() < c.want {
		return
	}
	c.want = 0
	in, err := c.g.Peek(-1)
	if err != nil || len(in) == 0 && !c.woken.Swap(false) {
		return
	}
	if sh := c.loop.Shard; sh != nil && len(in) > c.left {
		sh.Add(stage.BytesIn, uint64(len(in)-c.left))
		sh.Inc(stage.Reads)
	}
	c.inData = true
	n := c.r.cfg.Callbacks.OnData(c, in)
	c.inData = false
	c.left = len(in) - n // offered again next time: not new bytes
	switch {
	case c.state == stDraining:
		_, _ = c.g.Discard(-1) // CloseGraceful inside OnData: in was borrowed until now
	case n > 0 && c.state != stClosed:
		_, _ = c.g.Discard(n)
	}
}

func (c *rconn) Write(b []byte) error {
	if c.state == stClosed {
		return net.ErrClosed
	}
	if sh := c.loop.Shard; sh != nil {
		sh.Add(stage.BytesOut, uint64(len(b)))
	}
	c.queued += int64(len(b))
	_, err := c.g.Write(b)
	return err
}

func (c *rconn) Writev(bs [][]byte) error {
	if c.state == stClosed {
		return net.ErrClosed
	}
	if sh := c.loop.Shard; sh != nil {
		sh.Add(stage.BytesOut, uint64(vecLen(bs)))
	}
	c.queued += int64(vecLen(bs))
	_, err := c.g.Writev(bs)
	return err
}

func vecLen(bs [][]byte) (n int) {
	for _, b := range bs {
		n += len(b)
	}
	return n
}

func (c *rconn) Pending() int {
	if c.state == stClosed {
		return 0
	}
	return c.g.OutboundBuffered()
}

func (c *rconn) Sent() int64 { return c.queued - int64(c.Pending()) }

func (c *rconn) Buffered() int {
	if c.state == stClosed {
		return 0
	}
	return c.g.InboundBuffered()
}

func (c *rconn) WantBytes(n int) { c.want = n }

func (c *rconn) PauseRead() {
	if c.state != stOpen {
		return
	}
	// Always re-apply: gnet re-arms reads when it flushes output.
	if ld := c.loop.engineData(); ld.epfd >= 0 {
		if setReadInterest(ld.epfd, c.g.Fd(), false, c.g.OutboundBuffered() > 0) == nil {
			c.paused = true
		}
	}
}

func (c *rconn) ResumeRead() {
	if !c.paused || c.state != stOpen {
		return
	}
	c.paused = false
	ld := c.loop.engineData()
	_ = setReadInterest(ld.epfd, c.g.Fd(), true, c.g.OutboundBuffered() > 0)
}

func (c *rconn) Readable() int {
	if c.state == stClosed {
		return 0
	}
	return c.g.InboundBuffered() + kernelUnread(c.g.Fd())
}

func (c *rconn) Resume() {
	if c.inData || c.state != stOpen {
		return
	}
	if c.inCallback { // e.g. from OnTimeout: the caller closes afterwards
		c.deliver()
		return
	}
	c.inCallback = true
	c.deliver()
	c.inCallback = false
	if c.state == stClosing {
		c.closeNow()
	}
}

func (c *rconn) SetTimeout(d time.Duration) {
	if c.state != stOpen {
		return
	}
	c.setTimer(d)
}

func (c *rconn) setTimer(d time.Duration) {
	if d <= 0 {
		c.loop.wheel.set(&c.tm, 0)
		return
	}
	tick := c.r.cfg.Tick
	c.loop.wheel.set(&c.tm, int64((c.loop.Now()+d+tick-1)/tick))
}

func (c *rconn) onTimer() {
	switch c.state {
	case stOpen:
		if f := c.r.cfg.Callbacks.OnTimeout; f != nil {
			c.inCallback = true
			f(c)
			c.inCallback = false
			if c.state == stClosing {
				c.closeNow()
			}
		}
	case stFlushing:
		c.progressClose()
	case stDraining:
		c.closeNow()
	}
}

func (c *rconn) Close() {
	switch c.state {
	case stClosing, stClosed:
		return
	}
	c.state = stClosing
	if !c.inCallback {
		c.closeNow()
	}
}

// closeNow closes from the loop outside a gnet callback.
func (c *rconn) closeNow() {
	c.state = stClosing
	_ = c.g.EventLoop().Close(c.g)
}

func (c *rconn) CloseGraceful() {
	if c.state != stOpen {
		return
	}
	c.state = stFlushing
	c.flushUntil = c.loop.Now() + closeFlushTimeout
	c.progressClose()
}

// closeFlushTimeout bounds how long CloseGraceful waits for queued output:
// the layer above enforces its own write timeout before it gets here, so
// this only catches a peer that stops reading during the final response.
const closeFlushTimeout = 5 * time.Second

// progressClose moves a graceful close forward: half-close once the
// output is written, then drain; close outright if the output does not
// drain in time.
func (c *rconn) progressClose() {
	if c.g.OutboundBuffered() > 0 {
		if c.loop.Now() >= c.flushUntil {
			c.Close()
			return
		}
		c.setTimer(c.r.cfg.Tick)
		return
	}
	if err := shutdownWrite(c.g.Fd()); err != nil {
		c.Close()
		return
	}
	c.state = stDraining
	if !c.inData { // inside OnData, in is still borrowed: deliver discards after
		_, _ = c.g.Discard(-1)
	}
	c.setTimer(c.r.cfg.DrainTimeout)
}

func (c *rconn) Context() any         { return c.ctx }
func (c *rconn) SetContext(v any)     { c.ctx = v }
func (c *rconn) RemoteAddr() net.Addr { return c.remote }

// LocalAddr is read from gnet, which sets it at accept and clears it only
// after OnClose.
func (c *rconn) LocalAddr() net.Addr { return c.g.LocalAddr() }
func (c *rconn) Loop() *Loop         { return c.loop }
func (c *rconn) AsyncClose() error   { return c.g.CloseWithCallback(nil) }
func (c *rconn) Wake() error {
	c.woken.Store(true)
	return c.g.Wake(nil)
}
func (c *rconn) String() string { return fmt.Sprintf("conn %v", c.remote) }

func (c *rconn) AsyncDo(fn func(closed bool)) error {
	// AsyncWritev with nothing to write is a task on the loop's
	// high-priority queue, ordered with the writes, and its callback runs
	// even when the connection is gone.
	return c.g.AsyncWritev(nil, func(_ gnet.Conn, err error) error {
		fn(err != nil || c.state == stClosed)
		return nil
	})
}

func (c *rconn) AsyncWritev(bs [][]byte, done func(err error)) error {
	n := vecLen(bs)
	if sh := c.loop.Shard; sh != nil {
		sh.Add(stage.BytesOut, uint64(n))
	}
	return c.g.AsyncWritev(bs, func(_ gnet.Conn, err error) error {
		// On the loop, right after gnet's write: nothing has read Sent
		// between the two.
		if err == nil {
			c.queued += int64(n)
		}
		if done != nil {
			done(err)
		}
		return nil
	})
}

// gnetLogger sends gnet's log lines to slog.
type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) Debugf(format string, args ...any) {}
func (g gnetLogger) Infof(format string, args ...any)  {}
func (g gnetLogger) Warnf(format string, args ...any) {
	g.l.Warn("gnet: " + fmt.Sprintf(format, args...))
}
func (g gnetLogger) Errorf(format string, args ...any) {
	g.l.Error("gnet: " + fmt.Sprintf(format, args...))
}
func (g gnetLogger) Fatalf(format string, args ...any) {
	g.l.Error("gnet: fatal: " + fmt.Sprintf(format, args...))
}
