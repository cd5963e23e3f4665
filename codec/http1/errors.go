package http1

import (
	"errors"
	"strconv"
	"strings"
)

// ErrNeedMore reports that the input ends inside a request: call again with
// the same bytes plus more. It is preallocated, so returning it costs nothing.
var ErrNeedMore = errors.New("http1: need more data")

// maxExcerpt caps the input an Error quotes: enough to recognise the line,
// small enough to log safely (textproto quotes at most 80 bytes).
const maxExcerpt = 40

// Error is a request the parser refuses. Status is the HTTP status to answer
// with (400, 413, 414, 417, 431, 501 or 505); the connection must be closed
// after that answer, because the framing of anything that follows is unknown
// (RFC 9112 §2.2, R6).
//
// An Error owns its fields; it is safe to keep and to pass between goroutines.
type Error struct {
	Status  int    // HTTP status to answer with
	Rule    string // rule ID in RFC9112-RULES.md ("R20"), or "" for a configured limit
	Reason  string // what was wrong, in a few words, fit for a response body
	Offset  int    // offset of the offending byte in the input given to the parser
	Excerpt string // at most 40 bytes of input starting near Offset, raw
}

// Error formats the error for logs: status, reason, rule, offset and the
// quoted excerpt.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("http1: ")
	b.WriteString(strconv.Itoa(e.Status))
	b.WriteByte(' ')
	b.WriteString(e.Reason)
	if e.Rule != "" {
		b.WriteString(" (")
		b.WriteString(e.Rule)
		b.WriteByte(')')
	}
	b.WriteString(" at offset ")
	b.WriteString(strconv.Itoa(e.Offset))
	if e.Excerpt != "" {
		b.WriteString(" near ")
		b.WriteString(strconv.Quote(e.Excerpt))
	}
	return b.String()
}

// newError builds an Error quoting buf from a little before off. It copies
// the excerpt, so buf may be reused afterwards.
func newError(status int, rule, reason string, buf []byte, off int) *Error {
	start := max(off-8, 0)
	start = min(start, len(buf))
	end := min(start+maxExcerpt, len(buf))
	return &Error{Status: status, Rule: rule, Reason: reason, Offset: off, Excerpt: string(buf[start:end])}
}

// badRequest is newError with status 400, the parser's most common verdict.
func badRequest(rule, reason string, buf []byte, off int) *Error {
	return newError(400, rule, reason, buf, off)
}
