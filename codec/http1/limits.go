package http1

import "errors"

// Default limits. Each is the value used when the Limits field is zero.
const (
	// DefaultMaxRequestLine bounds the request-line, CRLF included. RFC 9112
	// §3 recommends supporting at least 8000 octets; 8 KiB is that plus room.
	DefaultMaxRequestLine = 8 << 10
	// DefaultMaxHeaderBytes bounds the header section (every field line with
	// its CRLF, not the request-line, not the final empty line). 64 KiB is
	// the largest section we accept (R25); browsers send under 2 KiB and
	// cookies are capped near 4 KiB each.
	DefaultMaxHeaderBytes = 64 << 10
	// DefaultMaxHeaders bounds the number of field lines. 100 is what
	// net/http's HTTP/2 server and most proxies allow; a browser sends ~15.
	DefaultMaxHeaders = 100
	// DefaultMaxBodyBytes bounds a buffered request body (4 MiB): large
	// enough for JSON APIs, small enough that 1,000 connections cannot pin
	// more than 4 GiB. Streamed bodies have their own limit upstream.
	DefaultMaxBodyBytes = 4 << 20
	// DefaultMaxChunkExtBytes bounds the chunk extensions of one message,
	// counted from the first byte after the chunk-size to the CR. Nothing
	// we serve uses them; 1 KiB leaves room for the odd signature while
	// stopping a peer from sending endless extensions (RFC 9112 §7.1.1),
	// and keeps every size line we accept under the 4 KiB line limit of
	// net/http's chunked reader, so a server behind us never refuses one.
	DefaultMaxChunkExtBytes = 1 << 10
)

// Limits bounds what a Parser accepts. The zero value is valid and means the
// defaults above. Exceeding a limit gets the status named on its field.
//
// Limits is a plain value: copy it freely.
type Limits struct {
	// MaxRequestLine is the longest request-line in bytes, CRLF included.
	// Longer: 414 when the target is the long part, 501 when the method is
	// (R10, R15). Zero means DefaultMaxRequestLine; negative is invalid.
	MaxRequestLine int
	// MaxHeaderBytes is the largest header section in bytes (all field lines
	// with their CRLFs); also applied to a chunked body's trailer section.
	// Larger: 431 (R25). Zero means DefaultMaxHeaderBytes; negative is invalid.
	MaxHeaderBytes int
	// MaxHeaders is the most field lines in a header (or trailer) section.
	// More: 431. Zero means DefaultMaxHeaders; negative is invalid.
	MaxHeaders int
	// MaxBodyBytes is the largest request body in bytes, de-chunked. A
	// Content-Length above it gets 413 before any body byte is read; a
	// chunked body gets 413 as soon as a chunk size would pass it (R42).
	// Zero means DefaultMaxBodyBytes; negative means no limit (for callers
	// that stream the body and bound it themselves).
	MaxBodyBytes int64
	// MaxChunkExtBytes is the most chunk-extension bytes in one chunked
	// body. More: 400 (R46). Zero means DefaultMaxChunkExtBytes; negative is
	// invalid.
	MaxChunkExtBytes int
}

// ErrInvalidLimits is returned by Limits.Validate for a negative limit that
// has no meaning.
var ErrInvalidLimits = errors.New("http1: negative limit")

// Validate reports whether every field has a meaning.
func (l Limits) Validate() error {
	if l.MaxRequestLine < 0 || l.MaxHeaderBytes < 0 || l.MaxHeaders < 0 || l.MaxChunkExtBytes < 0 {
		return ErrInvalidLimits
	}
	return nil
}

// Resolved returns l with every zero field replaced by its default, and a
// negative MaxBodyBytes replaced by the largest int64.
func (l Limits) Resolved() Limits {
	if l.MaxRequestLine <= 0 {
		l.MaxRequestLine = DefaultMaxRequestLine
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxHeaders <= 0 {
		l.MaxHeaders = DefaultMaxHeaders
	}
	switch {
	case l.MaxBodyBytes == 0:
		l.MaxBodyBytes = DefaultMaxBodyBytes
	case l.MaxBodyBytes < 0:
		l.MaxBodyBytes = 1<<63 - 1
	}
	if l.MaxChunkExtBytes <= 0 {
		l.MaxChunkExtBytes = DefaultMaxChunkExtBytes
	}
	return l
}
