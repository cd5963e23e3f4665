package json

import (
	stdjson "encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrInvalidTarget reports that Decode was given something other than a
// non-nil pointer. It is the caller's bug, not the client's: answer 500.
var ErrInvalidTarget = errors.New("json: Decode target must be a non-nil pointer")

// ErrEncode reports that a value cannot be encoded: an unsupported type
// (channel, function, complex), NaN or ±Inf, a cycle, a value nested too
// deeply, or an error from a MarshalJSON or MarshalText method. The
// backend's error is wrapped with it; test with errors.Is.
var ErrEncode = errors.New("json: cannot encode value")

// maxQuoted caps the input an error quotes (a JSON number can be a
// megabyte long): enough to recognise it, small enough to log and to send.
const maxQuoted = 40

// SyntaxError reports a body that is not acceptable JSON: malformed, not
// UTF-8, or nested deeper than Options.MaxDepth. The client should be told
// 400. It owns its fields, so it may be kept. Safe for concurrent use.
type SyntaxError struct {
	// Offset is the number of bytes read before the problem was found,
	// encoding/json's convention: the offending byte is data[Offset-1],
	// and Offset == len(data) means the input ended too early.
	Offset int
	// Msg says what is wrong in a few words, fit for a response body;
	// it quotes at most one input character.
	Msg string
}

// Error formats the error for logs.
func (e *SyntaxError) Error() string {
	return "json: " + e.Msg + " (at offset " + strconv.Itoa(e.Offset) + ")"
}

// DecodeError reports well-formed JSON that does not fit the target: a
// value of the wrong kind, a number out of range, an unknown field (with
// Options.DisallowUnknownFields), or an error returned by the target's
// UnmarshalJSON or UnmarshalText method. The client should be told 400. It
// owns its fields, so it may be kept. Safe for concurrent use.
type DecodeError struct {
	// Offset is the number of bytes read when the problem was found
	// (encoding/json's convention: usually the end of the offending
	// value), or -1 when it is not known (unknown fields, method errors).
	Offset int
	// Field is the dotted path of the struct field being decoded
	// ("items.price"), or "" for a top-level value. For an unknown field
	// it is the unknown name as sent.
	Field string
	// Value describes the JSON value: "string", "object", "number 1e400"
	// (at most 40 bytes of the literal). Empty for unknown fields.
	Value string
	// Type is the Go type that could not hold Value ("int", "[]string").
	Type string
	// Msg says what is wrong in a few words, fit for a response body.
	Msg string
	// Err is the error of the target's UnmarshalJSON or UnmarshalText
	// method when that is the cause, else nil.
	Err error
}

// Error formats the error for logs.
func (e *DecodeError) Error() string {
	if e.Offset < 0 {
		return "json: " + e.Msg
	}
	return "json: " + e.Msg + " (at offset " + strconv.Itoa(e.Offset) + ")"
}

// Unwrap returns the error of the target's method, if any.
func (e *DecodeError) Unwrap() error { return e.Err }

// fromStd turns an error of encoding/json's decoder into this package's
// vocabulary. Every error a decode returns passes through here, whichever
// backend found it, so the two backends report the same values.
func fromStd(err error) error {
	var se *stdjson.SyntaxError
	var te *stdjson.UnmarshalTypeError
	var ie *stdjson.InvalidUnmarshalError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		return &SyntaxError{Offset: int(se.Offset), Msg: se.Error()}
	case errors.As(err, &te):
		e := &DecodeError{Offset: int(te.Offset), Field: te.Field, Value: truncate(te.Value, maxQuoted)}
		if te.Type != nil {
			e.Type = te.Type.String()
		}
		e.Msg = "cannot use " + e.Value + " as " + e.Type
		if e.Field != "" {
			e.Msg = "field " + strconv.Quote(e.Field) + ": " + e.Msg
		}
		return e
	case errors.As(err, &ie):
		return ErrInvalidTarget
	}
	// encoding/json reports unknown fields as a bare fmt error (decode.go:
	// `json: unknown field %q`); recognise it by that text.
	const unknown = "json: unknown field "
	if msg := err.Error(); strings.HasPrefix(msg, unknown) {
		name, uerr := strconv.Unquote(msg[len(unknown):])
		if uerr != nil {
			name = msg[len(unknown):]
		}
		name = truncate(name, maxQuoted)
		return &DecodeError{Offset: -1, Field: name, Msg: "unknown field " + strconv.Quote(name)}
	}
	return &DecodeError{Offset: -1, Msg: "invalid value: " + truncate(err.Error(), 2*maxQuoted), Err: err}
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// maxDetail caps the detail member of an error body.
const maxDetail = 120

// AppendErrorBody appends to dst a small JSON object describing a Decode
// error, for the body of the 400 answer, and returns the extended buffer:
//
//	{"error":"invalid JSON","offset":17,"detail":"invalid character 'x' after top-level value"}
//
// error is "invalid JSON" for a *SyntaxError and "invalid JSON value" for a
// *DecodeError; offset is left out when unknown; detail is at most 120
// bytes, escaped so that the body is valid JSON and safe to show in a
// browser. ErrInvalidTarget gives {"error":"internal error"} (it deserves a
// 500) and any other error {"error":"invalid JSON value"}, without detail,
// since its text was not written for clients. Safe for concurrent use.
func AppendErrorBody(dst []byte, err error) []byte {
	var se *SyntaxError
	var de *DecodeError
	switch {
	case errors.As(err, &se):
		return appendErrorObject(dst, "invalid JSON", se.Offset, se.Msg)
	case errors.As(err, &de):
		return appendErrorObject(dst, "invalid JSON value", de.Offset, de.Msg)
	case errors.Is(err, ErrInvalidTarget):
		return appendErrorObject(dst, "internal error", -1, "")
	}
	return appendErrorObject(dst, "invalid JSON value", -1, "")
}

func appendErrorObject(dst []byte, kind string, offset int, detail string) []byte {
	dst = append(dst, `{"error":`...)
	dst = appendQuoted(dst, kind)
	if offset >= 0 {
		dst = append(dst, `,"offset":`...)
		dst = strconv.AppendInt(dst, int64(offset), 10)
	}
	if detail != "" {
		dst = append(dst, `,"detail":`...)
		dst = appendQuoted(dst, truncate(detail, maxDetail))
	}
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// appendQuoted appends s as a JSON string. Besides what JSON requires, it
// escapes <, >, & and U+2028/U+2029 (so an error body is inert in HTML and
// JavaScript) and replaces invalid UTF-8 with \ufffd.
func appendQuoted(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
