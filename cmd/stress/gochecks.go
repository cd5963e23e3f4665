package main

import (
	"bufio"
	"bytes"
	"context"
	stdtls "crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sluice-go/sluice/internal/loadgen"
)

// The built-in checks: an idle flood, a pipelining flood and a
// connection storm, written in Go because no packaged tool does them
// with the numbers wanted here.

// tlsClient is the client configuration for the self-signed server: the
// traffic is ours, on loopback, so the certificate is not verified.
var tlsClient = &stdtls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}

// dial opens one connection, with TLS when the server serves it.
func dial(d *net.Dialer, addr string, useTLS bool) (net.Conn, error) {
	c, err := d.Dial("tcp", addr)
	if err != nil || !useTLS {
		return c, err
	}
	tc := stdtls.Client(c, tlsClient)
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		c.Close()
		return nil, err
	}
	tc.SetDeadline(time.Time{})
	return tc, nil
}

// okPath is a route of the example that answers GET with 200.
func okPath(example string) string {
	if example == "echo" {
		return "/echo"
	}
	return "/plaintext"
}

// probe is a well-behaved client: GET every interval on a keep-alive
// connection, counting answers, failures and the slowest answer.
type probe struct {
	stopc             chan struct{}
	wg                sync.WaitGroup
	answers, failures int
	slowest           time.Duration
	firstErr          error
}

func startProbe(addr, path string, useTLS bool, interval, limit time.Duration) *probe {
	p := &probe{stopc: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		var c net.Conn
		var r *bufio.Reader
		defer func() {
			if c != nil {
				c.Close()
			}
		}()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		req := []byte("GET " + path + " HTTP/1.1\r\nHost: stress\r\n\r\n")
		body := make([]byte, 64<<10)
		for {
			start := time.Now()
			err := func() error {
				if c == nil {
					var err error
					if c, err = dial(&net.Dialer{Timeout: limit}, addr, useTLS); err != nil {
						return err
					}
					r = bufio.NewReader(c)
				}
				c.SetDeadline(start.Add(limit))
				if _, err := c.Write(req); err != nil {
					return err
				}
				st, _, _, err := loadgen.ReadResponse(r, body, "")
				if err == nil && st != 200 {
					err = fmt.Errorf("status %d", st)
				}
				return err
			}()
			d := time.Since(start)
			if err != nil {
				p.failures++
				if p.firstErr == nil {
					p.firstErr = fmt.Errorf("after %d answers: %w", p.answers, err)
				}
				if c != nil {
					c.Close()
					c = nil
				}
			} else {
				p.answers++
				p.slowest = max(p.slowest, d)
			}
			select {
			case <-p.stopc:
				return
			case <-tick.C:
			}
		}
	}()
	return p
}

func (p *probe) stop() {
	close(p.stopc)
	p.wg.Wait()
}

func (p *probe) String() string {
	s := fmt.Sprintf("probe answered %d times, slowest %v", p.answers, p.slowest.Round(time.Millisecond))
	if p.failures > 0 {
		s += fmt.Sprintf(", %d failures (first %v)", p.failures, p.firstErr)
	}
	return s
}

// idleCheck opens o.idleConns connections that send nothing and checks
// that the server closes each, without a byte, at HeaderReadTimeout,
// while a probe is answered every 100 ms.
func idleCheck(ctx context.Context, srv *server, o *options) result {
	n := o.idleConns
	if _, err := loadgen.RaiseFiles(uint64(n) + 512); err != nil {
		return result{status: "FAIL", detail: err.Error()}
	}
	reset := srv.resetPeak()
	before := srv.rss()
	p := startProbe(srv.addr, okPath(o.example), o.tls, 100*time.Millisecond, time.Second)
	start := time.Now()
	conns, opened, err := loadgen.DialMany(ctx, srv.addr, n, 16, loadgen.SourceDialers(8, 10*time.Second))
	if err != nil {
		p.stop()
		return result{status: "FAIL", detail: fmt.Sprintf("opening %d connections: %v; %s", n, err, srv.peakNote(reset, before))}
	}
	dialed := time.Since(start)
	peakOpen := srv.rss()
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
			c.SetReadDeadline(opened[i].Add(o.headerTimeout + 15*time.Second))
			var buf [64]byte
			k, err := c.Read(buf[:])
			ends[i] = end{time.Since(opened[i]), k, err}
		}()
	}
	wg.Wait()
	p.stop()
	var closed, early, late, bad int
	var first, last time.Duration
	var badErr error
	for _, e := range ends {
		if e.n != 0 || !errors.Is(e.err, io.EOF) && !errors.Is(e.err, syscall.ECONNRESET) {
			if bad++; badErr == nil {
				badErr = fmt.Errorf("%d bytes, %v", e.n, e.err)
			}
			continue
		}
		if closed == 0 || e.after < first {
			first = e.after
		}
		last = max(last, e.after)
		closed++
		switch {
		case e.after < o.headerTimeout-500*time.Millisecond:
			early++
		case e.after > o.headerTimeout+3*time.Second:
			late++
		}
	}
	detail := fmt.Sprintf("%d connections opened in %s; %d closed without a byte %s-%s after opening (HeaderReadTimeout %v); %s; %s, RSS with all open %s",
		n, secs(dialed), closed, secs(first), secs(last), o.headerTimeout, p, srv.peakNote(reset, before), mib(peakOpen))
	var fail string
	switch {
	case bad > 0:
		fail = fmt.Sprintf("%d connections answered or not closed (first: %v)", bad, badErr)
	case early+late > 0:
		fail = fmt.Sprintf("%d closed early, %d late", early, late)
	case p.failures > 0 || p.answers == 0:
		fail = "the probe was not served"
	case !srv.alive():
		fail = "the server died"
	}
	if fail != "" {
		return result{status: "FAIL", detail: fail + ": " + detail}
	}
	return result{status: "PASS", detail: detail}
}

// pipelineCheck sends o.pipelined requests in one stream on one
// connection, waits a second before reading (the server must stop at its
// write high-water mark), then reads and checks every answer in order,
// and bounds the server's peak memory.
//
// The bound: the server may hold its queued output (WriteHighWater,
// 1 MiB by default, plus one batch) and the requests it read before it
// stopped reading (its input buffer, at most MaxBufferedInput, ~4.2 MiB
// by default), with the garbage collector's headroom on top: 64 MiB of
// growth in all. The answers alone are 75 MB at the default count, so a
// server that held them would pass the bound.
func pipelineCheck(ctx context.Context, srv *server, o *options) result {
	n := o.pipelined
	var req bytes.Buffer
	want := make([]func(status int, body []byte) bool, 3)
	paths := make([]string, 3)
	if o.example == "echo" {
		paths = nil
	} else {
		paths[0], paths[1], paths[2] = "/plaintext", "/json", "/nope"
		want[0] = func(st int, b []byte) bool { return st == 200 && string(b) == "Hello, World!" }
		want[1] = func(st int, b []byte) bool { return st == 200 && string(b) == `{"message":"Hello, World!"}` }
		want[2] = func(st int, b []byte) bool { return st == 404 }
	}
	for i := 0; i < n; i++ {
		if paths == nil {
			fmt.Fprintf(&req, "GET /echo?i=%d HTTP/1.1\r\nHost: stress\r\n\r\n", i)
		} else {
			fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: stress\r\n\r\n", paths[i%3])
		}
	}
	c, err := dial(&net.Dialer{Timeout: 10 * time.Second}, srv.addr, o.tls)
	if err != nil {
		return result{status: "FAIL", detail: err.Error()}
	}
	defer c.Close()
	reset := srv.resetPeak()
	before := srv.rss()
	start := time.Now()
	werr := make(chan error, 1)
	go func() {
		c.SetWriteDeadline(time.Now().Add(2 * time.Minute))
		_, err := c.Write(req.Bytes())
		werr <- err
	}()
	select {
	case <-time.After(time.Second):
	case <-ctx.Done():
		return result{status: "FAIL", detail: "interrupted"}
	}
	stalled := srv.rss()
	c.SetReadDeadline(time.Now().Add(2 * time.Minute))
	r := bufio.NewReaderSize(c, 64<<10)
	body := make([]byte, 64<<10)
	var bytesIn int64
	for i := 0; i < n; i++ {
		st, _, k, err := loadgen.ReadResponse(r, body, "")
		ok := err == nil
		if ok && paths == nil {
			ok = st == 200 && bytes.Contains(body[:k], []byte(`"query":"i=`+strconv.Itoa(i)+`"`))
		} else if ok {
			ok = want[i%3](st, body[:k])
		}
		if !ok {
			what := fmt.Sprintf("status %d, %q, %v", st, body[:min(k, 60)], err)
			if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
				what = fmt.Sprintf("the server closed the connection (%v)", err)
			}
			return result{status: "FAIL", detail: fmt.Sprintf("answer %d of %d: %s; %s", i, n, what, srv.peakNote(reset, before))}
		}
		bytesIn += int64(k)
	}
	took := time.Since(start)
	if err := <-werr; err != nil {
		return result{status: "FAIL", detail: "writing the requests: " + err.Error()}
	}
	peak := srv.peak()
	detail := fmt.Sprintf("%d requests (%.1f MB) in one stream, all %d answered in order in %s (bodies %.1f MB); RSS after 1 s unread %s; %s",
		n, float64(req.Len())/1e6, n, secs(took), float64(bytesIn)/1e6, mib(stalled), srv.peakNote(reset, before))
	const bound = 64 << 10 // kB
	if peak-before > bound {
		return result{status: "FAIL", detail: fmt.Sprintf("peak RSS grew by %s (bound %s): %s", mib(peak-before), mib(bound), detail)}
	}
	if !srv.alive() {
		return result{status: "FAIL", detail: "the server died: " + detail}
	}
	return result{status: "PASS", detail: fmt.Sprintf("peak RSS growth %s (bound %s); %s", mib(peak-before), mib(bound), detail)}
}

// stormCheck starts a second server whose open-file limit is
// o.stormLimit (so its MaxConns is stormMaxConns of it), opens
// o.stormConns connections at once, and checks that exactly the surplus
// is refused at accept (answered 503 "connection limit reached" without
// TLS, then closed; never anything else), that each accepted connection
// is served, and that the server accepts again once they are gone.
func stormCheck(ctx context.Context, bin string, args []string, o *options, work string) result {
	limit := stormMaxConns(o.model, o.stormLimit)
	if _, err := loadgen.RaiseFiles(uint64(o.stormConns) + 512); err != nil {
		return result{status: "FAIL", detail: err.Error()}
	}
	debugAddr, err := freeAddr()
	if err != nil {
		return result{status: "FAIL", detail: err.Error()}
	}
	args = append(append([]string(nil), args...), "-debug-addr", debugAddr)
	srv, err := startServer(ctx, bin, args, o.stormLimit, filepath.Join(work, "storm-server.log"))
	if err != nil {
		return result{status: "FAIL", detail: "starting the storm's server: " + err.Error()}
	}
	defer srv.stop()
	before := srv.rss()
	start := time.Now()
	conns, _, err := loadgen.DialMany(ctx, srv.addr, o.stormConns, 64, []*net.Dialer{{Timeout: 10 * time.Second}})
	if err != nil {
		select {
		case <-srv.done:
			return result{status: "FAIL", detail: fmt.Sprintf("the server died during the storm against MaxConns %d (%v): %s", limit, err, srv.errors())}
		case <-time.After(time.Second):
		}
		return result{status: "FAIL", detail: fmt.Sprintf("opening %d connections: %v", o.stormConns, err)}
	}
	dialed := time.Since(start)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	// A refused connection ends at once; an accepted one waits for its
	// first bytes (or, under TLS, its ClientHello) for HeaderReadTimeout.
	refused := make([]bool, len(conns))
	var gotBytes, got503 atomic.Int64 // other bytes; the refusal's 503
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetReadDeadline(time.Now().Add(1500 * time.Millisecond))
			b, err := io.ReadAll(io.LimitReader(c, 4<<10))
			var ne net.Error
			refused[i] = !(errors.As(err, &ne) && ne.Timeout())
			switch {
			case len(b) == 0:
			case refused[i] && !o.tls && strings.HasPrefix(string(b), "HTTP/1.1 503 ") && strings.Contains(string(b), "connection limit reached"):
				got503.Add(1)
			default:
				gotBytes.Add(1)
			}
		}()
	}
	wg.Wait()
	var accepted []net.Conn
	for i, c := range conns {
		if !refused[i] {
			accepted = append(accepted, c)
		}
	}
	// Each accepted connection is served.
	var served atomic.Int64
	var serveErr atomic.Value
	sem := make(chan struct{}, 32)
	path := okPath(o.example)
	for _, c := range accepted {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			var rw net.Conn = c
			if o.tls {
				tc := stdtls.Client(c, tlsClient)
				if err := tc.Handshake(); err != nil {
					serveErr.CompareAndSwap(nil, err)
					return
				}
				rw = tc
			}
			if _, err := io.WriteString(rw, "GET "+path+" HTTP/1.1\r\nHost: stress\r\n\r\n"); err != nil {
				serveErr.CompareAndSwap(nil, err)
				return
			}
			st, _, _, err := loadgen.ReadResponse(bufio.NewReader(rw), make([]byte, 64<<10), "")
			if err == nil && st != 200 {
				err = fmt.Errorf("status %d", st)
			}
			if err != nil {
				serveErr.CompareAndSwap(nil, err)
				return
			}
			served.Add(1)
		}()
	}
	wg.Wait()
	peakStorm := srv.peak()
	for _, c := range conns {
		c.Close()
	}
	// Once they are gone, a new connection is served.
	time.Sleep(500 * time.Millisecond)
	p := startProbe(srv.addr, path, o.tls, 100*time.Millisecond, 2*time.Second)
	time.Sleep(300 * time.Millisecond)
	p.stop()
	nRefused := len(conns) - len(accepted)
	st, stErr := serverStats(debugAddr)
	counted := "Stats unavailable: " + fmt.Sprint(stErr)
	if stErr == nil {
		counted = fmt.Sprintf("Stats: %d refused, %d accepted", st.Refused, st.Accepted)
	}
	detail := fmt.Sprintf("%d connections opened in %s against MaxConns %d: %d accepted, %d refused at accept (%s; %d read the 503); %d of the accepted served; after the storm: %s; server RSS %s, peak %s",
		len(conns), secs(dialed), limit, len(accepted), nRefused, counted, got503.Load(), served.Load(), p, mib(before), mib(peakStorm))
	var fail string
	switch {
	case !srv.alive():
		fail = "the server died: " + srv.errors()
	case stErr == nil && st.MaxConns != int64(limit):
		fail = fmt.Sprintf("the server reports MaxConns %d, want %d from its open-file limit", st.MaxConns, limit)
	case stErr == nil && st.Refused != int64(nRefused):
		fail = "the refusals are not all counted in Stats"
	case len(accepted) != limit || nRefused != len(conns)-limit:
		fail = fmt.Sprintf("want %d accepted and %d refused", limit, len(conns)-limit)
	case gotBytes.Load() > 0:
		fail = fmt.Sprintf("%d connections got bytes other than the refusal's 503 before sending any", gotBytes.Load())
	case served.Load() != int64(len(accepted)):
		fail = fmt.Sprintf("accepted connections not served (first error: %v)", serveErr.Load())
	case p.answers == 0 || p.failures > 0:
		fail = "not served after the storm"
	}
	if err := srv.stop(); err != nil && fail == "" {
		fail = err.Error()
	}
	if fail != "" {
		return result{status: "FAIL", detail: fail + ": " + detail}
	}
	return result{status: "PASS", detail: detail}
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// stats are the fields of the examples' /debug/stats (Server.Stats as
// JSON) that the storm checks.
type stats struct {
	Open     int64 `json:"open_conns"`
	Accepted int64 `json:"accepted_conns"`
	Refused  int64 `json:"refused_conns"`
	MaxConns int64 `json:"max_conns"`
}

// serverStats reads /debug/stats from an example run with -debug-addr.
func serverStats(addr string) (stats, error) {
	var st stats
	cl := &http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get("http://" + addr + "/debug/stats")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return st, fmt.Errorf("/debug/stats: %s", resp.Status)
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st, err
}

// stormMaxConns is the MaxConns sluice derives from an open-file limit
// (engine.defaultMaxConns): the limit minus 128, and for uring, whose
// shared accepting ring takes connections in bursts, minus the listen
// backlog too (somaxconn, lowered to a quarter of the limit when above
// it). The examples run with -accept auto: reactor accepts per loop.
func stormMaxConns(model string, nofile int) int {
	limit := nofile - 128
	if model != "uring" {
		return limit
	}
	backlog := 4096
	if b, err := os.ReadFile("/proc/sys/net/core/somaxconn"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n > 0 {
			backlog = n
		}
	}
	return limit - min(backlog, nofile/4)
}
