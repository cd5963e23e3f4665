package form

import (
	"errors"
	"strconv"
	"strings"
)

// The kinds of refusal. An *Error wraps one of them: test with errors.Is.
var (
	// ErrTooLarge: the body is longer than the limit (413).
	ErrTooLarge = errors.New("form: body larger than the limit")
	// ErrTooManyFields: more pairs or parts than the limit (413).
	ErrTooManyFields = errors.New("form: more fields than the limit")
	// ErrValueTooLarge: a multipart field value is longer than the limit (413).
	ErrValueTooLarge = errors.New("form: field value larger than the limit")
	// ErrFileTooLarge: a multipart file is longer than the limit (413).
	ErrFileTooLarge = errors.New("form: file larger than the limit")
	// ErrHeaderTooLarge: a multipart part's header section is longer than
	// the limit (413).
	ErrHeaderTooLarge = errors.New("form: part header larger than the limit")
	// ErrBadEscape: a '%' not followed by two hex digits (400).
	ErrBadEscape = errors.New("form: invalid percent-escape")
	// ErrSemicolon: a raw ';' in a URL-encoded body (400).
	ErrSemicolon = errors.New("form: semicolon separator")
	// ErrContentType: the Content-Type is not multipart/form-data (415).
	ErrContentType = errors.New("form: content type is not multipart/form-data")
	// ErrBoundary: the boundary parameter is missing or invalid (400).
	ErrBoundary = errors.New("form: missing or invalid multipart boundary")
	// ErrMalformed: the multipart body does not follow RFC 2046 (400).
	ErrMalformed = errors.New("form: malformed multipart body")
)

// maxExcerpt caps the input an Error quotes (textproto quotes at most 80).
const maxExcerpt = 40

// Error is a body the parser refuses. It owns its fields, so it may be
// kept. Safe for concurrent use.
type Error struct {
	// Status is the HTTP status to answer: 413 for a limit, 400 for
	// malformed input, 415 for the wrong content type.
	Status int
	// Err is the kind of refusal, one of the Err variables.
	Err error
	// Offset is the offset in the body of the offending byte, or, for
	// multipart bodies, the number of bytes read from the reader when the
	// problem was found (buffering makes it an upper bound); -1 when the
	// problem is not in the body (the Content-Type).
	Offset int64
	// Excerpt is at most 40 bytes of input at Offset, raw.
	Excerpt string
	// Cause is the underlying error, when another package reported the
	// problem (mime, mime/multipart), else nil.
	Cause error
}

// Error formats the error for logs.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Err.Error())
	b.WriteString(" (")
	b.WriteString(strconv.Itoa(e.Status))
	if e.Offset >= 0 {
		b.WriteString(", offset ")
		b.WriteString(strconv.FormatInt(e.Offset, 10))
	}
	if e.Excerpt != "" {
		b.WriteString(", near ")
		b.WriteString(strconv.Quote(e.Excerpt))
	}
	if e.Cause != nil {
		b.WriteString(": ")
		b.WriteString(e.Cause.Error())
	}
	b.WriteByte(')')
	return b.String()
}

// Unwrap returns the kind of refusal.
func (e *Error) Unwrap() error { return e.Err }

// statusOf is the status each kind answers with.
func statusOf(kind error) int {
	switch kind {
	case ErrBadEscape, ErrSemicolon, ErrBoundary, ErrMalformed:
		return 400
	case ErrContentType:
		return 415
	}
	return 413
}

// newError builds an Error quoting body at off; it copies the excerpt.
func newError(kind error, body []byte, off int) *Error {
	e := &Error{Status: statusOf(kind), Err: kind, Offset: int64(off)}
	if off >= 0 && off < len(body) {
		e.Excerpt = string(body[off:min(off+maxExcerpt, len(body))])
	}
	return e
}
