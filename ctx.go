package sluice

import (
	"bytes"
	"context"
	stdtls "crypto/tls"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-go/sluice/codec/form"
	"github.com/sluice-go/sluice/codec/http1"
	"github.com/sluice-go/sluice/internal/bytesconv"
	"github.com/sluice-go/sluice/stage"
)

// Header is a field line: name and value. See http1.Header.
type Header = http1.Header

// Errors returned by Ctx.
var (
	// ErrHandlerDone is returned by writes (Write, String, JSON, Flush,
	// ...) to a Ctx whose handler has returned: the response is already
	// sent. See Ctx for how long a kept Ctx reports it.
	ErrHandlerDone = errors.New("sluice: write after the handler returned")
	// ErrBodyTooLarge is returned when a response body exceeds the limit
	// of a buffered response; use Flush to stream large bodies.
	ErrBodyTooLarge = errors.New("sluice: response body too large to buffer (use Flush to stream)")
)

// maxParams bounds the wildcards of one route: the Ctx holds them in a
// fixed array, so matching a route allocates nothing.
const maxParams = 8

// maxKeptBody is the largest response-body buffer a Ctx keeps for reuse:
// larger ones go back to the garbage collector, so one big response does
// not pin memory in every pooled Ctx.
const maxKeptBody = 64 << 10

// maxBufferedResponse bounds a response body held in memory before the
// handler returns (64 MiB); larger bodies must be streamed with Flush.
const maxBufferedResponse = 64 << 20

type param struct{ name, value string }

// output is where a Ctx's encoded response goes: the loop's output buffer
// for inline handlers, the batch's for pool workers.
type output interface {
	// buffer returns the buffer responses are appended to.
	buffer() *[]byte
	// flush sends what the buffer holds now, in order after what was sent
	// before.
	flush() error
}

// Ctx is one request and its response. The server passes it to
// Handler.Serve.
//
// Borrowed: a Ctx and everything it returns (strings and slices of the
// request, headers, body) are valid only until Serve returns; the Ctx is
// then reused for another request. Copy what must outlive the handler.
// A Ctx is used by one goroutine at a time: the one running the handler.
//
// Never keep a Ctx past its handler. Ctx objects are pooled per loop so
// that serving a request allocates nothing; a goroutine that writes
// through a kept Ctx gets ErrHandlerDone (no panic, nothing sent) until
// the server hands that Ctx to another request, and after that its writes
// land in the other request's response, as with fasthttp's RequestCtx. A
// handler that must answer from another goroutine waits for it before
// returning (Ctx.Context tells it when to give up).
type Ctx struct {
	req    http1.Request
	parser http1.Parser
	c      *conn
	out    output

	date []byte // the Date line to send; nil: read the clock (pool workers)

	// Stage timing of a sampled request (stage.Recorder).
	sampled   bool
	headSeen  bool          // the Read and Parse stages are recorded
	tFirst    time.Time     // the request's first byte seen
	tWrite    time.Time     // the handler returned: the Write stage starts
	parseDur  time.Duration // time inside the parser
	decodeDur time.Duration // time inside DecodeJSON, Form, Multipart
	stream    *stream       // the streamed body, or nil when it is buffered
	planned   bool          // the body's handling was decided (conn.planBody)
	bodyRd    bytes.Reader  // BodyReader over a buffered body
	readAll   []byte        // a streamed body read whole by Body

	form      form.Form       // Ctx.Form's parse, reused
	multipart *form.Multipart // Ctx.Multipart's, closed after the handler

	params  [maxParams]param
	nparams int
	pattern string
	route   Handler

	ctxMu  sync.Mutex         // guards stdCtx, cancel and gone: the handler's goroutine vs the loop
	stdCtx context.Context    // Context's, made on first use
	cancel context.CancelFunc // stdCtx's
	gone   bool               // the connection closed while the request was served

	rh        http1.ResponseHeader
	status    int
	hdrs      []http1.Header
	ctype     []byte
	body      []byte
	streaming bool          // Flush sent the head; body goes out in chunks
	framing   http1.Framing // of a streamed response
	keep      bool          // the connection may serve another request
	close     bool          // the handler asked for Connection: close
	// done: the response is complete, or the Ctx is idle in a pool.
	// Atomic because a goroutine that kept the Ctx past its handler reads
	// it while the loop recycles the Ctx (ErrHandlerDone); the fields it
	// guards are touched only while it is false.
	done atomic.Bool
}

// reset clears the response side and the request's extras for reuse.
func (x *Ctx) reset() {
	x.date = nil
	x.sampled, x.headSeen = false, false
	x.tWrite = time.Time{}
	x.parseDur, x.decodeDur = 0, 0
	x.stream = nil
	x.form.Reset()
	x.multipart = nil
	x.planned = false
	if cap(x.readAll) > maxKeptBody {
		x.readAll = nil
	}
	x.readAll = x.readAll[:0]
	x.nparams = 0
	x.pattern = ""
	x.route = nil
	// The handler has returned and its response is written (or the
	// connection is gone): no other goroutine touches these now.
	if x.cancel != nil {
		x.cancel()
	}
	x.stdCtx, x.cancel, x.gone = nil, nil, false
	x.status = 0
	x.hdrs = x.hdrs[:0]
	x.ctype = nil
	if cap(x.body) > maxKeptBody {
		x.body = nil
	}
	x.body = x.body[:0]
	x.streaming = false
	x.keep = false
	x.close = false
	x.done.Store(true) // until getCtx hands it out: late writes get ErrHandlerDone
}

// headDone records the Read and Parse stages of a sampled request once
// its head is complete.
func (x *Ctx) headDone() {
	if x.headSeen {
		return
	}
	x.headSeen = true
	sh := x.c.srv.stageShard(x.c)
	sh.Record(stage.Read, time.Since(x.tFirst))
	sh.Record(stage.Parse, x.parseDur)
}

// Request returns the parsed request: method, target, headers, body.
// Borrowed.
func (x *Ctx) Request() *http1.Request { return &x.req }

// Method returns the request method as sent. Borrowed.
func (x *Ctx) Method() string { return bytesconv.B2S(x.req.Method) }

// Path returns the request path, raw (not percent-decoded). Borrowed.
func (x *Ctx) Path() string { return bytesconv.B2S(x.req.Path) }

// RawQuery returns the query string without the '?', raw. Borrowed.
func (x *Ctx) RawQuery() string { return bytesconv.B2S(x.req.Query) }

// Proto returns "HTTP/1.1" or "HTTP/1.0" (later 1.x minors read as 1.1).
func (x *Ctx) Proto() string {
	if x.req.ProtoMinor == 0 {
		return "HTTP/1.0"
	}
	return "HTTP/1.1"
}

// Host returns the authority the request is for: the absolute-form
// target's, or the Host header's. Borrowed.
func (x *Ctx) Host() string { return bytesconv.B2S(x.req.Host) }

// Header returns the first value of the request header name (ASCII
// case-insensitive), or "". Borrowed.
func (x *Ctx) Header(name string) string {
	v, _ := x.req.Header(name)
	return bytesconv.B2S(v)
}

// Headers returns the request's field lines in the order received, names
// as sent. Borrowed.
func (x *Ctx) Headers() []Header { return x.req.Headers }

// Trailers returns a chunked request body's trailer fields. Borrowed.
func (x *Ctx) Trailers() []Header { return x.req.Trailers }

// Body returns the request body (de-chunked). Borrowed. For a streamed
// body (see Config.StreamThreshold and Streaming) it reads the rest of the
// stream into memory first, up to Limits.MaxBodyBytes, and returns nil if
// the body is larger or fails: use BodyReader for those.
func (x *Ctx) Body() []byte {
	if x.stream == nil {
		return x.req.Body
	}
	b, err := x.ReadBody()
	if err != nil {
		return nil
	}
	return b
}

// ReadBody is Body with the error: ErrBodyTooLarge for a streamed body
// over Limits.MaxBodyBytes, or why the stream failed.
func (x *Ctx) ReadBody() ([]byte, error) {
	if x.stream == nil {
		return x.req.Body, nil
	}
	limit := x.c.srv.cfg.Limits.MaxBodyBytes
	for {
		if int64(len(x.readAll)) > limit {
			return nil, ErrBodyTooLarge
		}
		if len(x.readAll) == cap(x.readAll) {
			x.readAll = append(x.readAll, 0)[:len(x.readAll)]
		}
		n, err := x.stream.pipe.Read(x.readAll[len(x.readAll):cap(x.readAll)])
		x.readAll = x.readAll[:len(x.readAll)+n]
		if err == io.EOF {
			x.req.Body = x.readAll
			x.stream = nil
			return x.readAll, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// BodyReader returns a reader of the request body. For a streamed body it
// yields bytes as the client sends them (blocking until they arrive) and
// ends with io.EOF, or with ErrBodyTimeout or ErrBodyClosed. Borrowed: do
// not read it after the handler returns.
func (x *Ctx) BodyReader() io.Reader {
	if x.stream != nil {
		return x.stream.pipe
	}
	x.bodyRd.Reset(x.req.Body)
	return &x.bodyRd
}

// BodyStreamed reports whether the body is streamed rather than buffered.
func (x *Ctx) BodyStreamed() bool { return x.stream != nil }

// RemoteAddr returns the client's address.
func (x *Ctx) RemoteAddr() net.Addr { return x.c.ec.RemoteAddr() }

// LocalAddr returns the server's address for this connection.
func (x *Ctx) LocalAddr() net.Addr { return x.c.ec.LocalAddr() }

// TLS returns the connection's TLS parameters (version, cipher suite,
// SNI server name, ALPN protocol, peer certificates), or nil for plain
// HTTP. Borrowed.
func (x *Ctx) TLS() *stdtls.ConnectionState {
	if t, ok := x.c.ec.(interface {
		TLSConnectionState() *stdtls.ConnectionState
	}); ok {
		return t.TLSConnectionState()
	}
	return nil
}

// Pattern returns the Mux pattern that matched, or "".
func (x *Ctx) Pattern() string { return x.pattern }

// PathValue returns the value of the wildcard name in the matched Mux
// pattern, percent-decoded, or "". Borrowed.
func (x *Ctx) PathValue(name string) string {
	for i := 0; i < x.nparams; i++ {
		if x.params[i].name == name {
			return x.params[i].value
		}
	}
	return ""
}

// Context returns the request's context, which a handler that waits
// (on I/O, a lock, another service) should watch. It is done when:
//   - the handler has returned and its response is written (like
//     net/http's request context);
//   - the connection closes while the handler runs: the client went
//     away, or the server closed the connection because the handler had
//     not answered within Config.WriteTimeout (pool workers and PerConn;
//     a handler that runs on an event loop blocks that loop and must
//     never wait);
//   - WriteTimeout has passed since the first call (context.DeadlineExceeded).
//
// It is made on first use (an allocation and a timer), so handlers that
// never call it pay nothing. Safe to call from the handler's goroutine and
// from goroutines it starts, until it returns.
func (x *Ctx) Context() context.Context {
	x.ctxMu.Lock()
	defer x.ctxMu.Unlock()
	if x.stdCtx == nil {
		if d := x.c.srv.cfg.WriteTimeout; d > 0 {
			x.stdCtx, x.cancel = context.WithTimeout(context.Background(), d)
		} else {
			x.stdCtx, x.cancel = context.WithCancel(context.Background())
		}
		if x.gone {
			x.cancel()
		}
	}
	return x.stdCtx
}

// connGone cancels the request's context: its connection closed while the
// handler ran. The loop only.
func (x *Ctx) connGone() {
	x.ctxMu.Lock()
	x.gone = true
	if x.cancel != nil {
		x.cancel()
	}
	x.ctxMu.Unlock()
}

// SetStatus sets the response status code (100-599). The default is 200.
func (x *Ctx) SetStatus(code int) {
	if !x.done.Load() {
		x.status = code
	}
}

// Status returns the response status code set so far (0 means 200).
func (x *Ctx) Status() int { return x.status }

// SetHeader sets a response header, replacing any with the same name
// (ASCII case-insensitive). The strings are kept, not copied: pass
// values that stay unchanged until the handler returns. Content-Length,
// Transfer-Encoding and Connection are decided by the server and ignored.
func (x *Ctx) SetHeader(name, value string) {
	if x.done.Load() {
		return
	}
	for i := range x.hdrs {
		if equalFoldBytes(x.hdrs[i].Name, name) {
			x.hdrs[i].Value = bytesconv.S2B(value)
			return
		}
	}
	x.AddHeader(name, value)
}

// AddHeader adds a response header line, keeping others of the same name.
func (x *Ctx) AddHeader(name, value string) {
	if x.done.Load() {
		return
	}
	x.hdrs = append(x.hdrs, http1.Header{Name: bytesconv.S2B(name), Value: bytesconv.S2B(value)})
}

// SetContentType sets the Content-Type of the response.
func (x *Ctx) SetContentType(v string) {
	if !x.done.Load() {
		x.ctype = bytesconv.S2B(v)
	}
}

// SetClose asks for the connection to be closed after this response.
func (x *Ctx) SetClose() {
	if !x.done.Load() {
		x.close = true
	}
}

// Write appends p to the response body.
func (x *Ctx) Write(p []byte) (int, error) {
	if x.done.Load() {
		return 0, ErrHandlerDone
	}
	if len(x.body)+len(p) > maxBufferedResponse && !x.streaming {
		return 0, ErrBodyTooLarge
	}
	x.body = append(x.body, p...)
	return len(p), nil
}

// WriteString appends s to the response body.
func (x *Ctx) WriteString(s string) (int, error) { return x.Write(bytesconv.S2B(s)) }

// String sends a text/plain response.
func (x *Ctx) String(code int, s string) error {
	if x.done.Load() {
		return ErrHandlerDone
	}
	x.status = code
	if x.ctype == nil {
		x.ctype = textPlain
	}
	_, err := x.WriteString(s)
	return err
}

// Bytes sends a response with the given content type and body.
func (x *Ctx) Bytes(code int, contentType string, b []byte) error {
	if x.done.Load() {
		return ErrHandlerDone
	}
	x.status = code
	x.ctype = bytesconv.S2B(contentType)
	_, err := x.Write(b)
	return err
}

// Error sends a plain-text error response "code reason: msg".
func (x *Ctx) Error(code int, msg string) error {
	if x.done.Load() {
		return ErrHandlerDone
	}
	x.status = code
	x.ctype = textPlain
	x.body = x.body[:0]
	x.body = strconv.AppendInt(x.body, int64(code), 10)
	x.body = append(x.body, ' ')
	x.body = append(x.body, http1.StatusText(code)...)
	if msg != "" {
		x.body = append(x.body, ": "...)
		x.body = append(x.body, msg...)
	}
	x.body = append(x.body, '\n')
	return nil
}

// Redirect sends a redirect to url with code (301, 302, 303, 307, 308).
func (x *Ctx) Redirect(code int, url string) {
	if x.done.Load() {
		return
	}
	x.status = code
	x.SetHeader("Location", url)
}

// Flush sends the response head (if not sent yet) and the body written so
// far, then keeps the response open: later writes are sent at the next
// Flush or when the handler returns. The body is chunked for HTTP/1.1 and
// delimited by closing the connection for HTTP/1.0. After the first
// Flush, the status and headers can no longer change.
func (x *Ctx) Flush() error {
	if x.done.Load() {
		return ErrHandlerDone
	}
	dst := x.out.buffer()
	if !x.streaming {
		x.streaming = true
		*dst, x.framing, x.keep = http1.AppendResponseHeader(*dst, &x.req, x.responseHeader(-1))
	}
	*dst = x.appendBodyPart(*dst)
	x.body = x.body[:0]
	return x.out.flush()
}

// appendBodyPart appends the buffered body as the streamed framing needs.
func (x *Ctx) appendBodyPart(dst []byte) []byte {
	switch x.framing {
	case http1.FramingChunked:
		return http1.AppendChunk(dst, x.body)
	case http1.FramingClose, http1.FramingLength:
		return append(dst, x.body...)
	}
	return dst
}

var (
	textPlain = []byte("text/plain; charset=utf-8")
	appJSON   = []byte("application/json")
)

func (x *Ctx) responseHeader(length int64) *http1.ResponseHeader {
	h := &x.rh
	*h = http1.ResponseHeader{
		Status:        x.status,
		ContentLength: length,
		ContentType:   x.ctype,
		Server:        x.c.srv.serverName,
		Headers:       x.hdrs,
		Close:         x.close || x.c.srv.closing.Load(),
		DateLine:      x.date,
	}
	return h
}

// finish appends the whole response (or, after Flush, its end) to the
// output and marks the Ctx done.
func (x *Ctx) finish() {
	dst := x.out.buffer()
	if x.streaming {
		*dst = x.appendBodyPart(*dst)
		if x.framing == http1.FramingChunked {
			*dst = http1.AppendLastChunk(*dst, nil)
		}
	} else {
		var framing http1.Framing
		*dst, framing, x.keep = http1.AppendResponseHeader(*dst, &x.req, x.responseHeader(int64(len(x.body))))
		if framing == http1.FramingLength {
			*dst = append(*dst, x.body...)
		}
	}
	x.done.Store(true)
}

// equalFoldBytes compares b with s ignoring ASCII case.
func equalFoldBytes(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c, d := b[i], s[i]
		if c|0x20 != d|0x20 || (c|0x20) < 'a' || (c|0x20) > 'z' {
			if c != d {
				return false
			}
		}
	}
	return true
}
