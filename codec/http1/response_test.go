package http1

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func mustParse(t *testing.T, in string) *Request {
	t.Helper()
	var p Parser
	r := new(Request)
	if _, err := p.Parse([]byte(in), r); err != nil {
		t.Fatalf("parse %q: %v", in, err)
	}
	return r
}

// stripDate removes the Date line so responses can be compared literally.
func stripDate(b []byte) string {
	s := string(b)
	i := strings.Index(s, "Date: ")
	if i < 0 {
		return s
	}
	j := strings.Index(s[i:], "\r\n")
	return s[:i] + s[i+j+2:]
}

func TestResponseHeader(t *testing.T) {
	get11 := "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
	get10 := "GET / HTTP/1.0\r\n\r\n"
	get10ka := "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
	head11 := "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"
	close11 := "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
	cases := []struct {
		name    string
		rule    string
		req     string
		h       ResponseHeader
		want    string
		framing Framing
		keep    bool
	}{
		{name: "length-framed", rule: "R63", req: get11, h: ResponseHeader{ContentLength: 5, ContentType: []byte("text/plain")},
			want: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n", framing: FramingLength, keep: true},
		{name: "HTTP/1.1 status-line for HTTP/1.0", rule: "R18", req: get10, h: ResponseHeader{ContentLength: 0},
			want: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", framing: FramingLength},
		{name: "HTTP/1.0 keep-alive", rule: "R51", req: get10ka, h: ResponseHeader{ContentLength: 2},
			want: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n", framing: FramingLength, keep: true},
		{name: "close requested", rule: "R52", req: close11, h: ResponseHeader{ContentLength: 2},
			want: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n", framing: FramingLength},
		{name: "server closes", rule: "R52", req: get11, h: ResponseHeader{ContentLength: 2, Close: true},
			want: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n", framing: FramingLength},
		{name: "HEAD keeps GET's length, no body", rule: "R59", req: head11, h: ResponseHeader{ContentLength: 13},
			want: "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n", framing: FramingNone, keep: true},
		{name: "HEAD of unknown length", rule: "R59", req: head11, h: ResponseHeader{ContentLength: -1},
			want: "HTTP/1.1 200 OK\r\n\r\n", framing: FramingNone, keep: true},
		{name: "204 has no framing", rule: "R60", req: get11, h: ResponseHeader{Status: 204, ContentLength: 10},
			want: "HTTP/1.1 204 No Content\r\n\r\n", framing: FramingNone, keep: true},
		{name: "304 has no framing", rule: "R60", req: get11, h: ResponseHeader{Status: 304, ContentLength: -1},
			want: "HTTP/1.1 304 Not Modified\r\n\r\n", framing: FramingNone, keep: true},
		{name: "1xx has no framing", rule: "R60", req: get11, h: ResponseHeader{Status: 103, ContentLength: 4},
			want: "HTTP/1.1 103 Early Hints\r\n\r\n", framing: FramingNone, keep: true},
		{name: "SP after an unknown code", rule: "R61", req: get11, h: ResponseHeader{Status: 299, ContentLength: 0},
			want: "HTTP/1.1 299 \r\nContent-Length: 0\r\n\r\n", framing: FramingLength, keep: true},
		{name: "chunked for HTTP/1.1", rule: "R62", req: get11, h: ResponseHeader{ContentLength: -1},
			want: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", framing: FramingChunked, keep: true},
		{name: "close-delimited for HTTP/1.0", rule: "R62", req: get10ka, h: ResponseHeader{ContentLength: -1},
			want: "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", framing: FramingClose},
		{name: "user framing fields skipped", rule: "R63", req: get11, h: ResponseHeader{ContentLength: 1, Headers: []Header{
			{Name: []byte("Content-Length"), Value: []byte("99")}, {Name: []byte("transfer-encoding"), Value: []byte("chunked")},
			{Name: []byte("Connection"), Value: []byte("close")}, {Name: []byte("X-A"), Value: []byte("1")}}},
			want: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nX-A: 1\r\n\r\n", framing: FramingLength, keep: true},
		{name: "no response splitting", rule: "R23", req: get11, h: ResponseHeader{ContentLength: 0, Headers: []Header{
			{Name: []byte("X-A"), Value: []byte("a\r\nSet-Cookie: x\x00")}, {Name: []byte("Bad Name"), Value: []byte("v")}}},
			want: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-A: a  Set-Cookie: x \r\n\r\n", framing: FramingLength, keep: true},
		{name: "server field", rule: "R63", req: get11, h: ResponseHeader{ContentLength: 0, Server: []byte("sluice")},
			want: "HTTP/1.1 200 OK\r\nServer: sluice\r\nContent-Length: 0\r\n\r\n", framing: FramingLength, keep: true},
	}
	for _, tc := range cases {
		t.Run(tc.rule+"/"+tc.name, func(t *testing.T) {
			req := mustParse(t, tc.req)
			out, framing, keep := AppendResponseHeader(nil, req, &tc.h)
			if got := stripDate(out); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
			if framing != tc.framing || keep != tc.keep {
				t.Errorf("framing %d keep %v; want %d %v", framing, keep, tc.framing, tc.keep)
			}
			if tc.h.Status < 200 && tc.h.Status != 0 {
				return
			}
			// What we write must parse as a response with net/http.
			body := ""
			switch framing {
			case FramingLength:
				body = strings.Repeat("x", int(tc.h.ContentLength))
			case FramingChunked:
				body = string(AppendLastChunk(AppendChunk(nil, []byte("hi")), nil))
			}
			hr := &http.Request{Method: string(req.Method)}
			resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(string(out)+body)), hr)
			if err != nil {
				t.Fatalf("net/http cannot read it: %v", err)
			}
			io.ReadAll(resp.Body)
		})
	}
}

func TestDateIsCurrent(t *testing.T) {
	line := string(AppendDate(nil))
	if !strings.HasPrefix(line, "Date: ") || !strings.HasSuffix(line, " GMT\r\n") {
		t.Fatalf("bad Date line %q", line)
	}
	d, err := http.ParseTime(strings.TrimSuffix(strings.TrimPrefix(line, "Date: "), "\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := time.Since(d); diff < 0 || diff > 2*time.Second {
		t.Fatalf("Date %v is %v away from now", d, diff)
	}
}

func TestChunksRoundTrip(t *testing.T) {
	var b []byte
	b = AppendChunk(b, []byte("hello "))
	b = AppendChunk(b, nil) // must not end the body
	b = AppendChunk(b, bytes.Repeat([]byte("x"), 300))
	b = AppendLastChunk(b, []Header{{Name: []byte("X-Sum"), Value: []byte("1")}})
	d := NewChunkedDecoder(Limits{})
	out, n, err := d.Decode(nil, b)
	if err != nil || n != len(b) || string(out) != "hello "+strings.Repeat("x", 300) {
		t.Fatalf("decode: %q %d %v", out, n, err)
	}
	if len(d.Trailers) != 1 || string(d.Trailers[0].Value) != "1" {
		t.Fatalf("trailers %q", d.Trailers)
	}
}

func TestErrorResponse(t *testing.T) {
	var p Parser
	var r Request
	_, err := p.Parse([]byte("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), &r)
	e, ok := err.(*Error)
	if !ok {
		t.Fatalf("want *Error, got %v", err)
	}
	out := AppendErrorResponse(nil, e)
	resp, rerr := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), nil)
	if rerr != nil {
		t.Fatalf("net/http cannot read %q: %v", out, rerr)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 400 || !resp.Close || string(body) != "400 Bad Request: whitespace in field name or before the colon\n" {
		t.Fatalf("status %d close %v body %q", resp.StatusCode, resp.Close, body)
	}
	for _, status := range []int{400, 413, 414, 417, 431, 501, 505} {
		out := AppendError(nil, status, "x")
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), nil)
		if err != nil || resp.StatusCode != status || !resp.Close {
			t.Errorf("status %d: %v %+v", status, err, resp)
		}
	}
	if got := string(AppendContinue(nil)); got != "HTTP/1.1 100 Continue\r\n\r\n" {
		t.Errorf("continue: %q", got)
	}
}
