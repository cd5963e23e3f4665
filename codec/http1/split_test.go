package http1

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// pipelined is three requests in one write: a GET, a POST with a JSON
// body and a chunked upload with a trailer.
const pipelined = "GET /a HTTP/1.1\r\nHost: example.com\r\n\r\n" +
	"POST /b HTTP/1.1\r\nHost: example.com\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"n\":1,\"x\":2}" +
	"POST /c HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\n0\r\nX-T: 1\r\n\r\n"

// randomPieces splits n bytes into random pieces.
func randomPieces(r *rand.Rand, n int) []int {
	var pieces []int
	for n > 0 {
		k := 1 + r.IntN(min(n, 1+r.IntN(32)))
		pieces = append(pieces, k)
		n -= k
	}
	return pieces
}

// TestSplitInvariance feeds every rule row, and a pipelined stream, at
// every 2-way split point and in random pieces: the outcome must match
// the outcome of the whole input (R1).
func TestSplitInvariance(t *testing.T) {
	inputs := []struct {
		name string
		in   string
		lim  Limits
	}{{name: "pipelined", in: pipelined}}
	for _, tc := range ruleCases {
		if len(tc.in) > 4096 {
			continue // the 64 KiB row is fed byte by byte in TestRules
		}
		inputs = append(inputs, struct {
			name string
			in   string
			lim  Limits
		}{tc.rule + "/" + tc.name, tc.in, tc.lim})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range inputs {
		in := []byte(tc.in)
		want := whole(tc.lim, in).String()
		for k := 1; k < len(in); k++ {
			if got := feed(tc.lim, in, []int{k}).String(); got != want {
				t.Fatalf("%s: split at %d:\n got %s\nwant %s", tc.name, k, got, want)
			}
		}
		for range 20 {
			pieces := randomPieces(rng, len(in))
			if got := feed(tc.lim, in, pieces).String(); got != want {
				t.Fatalf("%s: pieces %v:\n got %s\nwant %s", tc.name, pieces, got, want)
			}
		}
	}
}

// TestPipelineErrorKeepsEarlier checks that a bad request in a pipeline
// leaves the requests before it intact and nothing after it parsed (R54).
func TestPipelineErrorKeepsEarlier(t *testing.T) {
	in := "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost : a\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\n\r\n"
	got := whole(Limits{}, []byte(in))
	if len(got.msgs) != 1 || got.err == "" || got.err[:3] != "400" {
		t.Fatalf("got %v", got)
	}
}

// TestViewsSurviveBufferMove parses a request whose head arrives in one
// buffer and whose body arrives after the bytes moved to another: the
// views must point into the new buffer.
func TestViewsSurviveBufferMove(t *testing.T) {
	full := []byte(chunked("5\r\nhello\r\n0\r\n\r\n"))
	head := len(full) - len("5\r\nhello\r\n0\r\n\r\n") + 4
	var p Parser
	var r Request
	first := append([]byte(nil), full[:head]...)
	if _, err := p.Parse(first, &r); err != ErrNeedMore {
		t.Fatalf("first call: %v", err)
	}
	for i := range first {
		first[i] = 'X' // the old buffer is reused for something else
	}
	second := append([]byte(nil), full...)
	n, err := p.Parse(second, &r)
	if err != nil || n != len(full) {
		t.Fatalf("second call: %d, %v", n, err)
	}
	if string(r.Method) != "POST" || string(r.Path) != "/upload" || string(r.Headers[0].Value) != "example.com" || string(r.Body) != "hello" {
		t.Fatalf("stale views: %s", summary(&r))
	}
}

// TestRequestRebase moves a parsed request to a copy of its input and
// overwrites the original: nothing may still point into it.
func TestRequestRebase(t *testing.T) {
	for _, in := range []string{pipelined[:strings.Index(pipelined, "POST /c")],
		"GET http://h.example HTTP/1.1\r\nHost: h.example\r\n\r\n",
		chunked("3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n")} {
		orig := []byte(in)
		var p Parser
		var r Request
		for len(orig) > 0 {
			n, err := p.Parse(orig, &r)
			if err != nil {
				t.Fatal(err)
			}
			want := summary(&r)
			cp := append([]byte(nil), orig...)
			r.Rebase(orig, cp)
			for i := range orig {
				orig[i] = 'X'
			}
			if got := summary(&r); got != want {
				t.Fatalf("after Rebase:\n got %s\nwant %s", got, want)
			}
			orig = cp[n:]
		}
	}
}
