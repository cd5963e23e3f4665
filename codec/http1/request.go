package http1

import "github.com/sluice-go/sluice/internal/bytesconv"

// Header is one field line: the name exactly as sent and the value with the
// surrounding whitespace removed (R21). Both are views into the parser's
// input.
type Header struct {
	Name  []byte
	Value []byte
}

// TargetForm is the form of a request-target (RFC 9112 §3.2).
type TargetForm uint8

// The four request-target forms.
const (
	OriginForm    TargetForm = iota // "/path?query"
	AbsoluteForm                    // "http://host/path?query"
	AuthorityForm                   // "host:port", CONNECT only
	AsteriskForm                    // "*", OPTIONS only
)

// Request is a parsed request head and, after Parser.Parse, its body.
//
// Borrowed: every []byte field is a view into the buffer handed to the
// parser (Body too for Content-Length bodies; a chunked body is de-chunked
// into BodyBuf). Views are valid until that buffer is modified or reused;
// copy to keep. A Request is reused request after request and is owned by
// one goroutine at a time.
type Request struct {
	Method []byte // token as sent, case-sensitive (R9)
	Target []byte // raw request-target, not percent-decoded (R12)
	Path   []byte // origin- or absolute-form path ("/" when absolute-form has none); "*" for asterisk-form; nil for authority-form
	Query  []byte // after the first '?', without it; nil when there is no '?'
	Proto  []byte // "HTTP/1.x" as sent
	Form   TargetForm

	// ProtoMinor is 0 for HTTP/1.0 and 1 for HTTP/1.1 and later minor
	// versions, which are served as HTTP/1.1 (R17).
	ProtoMinor int

	// Host is the authority to use: the absolute-form target's authority
	// if present (R13), the authority-form target for CONNECT, otherwise
	// the Host field value; empty when none was sent (HTTP/1.0).
	Host []byte

	Headers  []Header // field lines in order, names as sent, duplicates kept (R24)
	Trailers []Header // chunked trailer fields, never merged into Headers (R50)

	// ContentLength is the declared body length, or -1 when the request has
	// no Content-Length. Chunked requests have -1 and Chunked set.
	ContentLength int64
	Chunked       bool // Transfer-Encoding: chunked (R37)

	// Body is the request body: a view into the input for Content-Length
	// bodies, BodyBuf's bytes for chunked ones, nil when there is none.
	// Set by Parse only; ParseHeader leaves it nil.
	Body []byte
	// BodyBuf is caller-supplied storage that chunked bodies are de-chunked
	// into. The parser appends to BodyBuf[:0], so a buffer kept between
	// requests stops allocating once it is big enough.
	BodyBuf []byte

	KeepAlive bool // the connection may serve another request (R51, R52)
	Expect100 bool // "Expect: 100-continue" on HTTP/1.1 (R56, R57)
	Upgrade   bool // an Upgrade field was sent

	HeadLen int // bytes of the head: leading empty lines, request-line, field lines, final CRLF
}

// Reset clears r for reuse, keeping the capacity of Headers, Trailers and
// BodyBuf.
func (r *Request) Reset() {
	*r = Request{
		Headers:       r.Headers[:0],
		Trailers:      r.Trailers[:0],
		BodyBuf:       r.BodyBuf[:0],
		ContentLength: -1,
	}
}

// Rebase moves r's views from the buffer from to the buffer to, which must
// hold the same bytes at the same offsets (a copy, typically): after it,
// nothing in r points into from. De-chunked bodies live in BodyBuf and do
// not move. Use it to hand a request to another goroutine after copying
// the input out of a buffer that is about to be reused.
func (r *Request) Rebase(from, to []byte) {
	path := r.Path
	r.moveViews(cap(from), to)
	if len(path) == 1 && &path[0] == &slashPath[0] {
		r.Path = path
	}
}

// moveViews moves every view to the same offset in buf; fromCap is the
// capacity of the buffer they point into, whose full-capacity subslices
// they are, so each view's offset is fromCap minus its capacity.
func (r *Request) moveViews(fromCap int, buf []byte) {
	mv := func(v []byte) []byte {
		if v == nil {
			return nil
		}
		off := fromCap - cap(v)
		return buf[off : off+len(v)]
	}
	r.Method, r.Target, r.Proto = mv(r.Method), mv(r.Target), mv(r.Proto)
	r.Path, r.Query, r.Host = mv(r.Path), mv(r.Query), mv(r.Host)
	for i := range r.Headers {
		h := &r.Headers[i]
		h.Name, h.Value = mv(h.Name), mv(h.Value)
	}
	for i := range r.Trailers {
		h := &r.Trailers[i]
		h.Name, h.Value = mv(h.Name), mv(h.Value)
	}
	if !r.Chunked {
		r.Body = mv(r.Body)
	}
}

// Header returns the value of the first field line named name (ASCII
// case-insensitive), and whether there was one.
func (r *Request) Header(name string) ([]byte, bool) {
	for i := range r.Headers {
		if equalFold(r.Headers[i].Name, name) {
			return r.Headers[i].Value, true
		}
	}
	return nil, false
}

// IsHead reports whether the method is HEAD.
func (r *Request) IsHead() bool { return bytesconv.B2S(r.Method) == "HEAD" }

// HasBody reports whether the request carries a body.
func (r *Request) HasBody() bool { return r.Chunked || r.ContentLength > 0 }

// equalFold reports whether b equals s ignoring ASCII case. s is lower case
// when called with a constant; both sides are folded anyway.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

// equalName is equalFold for a field name, which holds only tchar bytes,
// against s, which holds only lower-case letters and '-'. Then b[i]|0x20
// equals s[i] exactly when the bytes match ignoring case: among tchar,
// only the two cases of a letter fold to it, and only '-' folds to '-'.
func equalName(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if b[i]|0x20 != s[i] {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
