package sluice

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/sluice-go/sluice/internal/bytesconv"
)

// FromHTTP runs a net/http Handler on sluice. It is the compatibility
// path, not the fast one: every request allocates an *http.Request, its
// header map, a URL and a ResponseWriter, as net/http itself does. The
// handler runs where a sluice handler would (the worker pool, unless
// wrapped with Inline). Hijack is not supported; Flush streams.
func FromHTTP(h http.Handler) Handler {
	return HandlerFunc(func(c *Ctx) {
		r, err := c.stdRequest()
		if err != nil {
			_ = c.Error(400, err.Error())
			return
		}
		w := &stdWriter{c: c, header: make(http.Header)}
		h.ServeHTTP(w, r)
		w.commit()
	})
}

// stdRequest builds the *http.Request for c's request. The request's
// strings are copied: the handler may keep them.
func (c *Ctx) stdRequest() (*http.Request, error) {
	q := &c.req
	target := string(q.Target)
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil, err
	}
	r := &http.Request{
		Method:     string(q.Method),
		URL:        u,
		Proto:      c.Proto(),
		ProtoMajor: 1,
		ProtoMinor: q.ProtoMinor,
		Header:     make(http.Header, len(q.Headers)),
		Host:       string(q.Host),
		RemoteAddr: c.RemoteAddr().String(),
		RequestURI: target,
		Close:      !q.KeepAlive,
	}
	for _, f := range q.Headers {
		k := http.CanonicalHeaderKey(string(f.Name))
		if k == "Host" {
			continue // net/http moves Host to Request.Host
		}
		r.Header[k] = append(r.Header[k], string(f.Value))
	}
	switch {
	case q.Chunked:
		r.TransferEncoding = []string{"chunked"}
		r.ContentLength = -1
	case q.ContentLength >= 0:
		r.ContentLength = q.ContentLength
	}
	if len(q.Trailers) > 0 {
		r.Trailer = make(http.Header, len(q.Trailers))
		for _, f := range q.Trailers {
			k := http.CanonicalHeaderKey(string(f.Name))
			r.Trailer[k] = append(r.Trailer[k], string(f.Value))
		}
	}
	r.Body = http.NoBody
	if len(q.Body) > 0 {
		r.Body = io.NopCloser(bytes.NewReader(bytes.Clone(q.Body)))
	}
	for i := 0; i < c.nparams; i++ {
		r.SetPathValue(c.params[i].name, c.params[i].value)
	}
	return r.WithContext(c.Context()), nil
}

// stdWriter is the http.ResponseWriter (and http.Flusher) of FromHTTP.
type stdWriter struct {
	c       *Ctx
	header  http.Header
	code    int
	written bool // the header was committed to the Ctx
}

func (w *stdWriter) Header() http.Header { return w.header }

func (w *stdWriter) WriteHeader(code int) {
	if w.written || code < 100 || code > 999 {
		return
	}
	w.code = code
	w.commit()
}

func (w *stdWriter) Write(p []byte) (int, error) {
	if !w.written {
		if w.header.Get("Content-Type") == "" {
			w.header.Set("Content-Type", http.DetectContentType(p))
		}
		w.commit()
	}
	return w.c.Write(p)
}

func (w *stdWriter) Flush() {
	w.commit()
	_ = w.c.Flush()
}

// commit copies the status and headers to the Ctx, once.
func (w *stdWriter) commit() {
	if w.written {
		return
	}
	w.written = true
	if w.code == 0 {
		w.code = 200
	}
	w.c.SetStatus(w.code)
	for k, vs := range w.header {
		switch strings.ToLower(k) {
		case "content-type":
			if len(vs) > 0 {
				w.c.SetContentType(vs[0])
			}
			continue
		case "content-length", "transfer-encoding", "connection":
			// The server frames the body itself, so a wrong length set by
			// the handler cannot desynchronise the connection.
			continue
		}
		for _, v := range vs {
			w.c.hdrs = append(w.c.hdrs, Header{Name: bytesconv.S2B(k), Value: bytesconv.S2B(v)})
		}
	}
}
