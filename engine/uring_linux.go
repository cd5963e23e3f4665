//go:build linux

package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sluice-go/sluice/internal/uring"
	"github.com/sluice-go/sluice/stage"
)

// The Uring model: one io_uring per loop goroutine, each goroutine locked
// to its OS thread (the rings are created with IORING_SETUP_SINGLE_ISSUER
// and DEFER_TASKRUN: only the creating thread may submit, and completion
// work runs only while it waits). Everything a loop does with sockets is a
// ring operation, so one io_uring_enter per loop iteration submits every
// send, re-arm and close of the iteration and waits for the next events:
//
//   - Accept: a multishot accept on each loop's own SO_REUSEPORT listener
//     (ReusePort), or on the one listener, held by an acceptor: a ring
//     of its own on a goroutine of its own (as gnet's main reactor), which
//     hands each connection to the loop LoadBalancing picks through that
//     loop's task queue. A loop busy in a handler then delays only its
//     own connections, never the accepting. With one loop, the loop
//     accepts itself.
//   - Read: a multishot receive per connection into the loop's provided
//     buffer ring. OnData sees the ring buffer itself; when it returns,
//     the buffer goes back to the ring, after the unconsumed bytes are
//     copied to the connection's own buffer (in), so an idle connection
//     holds no input memory and the ring never waits for a slow layer.
//   - Write: Write and Writev copy into the connection's output queue;
//     at the end of the iteration one send per connection is prepared
//     for the head of the queue. One send is in flight per connection (a
//     second could interleave its bytes), the buffer stays reachable in
//     the queue until its completion, and a short send is resubmitted
//     before anything queued behind it. A queue past eagerWriteMin with
//     no send in flight is written at once with send(2) instead, so
//     Pending tells the layer above what the peer has not taken.
//     AsyncWritev copies small vectors and sends large buffers in place,
//     running done when the kernel has taken them (see directSendMin).
//   - Timers: a multishot IORING_OP_TIMEOUT per ring fires every Tick and
//     advances the loop's timer wheel; no ticker goroutine.
//   - Close: IORING_OP_ASYNC_CANCEL by fd, hard-linked to IORING_OP_CLOSE,
//     so the receive and any send still armed end before the descriptor
//     goes. The connection's slot is reused only after the last CQE of
//     every operation it had (its user_data carries a generation as a
//     second guard).
//   - Other goroutines: AsyncWritev, AsyncDo, AsyncClose, Wake, ForEach
//     and the accept hand-off post a task to the loop's queue and, when
//     the loop is waiting, wake it with the ring's Waker (a MSG_RING
//     completion; Ack before draining, per the Waker's protocol).

// CQE user_data layout: the operation kind in the top 8 bits, the slot's
// generation in the next 24, the slot index in the low 32.
const (
	opAccept  uint64 = iota + 1 // the loop's multishot accept
	opRecv                      // a connection's multishot receive
	opSend                      // a connection's send
	opSendZC                    // a zero-copy send: the index names a zcRec, not a connection
	opCancel                    // a cancel; its CQE carries nothing we need
	opClose                     // a connection's close (after the hard-linked cancel)
	opTick                      // the loop's timer
	opWake                      // the Waker's completion
	opLnClose                   // the listener's close (after its hard-linked cancel)
)

const genMask = 1<<24 - 1

func token(kind uint64, gen, idx uint32) uint64 {
	return kind<<56 | uint64(gen&genMask)<<32 | uint64(idx)
}

// Ring sizes. SQ: 512 entries hold the SQEs of one iteration for a few
// hundred ready connections (a send and a re-arm each); a full SQ is
// submitted early, never dropped. CQ: 8192 entries (128 KiB) absorb a
// burst of multishot completions; an overflow is still handled (Reap
// flushes the kernel's list and ended multishots are re-armed), just
// slower.
const (
	uringEntries   = 512
	uringCQEntries = 8192
	reapBatch      = 512 // CQEs copied out per Reap: 8 KiB of loop memory
	reapRounds     = 4   // Reap batches per iteration before submitting: sends are not held back by a flood of completions
)

// directSendMin is the size from which AsyncWritev sends a caller's
// buffers in place, running done when the kernel has taken them, instead
// of copying them into the connection's queue and running done at once.
// BenchmarkUringAsyncWrite (one connection, request/response, loopback,
// medians of 5): copying wins at 1 KiB (35 vs 44 µs), the two are even
// from 16 to 64 KiB (within the noise), sending in place wins from 256
// KiB (98 vs 151 µs; 376 vs 593 µs at 1 MiB), where the copy and the
// buffer it needs cost more than the later done.
const directSendMin = 64 << 10

// eagerWriteMin is the unsent output of a connection from which the loop
// writes at once, with a non-blocking send(2), instead of waiting for the
// end of the iteration's submission. The layer above compares Pending
// with its high-water mark right after writing (and then polls once per
// tick until it drains): bytes the ring has not been handed yet would
// count as the peer's backlog, so large outputs are written the way the
// Reactor writes them, the rest queued. Small responses, the common case,
// stay batched: 64 KiB is above every usual response and far below the
// default high-water mark (1 MiB).
const eagerWriteMin = 64 << 10

// readAheadMax is the unconsumed input above which a connection whose
// layer stopped early (it asked for a Wake: MaxPipelined requests taken,
// the rest after the other connections) is not read until that backlog
// has been offered again: the kernel keeps the rest and the peer's window
// closes. Without it a multishot receive takes everything a pipelining
// client sends while the layer works through it 64 requests at a time.
// 64 KiB is what gnet reads per connection per loop iteration. Once held
// back, a connection receives one buffer per loop iteration (single-shot
// receives) until its layer catches up: a re-armed multishot receive
// would take the whole buffer ring's worth in one wait.
const readAheadMax = 64 << 10

// stopWait bounds how long a stopping loop waits for the completions of
// the operations it canceled (they normally arrive at once); past it the
// ring is closed, which cancels whatever is left in the kernel.
const stopWait = time.Second

// pooledOutBuf is the largest output buffer a loop keeps for reuse, and
// maxPooledOut how many: 64 KiB covers the usual response, and 64 of them
// bound an idle loop's spare output memory at 4 MiB.
const (
	pooledOutBuf = 64 << 10
	maxPooledOut = 64
)

// Input buffers (a connection's unconsumed bytes) come from a loop's
// pool in power-of-two sizes from minInBuf to maxInBuf and go back when
// emptied: a streamed upload that pauses and resumes every few hundred
// KiB would otherwise grow a new buffer each time (measured: 1.2 GB of
// garbage for a 512 MiB upload). inPoolBytes bounds what an idle loop
// keeps.
const (
	minInBuf    = 4 << 10
	inClasses   = 11 // 4 KiB .. 4 MiB
	maxInBuf    = minInBuf << (inClasses - 1)
	inPoolBytes = 4 << 20
)

var (
	uringCheckOnce sync.Once
	uringCheckErr  error
	uringFeatures  uring.Features
)

// ErrUringUnavailable is wrapped by CheckUring's error and by New's for
// the Uring model when this kernel or platform cannot run it.
var ErrUringUnavailable = errors.New("engine: the uring model cannot run here")

// CheckUring reports whether the Uring model can run in this process: nil,
// or an error wrapping ErrUringUnavailable that says why (no io_uring in
// the kernel, io_uring forbidden by seccomp or sysctl, a kernel too old
// for an operation the engine uses) and names the model to use instead.
// The kernel is probed once per process. Safe for concurrent use.
func CheckUring() error {
	uringCheckOnce.Do(func() {
		p, err := uring.ProbeKernel()
		if err == nil {
			err = p.CheckServer()
		}
		if err != nil {
			uringCheckErr = uringUnavailable(err)
			return
		}
		uringFeatures = p.Features
	})
	return uringCheckErr
}

// uringUnavailable is CheckUring's error for cause.
func uringUnavailable(cause error) error {
	return fmt.Errorf("%w: %v; use -model reactor (Model: Reactor) instead", ErrUringUnavailable, cause)
}

// uengine runs the Uring model.
type uengine struct {
	cfg    Config       // immutable after New
	start  time.Time    // engine clock origin; set before the loops run
	clock  atomic.Int64 // engine time published every tick by publishClock (Loop.Now)
	ms     bool         // the kernel has multishot timeouts (6.4); else the tick re-arms itself
	direct int          // AsyncWritev sends vectors of at least this many bytes in place; immutable

	started   atomic.Bool
	accepting atomic.Bool
	stopOnce  sync.Once
	addr      *net.TCPAddr // the bound address; immutable once serving
	wildcard  bool         // bound to an unspecified address: each connection's local address is read
	loops     []*uloop     // the serving loops; immutable once serving
	acceptor  *uloop       // the accepting ring without ReusePort and with several loops; else nil
	all       []*uloop     // loops and acceptor; immutable once serving
	wg        sync.WaitGroup
	done      chan struct{}
	runErr    error // set before done is closed
	errOnce   sync.Once

	lnMu  sync.Mutex
	lnFDs []int // guarded by lnMu: open listeners, for AcceptQueue; a loop removes its own before closing it

	open, accepted, refused atomic.Int64
	rr                      uint64 // round-robin cursor: owned by the accepting loop
}

func newUring(cfg Config) (Engine, error) {
	if err := CheckUring(); err != nil {
		return nil, err
	}
	e := &uengine{cfg: cfg, done: make(chan struct{}), ms: uringFeatures.MultishotTimeout, direct: directSendMin}
	switch {
	case cfg.directSendMin > 0:
		e.direct = cfg.directSendMin
	case cfg.directSendMin < 0:
		e.direct = 0
	}
	return e, nil
}

func (e *uengine) ListenAndServe(addr string) error {
	if !e.started.CompareAndSwap(false, true) {
		return ErrStarted
	}
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	if e.cfg.ReusePort && ta.Port == 0 {
		// One listener per loop must share one port: pick it first.
		p, err := freePort(ta.IP.String())
		if err != nil {
			return fmt.Errorf("engine: %w", err)
		}
		ta.Port = p
	}
	backlog := somaxconn()
	if e.cfg.Backlog > 0 {
		if e.cfg.Backlog > backlog {
			e.cfg.Logger.Warn("engine: listen backlog clipped by net.core.somaxconn",
				"requested", e.cfg.Backlog, "somaxconn", backlog)
		}
		backlog = e.cfg.Backlog
	}
	nln := 1
	if e.cfg.ReusePort {
		nln = e.cfg.Loops
	}
	var fds []int
	closeAll := func() {
		for _, fd := range fds {
			closeFD(fd)
		}
	}
	for range nln {
		fd, err := e.listen(ta, backlog)
		if err != nil {
			closeAll()
			return fmt.Errorf("engine: listen %s: %w", addr, err)
		}
		fds = append(fds, fd)
	}
	if e.addr, err = localAddr(fds[0]); err != nil {
		closeAll()
		return fmt.Errorf("engine: %w", err)
	}
	e.wildcard = e.addr.IP.IsUnspecified()
	e.lnFDs = append([]int(nil), fds...)
	e.start = time.Now()
	e.accepting.Store(true)
	for i := range e.cfg.Loops {
		ln := -1
		if e.cfg.ReusePort || e.cfg.Loops == 1 {
			ln = fds[i]
		}
		e.loops = append(e.loops, newULoop(e, i, ln))
	}
	e.all = e.loops
	if !e.cfg.ReusePort && e.cfg.Loops > 1 {
		e.acceptor = newULoop(e, -1, fds[0])
		e.all = append(append([]*uloop(nil), e.loops...), e.acceptor)
	}
	ready := make(chan error, len(e.all))
	for _, l := range e.all {
		l.loop.shared = &e.clock
		e.wg.Add(1)
		go l.run(ready)
	}
	stopClock, clockDone := make(chan struct{}), make(chan struct{})
	go e.publishClock(stopClock, clockDone)
	var errs []error
	for range e.all {
		if err := <-ready; err != nil {
			errs = append(errs, err)
		}
	}
	go func() {
		e.wg.Wait()
		close(stopClock)
		<-clockDone
		// Listeners whose loop did not close them (a loop that failed).
		e.lnMu.Lock()
		for _, fd := range e.lnFDs {
			closeFD(fd)
		}
		e.lnFDs = nil
		e.lnMu.Unlock()
		close(e.done)
	}()
	if len(errs) > 0 {
		e.Close()
		return fmt.Errorf("engine: uring: %w", errors.Join(errs...))
	}
	return nil
}

// publishClock stores the engine time every tick until stop is closed,
// then closes done: the clock Loop.Now reads when a loop's own ticks are
// late because the loop was busy. The loops' rings cannot serve for
// this: a busy loop reaps nothing, its ticks included.
func (e *uengine) publishClock(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(e.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			e.clock.Store(int64(time.Since(e.start)))
		}
	}
}

// listen opens a listening socket for a. Options set on it are inherited
// by every accepted connection (Linux clones the listener's socket), so
// TCP_NODELAY, keep-alive and buffer sizes cost no system call per
// connection.
func (e *uengine) listen(a *net.TCPAddr, backlog int) (int, error) {
	family := unix.AF_INET
	ip4 := a.IP.To4()
	if ip4 == nil {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil && family == unix.AF_INET6 && len(a.IP) == 0 {
		family = unix.AF_INET // no IPv6 on this host: the wildcard is IPv4's
		fd, err = unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	}
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	fail := func(call string, err error) (int, error) {
		closeFD(fd)
		return -1, os.NewSyscallError(call, err)
	}
	cfg := &e.cfg
	opts := [][3]int{{unix.SOL_SOCKET, unix.SO_REUSEADDR, 1}}
	if family == unix.AF_INET6 {
		v6only := 1
		if len(a.IP) == 0 || a.IP.IsUnspecified() {
			v6only = 0 // the wildcard serves IPv4 too, as Go's net.Listen does
		}
		opts = append(opts, [3]int{unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only})
	}
	if cfg.ReusePort {
		opts = append(opts, [3]int{unix.SOL_SOCKET, unix.SO_REUSEPORT, 1})
	}
	if !cfg.Delay {
		opts = append(opts, [3]int{unix.IPPROTO_TCP, unix.TCP_NODELAY, 1})
	}
	if cfg.KeepAlive > 0 {
		secs := max(int(cfg.KeepAlive/time.Second), 1)
		opts = append(opts, [3]int{unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
			[3]int{unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, secs},
			[3]int{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, secs})
	}
	if cfg.SocketReadBuffer > 0 {
		opts = append(opts, [3]int{unix.SOL_SOCKET, unix.SO_RCVBUF, cfg.SocketReadBuffer})
	}
	if cfg.SocketWriteBuffer > 0 {
		opts = append(opts, [3]int{unix.SOL_SOCKET, unix.SO_SNDBUF, cfg.SocketWriteBuffer})
	}
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, o[0], o[1], o[2]); err != nil {
			return fail("setsockopt", err)
		}
	}
	var sa unix.Sockaddr
	if family == unix.AF_INET {
		s4 := &unix.SockaddrInet4{Port: a.Port}
		if ip4 != nil {
			copy(s4.Addr[:], ip4)
		}
		sa = s4
	} else {
		s6 := &unix.SockaddrInet6{Port: a.Port}
		copy(s6.Addr[:], a.IP.To16())
		if a.Zone != "" {
			if ifi, err := net.InterfaceByName(a.Zone); err == nil {
				s6.ZoneId = uint32(ifi.Index)
			}
		}
		sa = s6
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	if err := unix.Listen(fd, backlog); err != nil {
		return fail("listen", err)
	}
	return fd, nil
}

func (e *uengine) Serve(net.Listener) error { return ErrServeUnsupported }

func (e *uengine) Addr() net.Addr {
	if e.addr == nil {
		return nil
	}
	return e.addr
}

func (e *uengine) Wait() error {
	if !e.started.Load() {
		return ErrClosed
	}
	<-e.done
	return e.runErr
}

// StopAccepting cancels every loop's accept and closes the listeners, and
// returns once they are closed (at most a second per loop), so that the
// kernel refuses new connections from then on. It must not be called on
// a loop: it waits for the loops.
func (e *uengine) StopAccepting() {
	if !e.accepting.CompareAndSwap(true, false) {
		return
	}
	for _, l := range e.all {
		if !l.hasLn {
			continue
		}
		ack := make(chan struct{})
		if l.post(utask{kind: tStopAccept, ack: ack}) != nil {
			continue
		}
		select {
		case <-ack:
		case <-time.After(time.Second):
			e.cfg.Logger.Warn("engine: a uring loop did not close its listener within a second", "loop", l.loop.ID)
		case <-e.done:
		}
	}
}

func (e *uengine) ForEach(fn func(c Conn)) {
	for _, l := range e.loops {
		_ = l.post(utask{kind: tForEach, each: fn})
	}
}

func (e *uengine) Shutdown(ctx context.Context) error {
	if !e.started.Load() {
		return ErrClosed
	}
	e.StopAccepting()
	return errors.Join(waitDrained(ctx, &e.open, e.done), e.Close())
}

// Close stops every loop: each closes its connections (OnClose runs for
// each), its listener and its ring. It returns once all have stopped.
func (e *uengine) Close() error {
	if !e.started.Load() || e.all == nil {
		return ErrClosed
	}
	e.stopOnce.Do(func() {
		e.accepting.Store(false)
		for _, l := range e.all {
			_ = l.post(utask{kind: tStop})
		}
	})
	return waitStopped(e.done)
}

// fail records the first fatal loop error and stops the engine.
func (e *uengine) fail(err error) {
	e.errOnce.Do(func() { e.runErr = err })
	go e.Close()
}

func (e *uengine) Stats() Stats {
	return Stats{Open: e.open.Load(), Accepted: e.accepted.Load(), Refused: e.refused.Load(), MaxConns: int64(e.cfg.MaxConns)}
}

// AcceptQueue reads the open listeners' queues with TCP_INFO. A loop
// removes its listener from the list, under the same lock, before it
// closes it, so a descriptor read here is never a reused number.
func (e *uengine) AcceptQueue() (depth, limit int) {
	if !e.accepting.Load() {
		return 0, 0
	}
	e.lnMu.Lock()
	defer e.lnMu.Unlock()
	for _, fd := range e.lnFDs {
		d, l := listenQueue(fd)
		depth += d
		limit += l
	}
	return depth, limit
}

// dropListener removes fd from the listeners AcceptQueue reads.
func (e *uengine) dropListener(fd int) {
	e.lnMu.Lock()
	defer e.lnMu.Unlock()
	for i, x := range e.lnFDs {
		if x == fd {
			e.lnFDs = append(e.lnFDs[:i], e.lnFDs[i+1:]...)
			return
		}
	}
}

// Task kinds.
const (
	tWrite      uint8 = iota + 1 // AsyncWritev
	tDo                          // AsyncDo
	tClose                       // AsyncClose
	tWake                        // Wake
	tAdopt                       // a connection accepted by another loop
	tForEach                     // ForEach
	tStopAccept                  // StopAccepting
	tStop                        // Close
	tInspect                     // tests: report the loop's state
)

// utask is work posted to a loop from any goroutine. A value, so posting
// allocates nothing once the queue has grown.
type utask struct {
	kind   uint8
	c      *uconn
	bs     [][]byte
	done   func(error)
	fn     func(closed bool)
	each   func(Conn)
	fd     int
	remote net.Addr
	ack    chan struct{}
	report *loopReport
}

// uloop is one loop of the Uring model. Loop-owned, except the task queue
// (guarded by mu) and the fields marked atomic.
type uloop struct {
	e    *uengine
	loop Loop // the public Loop; loop.eng points back here

	ring  *uring.Ring
	br    *uring.BufRing
	waker *uring.Waker
	cqes  []uring.CQE
	fatal error // a ring call failed: the loop stops

	sqEntries int // the SQ ring's size; immutable after init

	ln          int  // this loop's listener, or -1 once closed
	hasLn       bool // the loop was given a listener; immutable
	acceptArmed bool // the multishot accept may still post CQEs
	acceptRetry bool // the accept failed (EMFILE...): re-arm at the next tick
	lnClosing   bool // cancel and close submitted for the listener
	lnAcks      []chan struct{}
	tickArmed   bool
	ts          uring.Timespec // the tick period; the kernel reads it during Submit

	conns []*uconn // by slot; nil when free
	gens  []uint32 // by slot: the generation of its last connection
	free  []uint32 // free slots
	live  int      // slots in use: connections open or waiting for their last CQEs
	list  uconn    // sentinel of the list of open connections
	n     atomic.Int64

	zc     []zcRec
	zcFree []uint32

	dirty   []*uconn // output queued and no send in flight
	ready   []*uconn // woken: deliver after the completions
	starved []*uconn // receive ended with -ENOBUFS: re-arm after recycling
	segFree []*outSeg
	bufFree [][]byte
	inFree  [inClasses][][]byte // pooled input buffers by size class
	inBytes int                 // bytes in inFree

	stopping  bool
	stopUntil time.Time

	// Counters, read by the tests through tInspect.
	enobufs, earlyEnds, overflows, canceledOps int

	mu       sync.Mutex
	tasks    []utask // guarded by mu
	spare    []utask // loop-owned: the previous batch's slice, reused
	closed   bool    // guarded by mu: the loop takes no more tasks
	hasTasks atomic.Bool
	awake    atomic.Bool // the loop is not blocked in the kernel: posters need not wake it
}

func newULoop(e *uengine, id int, ln int) *uloop {
	l := &uloop{e: e, ln: ln, hasLn: ln >= 0, cqes: make([]uring.CQE, reapBatch)}
	l.loop.ID = id
	if rec := e.cfg.Stages; rec != nil && id >= 0 { // the acceptor (-1) serves no connection
		l.loop.Shard = rec.Shard(id % rec.Shards())
		l.loop.initSamplers(rec, uint64(id)+1)
	}
	l.loop.wheel = new(wheel)
	l.loop.wheel.init()
	l.loop.now = time.Since(e.start)
	l.loop.wheel.tick = int64(l.loop.now / e.cfg.Tick)
	l.loop.eng = l
	l.list.next, l.list.prev = &l.list, &l.list
	l.awake.Store(true)
	return l
}

// run is the loop goroutine. It locks its thread for the ring's lifetime
// (the ring's rule), reports whether it started, serves until stopped and
// closes everything it owns.
func (l *uloop) run(ready chan<- error) {
	defer l.e.wg.Done()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := l.init(); err != nil {
		if l.ring != nil {
			l.ring.Close()
		}
		l.refuseTasks()
		ready <- err
		return
	}
	ready <- nil
	err := l.serve()
	if err != nil {
		l.e.cfg.Logger.Error("engine: uring loop failed", "loop", l.loop.ID, "err", err)
		l.e.fail(fmt.Errorf("engine: uring loop %d: %w", l.loop.ID, err))
	}
	l.finish()
}

func (l *uloop) init() error {
	cfg := &l.e.cfg
	entries, cq := uint32(uringEntries), uint32(uringCQEntries)
	if cfg.ringEntries > 0 {
		entries = cfg.ringEntries
	}
	if cfg.cqEntries > 0 {
		cq = cfg.cqEntries
	}
	r, err := uring.New(uring.Config{Entries: entries, CQEntries: cq})
	if err != nil {
		return err
	}
	l.ring = r
	l.sqEntries = int(r.Setup().SQEntries)
	if l.loop.ID >= 0 { // the acceptor receives nothing
		if l.br, err = r.NewBufRing(0, cfg.RecvBuffers, cfg.RecvBufferSize); err != nil {
			return err
		}
	}
	if l.waker, err = r.NewWaker(token(opWake, 0, 0)); err != nil {
		return err
	}
	l.ts = uring.Timespec{Sec: int64(cfg.Tick / time.Second), Nsec: int64(cfg.Tick % time.Second)}
	l.armTick()
	if l.ln >= 0 {
		l.armAccept()
	}
	_, err = r.Submit()
	return err
}

// sqe returns a free SQE, submitting the queue first if it is full. A
// failure is fatal for the loop: a scratch SQE is returned (and never
// submitted) so the caller needs no error path, and serve stops.
func (l *uloop) sqe() *uring.SQE {
	s, err := l.ring.NextSQE()
	if err != nil {
		if l.fatal == nil {
			l.fatal = err
		}
		return new(uring.SQE)
	}
	return s
}

// sqe2 returns two consecutive SQEs for a linked pair: a chain must go to
// the kernel in one submission.
func (l *uloop) sqe2() (*uring.SQE, *uring.SQE) {
	if l.sqEntries-l.ring.SQReady() < 2 {
		if _, err := l.ring.Submit(); err != nil && l.fatal == nil {
			l.fatal = err
		}
	}
	return l.sqe(), l.sqe()
}

func (l *uloop) armTick() {
	var flags uint32
	if l.e.ms {
		flags = uring.TimeoutMultishot
	}
	l.sqe().PrepTimeout(&l.ts, 0, flags, token(opTick, 0, 0))
	l.tickArmed = true
}

func (l *uloop) armAccept() {
	l.sqe().PrepAccept(l.ln, unix.SOCK_CLOEXEC, true, token(opAccept, 0, 0))
	l.acceptArmed = true
}

// serve is the event loop: reap and handle completions, run posted
// tasks and woken connections, re-arm starved receives, prepare sends,
// then submit everything and wait.
func (l *uloop) serve() error {
	for {
		for round := 0; round < reapRounds; round++ {
			if l.ring.Overflowed() {
				l.overflows++
			}
			n, err := l.ring.Reap(l.cqes)
			if err != nil {
				return err
			}
			for i := range n {
				l.handle(l.cqes[i])
			}
			if n > 0 && l.br != nil {
				l.br.Publish()
			}
			if n < len(l.cqes) {
				break
			}
		}
		if l.hasTasks.Load() {
			l.runTasks()
		}
		l.runReady()
		l.flush()
		if l.fatal != nil {
			return l.fatal
		}
		if l.stopping && l.stopped() {
			return nil
		}
		l.awake.Store(false)
		if l.hasTasks.Load() || l.ring.CQReady() > 0 {
			l.awake.Store(true)
			if _, err := l.ring.Submit(); err != nil {
				return err
			}
			continue
		}
		var err error
		if l.stopping {
			_, err = l.ring.SubmitAndWaitTimeout(1, 10*time.Millisecond)
		} else {
			_, err = l.ring.SubmitAndWait(1)
		}
		l.awake.Store(true)
		if err != nil {
			return err
		}
	}
}

// flush re-arms starved receives (their buffers are back), prepares a send
// for every connection with output and none in flight, and publishes the
// recycled buffers.
func (l *uloop) flush() {
	if len(l.starved) > 0 && l.br != nil && l.br.InRing() > 0 {
		for _, c := range l.starved {
			c.starved = false
			if c.wantRecv() && !c.recvArmed {
				c.armRecv()
			}
		}
		l.starved = l.starved[:0]
	}
	for i, c := range l.dirty {
		l.dirty[i] = nil
		c.dirty = false
		if c.state != stClosed && !c.sending && len(c.q) > 0 {
			c.startSend()
		}
	}
	l.dirty = l.dirty[:0]
	if l.br != nil {
		l.br.Publish()
	}
}

// stopped reports whether a stopping loop may close its ring: every
// operation it canceled has posted its last CQE, or stopWait has passed.
func (l *uloop) stopped() bool {
	if l.live == 0 && !l.acceptArmed && !l.tickArmed && !l.lnClosing {
		return true
	}
	return time.Now().After(l.stopUntil)
}

func (l *uloop) handle(c uring.CQE) {
	switch c.UserData >> 56 {
	case opRecv:
		l.onRecv(c)
	case opSend:
		if uc := l.connFor(c.UserData); uc != nil {
			uc.onSend(c)
		}
	case opSendZC:
		l.onSendZC(c)
	case opAccept:
		l.onAccept(c)
	case opClose:
		if uc := l.connFor(c.UserData); uc != nil {
			uc.fdOpen = false
			l.maybeFree(uc)
		}
	case opTick:
		l.onTick(c)
	case opWake:
		// Ack before draining: a task posted after the drain starts is
		// followed by a Wake that sees the flag clear.
		if err := l.waker.Ack(c); err != nil && l.fatal == nil {
			l.fatal = err
		}
		l.runTasks()
	case opLnClose:
		l.lnClosing = false
		for _, a := range l.lnAcks {
			close(a)
		}
		l.lnAcks = nil
	case opCancel:
	}
}

// connFor returns the connection a CQE's user_data names, or nil if the
// slot was freed or reused (which the slot's lifetime rules out; the
// generation guards against a bug).
func (l *uloop) connFor(ud uint64) *uconn {
	idx := uint32(ud)
	if int(idx) >= len(l.conns) {
		return nil
	}
	c := l.conns[idx]
	if c == nil || c.gen != uint32(ud>>32)&genMask {
		return nil
	}
	return c
}

func (l *uloop) onTick(c uring.CQE) {
	if !c.More() {
		l.tickArmed = false
		if !l.stopping {
			l.armTick()
		}
	}
	if c.Res != -int32(unix.ETIME) && c.Res != 0 {
		return // canceled
	}
	if l.hasTasks.Load() {
		// Tasks posted before the tick is looked at go first (as gnet
		// runs its high-priority tasks before the low-priority tick): a
		// worker's answer that waited while the loop was busy must not
		// find its connection closed by a deadline that passed meanwhile.
		l.runTasks()
	}
	l.loop.now = time.Since(l.e.start)
	l.loop.wheel.advance(int64(l.loop.now / l.e.cfg.Tick))
	if l.acceptRetry && !l.acceptArmed && l.e.accepting.Load() && !l.lnClosing && l.ln >= 0 {
		l.acceptRetry = false
		l.armAccept()
	}
}

func (l *uloop) onAccept(c uring.CQE) {
	if !c.More() {
		l.acceptArmed = false
	}
	switch {
	case c.Res >= 0:
		l.e.admit(l, int(c.Res))
	case c.Res == -int32(unix.ECANCELED):
	default:
		err := syscall.Errno(-c.Res)
		if isTemporaryAccept(err) {
			l.e.cfg.Logger.Warn("engine: accept failed; retrying at the next tick", "err", err)
		} else {
			l.e.cfg.Logger.Error("engine: accept failed; retrying at the next tick", "err", err)
		}
		l.acceptRetry = true
	}
	if !l.acceptArmed && !l.acceptRetry && !l.stopping && !l.lnClosing && l.e.accepting.Load() {
		l.armAccept() // ended by the kernel (e.g. CQ overflow): re-arm at once
	}
}

// admit takes a connection accepted by loop l: refuse it above MaxConns,
// or open it on the loop LoadBalancing picks.
func (e *uengine) admit(l *uloop, fd int) {
	if !e.accepting.Load() || l.stopping {
		closeFD(fd)
		return
	}
	if max := e.cfg.MaxConns; max > 0 && e.open.Load() >= int64(max) {
		e.refused.Add(1)
		e.cfg.refused(peerAddr(fd))
		refuseWrite(fd, e.cfg.RefuseMessage)
		closeFD(fd)
		return
	}
	e.open.Add(1)
	e.accepted.Add(1)
	target := l
	var remote net.Addr
	if l == e.acceptor {
		switch e.cfg.LoadBalancing {
		case LeastConnections:
			target = e.loops[0]
			for _, x := range e.loops {
				if x.n.Load() < target.n.Load() {
					target = x
				}
			}
		case SourceAddrHash:
			remote = peerAddr(fd)
			target = e.loops[addrHash(remote)%uint32(len(e.loops))]
		default:
			target = e.loops[e.rr%uint64(len(e.loops))]
			e.rr++
		}
	}
	target.n.Add(1) // counted now, so LeastConnections sees hand-offs in flight
	if target == l {
		l.openConn(fd, remote)
		return
	}
	if target.post(utask{kind: tAdopt, fd: fd, remote: remote}) != nil {
		target.n.Add(-1)
		e.open.Add(-1)
		closeFD(fd)
	}
}

func addrHash(a net.Addr) uint32 {
	h := uint32(2166136261) // FNV-1a
	if ta, ok := a.(*net.TCPAddr); ok {
		for _, b := range ta.IP {
			h = (h ^ uint32(b)) * 16777619
		}
		h = (h ^ uint32(ta.Port)) * 16777619
	}
	return h
}

// peerAddr reads a socket's peer address; a peer already gone gets the
// zero address (the connection fails at its first receive).
func peerAddr(fd int) net.Addr {
	if sa, err := unix.Getpeername(fd); err == nil {
		return sockaddrTCP(sa)
	}
	return &net.TCPAddr{}
}

func sockaddrTCP(sa unix.Sockaddr) *net.TCPAddr {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IPv4(sa.Addr[0], sa.Addr[1], sa.Addr[2], sa.Addr[3]), Port: sa.Port}
	case *unix.SockaddrInet6:
		a := &net.TCPAddr{IP: append(net.IP(nil), sa.Addr[:]...), Port: sa.Port}
		if sa.ZoneId != 0 {
			a.Zone = strconv.Itoa(int(sa.ZoneId))
		}
		return a
	}
	return &net.TCPAddr{}
}

// openConn sets up an accepted connection on its loop, runs OnOpen and
// arms its receive.
func (l *uloop) openConn(fd int, remote net.Addr) {
	e := l.e
	sh := l.loop.Shard
	var start time.Time
	sampled := sh != nil && l.loop.Sample()
	if sampled {
		start = time.Now()
	}
	if remote == nil {
		remote = peerAddr(fd)
	}
	var local net.Addr = e.addr
	if e.wildcard {
		if sa, err := unix.Getsockname(fd); err == nil {
			local = sockaddrTCP(sa)
		}
	}
	c := &uconn{l: l, fd: fd, fdOpen: true, remote: remote, local: local}
	c.tm.owner = c
	l.allocSlot(c)
	c.prev, c.next = l.list.prev, &l.list
	l.list.prev.next = c
	l.list.prev = c
	if sh != nil {
		sh.Inc(stage.ConnsAccepted)
		sh.AddGauge(stage.ConnsOpen, 1)
		if sampled {
			if d, ok := acceptWait(fd); ok {
				sh.Record(stage.AcceptQueue, d)
			}
		}
	}
	c.inCallback = true
	e.cfg.Callbacks.OnOpen(c)
	c.inCallback = false
	if sampled {
		sh.Record(stage.Accept, time.Since(start))
	}
	if c.state == stClosing {
		c.closeNow(nil)
		return
	}
	if c.wantRecv() {
		c.armRecv()
	}
}

func (l *uloop) allocSlot(c *uconn) {
	var idx uint32
	if n := len(l.free); n > 0 {
		idx = l.free[n-1]
		l.free = l.free[:n-1]
	} else {
		idx = uint32(len(l.conns))
		l.conns = append(l.conns, nil)
		l.gens = append(l.gens, 0)
	}
	l.gens[idx] = (l.gens[idx] + 1) & genMask
	c.idx, c.gen = idx, l.gens[idx]
	l.conns[idx] = c
	l.live++
}

// maybeFree releases a closed connection's slot once no operation of it
// can post another CQE.
func (l *uloop) maybeFree(c *uconn) {
	if c.state != stClosed || c.freed || c.recvArmed || c.sending || c.zcOut > 0 || c.fdOpen {
		return
	}
	c.freed = true
	l.conns[c.idx] = nil
	l.free = append(l.free, c.idx)
	l.live--
}

func (l *uloop) onRecv(cq uring.CQE) {
	c := l.connFor(cq.UserData)
	data, id, ok := l.br.Take(cq)
	if c == nil {
		if ok {
			l.br.Stage(id)
		}
		return
	}
	if ok {
		if len(data) > 0 {
			if sh := l.loop.Shard; sh != nil {
				sh.Add(stage.BytesIn, uint64(len(data)))
				sh.Inc(stage.Reads)
			}
			if c.recvOnce && len(data) < l.br.Size() {
				c.careful = false // the socket ran short: the client is not ahead
			}
			c.receive(data)
		}
		l.br.Stage(id) // OnData has returned and kept nothing of it
	}
	if cq.More() {
		return
	}
	c.recvArmed = false
	c.recvCancel = false
	switch {
	case cq.Res == -int32(unix.ENOBUFS):
		// The ring ran dry: the bytes wait in the socket until flush
		// re-arms, after this iteration's buffers are back.
		l.enobufs++
		if c.wantRecv() && !c.starved {
			c.starved = true
			l.starved = append(l.starved, c)
		}
	case cq.Res > 0:
		if !c.recvOnce {
			l.earlyEnds++ // the kernel ended the multishot (e.g. CQ overflow)
		}
		if c.wantRecv() {
			c.armRecv()
		}
	case cq.Res == 0:
		if c.state != stClosed {
			c.closeNow(nil) // the peer closed
		}
	case cq.Res == -int32(unix.ECANCELED):
		l.canceledOps++
		if c.wantRecv() {
			c.armRecv() // PauseRead's cancel, overtaken by ResumeRead
		}
	default:
		if c.state != stClosed {
			c.closeNow(os.NewSyscallError("recv", syscall.Errno(-cq.Res)))
		}
	}
	l.maybeFree(c)
}

// zcRec is a zero-copy send in flight: its CQEs name it, not the
// connection, so its notification finds the buffer it frees whatever the
// order of notifications.
type zcRec struct {
	c *uconn
	s *outSeg
}

func (l *uloop) onSendZC(cq uring.CQE) {
	idx := uint32(cq.UserData)
	r := l.zc[idx]
	c, s := r.c, r.s
	if cq.Notif() {
		l.freeZC(idx)
		s.zcLeft--
		if s.zcLeft == 0 && s.off < 0 {
			l.releaseSeg(s) // it left the queue: the kernel was the last to hold it
		}
		l.maybeFree(c)
		return
	}
	if cq.More() {
		s.zcLeft++ // a notification follows; the record stays for it
	} else {
		l.freeZC(idx)
	}
	c.onSend(cq) // s is q[0]: one send in flight
}

func (l *uloop) allocZC(c *uconn, s *outSeg) uint32 {
	var idx uint32
	if n := len(l.zcFree); n > 0 {
		idx = l.zcFree[n-1]
		l.zcFree = l.zcFree[:n-1]
	} else {
		idx = uint32(len(l.zc))
		l.zc = append(l.zc, zcRec{})
	}
	l.zc[idx] = zcRec{c: c, s: s}
	c.zcOut++
	return idx
}

func (l *uloop) freeZC(idx uint32) {
	l.zc[idx].c.zcOut--
	l.zc[idx] = zcRec{}
	l.zcFree = append(l.zcFree, idx)
}

// post queues t for the loop and wakes it if it is waiting in the kernel.
// Safe for concurrent use.
func (l *uloop) post(t utask) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	l.tasks = append(l.tasks, t)
	l.hasTasks.Store(true)
	l.mu.Unlock()
	// The loop clears awake before its last look at hasTasks, and this
	// reads awake after setting hasTasks: one of the two sees the other.
	if !l.awake.Load() {
		if err := l.waker.Wake(); err != nil && !errors.Is(err, uring.ErrClosed) {
			l.e.cfg.Logger.Error("engine: cannot wake a uring loop", "err", err)
		}
	}
	return nil
}

func (l *uloop) runTasks() {
	if !l.hasTasks.Load() {
		return
	}
	l.mu.Lock()
	tasks := l.tasks
	l.tasks = l.spare[:0]
	l.hasTasks.Store(false)
	l.mu.Unlock()
	for i := range tasks {
		l.runTask(&tasks[i])
		tasks[i] = utask{} // let go of buffers and closures
	}
	l.spare = tasks[:0]
}

func (l *uloop) runTask(t *utask) {
	c := t.c
	switch t.kind {
	case tWrite:
		c.asyncWrite(t.bs, t.done)
	case tDo:
		t.fn(c.state == stClosed || c.state == stClosing)
	case tClose:
		c.Close()
	case tWake:
		if c.state == stOpen && !c.inReady {
			c.inReady = true
			l.ready = append(l.ready, c)
		}
	case tAdopt:
		if l.stopping {
			l.n.Add(-1)
			l.e.open.Add(-1)
			closeFD(t.fd)
			return
		}
		l.openConn(t.fd, t.remote)
	case tForEach:
		for c := l.list.next; c != &l.list; {
			next := c.next // fn may close c
			t.each(c)
			c = next
		}
	case tStopAccept:
		l.closeListener(t.ack)
	case tStop:
		l.stop()
	case tInspect:
		l.inspect(t.report)
		close(t.ack)
	}
}

// closeListener cancels the accept and closes the listener, hard-linked:
// closing alone would leave the accept armed (it holds the socket).
func (l *uloop) closeListener(ack chan struct{}) {
	if ack != nil {
		l.lnAcks = append(l.lnAcks, ack)
	}
	if l.ln < 0 {
		for _, a := range l.lnAcks {
			close(a)
		}
		l.lnAcks = nil
		return
	}
	if l.lnClosing {
		return
	}
	l.lnClosing = true
	l.acceptRetry = false
	l.e.dropListener(l.ln)
	cancel, cl := l.sqe2()
	cancel.PrepCancelFd(l.ln, uring.CancelAll, token(opCancel, 0, 0))
	cancel.Flags |= uring.SQEIOHardlink
	cl.PrepClose(l.ln, token(opLnClose, 0, 0))
	l.ln = -1
}

// stop begins the loop's end: no more accepts, every connection closed,
// the tick canceled; serve returns once their last CQEs are in.
func (l *uloop) stop() {
	if l.stopping {
		return
	}
	l.stopping = true
	l.stopUntil = time.Now().Add(stopWait)
	l.closeListener(nil)
	for c := l.list.next; c != &l.list; {
		next := c.next
		c.closeNow(nil)
		c = next
	}
	if l.tickArmed {
		l.sqe().PrepCancel(token(opTick, 0, 0), 0, token(opCancel, 0, 0))
	}
}

// refuseTasks stops the queue and answers what is in it: writes and
// AsyncDo functions learn that the connection is closed, adopted
// descriptors are closed.
func (l *uloop) refuseTasks() {
	l.mu.Lock()
	l.closed = true
	tasks := l.tasks
	l.tasks = nil
	l.mu.Unlock()
	for _, t := range tasks {
		switch t.kind {
		case tWrite:
			if t.done != nil {
				t.done(net.ErrClosed)
			}
		case tDo:
			t.fn(true)
		case tAdopt:
			l.n.Add(-1)
			l.e.open.Add(-1)
			closeFD(t.fd)
		case tStopAccept, tInspect:
			close(t.ack)
		}
	}
}

// finish runs when serve returns: close what is still open, answer the
// tasks left, close the ring, then the descriptors the ring did not get
// to close.
func (l *uloop) finish() {
	if !l.stopping {
		l.stop() // serve failed: close the connections all the same
	}
	l.refuseTasks()
	// One last submit and reap collects the closes just prepared.
	if l.fatal == nil {
		if _, err := l.ring.SubmitAndWaitTimeout(1, 10*time.Millisecond); err == nil {
			for {
				n, err := l.ring.Reap(l.cqes)
				if err != nil {
					break
				}
				for i := range n {
					l.handle(l.cqes[i])
				}
				if n < len(l.cqes) {
					break
				}
			}
		}
	}
	l.ring.Close()
	for _, c := range l.conns {
		// A close never submitted leaves the number ours; one submitted
		// and not completed may have freed it for another socket.
		if c != nil && c.fdOpen && !c.closeSent {
			closeFD(c.fd)
		}
	}
	for _, a := range l.lnAcks {
		close(a)
	}
	l.lnAcks = nil
}

// loopReport is a loop's state, for the tests.
type loopReport struct {
	Outstanding, InRing, Available int // receive buffers: taken by us, in the ring, as the kernel counts them
	Live, Open                     int // slots in use; open connections
	ENOBUFS, EarlyEnds, Overflows  int
	Canceled                       int
	ZCInFlight                     int
}

func (l *uloop) inspect(r *loopReport) {
	r.Outstanding = l.br.Outstanding()
	r.InRing = l.br.InRing()
	r.Available, _ = l.br.Available()
	r.Live = l.live
	for c := l.list.next; c != &l.list; c = c.next {
		r.Open++
	}
	r.ENOBUFS, r.EarlyEnds, r.Overflows, r.Canceled = l.enobufs, l.earlyEnds, l.overflows, l.canceledOps
	r.ZCInFlight = len(l.zc) - len(l.zcFree)
}

// inspect returns every loop's state. Tests only.
func (e *uengine) inspect() []loopReport {
	reports := make([]loopReport, len(e.loops))
	for i, l := range e.loops {
		ack := make(chan struct{})
		if l.post(utask{kind: tInspect, ack: ack, report: &reports[i]}) == nil {
			<-ack
		}
	}
	return reports
}

func (l *uloop) runReady() {
	if len(l.ready) == 0 {
		return
	}
	ready := l.ready
	l.ready = nil
	for i, c := range ready {
		ready[i] = nil
		c.inReady = false
		if c.state != stOpen {
			continue
		}
		c.inCallback = true
		c.deliverBuffered()
		c.inCallback = false
		if c.state == stClosing {
			c.closeNow(nil)
		}
	}
	if l.ready == nil {
		l.ready = ready[:0]
	}
}

// outSeg is a piece of a connection's output queue: bytes the loop owns
// (copied by Write) or a caller's buffer (AsyncWritev, sent in place).
type outSeg struct {
	b      []byte
	off    int         // bytes of b sent; -1 once the segment left the queue
	owned  bool        // b is the loop's: back to its pool when released
	done   func(error) // a borrowed buffer's completion, run when it is released
	err    error       // why it left the queue unsent, if it did
	zcLeft int         // zero-copy notifications still due: b is the kernel's until then
}

func (l *uloop) getSeg() *outSeg {
	if n := len(l.segFree); n > 0 {
		s := l.segFree[n-1]
		l.segFree = l.segFree[:n-1]
		return s
	}
	return new(outSeg)
}

func (l *uloop) getBuf(n int) []byte {
	if k := len(l.bufFree); k > 0 && n <= pooledOutBuf {
		b := l.bufFree[k-1]
		l.bufFree = l.bufFree[:k-1]
		return b
	}
	return make([]byte, 0, max(n, 4<<10))
}

// inClass returns the size class holding n bytes, or -1 above maxInBuf.
func inClass(n int) int {
	c := 0
	for size := minInBuf; size < n; size <<= 1 {
		c++
	}
	if c >= inClasses {
		return -1
	}
	return c
}

// getIn returns an empty input buffer of at least n bytes.
func (l *uloop) getIn(n int) []byte {
	k := inClass(n)
	if k < 0 {
		return make([]byte, 0, n)
	}
	if f := l.inFree[k]; len(f) > 0 {
		b := f[len(f)-1]
		l.inFree[k] = f[:len(f)-1]
		l.inBytes -= cap(b)
		return b
	}
	return make([]byte, 0, minInBuf<<k)
}

// putIn takes back an input buffer nothing refers to any more.
func (l *uloop) putIn(b []byte) {
	k := inClass(cap(b))
	if k < 0 || cap(b) != minInBuf<<k || l.inBytes+cap(b) > inPoolBytes {
		return
	}
	l.inFree[k] = append(l.inFree[k], b[:0])
	l.inBytes += cap(b)
}

// releaseSeg ends a segment that left the queue: its buffer goes back to
// the pool, or its owner's done runs. Not while the kernel still reads it
// (zero-copy notifications due): the last notification releases it.
func (l *uloop) releaseSeg(s *outSeg) {
	s.off = -1
	if s.zcLeft > 0 {
		return
	}
	if s.owned {
		if cap(s.b) <= pooledOutBuf && len(l.bufFree) < maxPooledOut {
			l.bufFree = append(l.bufFree, s.b[:0])
		}
	} else if s.done != nil {
		s.done(s.err)
	}
	*s = outSeg{}
	l.segFree = append(l.segFree, s)
}

// uconn is a connection of the Uring model. Loop-owned, except the fields
// and methods documented as safe for concurrent use.
type uconn struct {
	l      *uloop
	fd     int      // immutable; the number may be reused once fdOpen is false
	idx    uint32   // slot; immutable
	gen    uint32   // slot generation; immutable
	remote net.Addr // immutable
	local  net.Addr // immutable
	ctx    any

	tm         timer
	state      uint8
	in         []byte // unconsumed input is in[off:]; nil when none
	off        int
	want       int
	paused     bool
	woken      atomic.Bool // Wake: deliver even with no input; set off the loop
	inCallback bool        // inside OnOpen/OnData/OnTimeout/a woken delivery: Close waits for its end
	inData     bool
	inReady    bool
	flushUntil time.Duration

	recvArmed  bool // the multishot receive may still post CQEs
	recvCancel bool // PauseRead's (or pace's) cancel of it is on its way
	starved    bool
	backlog    bool // not read while the layer works through its input (readAheadMax)
	throttle   bool // since a backlog: single-shot receives until the layer catches up
	recvOnce   bool // the armed receive is single-shot
	// careful: since a PauseRead, receives are single-shot until one
	// comes back short of a whole buffer (the socket is drained). A
	// multishot receive armed by ResumeRead would otherwise move the whole
	// socket buffer (megabytes on loopback) into ring buffers before the
	// layer could pause again, and the layer's input limit would close a
	// client that merely pipelines ahead of its answers.
	careful bool

	q       []*outSeg // output queue; q[0] is in flight while sending
	pending int       // bytes in q not yet taken by the kernel
	queued  int64     // bytes ever put in q: Sent is this less pending
	sending bool
	dirty   bool
	zcOut   int // zero-copy records still due a CQE

	fdOpen    bool // until the close's CQE
	closeSent bool // the cancel and close are submitted (or prepared)
	freed     bool

	prev, next *uconn // the loop's list of open connections
}

func (c *uconn) wantRecv() bool {
	switch c.state {
	case stOpen:
		return !c.paused && !c.backlog
	case stFlushing, stDraining:
		return true // read and discard, to see the peer's close
	}
	return false
}

func (c *uconn) armRecv() {
	l := c.l
	s := l.sqe()
	s.PrepRecvMultishot(c.fd, l.br.Group(), token(opRecv, c.gen, c.idx))
	once := c.throttle || c.careful
	if once {
		s.Ioprio &^= uring.RecvMultishot // one buffer, one CQE
	}
	c.recvArmed = true
	c.recvOnce = once
}

// receive takes bytes from a ring buffer: offered to OnData straight from
// the buffer when nothing is buffered before them, otherwise appended to
// the connection's input first. What OnData leaves is copied out, so the
// ring buffer can go back at once.
func (c *uconn) receive(data []byte) {
	if c.state != stOpen {
		return // closing: input is discarded
	}
	if c.off < len(c.in) || c.want > len(data) {
		c.appendIn(data)
		c.inCallback = true
		c.deliverBuffered()
		c.inCallback = false
	} else {
		c.woken.Store(false)
		c.want = 0
		c.inCallback = true
		c.inData = true
		n := c.l.e.cfg.Callbacks.OnData(c, data)
		c.inData = false
		c.inCallback = false
		if n < len(data) && c.state == stOpen {
			c.appendIn(data[n:])
		}
		c.pace()
	}
	if c.state == stClosing {
		c.closeNow(nil)
	}
}

// deliverBuffered offers the connection's own input to OnData.
func (c *uconn) deliverBuffered() {
	if c.state != stOpen || c.inData {
		return
	}
	in := c.in[c.off:]
	if c.want > 0 && len(in) < c.want {
		c.pace()
		return
	}
	if !c.woken.Swap(false) && len(in) == 0 {
		return
	}
	c.want = 0
	c.inData = true
	n := c.l.e.cfg.Callbacks.OnData(c, in)
	c.inData = false
	if c.state != stOpen {
		c.dropIn()
		return
	}
	c.off += n
	if c.off >= len(c.in) {
		c.dropIn() // an idle connection holds no input buffer
	}
	c.pace()
}

// pace stops receiving while the layer works through a backlog it asked
// to be woken for, and receives again once it has been offered
// (readAheadMax). It never holds back a layer waiting for more bytes
// (WantBytes above what is buffered, or no Wake pending).
func (c *uconn) pace() {
	if c.state != stOpen {
		return
	}
	rest := len(c.in) - c.off
	woken := c.woken.Load()
	hold := rest >= readAheadMax && rest >= c.want && woken
	switch {
	case hold:
		c.throttle = true
	case !woken && rest < readAheadMax:
		c.throttle = false // caught up: the next receive is multishot again
	}
	if hold == c.backlog {
		return
	}
	c.backlog = hold
	switch {
	case hold && c.recvArmed && !c.recvCancel:
		c.recvCancel = true
		c.l.sqe().PrepCancel(token(opRecv, c.gen, c.idx), 0, token(opCancel, c.gen, c.idx))
	case !hold && c.wantRecv() && !c.recvArmed && !c.starved:
		c.armRecv()
	}
}

// appendIn adds data to the unconsumed input, moving the unconsumed
// bytes to the front of a pooled buffer when it is full (nothing outside
// holds a view of it: in is borrowed only during OnData).
func (c *uconn) appendIn(data []byte) {
	if len(c.in)+len(data) <= cap(c.in) {
		c.in = append(c.in, data...)
		return
	}
	rest := len(c.in) - c.off
	nb := c.l.getIn(rest + len(data)) // size classes double: growth stays amortized
	nb = append(nb, c.in[c.off:]...)
	nb = append(nb, data...)
	if c.in != nil {
		c.l.putIn(c.in)
	}
	c.in, c.off = nb, 0
}

// dropIn gives the input buffer back to the loop's pool.
func (c *uconn) dropIn() {
	if c.in != nil {
		c.l.putIn(c.in)
	}
	c.in, c.off = nil, 0
}

// appendOut copies b to the tail of the output queue.
func (c *uconn) appendOut(b []byte) {
	if len(b) == 0 {
		return
	}
	var s *outSeg
	if n := len(c.q); n > 0 {
		if t := c.q[n-1]; t.owned && !(c.sending && n == 1) {
			s = t
		}
	}
	if s == nil {
		s = c.l.getSeg()
		s.owned = true
		s.b = c.l.getBuf(len(b))
		c.q = append(c.q, s)
	}
	s.b = append(s.b, b...)
	c.pending += len(b)
	c.queued += int64(len(b))
	c.markDirty()
}

func (c *uconn) markDirty() {
	if !c.sending && !c.dirty {
		c.dirty = true
		c.l.dirty = append(c.l.dirty, c)
	}
}

// startSend prepares the send of the queue's head: one in flight at a
// time, so bytes leave in queue order.
func (c *uconn) startSend() {
	l := c.l
	s := c.q[0]
	buf := s.b[s.off:]
	if t := l.e.cfg.ZeroCopyThreshold; t > 0 && len(buf) >= t {
		l.sqe().PrepSendZC(c.fd, buf, 0, token(opSendZC, 0, l.allocZC(c, s)))
	} else {
		l.sqe().PrepSend(c.fd, buf, 0, token(opSend, c.gen, c.idx))
	}
	c.sending = true
}

// onSend handles the result of the send of q[0].
func (c *uconn) onSend(cq uring.CQE) {
	c.sending = false
	l := c.l
	defer l.maybeFree(c)
	if len(c.q) == 0 {
		return
	}
	s := c.q[0]
	if cq.Res < 0 {
		err := error(os.NewSyscallError("send", syscall.Errno(-cq.Res)))
		if cq.Res == -int32(unix.ECANCELED) {
			l.canceledOps++
			err = net.ErrClosed
		}
		c.shift()
		s.err = err
		if c.state != stClosed {
			c.closeNow(err) // releases the rest of the queue
		}
		l.releaseSeg(s)
		return
	}
	n := int(cq.Res)
	s.off += n
	if c.state != stClosed {
		c.pending -= n
	}
	if s.off < len(s.b) {
		if c.state != stClosed {
			c.startSend() // a short send: the rest goes before anything behind it
			return
		}
		c.shift()
		s.err = net.ErrClosed
		l.releaseSeg(s)
		return
	}
	c.shift()
	if c.state != stClosed && len(c.q) > 0 {
		c.startSend()
	}
	l.releaseSeg(s) // may run a done, which may write or close: the queue is consistent
	if c.state == stFlushing {
		c.progressClose()
	}
}

// shift takes q[0] off the queue.
func (c *uconn) shift() {
	c.q[0] = nil
	c.q = c.q[1:]
	if len(c.q) == 0 {
		c.q = c.q[:0:0]
	}
}

// asyncWrite runs an AsyncWritev on the loop.
func (c *uconn) asyncWrite(bs [][]byte, done func(error)) {
	if c.state == stClosed || c.state == stDraining {
		if done != nil {
			done(net.ErrClosed)
		}
		return
	}
	total := vecLen(bs)
	if total < c.l.e.direct {
		for _, b := range bs {
			c.appendOut(b)
		}
		c.wrote()
		if done != nil {
			done(nil)
		}
		return
	}
	// In place: the buffers stay the caller's until the last is sent.
	last := len(bs) - 1
	for last >= 0 && len(bs[last]) == 0 {
		last--
	}
	for i := 0; i <= last; i++ {
		if len(bs[i]) == 0 {
			continue
		}
		s := c.l.getSeg()
		s.b = bs[i]
		if i == last {
			s.done = done
		}
		c.q = append(c.q, s)
		c.pending += len(bs[i])
		c.queued += int64(len(bs[i]))
	}
	c.markDirty()
	c.wrote()
}

// closeNow closes the connection on the loop: what is queued is written
// as far as the socket takes it without blocking, the receive and any
// send are canceled and the descriptor closed (hard-linked), and OnClose
// runs. The slot is freed when the last CQE is in.
func (c *uconn) closeNow(err error) {
	if c.state == stClosed {
		return
	}
	l := c.l
	c.state = stClosed
	l.loop.wheel.set(&c.tm, 0)
	c.prev.next, c.next.prev = c.next, c.prev
	c.prev, c.next = nil, nil
	l.n.Add(-1)
	l.e.open.Add(-1)
	if sh := l.loop.Shard; sh != nil {
		sh.AddGauge(stage.ConnsOpen, -1)
	}
	if !c.sending {
		c.writeNow()
	}
	// Release the queue, except a send in flight: its CQE releases it.
	keep := 0
	if c.sending {
		keep = 1
	}
	for len(c.q) > keep {
		s := c.q[len(c.q)-1]
		c.q = c.q[:len(c.q)-1]
		s.err = net.ErrClosed
		l.releaseSeg(s)
	}
	c.pending = 0
	if !c.inData { // inside OnData, in is still borrowed: receive drops it after
		c.dropIn()
	}
	cancel, cl := l.sqe2()
	cancel.PrepCancelFd(c.fd, uring.CancelAll, token(opCancel, c.gen, c.idx))
	cancel.Flags |= uring.SQEIOHardlink
	cl.PrepClose(c.fd, token(opClose, c.gen, c.idx))
	c.closeSent = true
	l.e.cfg.Callbacks.OnClose(c, err)
	l.maybeFree(c)
}

// writeNow writes the queue with non-blocking sends until the socket is
// full (Close's "as far as the socket takes it", and large outputs, see
// eagerWriteMin). Only with no send in flight: bytes leave in order.
func (c *uconn) writeNow() {
	for len(c.q) > 0 && !c.sending {
		s := c.q[0]
		n, err := unix.SendmsgN(c.fd, s.b[s.off:], nil, nil, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL)
		if n > 0 {
			s.off += n
			c.pending -= n
		}
		if err != nil || s.off < len(s.b) {
			return // the rest goes through the ring, which waits for room
		}
		c.shift()
		c.l.releaseSeg(s) // may run a done, which may write
	}
}

// wrote follows every write of the layer above: a large unsent output is
// written at once (eagerWriteMin).
func (c *uconn) wrote() {
	if c.pending < eagerWriteMin || c.sending || c.state == stClosed {
		return
	}
	c.writeNow()
	if c.state == stFlushing && c.pending == 0 {
		c.progressClose()
	}
}

func (c *uconn) Write(b []byte) error {
	if c.state == stClosed {
		return net.ErrClosed
	}
	if sh := c.l.loop.Shard; sh != nil {
		sh.Add(stage.BytesOut, uint64(len(b)))
	}
	c.appendOut(b)
	c.wrote()
	return nil
}

func (c *uconn) Writev(bs [][]byte) error {
	if c.state == stClosed {
		return net.ErrClosed
	}
	if sh := c.l.loop.Shard; sh != nil {
		sh.Add(stage.BytesOut, uint64(vecLen(bs)))
	}
	for _, b := range bs {
		c.appendOut(b)
	}
	c.wrote()
	return nil
}

func (c *uconn) Pending() int {
	if c.state == stClosed {
		return 0
	}
	return c.pending
}

func (c *uconn) Sent() int64 { return c.queued - int64(c.Pending()) }

func (c *uconn) Buffered() int {
	if c.state == stClosed {
		return 0
	}
	return len(c.in) - c.off
}

func (c *uconn) Readable() int {
	if c.state == stClosed {
		return 0
	}
	return c.Buffered() + kernelUnread(c.fd)
}

func (c *uconn) WantBytes(n int) { c.want = n }

// PauseRead cancels the multishot receive; bytes that complete before the
// cancel takes effect are still delivered, as under the Reactor model.
func (c *uconn) PauseRead() {
	if c.state != stOpen || c.paused {
		return
	}
	c.paused = true
	c.careful = true
	if c.recvArmed && !c.recvCancel {
		c.recvCancel = true
		c.l.sqe().PrepCancel(token(opRecv, c.gen, c.idx), 0, token(opCancel, c.gen, c.idx))
	}
}

func (c *uconn) ResumeRead() {
	if !c.paused || c.state != stOpen {
		return
	}
	c.paused = false
	if c.wantRecv() && !c.recvArmed && !c.starved {
		c.armRecv()
	}
	// A receive still being canceled is re-armed by its last CQE.
}

func (c *uconn) Resume() {
	if c.inData || c.state != stOpen {
		return
	}
	if c.inCallback {
		c.deliverBuffered()
		return
	}
	c.inCallback = true
	c.deliverBuffered()
	c.inCallback = false
	if c.state == stClosing {
		c.closeNow(nil)
	}
}

func (c *uconn) SetTimeout(d time.Duration) {
	if c.state != stOpen {
		return
	}
	c.setTimer(d)
}

func (c *uconn) setTimer(d time.Duration) {
	w := c.l.loop.wheel
	if d <= 0 {
		w.set(&c.tm, 0)
		return
	}
	tick := c.l.e.cfg.Tick
	w.set(&c.tm, int64((c.l.loop.Now()+d+tick-1)/tick))
}

func (c *uconn) onTimer() {
	switch c.state {
	case stOpen:
		if f := c.l.e.cfg.Callbacks.OnTimeout; f != nil {
			c.inCallback = true
			f(c)
			c.inCallback = false
			if c.state == stClosing {
				c.closeNow(nil)
			}
		}
	case stFlushing:
		c.progressClose()
	case stDraining:
		c.closeNow(nil)
	}
}

func (c *uconn) Close() {
	switch c.state {
	case stClosing, stClosed:
		return
	}
	if c.inCallback {
		c.state = stClosing // closed when the callback returns
		return
	}
	c.closeNow(nil)
}

func (c *uconn) CloseGraceful() {
	if c.state != stOpen {
		return
	}
	c.state = stFlushing
	c.flushUntil = c.l.loop.Now() + closeFlushTimeout
	c.progressClose()
}

// progressClose moves a graceful close forward: half-close once the
// output is written, then drain; close outright if the output does not
// drain in time.
func (c *uconn) progressClose() {
	if c.pending > 0 || c.sending {
		if c.l.loop.Now() >= c.flushUntil {
			c.Close()
			return
		}
		c.setTimer(c.l.e.cfg.Tick) // the send's completion comes back here sooner
		return
	}
	if err := shutdownWrite(c.fd); err != nil {
		c.Close()
		return
	}
	c.state = stDraining
	if !c.inData { // inside OnData, in is still borrowed: receive drops it after
		c.dropIn()
	}
	if c.paused {
		c.paused = false
		if !c.recvArmed && !c.starved {
			c.armRecv() // read on, to see the peer's close
		}
	}
	c.setTimer(c.l.e.cfg.DrainTimeout)
}

func (c *uconn) Context() any         { return c.ctx }
func (c *uconn) SetContext(v any)     { c.ctx = v }
func (c *uconn) RemoteAddr() net.Addr { return c.remote }
func (c *uconn) LocalAddr() net.Addr  { return c.local }
func (c *uconn) Loop() *Loop          { return &c.l.loop }
func (c *uconn) String() string       { return fmt.Sprintf("conn %v", c.remote) }

func (c *uconn) AsyncWritev(bs [][]byte, done func(err error)) error {
	if sh := c.l.loop.Shard; sh != nil {
		sh.Add(stage.BytesOut, uint64(vecLen(bs)))
	}
	return c.l.post(utask{kind: tWrite, c: c, bs: bs, done: done})
}

func (c *uconn) AsyncDo(fn func(closed bool)) error {
	return c.l.post(utask{kind: tDo, c: c, fn: fn})
}

func (c *uconn) AsyncClose() error {
	return c.l.post(utask{kind: tClose, c: c})
}

func (c *uconn) Wake() error {
	c.woken.Store(true)
	return c.l.post(utask{kind: tWake, c: c})
}
