package engine

import (
	"context"
	stdtls "crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/sluice-go/sluice/internal/ratelog"
	"github.com/sluice-go/sluice/stage"
)

// Model names a connection model.
type Model uint8

const (
	// Reactor: N gnet event loops (N = Config.Loops), accepting on one
	// listener or, with ReusePort, on one listener per loop.
	Reactor Model = iota
	// Single: one gnet event loop accepts (on its own listener) and
	// serves every connection, Node.js's design. Handlers run on that
	// loop.
	Single
	// PerConn: a net.Listener and one goroutine per connection, blocking
	// reads: Go's net/http design. A connection's goroutine is its loop.
	PerConn
	// Uring: N event loops (N = Config.Loops), each a goroutine locked to
	// its OS thread and driving its own io_uring: multishot accept,
	// multishot receive into a shared buffer ring, sends and timer ticks
	// as ring operations. Linux only, and only where io_uring is allowed
	// (CheckUring); New fails otherwise.
	Uring
)

func (m Model) String() string {
	switch m {
	case Reactor:
		return "reactor"
	case Single:
		return "single"
	case PerConn:
		return "perconn"
	case Uring:
		return "uring"
	}
	return fmt.Sprintf("Model(%d)", m)
}

// ParseModel returns the model named s ("reactor", "single", "perconn",
// "uring").
func ParseModel(s string) (Model, error) {
	switch s {
	case "reactor", "":
		return Reactor, nil
	case "single":
		return Single, nil
	case "perconn":
		return PerConn, nil
	case "uring":
		return Uring, nil
	}
	return 0, fmt.Errorf("engine: unknown model %q (want reactor, single, perconn or uring)", s)
}

// LoadBalancing chooses the loop for a new connection (Reactor without
// ReusePort).
type LoadBalancing uint8

const (
	RoundRobin       LoadBalancing = iota // in turn
	LeastConnections                      // the loop with the fewest connections
	SourceAddrHash                        // by a hash of the remote address
)

// Conn is one connection, as the layers above the engine see it.
type Conn interface {
	// Write writes b now, or queues what the socket does not take; it
	// never blocks (PerConn: it blocks up to Config.WriteTimeout). b may
	// be reused when Write returns. A failed write closes the connection:
	// in the gnet models OnClose may already have run when Write returns
	// the error, so callers must not assume their state is still there.
	// Loop-only.
	Write(b []byte) error
	// Writev is Write of several buffers with one system call. Loop-only.
	Writev(bs [][]byte) error
	// Pending returns the bytes queued for writing that the kernel has not
	// taken yet. Loop-only.
	Pending() int
	// Sent returns how many bytes of output the kernel has taken since
	// the connection opened: everything given to Write, Writev and
	// AsyncWritev (once its task ran on the loop) less Pending. It never
	// decreases, so a layer can tell whether a peer took the output that
	// was queued at some earlier moment (Sent has reached that moment's
	// Sent+Pending) without having to catch Pending at zero. Loop-only.
	Sent() int64
	// Buffered returns the input bytes received and not yet consumed.
	// Loop-only.
	Buffered() int
	// Readable returns Buffered plus the bytes the kernel holds for the
	// connection that the engine has not read yet: zero means the peer
	// has sent nothing unanswered, so closing loses no request. Loop-only.
	Readable() int
	// WantBytes asks the engine not to call OnData again until at least n
	// unconsumed bytes are buffered: a layer waiting for a large body of
	// known length is then not called, and does not rescan, on every
	// read. OnData clears it. Loop-only.
	WantBytes(n int)
	// PauseRead stops reading from the socket: the kernel keeps what
	// arrives and the peer's TCP window closes. ResumeRead reads again.
	// Input already buffered is still offered to Resume and Wake. For
	// backpressure: a layer that cannot take more input pauses until its
	// consumer catches up. Loop-only.
	PauseRead()
	ResumeRead()
	// Resume offers the buffered input to OnData again, as if it had just
	// arrived: for a layer that consumed nothing while it was busy. Must
	// not be called from inside OnData. Loop-only.
	Resume()
	// SetTimeout arms the connection's deadline d from now (the loop's
	// clock, which advances once per tick); zero or negative disarms it.
	// When it passes, OnTimeout runs on the loop. Loop-only.
	SetTimeout(d time.Duration)
	// Close closes the connection now; queued output is flushed as far as
	// the socket takes it without blocking. Loop-only.
	Close()
	// CloseGraceful closes in stages (RFC 9112 §9.6): wait until queued
	// output is written, half-close the write side, read and discard
	// input for a short time so the peer reads the last response instead
	// of a reset, then close. OnData is not called again. Loop-only.
	CloseGraceful()
	// Context returns the value set by SetContext. Loop-only.
	Context() any
	// SetContext stores a value for the layers above. Loop-only.
	SetContext(v any)
	// RemoteAddr returns the peer's address. Safe for concurrent use.
	RemoteAddr() net.Addr
	// LocalAddr returns the local address. Safe for concurrent use.
	LocalAddr() net.Addr
	// Loop returns the loop that owns the connection. Safe for concurrent
	// use.
	Loop() *Loop

	// AsyncWritev queues bs to be written on the connection's loop, after
	// everything queued before it, and then runs done there (with a
	// non-nil error if the connection was closed first). The buffers must
	// stay unchanged until done runs. Safe for concurrent use.
	AsyncWritev(bs [][]byte, done func(err error)) error
	// AsyncDo runs fn on the connection's loop, after the tasks queued
	// before it, unless the connection is closed first (then fn runs with
	// closed true, still on the loop, so what it holds can be released).
	// Safe for concurrent use.
	AsyncDo(fn func(closed bool)) error
	// AsyncClose closes the connection from any goroutine, after the
	// writes queued before it. Safe for concurrent use.
	AsyncClose() error
	// Wake schedules a later OnData call with the buffered input, even
	// if there is none (in is then empty), after the loop has served its
	// other ready connections: for a layer that stopped early to be fair
	// to them, or whose consumer on another goroutine has caught up and
	// wants reading resumed. Safe for concurrent use.
	Wake() error
}

// Loop is one event loop. Its Data field belongs to the layers above, for
// loop-scoped state such as pools that need no locks. Loop-owned: touch
// Data only on the loop.
type Loop struct {
	ID   int // 0, 1, ... in the order loops first served a connection
	Data any
	// Shard is where the loop's connections record stage timings and
	// counters (Config.Stages); nil without a recorder. Its recording
	// methods are safe from any goroutine.
	Shard       *stage.Shard
	sampler     stage.Sampler // requests (Sample)
	readSampler stage.Sampler // TLS reads (SampleRead): apart, so reads do not skew the request rate

	wheel  *wheel        // the event-loop models' timers; nil for PerConn (49 KiB each)
	now    time.Duration // the loop's clock: engine time at the last tick, or later (Now)
	shared *atomic.Int64 // the engine's clock, published every tick off the loops; nil when none
	eng    any           // the model's per-loop state
}

// Sample reports whether the request beginning now is timed: true once
// in Config.Stages' SampleEvery requests; always false without a
// recorder. Loop-only.
func (l *Loop) Sample() bool { return l.Shard != nil && l.sampler.Sample() }

// SampleRead reports whether the read being processed now has its TLS
// decryption timed: once in SampleEvery reads, on a countdown of its own.
// Loop-only.
func (l *Loop) SampleRead() bool { return l.Shard != nil && l.readSampler.Sample() }

// NewLoop returns a Loop recording into rec's shard id (rec may be nil),
// with its samplers, for layers driven without an engine: tests and
// benchmarks of the HTTP layer over an in-memory Conn. It has no timers.
func NewLoop(rec *stage.Recorder, id int) *Loop {
	l := &Loop{ID: id}
	if rec != nil {
		l.Shard = rec.Shard(id % rec.Shards())
		l.initSamplers(rec, uint64(id)+1)
	}
	return l
}

// initSamplers gives the loop its samplers (seed distinguishes loops).
func (l *Loop) initSamplers(rec *stage.Recorder, seed uint64) {
	l.sampler = stage.NewSampler(rec.SampleEvery(), seed)
	l.readSampler = stage.NewSampler(rec.SampleEvery(), ^seed)
}

// Now returns the loop's clock: the engine time (since Start) at its last
// tick, or the engine's clock when that is later. A loop's own ticks wait
// while it is busy (a long callback, a large batch to encrypt); after such
// a stall, a deadline armed from its last tick would expire at the tick
// that was waiting, however fresh it is (a request read right after the
// stall would be cut off at once). The engine's clock is published every
// tick by a goroutine that the loops do not hold up, so Now is within a
// tick of the present. Deadlines use it. Loop-only.
func (l *Loop) Now() time.Duration {
	if l.shared != nil {
		if t := time.Duration(l.shared.Load()); t > l.now {
			l.now = t
		}
	}
	return l.now
}

// SetNow sets the clock of a Loop made by NewLoop, for tests of the
// deadlines of a layer driven without an engine. An engine's loops are
// set by their ticks: never call it on them. Loop-only.
func (l *Loop) SetNow(d time.Duration) { l.now = d }

// Callbacks are the functions the engine calls. All run on the
// connection's loop and must not block. OnOpen, OnData and OnClose are
// required.
type Callbacks struct {
	// OnOpen is called once per accepted connection.
	OnOpen func(c Conn)
	// OnData is called with every unconsumed input byte; it returns how
	// many bytes it consumed. Borrowed: in is valid only during the call;
	// copy what must outlive it.
	OnData func(c Conn, in []byte) (consumed int)
	// OnTimeout is called when the deadline set by SetTimeout passes.
	OnTimeout func(c Conn)
	// OnClose is called once when the connection is gone; err says why
	// (nil for a close we asked for).
	OnClose func(c Conn, err error)
}

// Config configures an engine. The zero value (with Callbacks set) is
// valid. New copies it.
type Config struct {
	Model Model

	// Loops is the number of event loops for Reactor and Uring. Zero
	// means GOMAXPROCS; Single always has one.
	Loops int
	// ReusePort gives every loop its own listener with SO_REUSEPORT, so
	// the kernel spreads connections and no single acceptor is a
	// bottleneck. False: one acceptor hands connections to the loops.
	ReusePort bool
	// LoadBalancing chooses a loop for each connection when there is one
	// acceptor (Uring: an accepting ring of its own hands connections to
	// the loops). Zero is RoundRobin.
	LoadBalancing LoadBalancing
	// Delay enables Nagle's algorithm. The default (false) sets
	// TCP_NODELAY: responses leave at once.
	Delay bool
	// KeepAlive is the idle time before TCP keep-alive probes. Zero means
	// 15 s (as net/http's default); negative disables keep-alive probes.
	KeepAlive time.Duration
	// SocketReadBuffer and SocketWriteBuffer set SO_RCVBUF and SO_SNDBUF
	// in bytes. Zero keeps the kernel's default (autotuned).
	SocketReadBuffer  int
	SocketWriteBuffer int
	// Backlog is the listen backlog (the accept queue length). Zero means
	// the kernel maximum, net.core.somaxconn; a larger value is clipped to
	// it by the kernel, and the engine logs a warning when it is.
	Backlog int
	// MaxConns is the most connections open at once; a connection accepted
	// above it is closed at once and counted as refused. Zero means the
	// process's open-file limit minus 128 (kept for listeners, epoll and
	// files) and, where accepting and refusing are apart (the Reactor's
	// single acceptor hands connections to the loops, which refuse them
	// later; Uring's multishot accept posts a burst of them), minus the
	// listen backlog too, which is lowered to a quarter of the open-file
	// limit if above it: gnet stops an engine whose accept fails with
	// EMFILE, so the limit must leave room for a burst. With the usual
	// limits (1,048,576 open files, somaxconn 4,096) that is 1,044,352
	// connections; at 1,152 open files, 736. The room is a margin, not a
	// bound: loops starved of CPU can fall further behind gnet's
	// acceptor. Single and Reactor with ReusePort accept on the loops
	// themselves, admitting each connection before the next accept, and
	// are the choice when the open-file limit is low. Negative means no
	// limit.
	MaxConns int
	// Tick is the timer wheel's resolution. Zero means 100 ms: timeouts of
	// seconds do not need finer, and each tick costs a task per loop.
	Tick time.Duration
	// DrainTimeout is how long CloseGraceful reads and discards input
	// after half-closing. Zero means 500 ms: enough for the peer's unread
	// bytes in flight, short enough not to hold the fd.
	DrainTimeout time.Duration
	// WriteTimeout bounds each blocking write of the PerConn model (a
	// peer that stops reading then fails the write and the connection
	// closes). The event-loop models never block on writes and leave this
	// to the layer above (Conn.Pending). Zero means 30 s; negative none.
	WriteTimeout time.Duration
	// TLS, for PerConn, wraps every accepted connection in crypto/tls's
	// server with this configuration (defaults already applied by the
	// caller): the handshake runs on the connection's goroutine and
	// OnData receives plaintext. The event-loop models ignore it: their
	// TLS is a layer above the engine (package tls).
	TLS *stdtls.Config
	// HandshakeTimeout bounds PerConn's TLS handshakes. Zero means 10 s.
	HandshakeTimeout time.Duration
	// Stages, when set, receives the Accept and Read stages' timings and
	// the connection and byte counters; each loop records into its own
	// shard (Loop.Shard), which the layers above use too.
	Stages *stage.Recorder

	refusals *ratelog.Limiter // from LogRate, by resolved
	// RefuseMessage, when set, is written to a connection refused
	// because MaxConns is reached, right before it is closed: one
	// non-blocking write into the fresh socket's empty send buffer, so it
	// costs no wait and is dropped if the socket does not take it at once
	// (the layer above sets an HTTP 503). Keep it short (well under the
	// smallest send buffer, 4 KiB).
	RefuseMessage []byte
	// LogRate bounds the lines logged for refused connections (MaxConns
	// reached) and PerConn's write timeouts per second: a connection
	// storm must not flood the log.
	// More are counted and reported in one summary line. Zero means 10;
	// negative logs none (ConnsRefused still counts them).
	LogRate int
	// RecvBuffers is the number of receive buffers of each Uring loop's
	// provided-buffer ring, shared by all the loop's connections: a
	// buffer goes back to the ring as soon as OnData returns (unconsumed
	// bytes are copied to the connection's own buffer), so the count
	// bounds only the receives completed between two waits of a loop;
	// beyond it the data waits in the socket (-ENOBUFS, re-armed at once).
	// Rounded up to a power of two, at most 32768 (the kernel's limit).
	// Zero means 128: twice the connections a loop typically finds ready
	// in one wait, and since the ring hands its buffers out in turn, every
	// page of it ends up resident, so it is a fixed cost per loop. Other
	// models ignore it.
	RecvBuffers int
	// RecvBufferSize is the size in bytes of each Uring receive buffer.
	// Zero means 4 KiB: one page, so with 128 buffers a loop holds 512
	// KiB of receive memory whatever the number of connections (an idle
	// connection holds none). Other models ignore it.
	RecvBufferSize int
	// ZeroCopyThreshold: Uring sends of at least this many bytes use
	// IORING_OP_SEND_ZC, which pins the pages instead of copying them
	// into the socket and holds the buffer until the kernel's second
	// completion. Zero or negative means never: on loopback the kernel
	// copies anyway and SEND_ZC only adds the notification
	// (BenchmarkUringSend, medians of 5: 43 vs 31 µs a 4 KiB response,
	// even at 64 KiB, 667 vs 440 µs at 1 MiB); it can pay off for
	// responses of tens of KiB or more sent through a NIC, not measured
	// here. Other models ignore it.
	ZeroCopyThreshold int

	// Logger receives warnings and errors. Nil means slog.Default().
	Logger *slog.Logger

	Callbacks Callbacks

	// ringEntries and cqEntries size the Uring rings (tests shrink them to
	// overflow the completion queue); zero means the engine's defaults.
	ringEntries, cqEntries uint32
	// directSendMin overrides the Uring AsyncWritev size from which
	// buffers are sent in place (benchmarks); zero means the default,
	// negative means always.
	directSendMin int
}

// Stats counts connections. Safe to copy.
type Stats struct {
	Open     int64 // connections open now
	Accepted int64 // connections accepted since Start
	Refused  int64 // connections closed at once because MaxConns was reached
	MaxConns int64 // the limit in force (Config.MaxConns resolved); negative: none
}

// Engine runs one connection model. Its methods are safe for concurrent
// use.
type Engine interface {
	// ListenAndServe listens on the TCP address addr and serves until
	// Shutdown or Close. It returns once the engine is serving (started is
	// closed then) and the listener is bound; Wait blocks until it stops.
	ListenAndServe(addr string) error
	// Serve serves connections accepted from l, like ListenAndServe
	// (returning once serving). Only PerConn takes a listener: the gnet
	// models bind their own and return ErrServeUnsupported.
	Serve(l net.Listener) error
	// Addr returns the bound listener address once serving.
	Addr() net.Addr
	// Wait blocks until the engine has stopped and returns why: nil after
	// Shutdown or Close.
	Wait() error
	// StopAccepting stops taking new connections; open ones are served on.
	StopAccepting()
	// ForEach runs fn on each connection, on its loop. Safe for
	// concurrent use; fn runs later, on the loops.
	ForEach(fn func(c Conn))
	// Shutdown stops accepting, then waits until every connection is
	// closed (the layers above close them) or ctx is done, then stops the
	// loops, closing what is left. Its error joins ctx's with Close's.
	Shutdown(ctx context.Context) error
	// Close stops everything now. It returns ErrLoopStuck when a loop
	// has not stopped within StopGrace.
	Close() error
	// Stats returns the connection counters. Safe for concurrent use.
	Stats() Stats
	// AcceptQueue returns the listeners' accept queues: connections that
	// completed the handshake and wait for accept(2), and the queue's
	// limit (the effective backlog), summed over the listeners, read from
	// TCP_INFO. Safe for concurrent use.
	AcceptQueue() (depth, limit int)
}

// StopGrace is how long Close waits for the event loops to stop once
// told to. A loop stops between callbacks, so only a callback that blocks
// (an inline handler waiting on something) keeps it longer; a second is
// ample for any callback that does not block, and bounds Shutdown's
// overrun of its context.
const StopGrace = time.Second

// waitDrained is Shutdown's wait, shared by the models: it returns when
// no connection is open, when done closes (the engine stopped; nil: never)
// or with ctx's error when ctx ends first. It polls every 10 ms: the count
// falls as the layer above closes connections, on their own goroutines.
func waitDrained(ctx context.Context, open *atomic.Int64, done <-chan struct{}) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for open.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-done:
			return nil
		case <-t.C:
		}
	}
	return nil
}

// waitStopped is Close's wait for the event loops, shared by the models:
// nil once done closes, ErrLoopStuck if it has not within StopGrace.
func waitStopped(done <-chan struct{}) error {
	stuck := time.NewTimer(StopGrace)
	defer stuck.Stop()
	select {
	case <-done:
		return nil
	case <-stuck.C:
		return ErrLoopStuck
	}
}

// Errors.
var (
	ErrNoCallbacks = errors.New("engine: OnOpen, OnData and OnClose are required")
	ErrStarted     = errors.New("engine: already started")
	ErrClosed      = errors.New("engine: closed")
	// ErrLoopStuck is returned by Close and Shutdown when an event loop
	// has not stopped StopGrace after it was told to: a callback (an
	// inline handler) is blocking it. The loop's goroutine is left
	// running; it stops, and Wait returns, when the callback returns.
	ErrLoopStuck = errors.New("engine: an event loop did not stop within StopGrace: a callback (an inline handler?) is blocking it")
	// ErrServeUnsupported: the gnet models accept on listeners they bind
	// themselves (the listen socket is registered in their epoll sets).
	ErrServeUnsupported = errors.New("engine: this model binds its own listener; use ListenAndServe")
)

// resolved is a Config with defaults applied.
func (c Config) resolved() (Config, error) {
	if c.Callbacks.OnOpen == nil || c.Callbacks.OnData == nil || c.Callbacks.OnClose == nil {
		return c, ErrNoCallbacks
	}
	if c.Loops < 0 || c.Backlog < 0 || c.SocketReadBuffer < 0 || c.SocketWriteBuffer < 0 || c.Tick < 0 || c.DrainTimeout < 0 ||
		c.RecvBuffers < 0 || c.RecvBufferSize < 0 {
		return c, errors.New("engine: negative Loops, Backlog, socket buffer, Tick, DrainTimeout or RecvBuffers/RecvBufferSize")
	}
	switch c.Model {
	case Single:
		// The loop accepts on its own listener (gnet's ReusePort mode):
		// Node's design, and a connection is admitted or refused
		// (MaxConns) on the goroutine that accepted it, so no burst of
		// accepts can outrun the refusals to the open-file limit, as
		// gnet's separate acceptor can (see MaxConns).
		c.Loops = 1
		c.ReusePort = true
	case PerConn:
		c.Loops = 1
	case Reactor, Uring:
		if c.Loops == 0 {
			c.Loops = runtime.GOMAXPROCS(0)
		}
	default:
		return c, fmt.Errorf("engine: unknown model %d", c.Model)
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = 15 * time.Second
	}
	if c.Tick == 0 {
		c.Tick = 100 * time.Millisecond
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = 500 * time.Millisecond
	}
	if c.MaxConns == 0 {
		burst := c.Model == Uring || c.Model == Reactor && !c.ReusePort
		c.MaxConns, c.Backlog = defaultMaxConns(c.Backlog, burst)
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 30 * time.Second
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.LogRate == 0 {
		c.LogRate = 10
	}
	if c.LogRate > 0 {
		c.refusals = ratelog.New(c.LogRate) // nil logs nothing
	}
	if c.Model == Uring {
		if c.RecvBuffers == 0 {
			c.RecvBuffers = defaultRecvBuffers
		}
		if c.RecvBuffers > maxRecvBuffers {
			return c, fmt.Errorf("engine: RecvBuffers %d above the kernel's limit of %d", c.RecvBuffers, maxRecvBuffers)
		}
		for c.RecvBuffers&(c.RecvBuffers-1) != 0 {
			c.RecvBuffers += c.RecvBuffers & -c.RecvBuffers // round up to a power of two
		}
		if c.RecvBufferSize == 0 {
			c.RecvBufferSize = defaultRecvBufferSize
		}
	}
	return c, nil
}

// Uring's receive buffers: see Config.RecvBuffers and RecvBufferSize.
const (
	defaultRecvBuffers    = 128
	defaultRecvBufferSize = 4 << 10
	maxRecvBuffers        = 32768 // the kernel refuses larger provided-buffer rings
)

// refused counts and logs (rate-limited) a connection closed at accept
// because MaxConns connections are open. Any goroutine.
func (c *Config) refused(remote net.Addr) {
	if c.Stages != nil {
		c.Stages.Shard(0).Inc(stage.ConnsRefused)
	}
	c.logEvent(remote, "engine: connection refused: the open-connection limit (MaxConns) is reached", "max_conns", c.MaxConns)
}

// logEvent logs a connection event at Warn with the remote address,
// within LogRate lines a second (the rest are counted and reported in one
// line). Any goroutine.
func (c *Config) logEvent(remote net.Addr, msg string, args ...any) {
	ok, suppressed := c.refusals.Allow()
	if suppressed > 0 {
		c.Logger.Warn("engine: connection events not logged in the last second (rate limit)", "count", suppressed)
	}
	if ok {
		addr := "?"
		if remote != nil {
			addr = remote.String()
		}
		c.Logger.Warn(msg, append([]any{"remote", addr}, args...)...)
	}
}

// New returns an engine for cfg.Model.
func New(cfg Config) (Engine, error) {
	cfg, err := cfg.resolved()
	if err != nil {
		return nil, err
	}
	switch cfg.Model {
	case PerConn:
		return newPerConn(cfg), nil
	case Uring:
		return newUring(cfg)
	}
	return newReactor(cfg), nil
}
