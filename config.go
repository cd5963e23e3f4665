package sluice

import (
	stdtls "crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/sluice-go/sluice/codec/form"
	"github.com/sluice-go/sluice/codec/http1"
	"github.com/sluice-go/sluice/engine"
)

// Model is a connection model; see Config.Model.
type Model = engine.Model

// The connection models.
const (
	// Reactor: N event loops (N = GOMAXPROCS by default) accept and read;
	// handlers run on the worker pool or, when inline, on the loops.
	Reactor = engine.Reactor
	// Single: one event loop accepts and serves everything, handlers
	// inline on it: Node.js's design.
	Single = engine.Single
	// PerConn: one goroutine per connection reads, parses and runs the
	// handler with blocking I/O: Go's net/http design, with sluice's
	// parser and pipeline. Serve(listener) works with it.
	PerConn = engine.PerConn
	// Uring: N event loops on io_uring (Linux; see engine.CheckUring),
	// dispatching like Reactor: worker pool or inline.
	Uring = engine.Uring
)

// ParseModel returns the model named "reactor", "single", "perconn" or
// "uring".
func ParseModel(s string) (Model, error) { return engine.ParseModel(s) }

// AcceptMode says which goroutines accept connections; see Config.Accept.
type AcceptMode uint8

// The accept modes.
const (
	// AcceptAuto is AcceptPerLoop for Reactor (and Single, which has no
	// other way) and AcceptShared for Uring.
	AcceptAuto AcceptMode = iota
	// AcceptPerLoop: every loop accepts on its own SO_REUSEPORT listener
	// and admits or refuses each connection (MaxConns) before it accepts
	// the next, so no burst of accepts can outrun the refusals; the
	// kernel spreads connections over the listeners by address hash
	// (LoadBalancing does not apply). A loop busy in a long inline
	// handler accepts nothing meanwhile: its connections wait in its
	// listener's queue, and those still there when Shutdown closes the
	// listeners are reset by the kernel.
	AcceptPerLoop
	// AcceptShared: one acceptor hands connections to the loops by
	// LoadBalancing. Under Reactor that is gnet's own acceptor goroutine,
	// and its loops refuse connections above MaxConns only after it has
	// accepted them: a storm against loops starved of CPU can run the
	// process out of descriptors, and gnet stops the engine when accept
	// fails with EMFILE; MaxConns's default leaves the listen backlog's
	// worth of room for that, a margin but no bound. Uring's accepting
	// ring backs off on EMFILE instead.
	AcceptShared
)

// ParseAcceptMode returns the mode named "auto", "perloop" or "shared".
func ParseAcceptMode(s string) (AcceptMode, error) {
	switch s {
	case "auto", "":
		return AcceptAuto, nil
	case "perloop":
		return AcceptPerLoop, nil
	case "shared":
		return AcceptShared, nil
	}
	return 0, fmt.Errorf("sluice: unknown accept mode %q (want auto, perloop or shared)", s)
}

// LoadBalancing chooses a loop for each new connection; see
// Config.LoadBalancing.
type LoadBalancing = engine.LoadBalancing

// The load-balancing policies.
const (
	RoundRobin       = engine.RoundRobin
	LeastConnections = engine.LeastConnections
	SourceAddrHash   = engine.SourceAddrHash
)

// Limits bounds what the parser accepts; see http1.Limits. The zero value
// means the defaults: 8 KiB request-line, 64 KiB header section, 100
// fields, 4 MiB body, 1 KiB of chunk extensions.
type Limits = http1.Limits

// Dispatch says where handlers run.
type Dispatch uint8

const (
	// DispatchPool runs handlers on the worker pool: the requests parsed
	// from one read of a connection become one task, run in order. Routes
	// wrapped with Inline still run on the loop.
	DispatchPool Dispatch = iota
	// DispatchInline runs every handler on the connection's loop. Only
	// for handlers that never block.
	DispatchInline
)

// Config configures a Server. The zero value is valid; Serve copies it,
// so changing it afterwards has no effect. Durations of zero mean the
// default given; negative durations disable the timeout, except where a
// field says otherwise (TLSHandshakeTimeout).
type Config struct {
	// Model is the connection model. Zero is Reactor.
	Model Model
	// Loops is the number of event loops (Reactor, Uring). Zero means
	// GOMAXPROCS.
	Loops int
	// Dispatch chooses where handlers run. Zero is DispatchPool. The
	// Single model always runs handlers inline; PerConn runs them on the
	// connection's goroutine.
	Dispatch Dispatch
	// Workers is the most pool workers running handlers at once. Zero
	// means 256 per GOMAXPROCS: enough for handlers that wait on I/O, few
	// enough that their stacks stay bounded (~2 MiB per 256).
	Workers int
	// QueueLen is how many request batches may wait for a worker; a
	// connection whose batch finds the queue full waits on its loop and
	// retries at the next tick, reading nothing meanwhile. Zero means 64
	// per worker.
	QueueLen int

	// Accept says which goroutines accept connections (Reactor, Uring;
	// Single always accepts on its loop, PerConn on its accept
	// goroutine). Zero is AcceptAuto: per loop for Reactor, shared for
	// Uring.
	Accept AcceptMode
	// LoadBalancing chooses a loop per connection under AcceptShared.
	// Zero is RoundRobin.
	LoadBalancing LoadBalancing
	// Delay enables Nagle's algorithm; by default TCP_NODELAY is set.
	Delay bool
	// TCPKeepAlive is the idle time before TCP keep-alive probes. Zero
	// means 15 s; negative disables them.
	TCPKeepAlive time.Duration
	// SocketReadBuffer and SocketWriteBuffer set SO_RCVBUF and SO_SNDBUF
	// in bytes. Zero keeps the kernel's autotuned default.
	SocketReadBuffer  int
	SocketWriteBuffer int
	// Backlog is the listen backlog. Zero means net.core.somaxconn (a
	// warning is logged when a larger value is clipped to it).
	Backlog int
	// MaxConns is the most connections open at once; more are closed at
	// accept (after a 503 "connection limit reached" when the socket
	// takes it at once) and counted as refused. Zero means the open-file
	// limit minus 128, and under AcceptShared minus the listen backlog
	// too (lowered to a quarter of the limit if above it), since a shared
	// acceptor takes a burst before the loops refuse it
	// (engine.Config.MaxConns). Negative means no limit.
	MaxConns int
	// RecvBuffers and RecvBufferSize size each Uring loop's receive
	// buffer ring, and Uring sends of at least ZeroCopyThreshold bytes
	// use IORING_OP_SEND_ZC; see engine.Config for the trade-offs. Zero
	// means the engine's defaults: 128 buffers of 4 KiB, no zero-copy
	// sends (slower on loopback, measured). Other models ignore them.
	RecvBuffers       int
	RecvBufferSize    int
	ZeroCopyThreshold int

	// Limits bounds request-lines, header sections and bodies.
	Limits Limits
	// StreamThreshold is the Content-Length, in bytes, above which a
	// request body is not buffered whole: the handler reads it as it
	// arrives with Ctx.BodyReader, and the connection stops being read
	// while the handler is behind. Routes wrapped with Streaming stream
	// every body, chunked ones included. Zero means 1 MiB; negative
	// streams every Content-Length body.
	StreamThreshold int64
	// MaxStreamBytes bounds a streamed body; a larger Content-Length gets
	// 413 at once and a chunked body fails the handler's read when it
	// passes it. Zero means no limit: a stream costs a fixed window of
	// memory whatever its length, so the handler decides what to keep.
	MaxStreamBytes int64
	// MaxPipelined is the most requests taken from one connection's input
	// at a time (one pool task, or one run on the loop before other
	// connections get their turn). Zero means 64.
	MaxPipelined int
	// MaxBufferedInput is the most unconsumed input bytes a connection may
	// hold while its requests are being served; above it the connection
	// is closed. Zero means the largest request the Limits allow plus
	// 64 KiB.
	MaxBufferedInput int
	// WriteHighWater is the output, in bytes, queued for a connection and
	// not yet taken by the kernel above which its input is no longer
	// parsed until the peer reads. Zero means 1 MiB.
	WriteHighWater int

	// HeaderReadTimeout bounds the time from a request's first byte (or
	// the connection's opening) to its complete head: slow-header
	// attacks end here with 408. Zero means 10 s.
	HeaderReadTimeout time.Duration
	// BodyReadTimeout bounds the time from a complete head to a complete
	// buffered body; a streamed body (StreamThreshold) must instead make
	// MinBodyRate's progress in every BodyReadTimeout window. Zero means
	// 30 s.
	BodyReadTimeout time.Duration
	// MinBodyRate is the slowest a streamed request body may arrive, in
	// bytes per second averaged over each BodyReadTimeout window: a body
	// trickled slower (R-U-Dead-Yet) is cut off at the window's end, and
	// the handler's read fails with ErrBodyTimeout. 1 KiB/s is slower
	// than any real uplink and far faster than an attack needs to be to
	// hold a connection. Zero means 1024; negative turns the check off
	// (any byte re-arms the timeout).
	MinBodyRate int
	// IdleTimeout bounds the wait for the next request on a keep-alive
	// connection. Zero means 60 s.
	IdleTimeout time.Duration
	// WriteTimeout bounds how long queued output may wait for a peer that
	// does not read, and how long a handler on the worker pool (or on
	// PerConn's goroutine) may take to answer; then the connection is
	// closed and the request's Ctx.Context ends (handlers that run on an
	// event loop must never wait, so no timeout can help them). Output is
	// judged by progress: the kernel must take what was queued when the
	// deadline started within WriteTimeout, and once it has, the deadline
	// starts again for what is queued then (so a byte waits at most about
	// twice WriteTimeout). Time a handler spends blocked on the peer
	// counts as the write's, not the handler's. Zero means 30 s.
	WriteTimeout time.Duration

	// TLS, when set, serves HTTPS: TLS 1.2 and 1.3 terminated on the
	// event loop with crypto/tls (PerConn: on the connection's goroutine).
	// Unset fields get safe defaults: TLS 1.2 minimum, ECDHE+AEAD suites
	// only, ALPN http/1.1, session tickets on. With no certificate set, one
	// can be given later with Server.TLSServer().SetCertificate.
	TLS *stdtls.Config
	// TLSHandshakeTimeout bounds a TLS handshake from the ClientHello to
	// the client's Finished (the ClientHello itself must arrive within
	// HeaderReadTimeout). Zero or negative means 10 s: a handshake
	// holds a goroutine, so it always has a deadline.
	TLSHandshakeTimeout time.Duration
	// MaxHandshakes is the most TLS handshakes running at once (each on a
	// short-lived goroutine); the rest wait with their ClientHello
	// buffered. Zero means 4 per GOMAXPROCS.
	MaxHandshakes int

	// JSONUseNumber decodes JSON numbers into interface{} values as
	// json.Number instead of float64 (Ctx.DecodeJSON, Bind).
	JSONUseNumber bool
	// JSONDisallowUnknownFields refuses (400) JSON objects with keys that
	// match no field of the target struct.
	JSONDisallowUnknownFields bool
	// JSONMaxDepth bounds the nesting of decoded JSON documents. Zero
	// means 1000 (see codec/json).
	JSONMaxDepth int
	// JSONAnyContentType lets DecodeJSON read bodies whatever their
	// Content-Type; by default anything but application/json (or
	// +json) gets 415.
	JSONAnyContentType bool
	// JSONTypes are values (or reflect.Types) whose JSON codecs are
	// compiled at Start, so the first request of each type is as fast as
	// the next: sonic compiles a codec per type on first use (~10 ms).
	JSONTypes []any
	// FormLimits bounds url-encoded bodies (Ctx.Form): zero fields mean
	// codec/form's defaults (1 MiB, 1000 fields).
	FormLimits form.Limits
	// Multipart bounds multipart/form-data bodies (Ctx.Multipart): zero
	// fields mean codec/form's defaults.
	Multipart form.MultipartOptions

	// ServerName is the Server header's value. Empty means "sluice".
	ServerName string
	// NoServerHeader omits the Server header.
	NoServerHeader bool

	// StageSampling times 1 request in N through every stage (Server.Stats,
	// the Prometheus handler). Zero means 100: the clock reads cost about
	// 0.1 µs per timed request, 1 ns per request on average. Negative
	// turns timing off (counters are always kept).
	StageSampling int

	// LogRate bounds the connection-level lines logged per second (at
	// Info level, each with the remote address): requests the parser
	// refused and the limit they hit, timeouts, TLS failures, refused
	// connections. An attack must not make the log the bottleneck, so
	// more are counted and reported in one summary line a second. Zero
	// means 10; negative logs none (the counters of Stats still count).
	LogRate int

	// Logger receives the server's log lines. Nil means slog.Default().
	Logger *slog.Logger
}

// ErrConfig wraps every configuration error.
var ErrConfig = errors.New("sluice: invalid config")

// resolve returns cfg with defaults applied, or an error naming the first
// invalid field.
func (cfg Config) resolve() (Config, error) {
	bad := func(field string) (Config, error) {
		return cfg, fmt.Errorf("%w: %s must not be negative", ErrConfig, field)
	}
	switch {
	case cfg.Loops < 0:
		return bad("Loops")
	case cfg.Workers < 0:
		return bad("Workers")
	case cfg.QueueLen < 0:
		return bad("QueueLen")
	case cfg.Backlog < 0:
		return bad("Backlog")
	case cfg.MaxPipelined < 0:
		return bad("MaxPipelined")
	case cfg.MaxBufferedInput < 0:
		return bad("MaxBufferedInput")
	case cfg.WriteHighWater < 0:
		return bad("WriteHighWater")
	case cfg.SocketReadBuffer < 0 || cfg.SocketWriteBuffer < 0:
		return bad("SocketReadBuffer/SocketWriteBuffer")
	}
	if err := cfg.Limits.Validate(); err != nil {
		return cfg, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if cfg.Accept > AcceptShared {
		return cfg, fmt.Errorf("sluice: unknown accept mode %d", cfg.Accept)
	}
	if cfg.Model != Reactor && cfg.Model != Single && cfg.Model != PerConn && cfg.Model != Uring {
		return cfg, fmt.Errorf("%w: unknown Model %v", ErrConfig, cfg.Model)
	}
	if cfg.Dispatch > DispatchInline {
		return cfg, fmt.Errorf("%w: unknown Dispatch %d", ErrConfig, cfg.Dispatch)
	}
	if cfg.Model == Single || cfg.Model == PerConn {
		cfg.Dispatch = DispatchInline
	}
	procs := runtime.GOMAXPROCS(0)
	if cfg.Workers == 0 {
		cfg.Workers = 256 * procs
	}
	if cfg.QueueLen == 0 {
		cfg.QueueLen = 64 * cfg.Workers
	}
	cfg.Limits = cfg.Limits.Resolved()
	switch {
	case cfg.StreamThreshold == 0:
		cfg.StreamThreshold = 1 << 20
	case cfg.StreamThreshold < 0:
		cfg.StreamThreshold = 0
	}
	if cfg.MaxStreamBytes < 0 {
		return cfg, fmt.Errorf("%w: MaxStreamBytes must not be negative", ErrConfig)
	}
	if cfg.MaxPipelined == 0 {
		cfg.MaxPipelined = 64
	}
	if cfg.MaxBufferedInput == 0 {
		l := cfg.Limits
		body := l.MaxBodyBytes
		if body > 1<<40 {
			body = 1 << 40
		}
		cfg.MaxBufferedInput = int(int64(l.MaxRequestLine+l.MaxHeaderBytes) + body + 64<<10)
	}
	if cfg.WriteHighWater == 0 {
		cfg.WriteHighWater = 1 << 20
	}
	cfg.HeaderReadTimeout = orDefault(cfg.HeaderReadTimeout, 10*time.Second)
	cfg.BodyReadTimeout = orDefault(cfg.BodyReadTimeout, 30*time.Second)
	cfg.IdleTimeout = orDefault(cfg.IdleTimeout, 60*time.Second)
	cfg.WriteTimeout = orDefault(cfg.WriteTimeout, 30*time.Second)
	cfg.TLSHandshakeTimeout = orDefault(cfg.TLSHandshakeTimeout, 10*time.Second)
	switch {
	case cfg.StageSampling == 0:
		cfg.StageSampling = 100
	case cfg.StageSampling < 0:
		cfg.StageSampling = 0 // stage.NewRecorder: never sample
	}
	if cfg.ServerName == "" {
		cfg.ServerName = "sluice"
	}
	if cfg.LogRate == 0 {
		cfg.LogRate = 10
	}
	if cfg.MinBodyRate == 0 {
		cfg.MinBodyRate = 1024
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg, nil
}

// orDefault maps zero to def and negative to 0 (disabled).
func orDefault(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}
