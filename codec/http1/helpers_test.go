package http1

import (
	"errors"
	"fmt"
	"strings"
)

// outcome is everything a parse of a whole input produced, in a form that
// can be compared across different ways of feeding the same bytes.
type outcome struct {
	msgs []string // one summary per complete request
	err  string   // final verdict: "" (input used up), "need-more", or the *Error
	used int      // bytes consumed by complete requests
}

func (o outcome) String() string {
	return fmt.Sprintf("msgs=%q err=%s used=%d", o.msgs, o.err, o.used)
}

// summary renders every field of a parsed request.
func summary(r *Request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s|%s|%s|%s|%s|form=%d|minor=%d|host=%s|", r.Method, r.Target, r.Path, nilOr(r.Query), r.Proto, "", r.Form, r.ProtoMinor, r.Host)
	for _, h := range r.Headers {
		fmt.Fprintf(&b, "[%s=%s]", h.Name, h.Value)
	}
	fmt.Fprintf(&b, "|cl=%d|chunked=%v|body=%q|", r.ContentLength, r.Chunked, r.Body)
	for _, h := range r.Trailers {
		fmt.Fprintf(&b, "<%s=%s>", h.Name, h.Value)
	}
	fmt.Fprintf(&b, "|ka=%v|exp=%v|up=%v|head=%d", r.KeepAlive, r.Expect100, r.Upgrade, r.HeadLen)
	return b.String()
}

func nilOr(b []byte) string {
	if b == nil {
		return "<nil>"
	}
	return string(b)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return fmt.Sprintf("%d %s %q @%d", e.Status, e.Rule, e.Reason, e.Offset)
	}
	return err.Error()
}

// feed parses input as a stream of pipelined requests, delivering it to
// the parser in pieces of the given sizes (the last piece is whatever is
// left). Each call gets a freshly allocated copy of the bytes received so
// far, so views that survive between calls are caught if they are stale.
func feed(l Limits, input []byte, pieces []int) outcome {
	p := NewParser(l)
	var req Request
	var out outcome
	avail := 0
	start := 0
	next := func() bool {
		if avail >= len(input) {
			return false
		}
		n := len(input) - avail
		if len(pieces) > 0 {
			n = min(pieces[0], n)
			pieces = pieces[1:]
		}
		avail += n
		return true
	}
	next()
	for {
		buf := append([]byte(nil), input[start:avail]...)
		n, err := p.Parse(buf, &req)
		switch {
		case err == nil:
			out.msgs = append(out.msgs, summary(&req))
			start += n
			out.used = start
			if start == len(input) {
				return out
			}
			if start == avail && !next() {
				return out
			}
		case err == ErrNeedMore:
			if !next() {
				out.err = "need-more"
				return out
			}
		default:
			var e *Error
			if errors.As(err, &e) {
				e2 := *e
				e2.Offset += start
				err = &e2
			}
			out.err = errString(err)
			return out
		}
	}
}

// whole parses input delivered in one piece.
func whole(l Limits, input []byte) outcome { return feed(l, input, nil) }

// bytewise parses input delivered one byte at a time.
func bytewise(l Limits, input []byte) outcome {
	pieces := make([]int, len(input))
	for i := range pieces {
		pieces[i] = 1
	}
	return feed(l, input, pieces)
}
