package http1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"net/url"
	"testing"
)

func addSeeds(f *testing.F) {
	for _, tc := range ruleCases {
		if len(tc.in) < 4096 {
			f.Add([]byte(tc.in), uint64(len(tc.in)))
		}
	}
	f.Add([]byte(pipelined), uint64(7))
}

// FuzzParseRequest checks, for any input: no panic; the same outcome
// whole, byte by byte and in random pieces (R1); zero allocations for an
// accepted request; and that nothing we accept is refused, or framed
// differently, by net/http's http.ReadRequest.
func FuzzParseRequest(f *testing.F) {
	addSeeds(f)
	var p Parser
	var req Request
	f.Fuzz(func(t *testing.T, in []byte, seed uint64) {
		if len(in) > 1<<14 {
			in = in[:1<<14] // feed copies the input per piece: keep the split checks fast
		}
		want := whole(Limits{}, in)
		if got := feed(Limits{}, in, randomPieces(rand.New(rand.NewPCG(seed, 1)), len(in))); got.String() != want.String() {
			t.Fatalf("random pieces:\n got %v\nwant %v", got, want)
		}
		if len(in) < 2048 {
			if got := bytewise(Limits{}, in); got.String() != want.String() {
				t.Fatalf("byte by byte:\n got %v\nwant %v", got, want)
			}
		}
		p.Reset()
		n, err := p.Parse(in, &req)
		if err != nil {
			return
		}
		checkAgainstNetHTTP(t, in[:n], &req)
		// AllocsPerRun resets GOMAXPROCS, which stops the world: check one
		// input in 16 so the fuzzer keeps its pace.
		if !raceEnabled && seed%16 == 0 {
			if a := testing.AllocsPerRun(3, func() { p.Parse(in[:n], &req) }); a != 0 {
				t.Fatalf("%v allocs parsing an accepted request", a)
			}
		}
	})
}

// checkAgainstNetHTTP parses one request we accepted with net/http: it
// must accept it too, frame the same body and use the same bytes. Two
// documented policy differences are allowed: we skip empty lines before
// the request-line (R4, which net/http's ReadRequest does not); we do not
// percent-decode the target, so net/http's URL parser may refuse a target
// we pass through raw (doc.go); and we accept the empty list elements in
// Transfer-Encoding that RFC 9110 §5.6.1.2 says recipients MUST accept
// (R43), where net/http takes only the exact value "chunked", and the
// whitespace before a chunk extension's ";" that the chunk-ext grammar
// allows (R46), which net/http's chunked reader refuses.
func checkAgainstNetHTTP(t *testing.T, in []byte, r *Request) {
	t.Helper()
	body0 := in[r.HeadLen:]
	in = in[headStart(in):]
	if r.Form == AuthorityForm {
		return // net/http rewrites CONNECT targets; the framing is the same code path
	}
	br := bufio.NewReader(bytes.NewReader(in))
	hr, err := http.ReadRequest(br)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return
		}
		if te, _ := r.Header("Transfer-Encoding"); bytes.IndexByte(te, ',') >= 0 {
			return
		}
		t.Fatalf("we accept, net/http refuses: %v\ninput %q", err, in)
	}
	body, err := io.ReadAll(hr.Body)
	if err != nil && r.Chunked && bwsBeforeExt(body0) {
		return
	}
	if err != nil {
		t.Fatalf("we accept, net/http refuses the body: %v\ninput %q", err, in)
	}
	if !bytes.Equal(body, r.Body) {
		t.Fatalf("bodies differ: net/http %q, ours %q", body, r.Body)
	}
	if used := len(in) - br.Buffered(); used != len(in) {
		t.Fatalf("net/http used %d bytes, we used %d; input %q", used, len(in), in)
	}
}

// bwsBeforeExt reports whether a chunked body may hold whitespace before a
// chunk extension's ";": RFC 9112 §7.1.1 allows it (R46), net/http's
// chunked reader does not.
func bwsBeforeExt(body []byte) bool {
	return bytes.Contains(body, []byte(" ;")) || bytes.Contains(body, []byte("\t;"))
}

// headStart returns the length of the empty lines before the request-line.
func headStart(in []byte) int {
	i := 0
	for i+1 < len(in) && in[i] == '\r' && in[i+1] == '\n' {
		i += 2
	}
	return i
}

// FuzzChunked checks the chunked decoder: no panic; the same outcome
// whole and in random pieces; zero allocations with room in dst; and the
// same data as net/http's chunked reader for every body we accept.
func FuzzChunked(f *testing.F) {
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"), uint64(1))
	f.Add([]byte("3;a=b;c=\"d\"\r\nabc\r\nA\r\n0123456789\r\n0\r\nX: y\r\n\r\n"), uint64(2))
	f.Add([]byte("ffffffffffffffff\r\n"), uint64(3))
	f.Add([]byte("5\nhello\r\n0\r\n\r\n"), uint64(4))
	for _, tc := range ruleCases {
		if i := bytes.Index([]byte(tc.in), []byte("chunked\r\n\r\n")); i >= 0 {
			f.Add([]byte(tc.in[i+len("chunked\r\n\r\n"):]), uint64(i))
		}
	}
	f.Fuzz(func(t *testing.T, in []byte, seed uint64) {
		if len(in) > 1<<14 {
			in = in[:1<<14]
		}
		want, wantN, wantErr := decodeAll(in, nil)
		pieces := randomPieces(rand.New(rand.NewPCG(seed, 2)), len(in))
		got, gotN, gotErr := decodeAll(in, pieces)
		if !bytes.Equal(got, want) || gotN != wantN || errString(gotErr) != errString(wantErr) {
			t.Fatalf("pieces %v: got %q %d %v; want %q %d %v", pieces, got, gotN, gotErr, want, wantN, wantErr)
		}
		if wantErr != nil {
			return
		}
		std, err := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(in[:wantN])))
		if err != nil && bwsBeforeExt(in) {
			return
		}
		if err != nil || !bytes.Equal(std, want) {
			t.Fatalf("net/http: %q, %v; ours %q", std, err, want)
		}
		if !raceEnabled && seed%16 == 0 {
			d := NewChunkedDecoder(Limits{})
			dst := make([]byte, 0, len(in))
			if a := testing.AllocsPerRun(3, func() { d.Reset(); d.Decode(dst, in) }); a != 0 {
				t.Fatalf("%v allocs decoding an accepted body", a)
			}
		}
	})
}

// decodeAll decodes in, fed in the given pieces (nil: whole), and returns
// the data, the bytes consumed in total and the final error.
func decodeAll(in []byte, pieces []int) ([]byte, int, error) {
	d := NewChunkedDecoder(Limits{})
	var out []byte
	used, avail := 0, 0
	for {
		if len(pieces) > 0 {
			avail = min(avail+pieces[0], len(in))
			pieces = pieces[1:]
		} else {
			avail = len(in)
		}
		buf := append([]byte(nil), in[used:avail]...)
		var n int
		var err error
		out, n, err = d.Decode(out, buf)
		used += n
		if err != ErrNeedMore || avail == len(in) {
			return out, used, err
		}
	}
}
