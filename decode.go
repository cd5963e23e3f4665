package sluice

import (
	"errors"
	"fmt"
	"mime"
	"reflect"
	"strings"
	"time"

	"github.com/sluice-go/sluice/codec/form"
	sjson "github.com/sluice-go/sluice/codec/json"
	"github.com/sluice-go/sluice/stage"
)

// BodyError is a request body the Decode stage refuses, with the status
// to answer: 400 (malformed), 413 (too large) or 415 (wrong Content-Type).
// Err is the cause (a *json.SyntaxError, *json.DecodeError, *form.Error,
// ErrBodyTooLarge, ErrUnsupportedMediaType, or a stream error).
type BodyError struct {
	Status int
	Err    error
}

func (e *BodyError) Error() string { return fmt.Sprintf("sluice: %d: %v", e.Status, e.Err) }
func (e *BodyError) Unwrap() error { return e.Err }

// ErrUnsupportedMediaType: the request's Content-Type is not the one the
// decoder reads.
var ErrUnsupportedMediaType = errors.New("sluice: unsupported Content-Type")

// DecodeJSON decodes the request body, a JSON document, into v (a non-nil
// pointer) with sonic (or encoding/json; see package codec/json for the
// policies: nesting limit, invalid UTF-8 refused, no silent number
// overflow). The Content-Type must be application/json or end in +json,
// unless Config.JSONAnyContentType. A streamed body is read whole first,
// up to Limits.MaxBodyBytes. Errors are *BodyError. Nothing decoded into v
// points into the request: v may outlive the handler.
func (x *Ctx) DecodeJSON(v any) error {
	if x.sampled {
		defer x.timeDecode(time.Now())
	}
	err := x.decodeJSON(v)
	if err != nil {
		x.c.srv.stageShard(x.c).Inc(stage.DecodeErrors)
	}
	return err
}

// timeDecode adds the time since start to the Decode stage.
func (x *Ctx) timeDecode(start time.Time) {
	d := time.Since(start)
	x.decodeDur += d
	x.c.srv.stageShard(x.c).Record(stage.Decode, d)
}

func (x *Ctx) decodeJSON(v any) error {
	cfg := &x.c.srv.cfg
	if !cfg.JSONAnyContentType && !isJSONType(x.Header("Content-Type")) {
		return &BodyError{Status: 415, Err: ErrUnsupportedMediaType}
	}
	body, err := x.ReadBody()
	if err != nil {
		return bodyErr(err)
	}
	if err := sjson.Decode(body, v, x.c.srv.jsonOpts); err != nil {
		if errors.Is(err, sjson.ErrInvalidTarget) {
			return err // a programming error, not the client's
		}
		return &BodyError{Status: 400, Err: err}
	}
	return nil
}

// Bind is DecodeJSON that answers a refused body itself, with the right
// status and a short JSON error saying what was wrong (for a malformed
// document, the offset and the problem), and reports whether v was
// filled. A handler returns when it is false:
//
//	var req order
//	if !c.Bind(&req) {
//		return
//	}
func (x *Ctx) Bind(v any) bool {
	err := x.DecodeJSON(v)
	if err == nil {
		return true
	}
	x.answerBodyError(err)
	return false
}

// answerBodyError writes the response for a refused body.
func (x *Ctx) answerBodyError(err error) {
	if x.done.Load() {
		return
	}
	var be *BodyError
	if !errors.As(err, &be) {
		be = &BodyError{Status: 500, Err: err}
	}
	x.status = be.Status
	x.ctype = appJSON
	x.hdrs = x.hdrs[:0]
	x.body = x.body[:0]
	var se *sjson.SyntaxError
	var de *sjson.DecodeError
	switch {
	case errors.As(be.Err, &se), errors.As(be.Err, &de):
		x.body = sjson.AppendErrorBody(x.body, be.Err)
	case be.Status == 415:
		x.body = append(x.body, `{"error":"unsupported media type","detail":"the body must be application/json"}`...)
	case be.Status == 413:
		x.body = append(x.body, `{"error":"request body too large"}`...)
	case be.Status == 500:
		x.body = append(x.body, `{"error":"internal error"}`...)
	default:
		x.body = sjson.AppendErrorBody(x.body, be.Err)
	}
	if be.Status >= 500 || be.Status == 413 {
		x.close = true // the rest of the body was not read
	}
}

// bodyErr maps a body read error to its status.
func bodyErr(err error) error {
	switch {
	case errors.Is(err, ErrBodyTooLarge):
		return &BodyError{Status: 413, Err: err}
	case errors.Is(err, ErrBodyTimeout):
		return &BodyError{Status: 408, Err: err}
	}
	return &BodyError{Status: 400, Err: err}
}

// JSON sends v encoded as JSON (sonic, HTML escaping off) with status code.
func (x *Ctx) JSON(code int, v any) error {
	if x.done.Load() {
		return ErrHandlerDone
	}
	b, err := sjson.Append(x.body[:0], v)
	if err != nil {
		return err
	}
	x.body = b
	x.status = code
	x.ctype = appJSON
	return nil
}

// Form parses an application/x-www-form-urlencoded body (views of the
// body; values are decoded on access) within Config.FormLimits. Errors are
// *BodyError (415 for another Content-Type). The Form is borrowed: valid
// until the handler returns.
func (x *Ctx) Form() (*form.Form, error) {
	if x.sampled {
		defer x.timeDecode(time.Now())
	}
	mt, _, _ := mime.ParseMediaType(x.Header("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		return nil, &BodyError{Status: 415, Err: ErrUnsupportedMediaType}
	}
	body, err := x.ReadBody()
	if err != nil {
		return nil, bodyErr(err)
	}
	if err := x.form.Parse(body, x.c.srv.cfg.FormLimits); err != nil {
		x.c.srv.stageShard(x.c).Inc(stage.DecodeErrors)
		return nil, formErr(err)
	}
	return &x.form, nil
}

// Multipart parses a multipart/form-data body as it streams in: fields in
// memory, files in memory up to MultipartOptions.MemoryThreshold and in
// temporary files above it, all removed when the handler returns. Errors
// are *BodyError. Borrowed: valid until the handler returns.
func (x *Ctx) Multipart() (*form.Multipart, error) {
	if x.multipart != nil {
		return x.multipart, nil
	}
	if x.sampled {
		defer x.timeDecode(time.Now())
	}
	m, err := form.ParseMultipart(x.BodyReader(), x.Header("Content-Type"), x.c.srv.cfg.Multipart)
	if err != nil {
		x.c.srv.stageShard(x.c).Inc(stage.DecodeErrors)
		return nil, formErr(err)
	}
	x.multipart = m
	return m, nil
}

func formErr(err error) error {
	var fe *form.Error
	if errors.As(err, &fe) {
		return &BodyError{Status: fe.Status, Err: err}
	}
	return bodyErr(err)
}

// isJSONType reports whether a Content-Type is application/json or a
// +json type (application/problem+json, ...).
func isJSONType(ct string) bool {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	return strings.EqualFold(ct, "application/json") ||
		len(ct) > 5 && strings.EqualFold(ct[len(ct)-5:], "+json") && strings.Contains(ct, "/")
}

// pretouch compiles sonic's codecs for the configured types at start-up,
// so the first request of each does not pay for it.
func pretouch(types []any) error {
	ts := make([]reflect.Type, 0, len(types))
	for _, v := range types {
		if t, ok := v.(reflect.Type); ok {
			ts = append(ts, t)
		} else {
			ts = append(ts, reflect.TypeOf(v))
		}
	}
	return sjson.Pretouch(ts...)
}
