// Package http1 is sluice's Parse stage: a strict, zero-copy, incremental
// HTTP/1.1 request parser and a response encoder (RFC 9112, RFC 9110).
//
// It is a pure function of bytes. It does no I/O, starts no goroutines,
// keeps no timers and owns no buffer it was not given, so it can be
// tested, fuzzed and benchmarked alone.
//
// # Parsing
//
// A Parser turns the bytes at the start of a buffer into a Request whose
// fields are views into that buffer (method, target, path, query, version,
// every field line in order with names as sent, the body). When the buffer
// ends inside a request, Parse returns ErrNeedMore and resumes on the next
// call without rescanning. A malformed request gets an *Error carrying the
// status to answer (400, 413, 414, 417, 431, 501, 505), the offset of the
// offending byte, the rule it breaks and a short excerpt.
//
// The parser rejects rather than repairs: every rule of
// shared/RFC9112-RULES.md is enforced with the project's strict policy
// (obs-fold, bare CR or LF, control bytes in values, whitespace before the
// colon, conflicting framing, unknown transfer codings, ...), because a
// lenient parser behind or in front of another one is how requests are
// smuggled (RFC 9112 §11.2). Verdicts follow byte order, and a limit that
// is passed offends at the byte that passes it, so how the input was split
// across reads never changes the outcome.
//
// Request-target policy: bytes outside VCHAR, and '#', are rejected (R11,
// R12). The printable bytes that RFC 3986 does not allow raw but browsers
// send anyway in queries (`"<>\^`{|}`) are passed through untouched, as
// net/http and nginx do; the target is never percent-decoded here.
//
// # Encoding
//
// AppendResponseHeader writes a status-line and header section into a
// caller's buffer and decides the body framing (Content-Length, chunked,
// none, or close-delimited) from the request and the status. AppendChunk,
// AppendLastChunk, AppendContinue and AppendError complete the set; a
// cached Date line is refreshed at most once per second.
package http1

//go:generate go run gen_tables.go
