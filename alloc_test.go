package sluice

import (
	"strings"
	"testing"

	"github.com/sluice-go/sluice/engine"
)

// TestZeroAllocsInline pins the steady-state request path with inline
// dispatch: parse, route, handler, encode, write allocate nothing.
func TestZeroAllocsInline(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	mux := NewMux()
	mux.HandleFunc("GET /plaintext", func(c *Ctx) { _ = c.String(200, "Hello, World!") })
	mux.HandleFunc("GET /users/{id}", func(c *Ctx) {
		c.SetHeader("X-User", c.PathValue("id"))
		_, _ = c.WriteString(c.Header("User-Agent"))
	})
	s := &Server{Handler: mux, Config: Config{Dispatch: DispatchInline}}
	if err := s.prepare(); err != nil {
		t.Fatal(err)
	}
	m := &memConn{}
	s.onOpen(m)
	for _, tc := range []struct{ name, in, want string }{
		{"plaintext", "GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n", "Hello, World!"},
		{"wildcard", "GET /users/42 HTTP/1.1\r\nHost: a\r\nUser-Agent: test\r\n\r\n", "X-User: 42"},
		{"pipelined", strings.Repeat("GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n", 3), "Hello, World!"},
	} {
		in := []byte(tc.in)
		serve := func() {
			m.out = m.out[:0]
			if n := s.onData(m, in); n != len(in) {
				t.Fatalf("%s: consumed %d of %d", tc.name, n, len(in))
			}
		}
		serve()
		if !strings.Contains(string(m.out), tc.want) || m.closed {
			t.Fatalf("%s: response %q closed=%v", tc.name, m.out, m.closed)
		}
		if a := testing.AllocsPerRun(200, serve); a != 0 {
			t.Errorf("%s: %v allocs per request", tc.name, a)
		}
	}
}

// BenchmarkServePipelined measures the server's own work per request
// (parse, route, handler, encode; no sockets, no loop) for 16 pipelined
// plaintext requests per read, inline, with stage timing off, at its
// default (1 request in 100) and on every request: the cost of sampling
// without the kernel's share of a real request, so an upper bound on its
// share of a real server's CPU per request. ns/op is per request.
func BenchmarkServePipelined(b *testing.B) {
	in := []byte(strings.Repeat("GET /plaintext HTTP/1.1\r\nHost: a\r\nUser-Agent: wrk\r\n\r\n", 16))
	for _, tc := range []struct {
		name  string
		every int
	}{{"stages=off", -1}, {"stages=default", 0}, {"stages=every", 1}} {
		b.Run(tc.name, func(b *testing.B) {
			mux := NewMux()
			mux.HandleFunc("GET /plaintext", func(c *Ctx) { _ = c.String(200, "Hello, World!") })
			s := &Server{Handler: mux, Config: Config{Dispatch: DispatchInline, StageSampling: tc.every}}
			if err := s.prepare(); err != nil {
				b.Fatal(err)
			}
			m := &memConn{}
			if s.cfg.StageSampling > 0 {
				m.loop = *engine.NewLoop(s.stages, 0)
			}
			s.onOpen(m)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += 16 {
				m.out = m.out[:0]
				if n := s.onData(m, in); n != len(in) {
					b.Fatalf("consumed %d of %d", n, len(in))
				}
			}
		})
	}
}
