package sluice

import (
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// patternReader yields n bytes of a fixed pattern without holding them:
// a 1 MiB pseudo-random block, repeated, each repetition stamped with its
// index so that lost, repeated or reordered data changes the checksum.
type patternReader struct{ off, n int64 }

var patternBlock = func() []byte {
	b := make([]byte, 1<<20)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}()

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n-p.off)]
	total := 0
	for len(b) > 0 {
		rep, at := p.off/int64(len(patternBlock)), p.off%int64(len(patternBlock))
		k := copy(b, patternBlock[at:])
		for i := 0; i < k && at+int64(i) < 8; i++ {
			b[i] = byte(rep >> (8 * (at + int64(i))))
		}
		b = b[k:]
		p.off += int64(k)
		total += k
	}
	return total, nil
}

func patternSum(n int64) uint32 {
	h := crc32.NewIEEE()
	io.Copy(h, &patternReader{n: n})
	return h.Sum32()
}

func streamHandler() *Mux {
	m := testHandler()
	m.Handle("/upload", Streaming(HandlerFunc(func(c *Ctx) {
		h := crc32.NewIEEE()
		n, err := io.Copy(h, c.BodyReader())
		if err != nil {
			_ = c.Error(400, err.Error())
			return
		}
		fmt.Fprintf(c, "%d %08x trailers=%d", n, h.Sum32(), len(c.Trailers()))
	})))
	m.HandleFunc("/count", func(c *Ctx) { // no Streaming: large bodies stream anyway
		n, _ := io.Copy(io.Discard, c.BodyReader())
		fmt.Fprintf(c, "%d streamed=%v", n, c.BodyStreamed())
	})
	m.Handle("/early", Streaming(HandlerFunc(func(c *Ctx) {
		buf := make([]byte, 10)
		io.ReadFull(c.BodyReader(), buf)
		_ = c.String(200, "read 10")
	})))
	m.Handle("/slow", Streaming(HandlerFunc(func(c *Ctx) {
		buf := make([]byte, 4096)
		total := 0
		for {
			n, err := c.BodyReader().Read(buf)
			total += n
			if err != nil {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		fmt.Fprintf(c, "%d", total)
	})))
	return m
}

// TestStream256MiB uploads 256 MiB to a streaming route and checks every
// byte in the handler while the heap stays small.
func TestStream256MiB(t *testing.T) {
	if testing.Short() {
		t.Skip("256 MiB upload")
	}
	size := int64(256 << 20)
	if raceEnabled {
		size = 16 << 20 // the race detector slows the checksum tenfold
	}
	want := patternSum(size)
	run(t, streamHandler(), func(t *testing.T, s *harness) {
		runtime.GC()
		stopPeak := heapPeak()
		for _, chunked := range []bool{false, true} {
			var body io.Reader = &patternReader{n: size}
			req, _ := http.NewRequest("PUT", s.url+"/upload", body)
			if !chunked {
				req.ContentLength = size
			}
			resp, err := s.client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if got := fmt.Sprintf("%d %08x trailers=0", size, want); resp.StatusCode != 200 || string(b) != got {
				t.Fatalf("chunked=%v: %d %q, want %q", chunked, resp.StatusCode, b, got)
			}
		}
		p := stopPeak()
		if p > 64<<20 {
			t.Fatalf("heap in use peaked at %d MiB", p>>20)
		}
		t.Logf("peak heap in use %.1f MiB", float64(p)/(1<<20))
	})
}

func TestStreamChunkedTrailers(t *testing.T) {
	run(t, streamHandler(), func(t *testing.T, s *harness) {
		c, r := s.dial()
		fmt.Fprint(c, "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: abc\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
		h := crc32.NewIEEE()
		h.Write([]byte("hello world"))
		if _, b := readResp(t, r, "POST"); b != fmt.Sprintf("11 %08x trailers=1", h.Sum32()) {
			t.Fatalf("got %q", b)
		}
		if _, b := readResp(t, r, "GET"); b != "hello" {
			t.Fatalf("next request: %q", b)
		}
	})
}

func TestStreamAboveThreshold(t *testing.T) {
	run(t, streamHandler(), func(t *testing.T, s *harness) {
		c, r := s.dial()
		body := strings.Repeat("z", 5000)
		fmt.Fprintf(c, "POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", len(body))
		time.Sleep(20 * time.Millisecond) // the head alone: the body is not there to buffer
		fmt.Fprintf(c, "%sPOST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789", body)
		if _, b := readResp(t, r, "POST"); b != "5000 streamed=true" {
			t.Fatalf("large: %q", b)
		}
		if _, b := readResp(t, r, "POST"); b != "10 streamed=false" {
			t.Fatalf("small: %q", b)
		}
	}, func(c *Config) { c.StreamThreshold = 1000 })
}

func TestStreamHandlerReturnsEarly(t *testing.T) {
	run(t, streamHandler(), func(t *testing.T, s *harness) {
		c, r := s.dial()
		fmt.Fprint(c, "POST /early HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
		c.Write(make([]byte, 100))
		resp, b := readResp(t, r, "POST")
		if b != "read 10" || !resp.Close {
			t.Fatalf("%q close=%v", b, resp.Close)
		}
		if _, err := io.Copy(io.Discard, r); err != nil && !strings.Contains(err.Error(), "reset") {
			t.Fatalf("connection not closed: %v", err)
		}
	})
}

func TestStreamBodyTimeout(t *testing.T) {
	run(t, streamHandler(), func(t *testing.T, s *harness) {
		c, r := s.dial()
		fmt.Fprint(c, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
		resp, b := readResp(t, r, "POST")
		if resp.StatusCode != 400 || !strings.Contains(b, "not received in time") || !resp.Close {
			t.Fatalf("%d %q close=%v", resp.StatusCode, b, resp.Close)
		}
	}, func(c *Config) { c.BodyReadTimeout = 300 * time.Millisecond; c.Logger = discardLogger() })
}

func TestStreamExpectContinue(t *testing.T) {
	run(t, streamHandler(), func(t *testing.T, s *harness) {
		c, r := s.dial()
		fmt.Fprint(c, "POST /upload HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
		if l, _ := r.ReadString('\n'); l != "HTTP/1.1 100 Continue\r\n" {
			t.Fatalf("got %q", l)
		}
		r.ReadString('\n')
		c.Write([]byte("hello"))
		h := crc32.NewIEEE()
		h.Write([]byte("hello"))
		if _, b := readResp(t, r, "POST"); b != fmt.Sprintf("5 %08x trailers=0", h.Sum32()) {
			t.Fatalf("got %q", b)
		}
	})
}

// TestSlowStreamDoesNotStall: a handler that reads its body slowly holds
// back only its own connection.
func TestSlowStreamDoesNotStall(t *testing.T) {
	run(t, streamHandler(), func(t *testing.T, s *harness) {
		c, r := s.dial()
		const size = 8 << 20
		fmt.Fprintf(c, "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size)
		go io.Copy(c, &patternReader{n: size})
		time.Sleep(100 * time.Millisecond)
		cl := s.client()
		for i := 0; i < 20; i++ {
			start := time.Now()
			resp, err := cl.Get(s.url + "/hello")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if d := time.Since(start); d > 500*time.Millisecond {
				t.Fatalf("request %d took %v while a slow stream was running", i, d)
			}
		}
		c.SetDeadline(time.Now().Add(60 * time.Second))
		if _, b := readResp(t, r, "POST"); b != fmt.Sprint(size) {
			t.Fatalf("slow handler read %q", b)
		}
	}, func(c *Config) { c.Loops = 1 })
}
