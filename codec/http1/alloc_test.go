package http1

import "testing"

// TestZeroAllocs pins the steady state: once a Request has grown its
// storage, parsing and encoding allocate nothing.
func TestZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	var p Parser
	var req Request
	parse := func(in []byte) func() {
		return func() {
			for len(in) > 0 {
				n, err := p.Parse(in, &req)
				if err != nil {
					t.Fatalf("parse: %v", err)
				}
				in = in[n:]
			}
		}
	}
	cases := []struct {
		name string
		f    func()
	}{
		{"browser GET", parse(benchBrowserGET)},
		{"POST JSON", parse(benchPostJSON)},
		{"chunked upload", parse(benchChunkedUpload)},
		{"three pipelined", parse([]byte(pipelined))},
	}
	dst := make([]byte, 0, 1024)
	get := new(Request)
	if _, err := new(Parser).Parse(benchBrowserGET, get); err != nil {
		t.Fatal(err)
	}
	plain := &ResponseHeader{Status: 200, ContentLength: 13, ContentType: []byte("text/plain"), Server: []byte("sluice")}
	json := &ResponseHeader{Status: 200, ContentLength: 27, ContentType: []byte("application/json"), Server: []byte("sluice")}
	cases = append(cases,
		struct {
			name string
			f    func()
		}{"encode plaintext", func() {
			b, _, _ := AppendResponseHeader(dst[:0], get, plain)
			_ = append(b, "Hello, World!"...)
		}},
		struct {
			name string
			f    func()
		}{"encode JSON", func() {
			b, _, _ := AppendResponseHeader(dst[:0], get, json)
			_ = append(b, `{"message":"Hello, World!"}`...)
		}},
	)
	for _, c := range cases {
		if a := testing.AllocsPerRun(100, c.f); a != 0 {
			t.Errorf("%s: %v allocs per run", c.name, a)
		}
	}
}
