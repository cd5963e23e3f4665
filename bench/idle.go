package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// idleResult is the idle scenarios' measure of one server: the memory its
// open, idle keep-alive connections cost (over TLS: after the handshake
// and one request).
type idleResult struct {
	Conns   int `json:"conns"`   // connections asked for
	Opened  int `json:"opened"`  // connected and answered one request
	Alive   int `json:"alive"`   // still open when the RSS was read
	Sources int `json:"sources"` // 127.0.0.x source addresses used
	// FirstError is the first failure to connect or get an answer.
	FirstError     string  `json:"first_error,omitempty"`
	RSSBeforeKiB   int64   `json:"rss_before_kib"`
	RSSAfterKiB    int64   `json:"rss_after_kib"`
	KiBPerConn     float64 `json:"kib_per_conn"` // (after - before) / opened
	ConnectSeconds float64 `json:"connect_seconds"`
}

const (
	// idleDialers is how many connections are opened at once: well under
	// the smallest listen backlog of the targets (Node's 511), so no SYN
	// waits for a retransmission.
	idleDialers = 64
	// idleSettle is the pause between the last answer and reading the
	// RSS, for the server to finish the work the requests started.
	idleSettle = time.Second
	// portsPerSource is how many connections share one source address;
	// Linux's default ephemeral range has 28,232 ports.
	portsPerSource = 10000
)

// idleCell opens h.opt.IdleConns keep-alive connections to a fresh server,
// completes the TLS handshake on each for a TLS scenario, sends one
// request on each, and reads the server's RSS while they stay open.
func (h *harness) idleCell(ctx context.Context, round int, sc scenario, t target) cell {
	c := cell{Round: round + 1, Scenario: sc.Name, Target: t.Name}
	srv, _, err := h.start(ctx, t, sc)
	if err != nil {
		c.Error = "start: " + oneLine(err.Error(), 300)
		return c
	}
	defer srv.stop()
	tlsCfg := h.clientTLS(sc, srv.addr)
	if err := probe(ctx, srv.addr, sc, t.Floor, tlsCfg); err != nil {
		c.Error = "probe: " + oneLine(err.Error(), 300)
		return c
	}
	if err := sleep(ctx, 200*time.Millisecond); err != nil { // the probe's connection closes
		c.Error = err.Error()
		return c
	}
	before, err := rssKiB(srv.pid)
	if err != nil {
		c.Error = "rss: " + err.Error()
		return c
	}
	res := &idleResult{Conns: h.opt.IdleConns, RSSBeforeKiB: before}
	start := time.Now()
	conns, err := openIdle(ctx, srv.addr, sc.Path, h.opt.IdleConns, tlsCfg, res)
	defer closeAll(conns)
	res.ConnectSeconds = time.Since(start).Seconds()
	if err == nil {
		err = sleep(ctx, idleSettle)
	}
	if err != nil {
		c.Error = err.Error()
		return c
	}
	if res.RSSAfterKiB, err = rssKiB(srv.pid); err != nil {
		c.Error = "rss: " + err.Error()
		return c
	}
	res.Alive = countAlive(conns)
	c.Idle = res
	if res.Opened == 0 {
		c.Error = "no connection answered: " + res.FirstError
		return c
	}
	res.KiBPerConn = float64(res.RSSAfterKiB-res.RSSBeforeKiB) / float64(res.Opened)
	return c
}

// openIdle opens n connections to addr from several 127.0.0.x source
// addresses (so that no one address runs out of ephemeral ports), with
// TLS when tlsCfg is not nil, sends GET path on each and reads the
// answer. It returns the connections that answered; failures are counted
// in res.
func openIdle(ctx context.Context, addr, path string, n int, tlsCfg *tls.Config, res *idleResult) ([]net.Conn, error) {
	res.Sources = min(250, max(4, n/portsPerSource+1))
	req := []byte("GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\n\r\n")
	conns := make([]net.Conn, n)
	next := make(chan int)
	var (
		mu       sync.Mutex
		firstErr error
		failed   int
	)
	var wg sync.WaitGroup
	for range idleDialers {
		wg.Go(func() {
			for i := range next {
				c, err := dialOne(ctx, addr, net.IPv4(127, 0, 0, byte(1+i%res.Sources)), tlsCfg, req)
				if err != nil {
					mu.Lock()
					failed++
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				conns[i] = c
			}
		})
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	open := conns[:0]
	for _, c := range conns {
		if c != nil {
			open = append(open, c)
		}
	}
	res.Opened = len(open)
	if firstErr != nil {
		res.FirstError = fmt.Sprintf("%d failed, first: %v", failed, firstErr)
	}
	return open, ctx.Err()
}

// dialOne connects from src, completes a TLS handshake when tlsCfg is not
// nil, sends req and reads one response.
func dialOne(ctx context.Context, addr string, src net.IP, tlsCfg *tls.Config, req []byte) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: 5 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if tlsCfg != nil {
		tc := tls.Client(c, tlsCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		c = tc
	}
	if _, err := c.Write(req); err != nil {
		c.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(c, 512), nil)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("status %s", resp.Status)
		}
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

// countAlive counts the connections the server has not closed: a
// non-blocking peek at the socket finds no EOF and no error.
func countAlive(conns []net.Conn) int {
	alive := 0
	buf := make([]byte, 1)
	for _, c := range conns {
		if tc, ok := c.(*tls.Conn); ok {
			c = tc.NetConn()
		}
		sc, ok := c.(syscall.Conn)
		if !ok {
			continue
		}
		rc, err := sc.SyscallConn()
		if err != nil {
			continue
		}
		var n int
		var rerr error
		err = rc.Read(func(fd uintptr) bool {
			n, _, rerr = syscall.Recvfrom(int(fd), buf, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			return true // never wait
		})
		if err == nil && (n > 0 || errors.Is(rerr, syscall.EAGAIN)) {
			alive++
		}
	}
	return alive
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		c.Close()
	}
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
