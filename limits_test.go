package sluice

import (
	"bufio"
	"bytes"
	"context"
	stdtls "crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-go/sluice/codec/http1"
	"github.com/sluice-go/sluice/engine"
	"github.com/sluice-go/sluice/internal/loadgen"
)

// Limits under attack: every rejection's status and message, floods of
// idle connections, of pipelined requests and of connections beyond
// MaxConns, handler faults, and connections abandoned in every state.
// Each test runs on every model (run), with timeouts of 0.3-1 s.

// raiseFiles raises RLIMIT_NOFILE to at least n for the rest of the test
// (the old limit comes back after it) and reports whether it could. A
// flood test holds both ends of every connection in this process.
func raiseFiles(t *testing.T, n uint64) bool {
	old, err := loadgen.RaiseFiles(n)
	if err != nil {
		return false
	}
	t.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
	return true
}

// waitFor polls cond every 10 ms until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// limitsHandler is testHandler with a Streaming route that answers a
// failed body read with the status the error carries (413 for a chunked
// body over MaxStreamBytes).
func limitsHandler() *Mux {
	m := testHandler()
	m.Handle("/upload", Streaming(HandlerFunc(func(c *Ctx) {
		n, err := io.Copy(io.Discard, c.BodyReader())
		var he *http1.Error
		switch {
		case errors.As(err, &he):
			_ = c.Error(he.Status, he.Reason)
		case err != nil:
			_ = c.Error(400, err.Error())
		default:
			_ = c.String(200, strconv.FormatInt(n, 10))
		}
	})))
	return m
}

// TestLimitRejections: each limit, when passed, gets its status, a body
// naming the limit, Connection: close and the end of the connection.
// Bodies that never end (chunked) are refused as soon as they pass the
// limit, on a buffered route by the server and on a streamed one through
// the handler's read.
func TestLimitRejections(t *testing.T) {
	chunk := "1000\r\n" + strings.Repeat("c", 0x1000) + "\r\n"
	cases := []struct {
		name    string
		req     string
		endless string // written over and over after req until the answer
		status  int
		reason  string
	}{
		{name: "request-line", req: "GET /" + strings.Repeat("a", 2000) + " HTTP/1.1\r\nHost: x\r\n\r\n",
			status: 414, reason: "request-target too long"},
		{name: "header section", req: "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 5000) + "\r\n\r\n",
			status: 431, reason: "header section too large"},
		{name: "header count", req: "GET /hello HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-N: v\r\n", 30) + "\r\n",
			status: 431, reason: "too many header fields"},
		{name: "content-length", req: "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n",
			status: 413, reason: "Content-Length exceeds the body limit"},
		{name: "streamed content-length", req: "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n",
			status: 413, reason: "Content-Length exceeds the body limit"}, // the parser refuses it against MaxStreamBytes
		{name: "endless chunked, buffered", req: "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
			endless: chunk, status: 413, reason: "chunked body exceeds the body limit"},
		{name: "endless chunked, streamed", req: "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
			endless: chunk, status: 413, reason: "chunked body exceeds the body limit"},
		{name: "chunk extensions", req: "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;" + strings.Repeat("e", 100) + "\r\na\r\n0\r\n\r\n",
			status: 400, reason: "chunk extensions too long"},
		{name: "trailer section", req: "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-T: " + strings.Repeat("t", 5000) + "\r\n\r\n",
			status: 431, reason: "header section too large"},
	}
	runPlainTLS(t, limitsHandler(), func(t *testing.T, s *harness) {
		for _, tc := range cases {
			c, r := s.open()
			if tc.endless != "" {
				// A round trip first, so a TLS handshake is complete on
				// the server's side before the body comes.
				io.WriteString(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
				if b, err := readRespErr(r); b != "hello" {
					t.Fatalf("%s: first request: %q %v", tc.name, b, err)
				}
			}
			var sent atomic.Int64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := io.WriteString(c, tc.req); err != nil || tc.endless == "" {
					return
				}
				// The head alone first: a first read with more body than
				// the limit is TestLimitChunkedLimitAfterFirstRead's bug.
				time.Sleep(100 * time.Millisecond)
				for sent.Load() < 32<<20 { // the answer must come long before
					select {
					case <-stop:
						return
					default:
					}
					n, err := io.WriteString(c, tc.endless)
					sent.Add(int64(n))
					if err != nil {
						return
					}
				}
			}()
			resp, err := http.ReadResponse(r, nil)
			close(stop)
			wg.Wait()
			if err != nil {
				t.Fatalf("%s: no answer: %v (%d body bytes sent)", tc.name, err, sent.Load())
			}
			b, _ := io.ReadAll(resp.Body)
			body := string(b)
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.reason) || !resp.Close {
				t.Fatalf("%s: %d %q close=%v, want %d %q", tc.name, resp.StatusCode, body, resp.Close, tc.status, tc.reason)
			}
			if _, err := io.Copy(io.Discard, r); err != nil && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("%s: connection not closed after the answer: %v", tc.name, err)
			}
		}
	}, func(c *Config) {
		c.Limits = Limits{MaxRequestLine: 1024, MaxHeaderBytes: 4096, MaxHeaders: 20, MaxBodyBytes: 64 << 10, MaxChunkExtBytes: 64}
		c.StreamThreshold = 256 << 10
		c.MaxStreamBytes = 1 << 20
		c.Logger = discardLogger()
	})
}

// TestLimitChunkedLimitAfterFirstRead: a chunked body on a buffered
// route is refused at Limits.MaxBodyBytes (16 KiB here) even when the
// first read already holds more than that: head and 40 KiB of chunks in
// one write, then chunks without end.
func TestLimitChunkedLimitAfterFirstRead(t *testing.T) {
	run(t, limitsHandler(), func(t *testing.T, s *harness) {
		c, r := s.dial()
		chunk := "400\r\n" + strings.Repeat("c", 0x400) + "\r\n"
		first := "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + strings.Repeat(chunk, 40)
		var sent atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := io.WriteString(c, first); err != nil {
				return
			}
			for sent.Load() < 16<<20 {
				select {
				case <-stop:
					return
				case <-time.After(time.Millisecond):
				}
				n, err := io.WriteString(c, strings.Repeat(chunk, 16))
				sent.Add(int64(n))
				if err != nil {
					return
				}
			}
		}()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(r, nil)
		close(stop)
		wg.Wait()
		if err != nil {
			t.Fatalf("no answer after %d more body bytes: %v", sent.Load(), err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 413 || !strings.Contains(string(b), "chunked body exceeds the body limit") {
			t.Fatalf("%d %q", resp.StatusCode, b)
		}
	}, func(c *Config) {
		c.Limits.MaxBodyBytes = 16 << 10
		c.Logger = discardLogger()
	})
}

// captureConn takes a TLS client's first flight and fails the rest.
type captureConn struct {
	net.Conn
	flight []byte
}

func (c *captureConn) Write(p []byte) (int, error) {
	c.flight = append(c.flight, p...)
	return 0, errors.New("captured")
}
func (c *captureConn) Read([]byte) (int, error)         { return 0, io.EOF }
func (c *captureConn) Close() error                     { return nil }
func (c *captureConn) SetDeadline(time.Time) error      { return nil }
func (c *captureConn) SetReadDeadline(time.Time) error  { return nil }
func (c *captureConn) SetWriteDeadline(time.Time) error { return nil }

// clientHello returns the bytes of a real ClientHello for the test
// certificate's name.
func clientHello() []byte {
	cc := &captureConn{}
	_ = stdtls.Client(cc, clientTLS(0)).Handshake()
	return cc.flight
}

// TestLimitTLSQueuedHandshakeFlood: a client whose handshake waits for a
// slot (MaxHandshakes 1, held by a client that went silent after its
// ClientHello) and that sends without pause meanwhile cannot make the
// server hold more than a bounded amount: it is closed or no longer read.
// The bound: 8 MiB of live heap, against the 64 MiB the client pushes.
func TestLimitTLSQueuedHandshakeFlood(t *testing.T) {
	hello := clientHello()
	run(t, testHandler(), func(t *testing.T, s *harness) {
		addr := s.srv.Addr().String()
		a, err := net.Dial("tcp", addr) // takes the only slot, then says nothing
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		a.Write(hello)
		time.Sleep(50 * time.Millisecond)
		base := liveHeap()
		b, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		b.Write(hello)
		time.Sleep(50 * time.Millisecond) // the ClientHello alone passes the gate and queues
		junk := bytes.Repeat([]byte{0x17}, 64<<10)
		sent := 0
		b.SetWriteDeadline(time.Now().Add(time.Second))
		for sent < 64<<20 {
			n, err := b.Write(junk)
			sent += n
			if err != nil {
				break
			}
		}
		held := int64(liveHeap()) - int64(base)
		t.Logf("%.1f MiB sent behind a queued handshake; live heap %+.1f MiB", float64(sent)/(1<<20), float64(held)/(1<<20))
		if held > 8<<20 {
			t.Fatalf("the server holds %.1f MiB for one connection whose handshake is queued", float64(held)/(1<<20))
		}
	}, tlsConfig, func(c *Config) {
		c.MaxHandshakes = 1
		c.HeaderReadTimeout = 3 * time.Second
		c.TLSHandshakeTimeout = 3 * time.Second
		c.Logger = discardLogger()
	})
}

// idleFloodEnv carries the flood's parameters to the child process that
// opens its connections (addr n timeout-in-ms).
const idleFloodEnv = "SLUICE_IDLE_FLOOD"

// idleFloodResult is what the child reports, in milliseconds.
type idleFloodResult struct {
	Dialed, Worst int64 // time to open all; the latest close after its open
	Closed, Bad   int   // closed without a byte; answered or not closed
	Early, Late   int   // closed before timeout-150ms, after timeout+1.5s
	Err           string
}

// TestLimitIdleFlood: 10,000 connections that send nothing, from eight
// source addresses, are each closed without a word at HeaderReadTimeout
// (1 s) after they opened, while a normal client is answered every
// 100 ms. The connections are opened by a child process (the test binary
// again, TestHelperIdleFloodClient): one process may hold 20,000
// descriptors here and cannot raise the limit, and both ends would need
// them all.
func TestLimitIdleFlood(t *testing.T) {
	n := 10000
	if raceEnabled {
		n = 2000 // the race detector allows 8,128 goroutines; PerConn has one per connection
	}
	const timeout = time.Second
	if !raiseFiles(t, uint64(n)+2048) {
		t.Skipf("cannot raise RLIMIT_NOFILE to %d for the server's ends of %d connections", n+2048, n)
	}
	run(t, testHandler(), func(t *testing.T, s *harness) {
		stop := s.probe(100*time.Millisecond, time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperIdleFloodClient$", "-test.timeout=60s")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %d", idleFloodEnv, s.srv.Addr(), n, timeout.Milliseconds()))
		out, err := cmd.Output()
		answers := stop()
		var res idleFloodResult
		for _, line := range strings.Split(string(out), "\n") {
			if js, ok := strings.CutPrefix(line, "idleflood: "); ok {
				err = errors.Join(err, json.Unmarshal([]byte(js), &res))
			}
		}
		if err != nil || res.Err != "" || res.Closed+res.Bad == 0 {
			t.Fatalf("flood client: %v %s; output:\n%s", err, res.Err, out)
		}
		t.Logf("%d connections opened in %d ms; the last closed %d ms after it opened; %d answers to the normal client meanwhile", n, res.Dialed, res.Worst, answers)
		if res.Closed != n || res.Early+res.Late > 0 {
			t.Fatalf("%+v: want all %d closed without a byte %v after they opened", res, n, timeout)
		}
		if answers < int(res.Dialed+timeout.Milliseconds())/200 {
			t.Fatalf("the normal client got %d answers in %d ms", answers, res.Dialed+timeout.Milliseconds())
		}
		if !waitFor(5*time.Second, func() bool { return s.srv.Stats().OpenConns == 0 }) {
			t.Fatalf("%d connections still open", s.srv.Stats().OpenConns)
		}
		if st := s.srv.Stats(); st.AcceptedConns != int64(n)+1 || st.RefusedConns != 0 {
			t.Fatalf("stats %+v, want %d accepted and none refused", st, n+1)
		}
	}, func(c *Config) { c.HeaderReadTimeout = timeout })
}

// TestHelperIdleFloodClient is the client side of TestLimitIdleFlood, in
// a child process; run alone it skips.
func TestHelperIdleFloodClient(t *testing.T) {
	spec := os.Getenv(idleFloodEnv)
	if spec == "" {
		t.Skip("the client process of TestLimitIdleFlood")
	}
	var res idleFloodResult
	defer func() {
		js, _ := json.Marshal(res)
		fmt.Printf("idleflood: %s\n", js)
	}()
	var addr string
	var n int
	var ms int64
	if _, err := fmt.Sscan(spec, &addr, &n, &ms); err != nil {
		res.Err = err.Error()
		return
	}
	if !raiseFiles(t, uint64(n)+1024) {
		res.Err = "cannot raise RLIMIT_NOFILE"
		return
	}
	timeout := time.Duration(ms) * time.Millisecond
	start := time.Now()
	conns, opened, err := loadgen.DialMany(context.Background(), addr, n, 16, loadgen.SourceDialers(8, 5*time.Second))
	if err != nil {
		res.Err = err.Error()
		return
	}
	res.Dialed = time.Since(start).Milliseconds()
	type end struct {
		after time.Duration
		n     int
		err   error
	}
	ends := make([]end, n)
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			c.SetReadDeadline(opened[i].Add(timeout + 10*time.Second))
			var buf [64]byte
			k, err := c.Read(buf[:])
			ends[i] = end{time.Since(opened[i]), k, err}
		}()
	}
	wg.Wait()
	for _, e := range ends {
		switch {
		case e.n != 0 || !errors.Is(e.err, io.EOF) && !errors.Is(e.err, syscall.ECONNRESET):
			res.Bad++
			continue
		case e.after < timeout-150*time.Millisecond:
			res.Early++
		case e.after > timeout+1500*time.Millisecond:
			res.Late++
		}
		res.Closed++
		res.Worst = max(res.Worst, e.after.Milliseconds())
	}
}

// clip shortens s for a failure message.
func clip(s string) string {
	if len(s) > 60 {
		return fmt.Sprintf("%s... (%d bytes)", s[:60], len(s))
	}
	return s
}

// heapPeak samples HeapInuse every 2 ms until stopped and returns the
// peak.
func heapPeak() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak.Load()
	}
}

// liveHeap collects garbage and returns the bytes of live heap objects.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestLimitPipelineFlood: 20,000 pipelined requests in one write, each
// for a 4 KiB response (80 MiB in all), read only after 300 ms, are all
// answered in order, and the server holds a bounded part of them: parsing
// stops when the queued output passes WriteHighWater (256 KiB here).
//
// The bound, on the live heap once the server has stopped for a client
// that does not read, before the first response and again halfway (a
// collection while the server works at full speed counts what it
// allocates meanwhile as live, megabytes of noise): the server may hold the queued output (WriteHighWater
// plus one batch of responses past it: MaxPipelined 64 x 4.2 KiB), the
// unread requests (20,000 x 30 B = 600 KiB, in the engine's buffer or,
// under TLS, decrypted) and a batch's copy of its requests: about 1.5 MiB,
// twice that under TLS, where the requests are held as ciphertext and as
// plaintext and the responses as plaintext and as records. The engine's
// buffers round up to powers of two and are pooled: mostly 1-4.5 MiB was
// seen, once 14.5. The bound is 24 MiB, under a third of the 80 MiB that
// holding every answer would take. (The kernel's socket buffers, a few
// MiB on loopback, are not heap.)
func TestLimitPipelineFlood(t *testing.T) {
	const n = 20000
	pad := strings.Repeat("p", 4<<10)
	m := testHandler()
	m.HandleFunc("GET /f/{i}", func(c *Ctx) {
		c.SetHeader("X-I", c.PathValue("i"))
		_ = c.String(200, pad)
	})
	var req bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&req, "GET /f/%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
	}
	runPlainTLS(t, m, func(t *testing.T, s *harness) {
		c, _ := s.open()
		r := bufio.NewReaderSize(c, 16<<10)
		base := liveHeap()
		werr := make(chan error, 1)
		go func() { _, err := c.Write(req.Bytes()); werr <- err }()
		time.Sleep(300 * time.Millisecond)
		held := int64(liveHeap()) - int64(base)
		body := make([]byte, 8<<10)
		var mid int64
		for i := 0; i < n; i++ {
			status, xi, k, err := loadgen.ReadResponse(r, body, "X-I")
			if err != nil || status != 200 || xi != i || k != len(pad) {
				t.Fatalf("response %d: %d X-I=%d %d bytes %v", i, status, xi, k, err)
			}
			if i == n/2 { // stop reading again, and look once the server has stopped too
				time.Sleep(300 * time.Millisecond)
				mid = int64(liveHeap()) - int64(base)
			}
		}
		if err := <-werr; err != nil {
			t.Fatal(err)
		}
		t.Logf("live heap over the baseline while the client did not read: %.2f MiB at first, %.2f MiB halfway", float64(held)/(1<<20), float64(mid)/(1<<20))
		if held > 24<<20 || mid > 24<<20 {
			t.Fatalf("the server held %.1f MiB, then %.1f MiB", float64(held)/(1<<20), float64(mid)/(1<<20))
		}
	}, func(c *Config) {
		c.WriteHighWater = 256 << 10
		c.HeaderReadTimeout = 2 * time.Second // a stall ends soon
	})
}

// TestLimitPipelineBackpressure: a client that pipelines a stream of
// requests far larger than MaxBufferedInput (60,000 requests, 1.9 MB,
// against 512 KiB) and reads its answers as they come is served to the
// end: the server stops reading while it is behind instead of buffering
// past the limit and closing.
func TestLimitPipelineBackpressure(t *testing.T) {
	const n = 60000
	var req bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&req, "GET /n/%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
	}
	run(t, testHandler(), func(t *testing.T, s *harness) {
		c, _ := s.dial()
		r := bufio.NewReaderSize(c, 16<<10)
		werr := make(chan error, 1)
		go func() { _, err := c.Write(req.Bytes()); werr <- err }()
		body := make([]byte, 64)
		for i := 0; i < n; i++ {
			status, _, k, err := loadgen.ReadResponse(r, body, "")
			if want := fmt.Sprintf("n=%d", i); err != nil || status != 200 || string(body[:k]) != want {
				t.Fatalf("response %d: %d %q %v", i, status, body[:k], err)
			}
		}
		if err := <-werr; err != nil {
			t.Fatal(err)
		}
	}, func(c *Config) {
		c.MaxBufferedInput = 512 << 10
		c.Logger = discardLogger()
	})
}

// TestLimitConnStorm: 300 connections at once against MaxConns 64: 64
// are served, the other 236 are answered 503 "connection limit reached"
// at accept (without TLS) and closed, and counted as refused, and once
// the 64 go the server accepts again.
func TestLimitConnStorm(t *testing.T) {
	const limit, storm = 64, 300
	run(t, testHandler(), func(t *testing.T, s *harness) {
		conns, _, err := loadgen.DialMany(context.Background(), s.srv.Addr().String(), storm, 32, []*net.Dialer{{Timeout: 5 * time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		// A refused connection ends at once; an accepted one waits for a
		// request (HeaderReadTimeout is 10 s).
		refused := make([]bool, storm)
		var answered atomic.Int32 // refused connections that read the 503
		var wg sync.WaitGroup
		for i, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
				b, err := io.ReadAll(c)
				var ne net.Error
				refused[i] = !(errors.As(err, &ne) && ne.Timeout())
				// The 503 may be lost to the reset a close with unread
				// input sends, never garbled.
				if len(b) > 0 && !strings.HasPrefix(string(b), "HTTP/1.1 503 Service Unavailable\r\n") ||
					len(b) > 0 && !strings.HasSuffix(string(b), "connection limit reached (MaxConns)\n") {
					t.Errorf("connection %d: %q", i, b)
				}
				if len(b) > 0 {
					answered.Add(1)
				}
			}()
		}
		wg.Wait()
		var served []net.Conn
		for i, c := range conns {
			if !refused[i] {
				served = append(served, c)
			}
		}
		if st := s.srv.Stats(); len(served) != limit || st.OpenConns != limit || st.RefusedConns != storm-limit || st.AcceptedConns != limit || st.MaxConns != limit {
			t.Fatalf("%d connections served, stats %+v; want %d open, %d refused", len(served), st, limit, storm-limit)
		}
		if answered.Load() == 0 && s.srv.cfg.TLS == nil {
			t.Errorf("none of the %d refused connections read the 503", storm-limit)
		}
		t.Logf("%d of %d refused connections read the 503", answered.Load(), storm-limit)
		for i, c := range served {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(c, "GET /n/%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
			if b, err := readRespErr(bufio.NewReader(c)); b != fmt.Sprintf("n=%d", i) {
				t.Fatalf("served connection %d: %q %v", i, b, err)
			}
		}
		for _, c := range conns {
			c.Close()
		}
		if !waitFor(5*time.Second, func() bool { return s.srv.Stats().OpenConns == 0 }) {
			t.Fatalf("stats %+v after the storm", s.srv.Stats())
		}
		resp, err := s.client().Get(s.url + "/hello")
		if err != nil {
			t.Fatalf("after the storm: %v", err)
		}
		resp.Body.Close()
	}, func(c *Config) { c.MaxConns = limit })
}

// stormServerEnv names the model of the server TestHelperStormServer runs.
const stormServerEnv = "SLUICE_STORM_SERVER"

// TestLimitStormAtFileLimit: a server whose MaxConns comes from its
// open-file limit (1,152 here, so MaxConns is 1,024, or 736 for uring,
// whose shared accepting ring keeps the backlog free too; the others
// admit each connection as they accept it) meets 3,000
// connections at once: the surplus is refused, and the server lives on
// and serves. The server runs in a child process (the test binary again,
// TestHelperStormServer) with the lowered limit, since the limit is the
// whole process's.
func TestLimitStormAtFileLimit(t *testing.T) {
	const storm = 3000
	for _, model := range []string{"reactor", "single", "perconn", "uring"} {
		t.Run(model, func(t *testing.T) {
			if model == "uring" {
				if err := engine.CheckUring(); err != nil {
					t.Skip(err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "/bin/sh", "-c", `ulimit -n 1152 && exec "$0" "$@"`, os.Args[0], "-test.run=^TestHelperStormServer$", "-test.timeout=30s")
			cmd.Env = append(os.Environ(), stormServerEnv+"="+model)
			stdin, _ := cmd.StdinPipe()
			stdout, _ := cmd.StdoutPipe()
			var out strings.Builder
			cmd.Stderr = &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			lines := bufio.NewScanner(stdout)
			var addr string
			for lines.Scan() {
				if a, ok := strings.CutPrefix(lines.Text(), "listening on "); ok {
					addr = a
					break
				}
				out.WriteString(lines.Text() + "\n")
			}
			rest := make(chan string, 1)
			go func() {
				var b strings.Builder
				for lines.Scan() {
					b.WriteString(lines.Text() + "\n")
				}
				rest <- b.String()
			}()
			finish := func() string {
				stdin.Close()
				more := <-rest // before Wait, which closes the pipe
				err := cmd.Wait()
				return fmt.Sprintf("exit %v; output:\n%s%s", err, out.String(), more)
			}
			if addr == "" {
				t.Fatalf("no address: %s", finish())
			}
			conns, _, err := loadgen.DialMany(context.Background(), addr, storm, 64, []*net.Dialer{{Timeout: 5 * time.Second}})
			if err != nil {
				t.Fatalf("%v; %s", err, finish())
			}
			time.Sleep(500 * time.Millisecond)
			for _, c := range conns {
				c.Close()
			}
			time.Sleep(200 * time.Millisecond)
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err != nil {
				t.Fatalf("after the storm: %v; %s", err, finish())
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
			if b, err := readRespErr(bufio.NewReader(c)); b != "hello" {
				t.Fatalf("after the storm: %q %v; %s", b, err, finish())
			}
			if res := finish(); !strings.Contains(res, "refused=") || strings.Contains(res, "stopped early") {
				t.Fatalf("%s", res)
			} else {
				t.Log(strings.TrimSpace(res[strings.Index(res, "stats"):]))
			}
		})
	}
}

// TestHelperStormServer is the server of TestLimitStormAtFileLimit, in a
// child process; run alone it skips. It serves until its stdin closes,
// then prints its stats.
func TestHelperStormServer(t *testing.T) {
	name := os.Getenv(stormServerEnv)
	if name == "" {
		t.Skip("the server process of TestLimitStormAtFileLimit")
	}
	m, err := ParseModel(name)
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{Handler: testHandler(), Config: Config{Model: m, Loops: 2, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))}}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("listening on %s\n", srv.Addr())
	stopped := make(chan error, 1)
	go func() { stopped <- srv.Wait() }()
	stdin := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(stdin) }()
	select {
	case <-stdin:
	case err := <-stopped:
		fmt.Printf("server stopped early: %v\n", err)
	}
	st := srv.Stats()
	fmt.Printf("stats accepted=%d refused=%d\n", st.AcceptedConns, st.RefusedConns)
	srv.Close()
}

// blockHandler is testHandler with GET /block, which waits for the
// channel current when it was entered to be closed.
func blockHandler(release *atomic.Pointer[chan struct{}], entered chan<- struct{}) *Mux {
	m := testHandler()
	m.HandleFunc("GET /block", func(c *Ctx) {
		ch := *release.Load()
		entered <- struct{}{}
		<-ch
		_ = c.String(200, "released")
	})
	return m
}

// TestLimitHandlerNeverReturns documents what a handler that does not
// return costs when it runs on an event loop (reactor-inline, single),
// which the Handler docs forbid: the loop is blocked, so its other
// connections wait and no deadline fires for them, the Single model
// serving nobody; a Reactor's other loop serves on; once the handler
// returns, everything that waited is answered. The pool and PerConn
// cases (the connection closed at WriteTimeout) are TestHandlerNeverReturns.
func TestLimitHandlerNeverReturns(t *testing.T) {
	var release atomic.Pointer[chan struct{}]
	entered := make(chan struct{}, 1)
	run(t, blockHandler(&release, entered), func(t *testing.T, s *harness) {
		if s.srv.cfg.Dispatch != DispatchInline || s.srv.cfg.Model == PerConn {
			t.Skip("pool and PerConn: TestHandlerNeverReturns")
		}
		ch := make(chan struct{})
		release.Store(&ch)
		var once sync.Once
		free := func() { once.Do(func() { close(ch) }) }
		defer free() // a blocked loop would block the server's Close too
		c, r := s.dial()
		io.WriteString(c, "GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
		select {
		case <-entered:
		case <-time.After(5 * time.Second):
			t.Fatal("the handler did not start")
		}
		c.SetReadDeadline(time.Now().Add(700 * time.Millisecond)) // > 3 x every timeout
		var ne net.Error
		if _, err := r.ReadByte(); !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("the blocked connection: %v, want it open and silent", err)
		}
		// Two new connections: round robin puts one on each loop of a
		// Reactor.
		answered := make(chan string, 2)
		for i := 0; i < 2; i++ {
			o, or := s.dial()
			io.WriteString(o, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
			go func() {
				o.SetReadDeadline(time.Now().Add(5 * time.Second))
				b, _ := readRespErr(or)
				answered <- b
			}()
		}
		want := 1 // one of the two loops is blocked
		if s.srv.cfg.Model == Single {
			want = 0 // the only loop is
		}
		got := 0
		timeout := time.After(700 * time.Millisecond)
	count:
		for got < 2 {
			select {
			case b := <-answered:
				if b != "hello" {
					t.Fatalf("other connection: %q", b)
				}
				got++
			case <-timeout:
				break count
			}
		}
		if got != want {
			t.Fatalf("%d other connections answered while a handler blocks its loop, want %d", got, want)
		}
		free()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if b, err := readRespErr(r); b != "released" {
			t.Fatalf("after release: %q %v", b, err)
		}
		for ; got < 2; got++ {
			if b := <-answered; b != "hello" {
				t.Fatalf("other connection after release: %q", b)
			}
		}
	}, func(c *Config) {
		c.Accept = AcceptShared // round robin: one connection per loop (per-loop listeners hash)
		c.HeaderReadTimeout = 200 * time.Millisecond
		c.BodyReadTimeout = 200 * time.Millisecond
		c.IdleTimeout = 200 * time.Millisecond
		c.WriteTimeout = 200 * time.Millisecond
	})
}

// TestLimitShutdownStuckHandler: Shutdown with a deadline returns with
// its error soon after the deadline even when a handler never returns:
// within the second Close gives stuck handlers.
func TestLimitShutdownStuckHandler(t *testing.T) {
	var release atomic.Pointer[chan struct{}]
	entered := make(chan struct{}, 1)
	run(t, blockHandler(&release, entered), func(t *testing.T, s *harness) {
		ch := make(chan struct{})
		release.Store(&ch)
		c, _ := s.dial()
		io.WriteString(c, "GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
		<-entered
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- s.srv.Shutdown(ctx) }()
		var err error
		returned := true
		select {
		case err = <-done:
		case <-time.After(4 * time.Second):
			returned = false
		}
		took := time.Since(start)
		close(ch) // let the handler go, so the test ends either way
		if !returned {
			<-done
			t.Fatalf("Shutdown with a 300 ms deadline had not returned after %v", took)
		}
		if !errors.Is(err, context.DeadlineExceeded) || took > 300*time.Millisecond+time.Second+tickSlack {
			t.Fatalf("Shutdown returned %v after %v", err, took)
		}
		inlineLoop := s.srv.cfg.Dispatch == DispatchInline && s.srv.cfg.Model != PerConn
		if stuck := errors.Is(err, ErrLoopStuck); stuck != inlineLoop {
			t.Fatalf("Shutdown returned %v: ErrLoopStuck %v, want %v", err, stuck, inlineLoop)
		}
	}, func(c *Config) { c.Logger = discardLogger() })
}

// TestLimitWriteAfterReturn: a goroutine that keeps a Ctx past its
// handler and writes to it before the server reuses the Ctx gets
// ErrHandlerDone (Write, WriteString, String, Bytes, JSON, Error, Flush)
// or changes nothing that is sent (SetHeader, SetStatus); it does not
// crash the server and does not touch the response of the next request,
// which reuses the Ctx object. Writes after that reuse are documented as
// landing in the other request's response (Ctx), so they are not tested.
func TestLimitWriteAfterReturn(t *testing.T) {
	var stash atomic.Pointer[Ctx]
	m := testHandler()
	m.HandleFunc("GET /stash", func(c *Ctx) {
		stash.Store(c)
		_ = c.String(200, "stashed")
	})
	run(t, m, func(t *testing.T, s *harness) {
		c, r := s.dial()
		io.WriteString(c, "GET /stash HTTP/1.1\r\nHost: x\r\n\r\n")
		if _, b := readResp(t, r, "GET"); b != "stashed" {
			t.Fatalf("%q", b)
		}
		time.Sleep(50 * time.Millisecond) // the response is written: the Ctx is back in its loop's list
		x := stash.Load()
		type call struct {
			name string
			fn   func() error
		}
		calls := []call{
			{"Write", func() error { _, err := x.Write([]byte("CORRUPT")); return err }},
			{"WriteString", func() error { _, err := x.WriteString("CORRUPT"); return err }},
			{"String", func() error { return x.String(500, "CORRUPT") }},
			{"Bytes", func() error { return x.Bytes(500, "x/stale", []byte("CORRUPT")) }},
			{"JSON", func() error { return x.JSON(500, "CORRUPT") }},
			{"Error", func() error { return x.Error(500, "CORRUPT") }},
			{"Flush", func() error { return x.Flush() }},
		}
		done := make(chan []string, 1)
		go func() { // another goroutine, as a leaked one would
			var bad []string
			for _, cl := range calls {
				func() {
					defer func() {
						if p := recover(); p != nil {
							bad = append(bad, fmt.Sprintf("%s panicked: %v", cl.name, p))
						}
					}()
					if err := cl.fn(); !errors.Is(err, ErrHandlerDone) {
						bad = append(bad, fmt.Sprintf("%s returned %v, want ErrHandlerDone", cl.name, err))
					}
				}()
			}
			x.SetHeader("X-Stale", "1")
			x.SetStatus(500)
			done <- bad
		}()
		bad := <-done
		// The next request on this connection (the same loop) takes the
		// Ctx object back.
		io.WriteString(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, b := readResp(t, r, "GET")
		if b != "hello" || resp.StatusCode != 200 || resp.Header.Get("X-Stale") != "" {
			bad = append(bad, fmt.Sprintf("next response: %d %q X-Stale=%q", resp.StatusCode, clip(b), resp.Header.Get("X-Stale")))
		}
		if len(bad) > 0 {
			t.Fatal(strings.Join(bad, "; "))
		}
	})
}

// TestLimitPanicAfterFlush: a handler that panics after Flush has sent
// the head cannot get a 500: its connection is closed with the chunked
// body unfinished (so the client knows the response is cut), the
// requests behind it are not served, and the server serves on.
func TestLimitPanicAfterFlush(t *testing.T) {
	m := testHandler()
	m.HandleFunc("GET /panicflush", func(c *Ctx) {
		_, _ = c.WriteString("partial")
		_ = c.Flush()
		panic("late boom")
	})
	runPlainTLS(t, m, func(t *testing.T, s *harness) {
		c, r := s.open()
		io.WriteString(c, "GET /panicflush HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || len(resp.TransferEncoding) != 1 {
			t.Fatalf("%d te=%v", resp.StatusCode, resp.TransferEncoding)
		}
		b, err := io.ReadAll(resp.Body)
		if string(b) != "partial" || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("body %q %v, want \"partial\" cut short", b, err)
		}
		o, or := s.open()
		io.WriteString(o, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
		if _, b := readResp(t, or, "GET"); b != "hello" {
			t.Fatalf("after the panic: %q", b)
		}
	}, func(c *Config) { c.Logger = discardLogger() })
}

// TestLimitAbandonedConns: 5,000 connections left in every state — idle,
// mid-head, mid-body, mid-TLS-handshake, handshaken and mid-head — half
// reset by the client at once, half left silent for the server's
// timeouts (500 ms), leave no goroutine and no memory behind.
//
// The heap bound: after two collections what is left beside the baseline
// is what the servers keep for reuse: the loops' lists of idle Ctx
// objects (at most 256 per loop, four loops here, ~2 KiB each with their
// header slices: 2 MiB) and the engine's buffer pools. 6 MiB of live heap
// leaves room for that; 5,000 leaked connections would hold 5,000 x
// (HTTP and engine state, input buffers, a TLS session when handshaken),
// several KiB each: tens of MiB.
func TestLimitAbandonedConns(t *testing.T) {
	n := 5000
	if raceEnabled {
		n = 1000 // a TLS handshake is ten times slower under the race detector
	}
	if !raiseFiles(t, uint64(2*n+4096)) {
		t.Skipf("cannot raise RLIMIT_NOFILE to %d", 2*n+4096)
	}
	run(t, testHandler(), func(t *testing.T, s *harness) {
		tcfg := s.srv.Config
		tlsConfig(&tcfg)
		ts := &Server{Handler: testHandler(), Config: tcfg}
		if err := ts.Start("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		defer ts.Close()
		plain, secure := s.srv.Addr().String(), ts.Addr().String()
		// Warm up both servers: loops, pools, a handshake.
		for i := 0; i < 4; i++ {
			c, r := s.dial()
			io.WriteString(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
			readResp(t, r, "GET")
			readResp(t, r, "GET")
			c.Close()
			tc, err := stdtls.Dial("tcp", secure, clientTLS(0))
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(tc, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
			readResp(t, bufio.NewReader(tc), "GET")
			tc.Close()
		}
		openBoth := func() int64 { return s.srv.Stats().OpenConns + ts.Stats().OpenConns }
		if !waitFor(5*time.Second, func() bool { return openBoth() == 0 }) {
			t.Fatal("warm-up connections still open")
		}
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		baseHeap, baseG := ms.HeapAlloc, runtime.NumGoroutine()

		halfHello := []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03}
		conns := make([]net.Conn, n)
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for w := 0; w < 16; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= n {
						return
					}
					var c net.Conn
					var err error
					switch i % 5 {
					case 0: // idle
						c, err = net.Dial("tcp", plain)
					case 1: // mid-head
						if c, err = net.Dial("tcp", plain); err == nil {
							_, err = io.WriteString(c, "GET /hello HTTP/1.1\r\nHost: x\r\nX-Half: ")
						}
					case 2: // mid-body
						if c, err = net.Dial("tcp", plain); err == nil {
							_, err = io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789")
						}
					case 3: // mid-handshake
						if c, err = net.Dial("tcp", secure); err == nil {
							_, err = c.Write(halfHello)
						}
					case 4: // handshaken, mid-head
						var tc *stdtls.Conn
						if tc, err = stdtls.Dial("tcp", secure, clientTLS(0)); err == nil {
							c = tc
							_, err = io.WriteString(c, "GET /hello HTTP/1.1\r\nHost: x\r\nX-Half: ")
						}
					}
					if err != nil {
						errs <- fmt.Errorf("connection %d: %w", i, err)
						return
					}
					conns[i] = c
					if i%2 == 0 { // abandoned at once: reset
						if tc, ok := c.(*stdtls.Conn); ok {
							c = tc.NetConn()
						}
						c.(*net.TCPConn).SetLinger(0)
						c.Close()
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		defer func() {
			for _, c := range conns {
				if c != nil {
					c.Close()
				}
			}
		}()
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		// The silent half is closed by the server's deadlines.
		if !waitFor(10*time.Second, func() bool { return openBoth() == 0 }) {
			t.Fatalf("%d connections still open", openBoth())
		}
		for _, c := range conns {
			c.Close()
		}
		conns = nil // the client's side (TLS buffers) is not what is measured
		var heap uint64
		var g int
		ok := waitFor(5*time.Second, func() bool {
			runtime.GC()
			runtime.GC()
			runtime.ReadMemStats(&ms)
			heap, g = ms.HeapAlloc, runtime.NumGoroutine()
			return g <= baseG+2 && heap <= baseHeap+6<<20
		})
		t.Logf("goroutines %d -> %d; live heap %.1f -> %.1f MiB", baseG, g, float64(baseHeap)/(1<<20), float64(heap)/(1<<20))
		if !ok {
			t.Fatalf("goroutines %d (baseline %d), live heap %.1f MiB (baseline %.1f)", g, baseG, float64(heap)/(1<<20), float64(baseHeap)/(1<<20))
		}
	}, func(c *Config) {
		c.HeaderReadTimeout = 500 * time.Millisecond
		c.BodyReadTimeout = 500 * time.Millisecond
		c.TLSHandshakeTimeout = 500 * time.Millisecond
		c.Logger = discardLogger()
	})
}
