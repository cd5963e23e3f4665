package sluice

import (
	"bufio"
	stdtls "crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-go/sluice/engine"
	"github.com/sluice-go/sluice/stage"
)

// Slow clients: slowloris (a head trickled byte by byte), R-U-Dead-Yet (a
// body trickled), and peers that read their responses slowly or not at
// all. Every test runs on every model; those where the TLS layer changes
// the path run over TLS too. Timeouts are set short (0.3-0.5 s) so each
// subtest takes about a second.

// runPlainTLS runs f on every model over plain TCP, then over TLS.
func runPlainTLS(t *testing.T, h Handler, f func(t *testing.T, s *harness), tweak ...func(*Config)) {
	t.Helper()
	t.Run("plain", func(t *testing.T) { run(t, h, f, tweak...) })
	t.Run("tls", func(t *testing.T) { run(t, h, f, append(append([]func(*Config){}, tweak...), tlsConfig)...) })
}

// tickSlack is what a deadline may be late by: the timer wheel's tick
// (100 ms) twice over (the loop's clock lags by up to one tick and a
// deadline is rounded up to the next), plus scheduling on a loaded
// two-core machine.
const tickSlack = 700 * time.Millisecond

// connect opens a connection to the server, over TLS when it serves TLS,
// with a 20 s deadline. Unlike harness.dial it does not call t.Fatal, so
// it may run on any goroutine.
func (s *harness) connect() (net.Conn, *bufio.Reader, error) {
	addr := s.srv.Addr().String()
	var c net.Conn
	var err error
	if s.srv.Config.TLS != nil {
		c, err = stdtls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, clientTLS(0))
	} else {
		c, err = net.DialTimeout("tcp", addr, 5*time.Second)
	}
	if err != nil {
		return nil, nil, err
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c, bufio.NewReader(c), nil
}

// open is connect for the test's goroutine: it fails the test on error
// and closes the connection at the end.
func (s *harness) open() (net.Conn, *bufio.Reader) {
	s.t.Helper()
	c, r, err := s.connect()
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { c.Close() })
	return c, r
}

// probe is a well-behaved client beside the attack: it sends GET /hello
// every interval on one keep-alive connection until stopped and reports
// an answer that is wrong or slower than max. stop returns how many
// answers came.
func (s *harness) probe(interval, max time.Duration) (stop func() int) {
	t := s.t
	done := make(chan struct{})
	var n atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, r, err := s.connect()
		if err != nil {
			t.Errorf("probe: %v", err)
			return
		}
		defer c.Close()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			start := time.Now()
			if _, err := io.WriteString(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				t.Errorf("probe: write: %v", err)
				return
			}
			body, err := readRespErr(r)
			if d := time.Since(start); err != nil || body != "hello" || d > max {
				t.Errorf("probe: answer %d: %q %v after %v (max %v)", n.Load(), body, err, d, max)
				return
			}
			n.Add(1)
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() int {
		close(done)
		wg.Wait()
		return int(n.Load())
	}
}

// trickled is what the server did to a trickling client.
type trickled struct {
	status int
	body   string
	close  bool          // the answer said Connection: close
	eof    bool          // and the connection ended after it
	after  time.Duration // from the first byte written to the answer
	sent   int           // bytes of rest written before the answer
	err    error         // no answer: why
}

// trickleAll runs trickle for each head and rest at once, each on a
// connection of its own, and returns the outcomes in order.
func (s *harness) trickleAll(heads, rests []string, gap time.Duration) []trickled {
	res := make([]trickled, len(heads))
	var wg sync.WaitGroup
	for i := range heads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, r, err := s.connect()
			if err != nil {
				res[i].err = err
				return
			}
			defer c.Close()
			res[i] = trickle(c, r, heads[i], rests[i], gap)
		}()
	}
	wg.Wait()
	return res
}

// trickle writes head at once, then rest one byte every gap (on its own
// goroutine), until the server answers; it returns the answer. If rest
// runs out first it waits for the answer without writing.
func trickle(c net.Conn, r *bufio.Reader, head, rest string, gap time.Duration) trickled {
	start := time.Now()
	var sent atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if head != "" {
			if _, err := io.WriteString(c, head); err != nil {
				return
			}
		}
		for i := 0; i < len(rest); i++ {
			if i > 0 || head != "" {
				select {
				case <-stop:
					return
				case <-time.After(gap):
				}
			}
			if _, err := c.Write([]byte{rest[i]}); err != nil {
				return
			}
			sent.Add(1)
		}
	}()
	var res trickled
	resp, err := http.ReadResponse(r, nil)
	res.after = time.Since(start)
	close(stop)
	wg.Wait()
	res.sent = int(sent.Load())
	if err != nil {
		res.err = err
		return res
	}
	b, err := io.ReadAll(resp.Body)
	res.status, res.body, res.close = resp.StatusCode, string(b), resp.Close
	if err != nil {
		res.err = err
		return res
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = r.ReadByte()
	res.eof = errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
	return res
}

// check408 fails t unless res is a 408 with reason, closed, within
// [timeout-tick, timeout+tickSlack] of the trickle's start.
func check408(t *testing.T, what string, res trickled, reason string, timeout time.Duration) {
	t.Helper()
	if res.err != nil {
		t.Fatalf("%s: no answer after %v (%d bytes trickled): %v", what, res.after, res.sent, res.err)
	}
	if res.status != 408 || !strings.Contains(res.body, reason) || !res.close || !res.eof {
		t.Fatalf("%s: %d %q close=%v eof=%v, want 408 %q and a close", what, res.status, res.body, res.close, res.eof, reason)
	}
	if res.after < timeout-150*time.Millisecond || res.after > timeout+tickSlack {
		t.Fatalf("%s: answered after %v, want %v", what, res.after, timeout)
	}
}

// slowHead is a request head long enough to trickle for seconds.
var slowHead = "GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 200) + "\r\n\r\n"

// TestSlowloris: a head trickled one byte every 100 ms gets 408 and a
// close at HeaderReadTimeout (500 ms) from its first byte, on a new
// connection and on a keep-alive one after a first request; a normal
// client is answered every 100 ms meanwhile.
func TestSlowloris(t *testing.T) {
	const timeout = 500 * time.Millisecond
	runPlainTLS(t, testHandler(), func(t *testing.T, s *harness) {
		stop := s.probe(100*time.Millisecond, time.Second)
		var wg sync.WaitGroup
		var fresh, second trickled
		wg.Add(2)
		go func() {
			defer wg.Done()
			c, r, err := s.connect()
			if err != nil {
				fresh.err = err
				return
			}
			defer c.Close()
			fresh = trickle(c, r, "", slowHead, 100*time.Millisecond)
		}()
		go func() {
			defer wg.Done()
			c, r, err := s.connect()
			if err != nil {
				second.err = err
				return
			}
			defer c.Close()
			io.WriteString(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
			if b, err := readRespErr(r); b != "hello" {
				second.err = fmt.Errorf("first request: %q %v", b, err)
				return
			}
			second = trickle(c, r, "", slowHead, 100*time.Millisecond)
		}()
		wg.Wait()
		n := stop()
		check408(t, "new connection", fresh, "request head not received in time", timeout)
		check408(t, "second request", second, "request head not received in time", timeout)
		if fresh.sent < 3 || fresh.sent >= len(slowHead) {
			t.Fatalf("%d bytes trickled before the 408", fresh.sent)
		}
		if n < 4 {
			t.Fatalf("the normal client got %d answers in %v", n, fresh.after)
		}
	}, func(c *Config) { c.HeaderReadTimeout = timeout })
}

// TestSlowBody: a buffered body (Content-Length or chunked) trickled one
// byte every 100 ms gets 408 and a close at BodyReadTimeout (500 ms) from
// the end of its head, while a normal client is served.
func TestSlowBody(t *testing.T) {
	const timeout = 500 * time.Millisecond
	runPlainTLS(t, testHandler(), func(t *testing.T, s *harness) {
		stop := s.probe(100*time.Millisecond, time.Second)
		cases := []struct{ name, head, body string }{
			{"content-length", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n", strings.Repeat("b", 1000)},
			{"chunked", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", strings.Repeat("1\r\nb\r\n", 200)},
		}
		var heads, bodies []string
		for _, tc := range cases {
			heads, bodies = append(heads, tc.head), append(bodies, tc.body)
		}
		res := s.trickleAll(heads, bodies, 100*time.Millisecond)
		n := stop()
		for i, tc := range cases {
			check408(t, tc.name, res[i], "request body not received in time", timeout)
		}
		if n < 4 {
			t.Fatalf("the normal client got %d answers", n)
		}
	}, func(c *Config) {
		c.BodyReadTimeout = timeout
		c.HeaderReadTimeout = 5 * time.Second
	})
}

// TestSlowStreamedBody: a streamed body (a Streaming route, or a
// Content-Length above StreamThreshold) trickled one byte every 100 ms
// ends at BodyReadTimeout (500 ms) from the end of its head: the handler's
// read fails with ErrBodyTimeout, its answer goes out and the connection
// closes.
func TestSlowStreamedBody(t *testing.T) {
	const timeout = 500 * time.Millisecond
	m := streamHandler()
	runPlainTLS(t, m, func(t *testing.T, s *harness) {
		cases := []struct{ name, head string }{
			{"streaming route", "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"},
			{"above threshold", "POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"},
		}
		// Trickle for at most 6 timeouts: long enough to tell a total
		// deadline from one re-armed by every byte.
		var heads, bodies []string
		for _, tc := range cases {
			heads, bodies = append(heads, tc.head), append(bodies, strings.Repeat("s", 30))
		}
		res := s.trickleAll(heads, bodies, 100*time.Millisecond)
		for i, tc := range cases {
			r := res[i]
			if r.err != nil || !r.close || !r.eof {
				t.Fatalf("%s: %d %q close=%v eof=%v err=%v after %v", tc.name, r.status, r.body, r.close, r.eof, r.err, r.after)
			}
			if r.after > timeout+tickSlack {
				t.Fatalf("%s: answered after %v (%d bytes trickled), want about %v", tc.name, r.after, r.sent, timeout)
			}
		}
	}, func(c *Config) {
		c.BodyReadTimeout = timeout
		c.StreamThreshold = 1000
		c.Logger = discardLogger()
	})
}

// TestSlowReaderTLS is TestSlowReaderClosed over TLS: a peer that
// pipelines requests for 256 KiB responses and never reads is closed at
// the write timeout, well before its responses are all queued, while
// others are served. The queued bytes are ciphertext here, and the
// records are built on the loop.
func TestSlowReaderTLS(t *testing.T) {
	run(t, bigHandler(), func(t *testing.T, s *harness) {
		c, _ := s.open()
		req := strings.Repeat("GET /big HTTP/1.1\r\nHost: x\r\n\r\n", 200)
		go io.WriteString(c, req)
		stop := s.probe(100*time.Millisecond, time.Second)
		time.Sleep(time.Second) // more than three write timeouts
		closed := s.waitWriteTimeout(10 * time.Second)
		if n := stop(); n < 3 { // each answered within a second (probe); a loaded loop encrypting may space them
			t.Fatalf("the normal client got %d answers", n)
		}
		if !closed {
			t.Fatal("the peer that does not read was not cut off (write or handler timeout) within 10 s")
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := io.Copy(io.Discard, c)
		if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
			err = nil // the close cuts a record, or resets unread request bytes
		}
		if err != nil {
			t.Fatalf("read: %v after %d bytes", err, n)
		}
		if n >= 200*256<<10 {
			t.Fatalf("all %d bytes were queued for a peer that did not read", n)
		}
	}, tlsConfig, func(c *Config) {
		c.WriteHighWater = 512 << 10
		c.WriteTimeout = 300 * time.Millisecond
		c.SocketWriteBuffer = 64 << 10
		c.Logger = discardLogger()
	})
}

// waitWriteTimeout waits up to max until the server has closed a
// connection at WriteTimeout, and reports whether it has. The write
// deadline starts once a batch's responses are queued, and on the worker
// pool a batch is MaxPipelined (64) requests: the handlers build 16 MiB
// of 256 KiB answers and the loop copies (or encrypts) them first, which
// under the race detector on a loaded machine can take over a second
// before the write timeout's 300 ms even begin; or longer than the
// 300 ms WriteTimeout also gives the batch's handlers, and then the
// connection is closed as a handler timeout, before any write.
func (s *harness) waitWriteTimeout(max time.Duration) bool {
	start := time.Now()
	for {
		c := s.srv.Stats().Counters
		if c[stage.TimeoutsWrite]+c[stage.TimeoutsHandler] > 0 {
			return true
		}
		if time.Since(start) > max {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// dialSmallWindow connects with a 16 KiB receive buffer, so a response
// larger than the socket buffers stays queued in the server.
func (s *harness) dialSmallWindow() (net.Conn, *bufio.Reader) {
	s.t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10)
		})
		return errors.Join(err, serr)
	}}
	c, err := d.Dial("tcp", s.srv.Addr().String())
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c, bufio.NewReaderSize(c, 4<<10)
}

// waitClosed polls until the server has no open connection and returns
// how long that took, or max if it did not happen by then.
func (s *harness) waitClosed(max time.Duration) time.Duration {
	start := time.Now()
	for s.srv.Stats().OpenConns > 0 {
		if time.Since(start) > max {
			return max
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

func sizedHandler() *Mux {
	m := testHandler()
	half := strings.Repeat("h", 512<<10)
	m.HandleFunc("GET /half", func(c *Ctx) { _ = c.String(200, half) })
	most := strings.Repeat("m", 768<<10)
	m.HandleFunc("GET /most", func(c *Ctx) { _ = c.String(200, most) })
	return m
}

// TestWriteDeadlineProgress drives the write deadline over an in-memory
// connection whose output is still in flight whenever the server looks
// (as io_uring's sends are at times, or a stalled loop's writes): a peer
// that takes each response before it sends its next request is never
// closed, however long it goes on (it was, at WriteTimeout, when the
// deadline ended only on seeing nothing pending); once it stops taking
// its output it is closed at WriteTimeout.
func TestWriteDeadlineProgress(t *testing.T) {
	const wt, tick = 300 * time.Millisecond, 100 * time.Millisecond
	s := &Server{Handler: testHandler(), Config: Config{
		Dispatch:     DispatchInline,
		WriteTimeout: wt,
		IdleTimeout:  time.Minute,
		Logger:       discardLogger(),
	}}
	if err := s.prepare(); err != nil {
		t.Fatal(err)
	}
	m := &memConn{hold: true, loop: *engine.NewLoop(nil, 0)}
	s.onOpen(m)
	req := []byte("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
	for i := range 20 { // 2 s, more than six write timeouts
		m.take()
		if n := s.onData(m, req); n != len(req) {
			t.Fatalf("request %d: consumed %d of %d", i, n, len(req))
		}
		if m.pending == 0 {
			t.Fatalf("request %d: nothing pending: the test does not test", i)
		}
		m.tick(s, tick)
		if m.closed {
			t.Fatalf("closed at request %d (%v) although the peer took every response", i, m.loop.Now())
		}
	}
	m.take()
	s.onData(m, req)
	start := m.loop.Now()
	for !m.closed {
		if m.loop.Now()-start > wt+2*tick {
			t.Fatalf("not closed %v after the peer stopped taking its output (WriteTimeout %v)", m.loop.Now()-start, wt)
		}
		m.tick(s, tick)
	}
	if d := m.loop.Now() - start; d < wt {
		t.Fatalf("closed %v after the peer stopped taking its output, before WriteTimeout (%v)", d, wt)
	}
	if !strings.Contains(string(m.out), "hello") {
		t.Fatalf("no answers: %q", m.out)
	}
}

// TestSlowReaderBelowHighWater: one response below WriteHighWater but
// larger than the socket buffers, to a peer that never reads, is closed
// at WriteTimeout (300 ms), not held until IdleTimeout (3 s): "WriteTimeout
// bounds how long queued output may wait for a peer that does not read".
func TestSlowReaderBelowHighWater(t *testing.T) {
	run(t, sizedHandler(), func(t *testing.T, s *harness) {
		c, r := s.dialSmallWindow()
		io.WriteString(c, "GET /half HTTP/1.1\r\nHost: x\r\n\r\n")
		if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 200") {
			t.Fatalf("%q %v", line, err)
		}
		// The peer reads no further than its first 4 KiB.
		if d := s.waitClosed(5 * time.Second); d > 300*time.Millisecond+tickSlack {
			t.Fatalf("closed after %v, want about the write timeout (300 ms)", d)
		}
	}, func(c *Config) {
		c.WriteTimeout = 300 * time.Millisecond
		c.IdleTimeout = 3 * time.Second
		c.SocketWriteBuffer = 32 << 10
		c.Logger = discardLogger()
	})
}

// TestSlowReaderIdleTimeout: a peer that reads a 768 KiB response slowly
// but steadily (32 KiB every 50 ms, 1.2 s in all) gets all of it, although
// IdleTimeout (300 ms) passes while the response is still queued: a
// connection with output pending is not idle.
func TestSlowReaderIdleTimeout(t *testing.T) {
	run(t, sizedHandler(), func(t *testing.T, s *harness) {
		c, r := s.dialSmallWindow()
		io.WriteString(c, "GET /most HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 32<<10)
		total := 0
		for {
			n, err := io.ReadFull(resp.Body, buf)
			total += n
			if err != nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if total != 768<<10 {
			t.Fatalf("got %d of %d bytes", total, 768<<10)
		}
	}, func(c *Config) {
		c.IdleTimeout = 300 * time.Millisecond
		c.WriteTimeout = 5 * time.Second
		c.SocketWriteBuffer = 32 << 10
	})
}
