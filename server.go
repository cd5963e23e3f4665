package sluice

import (
	"context"
	stdtls "crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	sjson "github.com/sluice-go/sluice/codec/json"
	"github.com/sluice-go/sluice/engine"
	"github.com/sluice-go/sluice/internal/ratelog"
	"github.com/sluice-go/sluice/stage"
	"github.com/sluice-go/sluice/tls"
)

// Errors returned by Server.
var (
	// ErrServerClosed is returned by ListenAndServe and Wait after
	// Shutdown or Close, like net/http's.
	ErrServerClosed = errors.New("sluice: Server closed")
	// ErrLoopStuck is joined to the error of Shutdown and Close when an
	// inline handler still blocks an event loop engine.StopGrace after the
	// loops were told to stop.
	ErrLoopStuck = engine.ErrLoopStuck
	// ErrServeUnsupported is returned by Serve for models whose event
	// loops own their listeners (Reactor, Single): use ListenAndServe.
	ErrServeUnsupported = errors.New("sluice: this model listens itself; use ListenAndServe")
	// ErrStarted is returned when a Server is started twice.
	ErrStarted = errors.New("sluice: Server already started")
)

// Server serves HTTP/1.1 with a Handler. Set Handler and Config, then call
// ListenAndServe (or Start and Wait). Config is copied when the server
// starts. The methods are safe for concurrent use.
type Server struct {
	Handler Handler
	Config  Config

	cfg        Config // resolved; immutable after start
	handler    Handler
	mux        *Mux
	serverName []byte
	// parserLimits are cfg.Limits with the body limit raised to the
	// streamed one: buffered requests are lowered back per request.
	parserLimits   Limits
	tls            *tls.Server // nil without TLS; the event-loop models' Decrypt stage
	jsonOpts       sjson.Options
	innerCallbacks engine.Callbacks // the HTTP layer's, under TLS
	eng            engine.Engine
	pool           *workPool
	stages         *stage.Recorder  // per-stage timings and counters
	logLimit       *ratelog.Limiter // Config.LogRate
	minBodyWindow  int64            // bytes a streamed body must bring per BodyReadTimeout (MinBodyRate)
	ctxPool        sync.Pool        // Ctx objects beyond the loops' own lists

	mu      sync.Mutex
	started bool
	closing atomic.Bool // Shutdown or Close was called
	done    chan struct{}
	err     error
}

// Start listens on addr (host:port; port 0 picks a free one) and serves
// in the background. It returns once connections are being accepted.
func (s *Server) Start(addr string) error {
	return s.start(func(eng engine.Engine) error { return eng.ListenAndServe(addr) })
}

// StartListener is Start with a listener of the caller's (PerConn only;
// the event-loop models return ErrServeUnsupported).
func (s *Server) StartListener(l net.Listener) error {
	return s.start(func(eng engine.Engine) error {
		if err := eng.Serve(l); err != nil {
			if errors.Is(err, engine.ErrServeUnsupported) {
				return ErrServeUnsupported
			}
			return err
		}
		return nil
	})
}

func (s *Server) start(listen func(engine.Engine) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return ErrStarted
	}
	if err := s.prepare(); err != nil {
		return err
	}
	cfg := s.cfg
	callbacks := engine.Callbacks{
		OnOpen:    s.onOpen,
		OnData:    s.onData,
		OnTimeout: s.onTimeout,
		OnClose:   s.onClose,
	}
	s.innerCallbacks = callbacks
	var perConnTLS *stdtls.Config
	refuse := refuseMessage
	if s.tls != nil {
		refuse = nil // a plaintext answer means nothing to a TLS client: the close says it
		if cfg.Model == PerConn {
			perConnTLS = s.tls.Config() // Go's model: crypto/tls on the connection's goroutine
		} else {
			callbacks = s.tlsCallbacks(callbacks)
		}
	}
	eng, err := engine.New(engine.Config{
		Model:             cfg.Model,
		Loops:             cfg.Loops,
		ReusePort:         cfg.Accept == AcceptPerLoop || cfg.Accept == AcceptAuto && cfg.Model == Reactor,
		LoadBalancing:     cfg.LoadBalancing,
		Delay:             cfg.Delay,
		KeepAlive:         cfg.TCPKeepAlive,
		SocketReadBuffer:  cfg.SocketReadBuffer,
		SocketWriteBuffer: cfg.SocketWriteBuffer,
		Backlog:           cfg.Backlog,
		MaxConns:          cfg.MaxConns,
		RefuseMessage:     refuse,
		RecvBuffers:       cfg.RecvBuffers,
		RecvBufferSize:    cfg.RecvBufferSize,
		ZeroCopyThreshold: cfg.ZeroCopyThreshold,
		Stages:            s.stages,
		WriteTimeout:      noneIfZero(cfg.WriteTimeout),
		LogRate:           cfg.LogRate,
		TLS:               perConnTLS,
		HandshakeTimeout:  cfg.TLSHandshakeTimeout,
		Logger:            cfg.Logger,
		Callbacks:         callbacks,
	})
	if err != nil {
		return err
	}
	if err := listen(eng); err != nil {
		return err
	}
	s.eng = eng
	s.started = true
	s.done = make(chan struct{})
	go func() {
		err := eng.Wait()
		if n := s.pool.stop(); n > 0 {
			s.cfg.Logger.Warn("sluice: closed with handlers still running on the worker pool; their connections are closed", "handlers", n)
		}
		if err == nil || s.closing.Load() {
			err = ErrServerClosed
		}
		s.err = err
		close(s.done)
	}()
	return nil
}

// refuseMessage answers a connection refused at MaxConns (plaintext
// listeners only). It has no Date line, which RFC 9110 §6.6.1 leaves
// optional for 5xx, so it is built once.
var refuseMessage = func() []byte {
	const body = "503 Service Unavailable: connection limit reached (MaxConns)\n"
	return []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\nRetry-After: 1\r\nConnection: close\r\n\r\n" + body)
}()

// prepare resolves the configuration and builds what serving needs.
func (s *Server) prepare() error {
	cfg, err := s.Config.resolve()
	if err != nil {
		return err
	}
	h := s.Handler
	if h == nil {
		h = notFound
	}
	s.cfg = cfg
	s.parserLimits = cfg.Limits
	s.parserLimits.MaxBodyBytes = s.streamLimit()
	s.handler = h
	s.mux, _ = h.(*Mux)
	if !cfg.NoServerHeader {
		s.serverName = []byte(cfg.ServerName)
	}
	s.pool = newWorkPool(cfg.Workers, cfg.QueueLen)
	s.stages = stage.NewRecorder(stageShards(cfg), cfg.StageSampling)
	s.minBodyWindow = 1
	if cfg.MinBodyRate > 0 {
		s.minBodyWindow = max(1, int64(float64(cfg.MinBodyRate)*cfg.BodyReadTimeout.Seconds()))
	}
	if cfg.LogRate > 0 {
		s.logLimit = ratelog.New(cfg.LogRate) // nil logs nothing
	}
	s.jsonOpts = sjson.Options{UseNumber: cfg.JSONUseNumber, DisallowUnknownFields: cfg.JSONDisallowUnknownFields, MaxDepth: cfg.JSONMaxDepth}
	if len(cfg.JSONTypes) > 0 {
		if err := pretouch(cfg.JSONTypes); err != nil {
			return fmt.Errorf("%w: JSONTypes: %v", ErrConfig, err)
		}
	}
	if cfg.TLS != nil {
		t, err := tls.NewServer(tls.Config{TLS: cfg.TLS, HandshakeTimeout: cfg.TLSHandshakeTimeout, MaxHandshakes: cfg.MaxHandshakes})
		if err != nil {
			return fmt.Errorf("%w: %v", ErrConfig, err)
		}
		s.tls = t
	}
	return nil
}

// TLSServer returns the TLS terminator (to reload the certificate with
// SetCertificate or LoadCertificate), or nil without TLS or before
// Start.
func (s *Server) TLSServer() *tls.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tls
}

// ListenAndServe listens on addr and serves until Shutdown or Close; it
// then returns ErrServerClosed.
func (s *Server) ListenAndServe(addr string) error {
	if err := s.Start(addr); err != nil {
		return err
	}
	return s.Wait()
}

// Serve serves connections accepted from l until Shutdown or Close, then
// returns ErrServerClosed. Only the PerConn model takes a listener: the
// event-loop models bind their own (their listening socket lives in their
// epoll sets) and return ErrServeUnsupported; use ListenAndServe.
func (s *Server) Serve(l net.Listener) error {
	if err := s.StartListener(l); err != nil {
		return err
	}
	return s.Wait()
}

// Wait blocks until the server has stopped and returns ErrServerClosed
// after Shutdown or Close, or the error that stopped it.
func (s *Server) Wait() error {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done == nil {
		return ErrServerClosed
	}
	<-done
	return s.err
}

// Addr returns the address the server listens on, or nil before Start.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.eng == nil {
		return nil
	}
	return s.eng.Addr()
}

// Shutdown stops accepting connections, closes idle ones, lets every
// request already read get its response (with "Connection: close") and
// then closes its connection, and returns when all are closed or ctx is
// done (then what is left is closed at once and ctx's error returned).
//
// Handlers that have not returned by then get about a second more
// (engine.StopGrace; pool workers likewise): their connections are closed
// and Shutdown returns, with ErrLoopStuck joined to its error when an
// inline handler still blocks its event loop. That loop's goroutine (and
// ListenAndServe) ends only when the handler returns.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	eng := s.eng
	s.mu.Unlock()
	if eng == nil {
		return ErrServerClosed
	}
	s.closing.Store(true)
	eng.StopAccepting()
	eng.ForEach(func(ec engine.Conn) {
		if c, ok := ec.Context().(*conn); ok {
			c.shutdown()
		}
	})
	return s.stopped(eng.Shutdown(ctx))
}

// stopped waits for the engine's end after Shutdown or Close returned
// err, unless a stuck loop means it will not come soon.
func (s *Server) stopped(err error) error {
	if errors.Is(err, engine.ErrLoopStuck) {
		s.cfg.Logger.Error("sluice: an event loop did not stop: an inline handler is blocking it; its goroutine is left running", "grace", engine.StopGrace)
		return err
	}
	<-s.done
	return err
}

// Close stops the server at once, closing every connection. Like
// Shutdown, it returns after engine.StopGrace when an inline handler
// blocks an event loop.
func (s *Server) Close() error {
	s.mu.Lock()
	eng := s.eng
	s.mu.Unlock()
	if eng == nil {
		return ErrServerClosed
	}
	s.closing.Store(true)
	return s.stopped(eng.Close())
}

// shutdown closes an idle connection now; a busy one closes after the
// response to the request it is serving (responses carry
// "Connection: close" once the server is closing).
func (c *conn) shutdown() {
	if c.busy || c.partial != nil || c.ec.Readable() > 0 {
		return // a request is being read or served: it closes after it
	}
	c.closing = true
	c.ec.CloseGraceful()
}

// stageShard is the shard c records into: its loop's. Engines given a
// recorder give every loop a shard; connections made without an engine
// (tests) fall back to the first.
func (s *Server) stageShard(c *conn) *stage.Shard {
	if sh := c.ec.Loop().Shard; sh != nil {
		return sh
	}
	return s.stages.Shard(0)
}

// streamLimit is the body limit of a streamed request: MaxStreamBytes, or
// none (the parser's -1).
func (s *Server) streamLimit() int64 {
	if s.cfg.MaxStreamBytes > 0 {
		return s.cfg.MaxStreamBytes
	}
	return -1
}

// route picks the handler for x.
func (s *Server) route(x *Ctx) {
	if s.mux != nil {
		s.mux.route(x)
		return
	}
	x.route = s.handler
}

// logf logs a connection-level event of c (see logConn).
func (s *Server) logf(c *conn, format string, args ...any) { s.logConn(c.ec, format, args...) }

// logConn logs a connection-level event — a refusal, a timeout, a TLS
// failure — at Info level with the remote address, within Config.LogRate
// lines a second; the ones held back are reported in one line when the
// next second's first event comes. Any goroutine.
func (s *Server) logConn(ec engine.Conn, format string, args ...any) {
	ok, suppressed := s.logLimit.Allow()
	if suppressed > 0 {
		s.cfg.Logger.Info("sluice: connection events not logged in the last second (rate limit)", "count", suppressed)
	}
	if ok {
		s.cfg.Logger.Info("sluice: "+fmt.Sprintf(format, args...), "remote", ec.RemoteAddr().String())
	}
}

// noneIfZero maps the root's "0 = none" (after defaults) to the engine's
// "negative = none".
func noneIfZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
