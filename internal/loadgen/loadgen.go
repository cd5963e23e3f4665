// Package loadgen holds the client side of sluice's own attack and flood
// tools, shared by the root package's limit tests and cmd/stress: many
// connections from many loopback source addresses, opened in parallel,
// and an allocation-free reader of the servers' responses. Linux only
// (IP_BIND_ADDRESS_NO_PORT). Every function is safe for concurrent use.
package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// RaiseFiles raises this process's open-file limit to at least n (and the
// hard limit with it, where allowed) and returns the limit it replaced,
// for the caller to restore.
func RaiseFiles(n uint64) (old syscall.Rlimit, err error) {
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		return old, err
	}
	if old.Cur >= n {
		return old, nil
	}
	lim := syscall.Rlimit{Cur: n, Max: max(old.Max, n)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return old, fmt.Errorf("open-file limit %d, need %d: %w", old.Cur, n, err)
	}
	return old, nil
}

// sourceSeq numbers the loopback source addresses SourceDialers hands
// out, so no two floods of one process share one.
var sourceSeq atomic.Uint32

// SourceDialers returns k dialers with the given connect timeout, each
// bound to its own loopback source address (127.1.x.y) with the port
// chosen at connect time (IP_BIND_ADDRESS_NO_PORT): a flood is then not
// capped by one address's 28,000 ephemeral ports, nor slowed by the
// TIME_WAIT an earlier one left.
func SourceDialers(k int, timeout time.Duration) []*net.Dialer {
	ds := make([]*net.Dialer, k)
	for i := range ds {
		n := sourceSeq.Add(1)
		ds[i] = &net.Dialer{
			Timeout:   timeout,
			LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 1, byte(n>>8), byte(n))},
			Control: func(_, _ string, rc syscall.RawConn) error {
				var serr error
				err := rc.Control(func(fd uintptr) {
					serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
				})
				return errors.Join(err, serr)
			},
		}
	}
	return ds
}

// DialMany opens n TCP connections to addr, par at a time, through the
// dialers in turn, and returns them with the time each opened. On an
// error, or when ctx ends, it closes what it opened.
func DialMany(ctx context.Context, addr string, n, par int, ds []*net.Dialer) ([]net.Conn, []time.Time, error) {
	conns := make([]net.Conn, n)
	opened := make([]time.Time, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, par)
	for w := 0; w < par; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				c, err := ds[i%len(ds)].Dial("tcp", addr)
				if err != nil {
					errs <- fmt.Errorf("dial %d: %w", i, err)
					return
				}
				conns[i], opened[i] = c, time.Now()
			}
		}()
	}
	wg.Wait()
	close(errs)
	err := <-errs
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
		return nil, nil, err
	}
	return conns, opened, nil
}

// ReadResponse reads one HTTP/1.x response with a Content-Length body into
// body, without allocating, and returns its status, the value of its
// header field (ASCII case-insensitive; -1 when absent or not a decimal
// number; pass "" for none) and the body's length.
func ReadResponse(r *bufio.Reader, body []byte, field string) (status, value, n int, err error) {
	value = -1
	line, err := r.ReadSlice('\n')
	if err != nil {
		return 0, value, 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, value, 0, fmt.Errorf("status line %q", line)
	}
	status = Atoi(line[9:12])
	cl := -1
	for {
		line, err = r.ReadSlice('\n')
		if err != nil {
			return status, value, 0, err
		}
		if len(line) <= 2 {
			break
		}
		k, v, _ := bytes.Cut(line, []byte(":"))
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			cl = Atoi(v)
		case field != "" && bytes.EqualFold(k, []byte(field)):
			value = Atoi(v)
		}
	}
	if cl < 0 || cl > len(body) {
		return status, value, 0, fmt.Errorf("Content-Length %d", cl)
	}
	_, err = io.ReadFull(r, body[:cl])
	return status, value, cl, err
}

// Atoi parses a non-negative decimal number (0 for no digits); -1 if b
// holds anything but digits.
func Atoi(b []byte) int {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}
