package sluice

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/valyala/bytebufferpool"

	"github.com/sluice-go/sluice/codec/http1"
	"github.com/sluice-go/sluice/engine"
	"github.com/sluice-go/sluice/internal/bytesconv"
	"github.com/sluice-go/sluice/stage"
)

// What a connection's single deadline is for.
const (
	waitFirst  uint8 = iota // opened, no byte yet: HeaderReadTimeout
	waitIdle                // between requests: IdleTimeout
	waitHead                // a request's head is arriving: HeaderReadTimeout
	waitBody                // its body is arriving: BodyReadTimeout
	waitBusy                // a batch is with the workers: WriteTimeout
	waitQueue               // a batch waits for room in the pool queue: retry each tick
	waitDrain               // output above the high-water mark, parsing paused: poll each tick
	waitFlush               // between requests, output still queued: poll each tick until it is taken
	waitStream              // a streamed body is arriving: BodyReadTimeout, re-armed by MinBodyRate's progress
)

// conn is the HTTP state of one connection. Loop-owned: every field is
// touched only on the connection's loop (the batch a worker runs is
// handed over whole and handed back in the write completion).
type conn struct {
	srv *Server
	ec  engine.Conn
	lp  *loopState

	partial *Ctx    // the request being parsed; nil between requests
	stream  *stream // the body being streamed to a handler; nil when none
	wait    uint8   // what the deadline is for
	busy    bool    // a batch is with the workers (or queued for them)
	cur     *batch  // that batch: its requests' contexts end if the connection closes
	queued  *batch
	closing bool // answer what is parsed, then close
	sent100 bool // "100 Continue" sent for the partial request
	// drainEnd is when the output that was queued at drainMark's moment
	// must have been taken by the kernel (engine.Conn.Sent reaching
	// drainMark); zero when no output is queued.
	drainEnd  int64
	drainMark int64
	// streamGot counts a streamed body's bytes; streamMark is the count
	// when its deadline was last armed.
	streamGot, streamMark int64
}

// loopState is per-loop state, kept in engine.Loop.Data. Loop-owned.
type loopState struct {
	srv     *Server
	ec      engine.Conn // the connection inline output belongs to
	out     []byte      // inline responses of the current read
	free    []*Ctx
	batches []*batch
	writes  []time.Time // Write stage starts of this read's sampled inline responses
	tlsBuf  []byte      // the loop's TLS decryption buffer (tls.Hooks.Scratch)
}

// loopState returns l's state, made on the loop's first connection.
// Loop-only.
func (s *Server) loopState(l *engine.Loop) *loopState {
	lp, _ := l.Data.(*loopState)
	if lp == nil {
		lp = &loopState{srv: s}
		l.Data = lp
	}
	return lp
}

// maxFreeCtx bounds a loop's own list of idle Ctx objects (no locks);
// more spill to the server's sync.Pool, which the garbage collector
// trims when the load goes, so an idle loop holds little.
const maxFreeCtx = 256

func (lp *loopState) getCtx(c *conn) *Ctx {
	var x *Ctx
	if n := len(lp.free); n > 0 {
		x = lp.free[n-1]
		lp.free = lp.free[:n-1]
	} else if v := lp.srv.ctxPool.Get(); v != nil {
		x = v.(*Ctx)
	} else {
		x = &Ctx{}
		x.parser.SetLimits(lp.srv.parserLimits)
	}
	x.c = c
	x.out = lp
	x.done.Store(false) // reset cleared the response; setters refused to touch it since
	return x
}

func (lp *loopState) putCtx(x *Ctx) {
	x.reset()
	x.c = nil
	x.out = nil
	x.parser.Reset()
	if len(lp.free) < maxFreeCtx && lp.srv.cfg.Model != PerConn {
		lp.free = append(lp.free, x)
	} else {
		// PerConn: a loop per connection, so a list per loop would pin a
		// Ctx (~3 KiB) to every idle connection.
		lp.srv.ctxPool.Put(x)
	}
}

func (lp *loopState) buffer() *[]byte { return &lp.out }

func (lp *loopState) flush() error {
	if len(lp.out) == 0 {
		return nil
	}
	err := lp.ec.Write(lp.out)
	if cap(lp.out) > maxKeptBody {
		lp.out = nil // one big response must not pin its buffer to the loop
	} else {
		lp.out = lp.out[:0]
	}
	return err
}

// onOpen runs for every accepted connection.
func (s *Server) onOpen(ec engine.Conn) {
	lp := s.loopState(ec.Loop())
	c := &conn{srv: s, ec: ec, lp: lp, wait: waitFirst}
	ec.SetContext(c)
	ec.SetTimeout(s.cfg.HeaderReadTimeout)
	if s.closing.Load() {
		// Accepted as Shutdown began, possibly after its sweep: treat it
		// as the sweep would.
		c.shutdown()
	}
}

func (s *Server) onClose(ec engine.Conn, err error) {
	c, ok := ec.Context().(*conn)
	if !ok {
		return
	}
	if c.partial != nil {
		c.lp.putCtx(c.partial)
		c.partial = nil
	}
	if c.stream != nil {
		c.stream.pipe.finish(ErrBodyClosed)
		c.stream = nil
	}
	if c.cur != nil {
		for _, x := range c.cur.ctxs {
			x.connGone() // handlers still running learn the client is gone
		}
	}
	c.closing = true
}

func (s *Server) onData(ec engine.Conn, in []byte) int {
	return ec.Context().(*conn).read(in)
}

func (s *Server) onTimeout(ec engine.Conn) {
	ec.Context().(*conn).timeout()
}

// read parses and serves the requests in in and returns the bytes used.
func (c *conn) read(in []byte) int {
	if c.closing {
		return len(in) // after the last response: discard
	}
	if c.stream != nil {
		return c.feed(in)
	}
	if c.busy || c.wait == waitDrain {
		// Backpressure: stop reading the socket until the requests in
		// hand are answered; the cap catches what arrives meanwhile.
		c.ec.PauseRead()
		if len(in) > c.srv.cfg.MaxBufferedInput {
			c.srv.logf(c, "closing: %d bytes of input buffered while busy (limit %d)", len(in), c.srv.cfg.MaxBufferedInput)
			c.ec.Close()
		}
		return 0
	}
	lp := c.lp
	lp.ec = c.ec
	used := 0
	var b *batch
	batchStart := 0
	var tailErr error
	var date []byte
	for n := 0; ; n++ {
		if used == len(in) {
			break
		}
		if n == c.srv.cfg.MaxPipelined {
			// Fairness: serve the rest after the loop's other connections.
			if b == nil {
				_ = c.ec.Wake()
			}
			break
		}
		x := c.partial
		if x == nil {
			x = lp.getCtx(c)
			if x.sampled = c.ec.Loop().Sample(); x.sampled {
				x.tFirst = time.Now()
			}
		}
		var k int
		var err error
		if x.sampled {
			t := time.Now()
			k, err = x.parser.Parse(in[used:], &x.req)
			x.parseDur += time.Since(t)
			if err != http1.ErrNeedMore || x.parser.InBody() {
				x.headDone()
			}
		} else {
			k, err = x.parser.Parse(in[used:], &x.req)
		}
		if err == http1.ErrNeedMore && x.parser.InBody() && !x.planned {
			var streamed bool
			if streamed, err = c.planBody(x); streamed {
				if b == nil {
					b = lp.getBatch(c)
					batchStart = used
				}
				b.ctxs = append(b.ctxs, x)
				used += c.startStream(x, in[used:])
				break // nothing more is parsed until the stream and the batch are done
			}
			if err == nil {
				k, err = x.parser.Parse(in[used:], &x.req) // the buffered limit may refuse it now
			}
		}
		if err == http1.ErrNeedMore {
			c.partial = x
			c.needMore(x, len(in)-used, b != nil)
			break
		}
		c.partial = nil
		c.sent100 = false
		if err != nil {
			c.countParseError(err)
			lp.putCtx(x)
			if b != nil {
				tailErr = err
			} else {
				c.parseError(err)
			}
			c.closing = true
			used = len(in)
			break
		}
		used += k
		if !x.planned {
			c.srv.route(x)
		}
		if !isStreaming(x.route) && int64(len(x.req.Body)) > c.srv.cfg.Limits.MaxBodyBytes {
			// It arrived whole, but a buffered route takes no more than
			// the buffered limit (R42).
			lp.putCtx(x)
			e := &http1.Error{Status: 413, Rule: "R42", Reason: "request body exceeds the body limit"}
			c.countParseError(e)
			if b != nil {
				tailErr = e
			} else {
				c.parseError(e)
			}
			c.closing = true
			used = len(in)
			break
		}
		if b == nil && (c.srv.cfg.Dispatch == DispatchInline || isInline(x.route)) {
			// One clock read per read, not per response: inline
			// handlers never block, so it is a moment old at most.
			if date == nil {
				date = http1.DateLine()
			}
			x.date = date
			c.serve(x)
			if x.sampled {
				lp.writes = append(lp.writes, x.tWrite) // Write ends when this read's output is flushed
			}
			keep := x.keep
			lp.putCtx(x)
			if !keep {
				c.closing = true
				used = len(in)
				break
			}
			if len(lp.out) > c.srv.cfg.WriteHighWater {
				// Output past the high-water mark: hand it over before
				// parsing more (afterWrite then waits for the drain), so
				// pipelined large responses cannot pile up here first.
				if used < len(in) {
					_ = c.ec.Wake()
				}
				break
			}
			continue
		}
		if b == nil {
			b = lp.getBatch(c)
			batchStart = used - k
		}
		b.ctxs = append(b.ctxs, x)
		if !x.req.KeepAlive {
			break // R52: nothing after a "close" request is served
		}
	}
	err := lp.flush()
	if len(lp.writes) > 0 {
		sh := c.srv.stageShard(c)
		now := time.Now()
		for _, t := range lp.writes {
			sh.Record(stage.Write, now.Sub(t))
		}
		lp.writes = lp.writes[:0]
	}
	if err != nil {
		return used
	}
	if b != nil {
		b.tailErr = tailErr
		b.submitted = time.Time{}
		for _, x := range b.ctxs {
			if x.sampled {
				b.submitted = time.Now()
				break
			}
		}
		b.own(in[batchStart:used])
		c.busy = true
		c.cur = b
		if c.stream == nil { // a stream keeps the body deadline it armed
			c.setWait(waitBusy)
		}
		if !c.srv.pool.submit(b) {
			c.queued = b
			c.setWait(waitQueue)
		}
		return used
	}
	c.afterWrite()
	return used
}

// needMore handles a request that is not complete yet: the 100-continue
// answer, the deadline of the phase it is in, and a read hint for a large
// body. rest is the input from the request's first byte.
func (c *conn) needMore(x *Ctx, rest int, batching bool) {
	if !x.parser.InBody() {
		c.setWait(waitHead)
		return
	}
	c.setWait(waitBody)
	// R56: the body is needed, so ask for it now — unless responses of
	// earlier requests are still to be written (the 100 must follow them;
	// it is sent when the batch is done and the input is read again).
	if x.req.Expect100 && !c.sent100 && !batching {
		c.lp.out = http1.AppendContinue(c.lp.out)
		c.sent100 = true
	}
	if need := x.parser.BodyNeeded(&x.req); need > rest {
		c.ec.WantBytes(need)
	}
}

// planBody decides, once x's head is complete, how its body is handled:
// streamed to a worker (a Streaming route, or a Content-Length above
// StreamThreshold) or buffered, with the buffered limit applied. It
// returns whether the body is streamed, or an *http1.Error (413).
func (c *conn) planBody(x *Ctx) (bool, error) {
	x.planned = true
	c.srv.route(x)
	cfg := &c.srv.cfg
	if isStreaming(x.route) || x.req.ContentLength > cfg.StreamThreshold {
		if max := cfg.MaxStreamBytes; max > 0 && x.req.ContentLength > max {
			return false, &http1.Error{Status: 413, Rule: "R42", Reason: "Content-Length exceeds the streamed body limit", Offset: x.req.HeadLen}
		}
		return true, nil
	}
	x.parser.SetBodyLimit(cfg.Limits.MaxBodyBytes)
	return false, nil
}

// startStream hands x's body to a stream: the head is consumed, x goes
// to the workers with the batch, and the body bytes at hand are fed. It
// returns the bytes used from in (x's first byte on).
func (c *conn) startStream(x *Ctx, in []byte) int {
	s := &stream{x: x, left: x.req.ContentLength}
	if x.req.Chunked {
		s.left = -1
		s.dec = *http1.NewChunkedDecoder(http1.Limits{MaxBodyBytes: c.srv.streamLimit(), MaxHeaderBytes: c.srv.cfg.Limits.MaxHeaderBytes, MaxHeaders: c.srv.cfg.Limits.MaxHeaders, MaxChunkExtBytes: c.srv.cfg.Limits.MaxChunkExtBytes})
		s.scratch = make([]byte, 0, pipeSize)
	}
	ec := c.ec
	s.pipe = newPipe(func() { _ = ec.Wake() })
	x.stream = s
	x.parser.Reset() // the stream reads the body, not the parser
	c.stream = s
	c.streamGot, c.streamMark = 0, 0
	c.partial = nil
	c.sent100 = false
	head := x.req.HeadLen
	if s.left == 0 {
		s.done = true
		s.pipe.finish(io.EOF)
		c.stream = nil
		return head
	}
	return head + c.feedBytes(in[head:])
}

// feed is read while a body streams: it pushes what it can and returns
// the bytes used; bytes after the body wait for the batch to finish.
func (c *conn) feed(in []byte) int {
	return c.feedBytes(in)
}

func (c *conn) feedBytes(in []byte) int {
	s := c.stream
	n, full, err := s.feed(in)
	switch {
	case err != nil:
		// Broken framing: the handler sees the error; the connection
		// closes after its response, as nothing after can be trusted.
		c.srv.logf(c, "streamed body: %v", err)
		c.stream = nil
		c.closing = true
		c.ec.ResumeRead()
	case s.done:
		c.stream = nil
		c.ec.ResumeRead()
		c.setWait(waitBusy)
	case full:
		// The handler is behind: leave the bytes in the kernel. It has
		// WriteTimeout to read on (every read re-arms the body deadline).
		c.ec.PauseRead()
		c.wait = waitBusy
		c.ec.SetTimeout(c.srv.cfg.WriteTimeout)
	default:
		c.ec.ResumeRead()
		c.streamGot += int64(n)
		// The deadline is re-armed only by progress: MinBodyRate's worth
		// of bytes per BodyReadTimeout window. A body trickled slower is
		// cut off at the window's end (R-U-Dead-Yet), however long it is.
		if c.wait != waitStream || c.streamGot-c.streamMark >= c.srv.minBodyWindow {
			c.streamMark = c.streamGot
			c.wait = waitStream
			c.ec.SetTimeout(c.srv.cfg.BodyReadTimeout)
		}
	}
	return n
}

// setWait arms the deadline for a new phase; staying in a phase keeps the
// deadline it had, so trickled bytes do not extend it (slowloris).
func (c *conn) setWait(w uint8) {
	if c.wait == w && w != waitQueue && w != waitDrain && w != waitFlush {
		return
	}
	c.wait = w
	cfg := &c.srv.cfg
	switch w {
	case waitIdle:
		c.ec.SetTimeout(cfg.IdleTimeout)
	case waitHead, waitFirst:
		c.ec.SetTimeout(cfg.HeaderReadTimeout)
	case waitBody:
		c.ec.SetTimeout(cfg.BodyReadTimeout)
	case waitBusy:
		c.ec.SetTimeout(cfg.WriteTimeout) // the handlers must answer within it
	case waitQueue, waitDrain, waitFlush:
		c.ec.SetTimeout(1) // the next tick
	}
}

// afterWrite decides what follows written responses: close, wait for the
// peer to read, or wait for the next request.
func (c *conn) afterWrite() {
	if c.closing {
		c.ec.CloseGraceful()
		return
	}
	pending := c.ec.Pending()
	if pending == 0 {
		c.drainEnd = 0
	} else if c.drainEnd == 0 || c.ec.Sent() >= c.drainMark {
		c.armDrain(pending)
	}
	switch {
	case pending > c.srv.cfg.WriteHighWater:
		c.setWait(waitDrain)
	case c.partial != nil:
		// A request is arriving: its phase's deadline rules.
	case pending > 0:
		// Idle starts once the peer has the responses: a slow reader is
		// bound by WriteTimeout, not cut off by IdleTimeout mid-response.
		c.setWait(waitFlush)
	default:
		c.setWait(waitIdle)
	}
}

// armDrain starts the write deadline for the pending bytes queued now.
// Output the peer has not taken must be taken within WriteTimeout of the
// deadline's start, however much of it there is; responses queued behind
// it do not extend the deadline. Once the kernel has taken all of it
// (Sent reaches the mark), the deadline starts afresh for what is queued
// then, so every byte is taken within WriteTimeout (twice that for bytes
// queued while an earlier deadline ran). Progress is judged by Sent, not
// by catching Pending at zero: a peer that reads everything but is sent
// a response just before each look would otherwise never be seen to
// drain (io_uring counts a send in flight as pending, a stalled loop
// looks late, kernel memory pressure delays small writes).
func (c *conn) armDrain(pending int) {
	c.drainEnd = int64(c.ec.Loop().Now() + c.srv.cfg.WriteTimeout)
	c.drainMark = c.ec.Sent() + int64(pending)
}

// drainExpired reports whether queued output has outlived WriteTimeout:
// the deadline passed and the output it was armed for is not all taken.
// Output that was taken re-arms the deadline for what is queued now.
func (c *conn) drainExpired() bool {
	if c.srv.cfg.WriteTimeout <= 0 || c.drainEnd == 0 {
		return false
	}
	if c.ec.Sent() >= c.drainMark {
		if p := c.ec.Pending(); p > 0 {
			c.armDrain(p)
		} else {
			c.drainEnd = 0
		}
		return false
	}
	return int64(c.ec.Loop().Now()) >= c.drainEnd
}

// writeTimeout closes a connection whose peer does not take its output.
func (c *conn) writeTimeout() {
	c.srv.stageShard(c).Inc(stage.TimeoutsWrite)
	c.srv.logf(c, "closing: %d bytes of output not read by the peer within %v", c.ec.Pending(), c.srv.cfg.WriteTimeout)
	c.ec.Close()
}

func (c *conn) timeout() {
	switch c.wait {
	case waitFirst, waitIdle:
		c.srv.stageShard(c).Inc(stage.TimeoutsIdle)
		c.ec.Close() // an idle connection is closed without a word
	case waitHead, waitBody:
		what, counter := "request head", stage.TimeoutsHeader
		if c.wait == waitBody {
			what, counter = "request body", stage.TimeoutsBody
		}
		sh := c.srv.stageShard(c)
		sh.Inc(counter)
		sh.Inc(stage.Requests4xx) // the 408 below
		c.srv.logf(c, "408: %s not received within the timeout", what)
		c.lp.ec = c.ec
		c.lp.out = http1.AppendError(c.lp.out, 408, what+" not received in time")
		_ = c.lp.flush()
		c.closing = true
		c.ec.CloseGraceful()
	case waitStream:
		c.srv.stageShard(c).Inc(stage.TimeoutsBody)
		if s := c.stream; s != nil {
			c.srv.logf(c, "streamed body not received in time")
			s.done = true
			s.pipe.finish(ErrBodyTimeout)
			c.stream = nil
			c.closing = true // the handler answers; then the connection closes
		}
	case waitBusy:
		if b := c.cur; b != nil && b.answered.Load() {
			// The handlers have answered: the batch waits for the engine
			// (Uring completes a write once the kernel has every byte), or
			// its answer is on its way to the loop. That is output waiting
			// for the peer, judged as such (its deadline starts now, so
			// such output may wait up to twice WriteTimeout from dispatch).
			if p := c.ec.Pending(); p > 0 && c.drainEnd == 0 {
				c.armDrain(p)
			}
			if c.drainExpired() {
				c.writeTimeout()
				return
			}
			c.ec.SetTimeout(1) // look again at the next tick
			return
		}
		// A handler has not answered (or not read its streamed body)
		// within WriteTimeout: the connection closes, which ends the
		// requests' contexts; what the handler writes later goes nowhere.
		c.srv.stageShard(c).Inc(stage.TimeoutsHandler)
		c.srv.logf(c, "closing: the handler did not answer within %v", c.srv.cfg.WriteTimeout)
		c.ec.Close()
	case waitQueue:
		if c.srv.pool.submit(c.queued) {
			c.queued = nil
			c.setWait(waitBusy)
		} else {
			c.setWait(waitQueue)
		}
	case waitFlush:
		switch {
		case c.ec.Pending() == 0:
			c.drainEnd = 0
			c.setWait(waitIdle)
		case c.drainExpired():
			c.writeTimeout()
		default:
			c.setWait(waitFlush)
		}
	case waitDrain:
		switch {
		case c.ec.Pending() <= c.srv.cfg.WriteHighWater/2:
			c.wait = waitIdle
			c.afterWrite()
			c.ec.ResumeRead() // read() paused the socket if input came meanwhile
			c.ec.Resume()
		case c.drainExpired():
			c.writeTimeout()
		default:
			c.setWait(waitDrain)
		}
	}
}

// countParseError counts a refused request by the status it gets, both
// as a parse error and as a response of that status class (every refusal
// is answered, by parseError).
func (c *conn) countParseError(err error) {
	status := 400
	var e *http1.Error
	if errors.As(err, &e) {
		status = e.Status
	}
	sh := c.srv.stageShard(c)
	sh.Inc(stage.ParseErrorCounter(status))
	sh.Inc(stage.RequestCounter(status))
}

// parseError answers a request the parser refused, then the connection
// closes (R6).
func (c *conn) parseError(err error) {
	var e *http1.Error
	if !errors.As(err, &e) {
		e = &http1.Error{Status: 400, Reason: err.Error()}
	}
	c.srv.logf(c, "bad request: %v", e)
	c.lp.out = http1.AppendErrorResponse(c.lp.out, e)
}

// serve runs x's handler and appends its response to x.out.
func (c *conn) serve(x *Ctx) {
	if c.srv.closing.Load() {
		x.close = true
	}
	sh := c.srv.stageShard(c)
	sh.AddGauge(stage.InFlight, 1)
	defer sh.AddGauge(stage.InFlight, -1)
	var start time.Time
	if x.sampled {
		start = time.Now()
	}
	ok := c.run(x)
	if x.sampled {
		x.tWrite = time.Now()
		sh.Record(stage.Process, x.tWrite.Sub(start)-x.decodeDur)
	}
	sh.Inc(stage.RequestCounter(x.Status()))
	if !ok {
		sh.Inc(stage.Panics)
		return
	}
	if x.multipart != nil {
		x.multipart.Close() // temporary files go with the request
	}
	if x.stream != nil && !x.stream.pipe.complete() {
		x.close = true // the rest of the body is not read, or never came (R53)
	}
	x.finish()
}

// run calls the handler, recovering a panic into a 500 (or, if the
// response was already being streamed, into a close). It reports whether
// the response still needs finishing.
func (c *conn) run(x *Ctx) (ok bool) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		buf := make([]byte, 4<<10)
		buf = buf[:runtime.Stack(buf, false)]
		c.srv.cfg.Logger.Error("sluice: handler panic",
			"remote", c.ec.RemoteAddr().String(), "method", x.Method(), "path", x.Path(),
			"panic", fmt.Sprint(r), "stack", string(buf))
		if x.streaming {
			x.keep = false
			x.done.Store(true)
			ok = false
			return
		}
		x.hdrs = x.hdrs[:0]
		x.close = true
		_ = x.Error(500, "")
		x.finish()
		ok = false
	}()
	x.route.Serve(x)
	return true
}

// batch is the requests of one read handed to a worker, with a copy of
// their bytes (workers never see the engine's buffer) and their encoded
// responses.
type batch struct {
	c         *conn
	ctxs      []*Ctx
	inBuf     *bytebufferpool.ByteBuffer
	in        []byte // copy of the requests' bytes (inBuf.B); the Ctx views point here
	out       []byte // responses not yet handed to the engine
	vec       [1][]byte
	tailErr   error     // a parse error after the batch: answered after it
	submitted time.Time // when the batch went to the pool, if a request in it is sampled
	done      func(error)
	// answered is set by the worker when every handler of the batch has
	// returned and the responses go to the engine; the loop reads it at
	// the busy deadline, and clears it in complete.
	answered atomic.Bool
}

// resumeReadBelow: after a batch, the socket is read again only when less
// than this much input is buffered (one read's worth). A pipelining
// client may have sent far more than a batch takes (MaxPipelined
// requests); reading on regardless would grow the buffer by a read per
// batch until MaxBufferedInput closes a client that does nothing wrong.
const resumeReadBelow = 64 << 10

// batchIn pools the copies of request bytes handed to workers; its
// calibration keeps oversized buffers from being pooled after a burst of
// large uploads.
var batchIn bytebufferpool.Pool

func (lp *loopState) getBatch(c *conn) *batch {
	var b *batch
	if n := len(lp.batches); n > 0 {
		b = lp.batches[n-1]
		lp.batches = lp.batches[:n-1]
	} else {
		b = &batch{}
		b.done = b.complete
	}
	b.c = c
	return b
}

// own copies the batch's request bytes out of the engine's buffer and
// points every request at the copy.
func (b *batch) own(src []byte) {
	b.inBuf = batchIn.Get()
	b.inBuf.B = append(b.inBuf.B[:0], src...)
	b.in = b.inBuf.B
	for _, x := range b.ctxs {
		x.req.Rebase(src, b.in)
		for i := 0; i < x.nparams; i++ { // path values are views of the path
			if off, ok := bytesconv.Offset(x.params[i].value, src); ok {
				x.params[i].value = bytesconv.B2S(b.in[off : off+len(x.params[i].value)])
			}
		}
		x.out = b
	}
}

func (b *batch) buffer() *[]byte { return &b.out }

// flush hands the responses so far to the engine (a streamed response);
// the buffer goes with them and a new one is started.
func (b *batch) flush() error {
	if len(b.out) == 0 {
		return nil
	}
	out := b.out
	b.out = nil
	return b.c.ec.AsyncWritev([][]byte{out}, nil)
}

// run serves the batch on a worker, in order, then hands the responses
// to the loop.
func (b *batch) run() {
	c := b.c
	closing := false
	if !b.submitted.IsZero() {
		wait := time.Since(b.submitted)
		for _, x := range b.ctxs {
			if x.sampled {
				c.srv.stageShard(c).Record(stage.QueueWait, wait)
			}
		}
	}
	for _, x := range b.ctxs {
		if x.stream != nil && x.req.Expect100 {
			// R56: the handler is about to read the body; earlier
			// responses of the batch go first.
			b.out = http1.AppendContinue(b.out)
			_ = b.flush()
		}
		c.serve(x)
		if !x.keep {
			closing = true
			break // R52: the connection closes after this response
		}
	}
	if b.tailErr != nil && !closing {
		var e *http1.Error
		if errors.As(b.tailErr, &e) {
			b.out = http1.AppendErrorResponse(b.out, e)
		}
	}
	b.vec[0] = b.out
	b.answered.Store(true)
	if err := c.ec.AsyncWritev(b.vec[:], b.done); err != nil {
		b.done(err)
	}
}

// complete runs on the loop once the responses are written.
func (b *batch) complete(err error) {
	c := b.c
	lp := c.lp
	closing := b.tailErr != nil
	var now time.Time
	for _, x := range b.ctxs {
		if !x.keep {
			closing = true
		}
		if x.sampled && !x.tWrite.IsZero() && err == nil {
			if now.IsZero() {
				now = time.Now()
			}
			lp.srv.stageShard(c).Record(stage.Write, now.Sub(x.tWrite))
		}
		if s := x.stream; s != nil {
			if c.stream == s {
				// The handler returned before the body ended: the rest
				// is not read (R53), so the connection closes.
				s.pipe.abandon()
				c.stream = nil
				closing = true
			}
			pipes.Put(s.pipe)
		}
		lp.putCtx(x)
	}
	b.ctxs = b.ctxs[:0]
	batchIn.Put(b.inBuf)
	b.inBuf, b.in = nil, nil
	if cap(b.out) > maxKeptBody {
		b.out = nil
	}
	b.out = b.out[:0]
	b.vec[0] = nil
	b.tailErr = nil
	b.c = nil
	b.answered.Store(false)
	lp.batches = append(lp.batches, b)

	c.busy = false
	c.cur = nil
	if err != nil {
		return // the connection is gone
	}
	if closing {
		c.closing = true
	}
	c.afterWrite() // c.wait is waitBusy: the next phase's deadline is armed afresh
	if !c.closing && c.wait != waitDrain {
		if c.ec.Buffered() < resumeReadBelow {
			c.ec.ResumeRead()
		}
		c.ec.Resume()
	}
}
