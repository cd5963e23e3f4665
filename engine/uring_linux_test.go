//go:build linux

package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// requireUring skips the test, with the reason, where io_uring cannot be
// used, and checks for leaked goroutines at the end.
func requireUring(t testing.TB) {
	t.Helper()
	if err := CheckUring(); err != nil {
		t.Skip(err)
	}
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

// echoEngine starts a Uring engine whose connections echo what they
// receive; a connection whose input holds "close\n" is closed by the
// server (Close, with the receive armed) after the echo.
func echoEngine(t testing.TB, cfg Config) (*uengine, *atomic.Int64) {
	t.Helper()
	var closed atomic.Int64
	cfg.Model = Uring
	if cfg.Loops == 0 {
		cfg.Loops = 2
	}
	cfg.Callbacks = Callbacks{
		OnOpen: func(Conn) {},
		OnData: func(c Conn, in []byte) int {
			c.Write(in)
			if bytes.HasSuffix(in, []byte("close\n")) {
				c.Close()
			}
			return len(in)
		},
		OnClose: func(Conn, error) { closed.Add(1) },
	}
	return startEngine(t, cfg).(*uengine), &closed
}

// pattern returns n bytes that differ from connection to connection.
func pattern(n int, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(seed*31 + i*7 + i/251)
	}
	return b
}

// echoOnce dials addr, writes msg from a second goroutine while reading
// the echo, checks it and closes (with an RST, so that thousands of
// connections leave no TIME_WAIT behind).
func echoOnce(addr string, msg []byte) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	werr := make(chan error, 1)
	go func() { _, err := c.Write(msg); werr <- err }()
	got := make([]byte, len(msg))
	_, rerr := io.ReadFull(c, got)
	if err := <-werr; err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if rerr != nil {
		return fmt.Errorf("read %d bytes: %w", len(msg), rerr)
	}
	if !bytes.Equal(got, msg) {
		i := 0
		for i < len(got) && got[i] == msg[i] {
			i++
		}
		return fmt.Errorf("echo differs from what was sent at byte %d of %d", i, len(msg))
	}
	return c.(*net.TCPConn).SetLinger(0)
}

func countFds(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents) - 1 // ReadDir's own
}

// warmUpNet opens the net package's poller descriptors before a count.
func warmUpNet(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	a, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	c.Close()
}

// waitFor polls cond until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// checkClean fails unless every loop holds no connection, no slot and no
// receive buffer, and the kernel sees every buffer back in the ring.
func checkClean(t *testing.T, e *uengine, cfg Config) []loopReport {
	t.Helper()
	var reports []loopReport
	ok := waitFor(5*time.Second, func() bool {
		reports = e.inspect()
		for _, r := range reports {
			if r.Live != 0 || r.Open != 0 || r.Outstanding != 0 || r.ZCInFlight != 0 {
				return false
			}
		}
		return true
	})
	if !ok {
		t.Errorf("loops not clean: %+v", reports)
	}
	for i, r := range reports {
		if r.InRing != cfg.RecvBuffers || uringFeatures.BufRingStatus && r.Available != cfg.RecvBuffers {
			t.Errorf("loop %d: %d buffers in the ring, kernel sees %d, want %d", i, r.InRing, r.Available, cfg.RecvBuffers)
		}
	}
	return reports
}

// TestUringManyConnections opens and closes 10,000 connections, a third
// of them closed by the server with their receive still armed, and
// checks that no receive buffer, slot or file descriptor is left.
func TestUringManyConnections(t *testing.T) {
	requireUring(t)
	const (
		total   = 10000
		dialers = 4 // concurrent clients: enough to overlap, modest on 2 cores
	)
	warmUpNet(t)
	before := countFds(t)
	cfg := Config{RecvBuffers: 64}
	e, closed := echoEngine(t, cfg)
	cfg = e.cfg
	addr := e.Addr().String()
	var wg sync.WaitGroup
	errs := make(chan error, dialers)
	for i := range dialers {
		wg.Go(func() {
			for j := range total / dialers {
				msg := []byte("conn " + strconv.Itoa(i) + "/" + strconv.Itoa(j) + "\n")
				if j%3 == 0 {
					msg = append(msg, "close\n"...)
				}
				if err := echoOnce(addr, msg); err != nil {
					errs <- fmt.Errorf("client %d conn %d: %w", i, j, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Open drops just before OnClose runs: wait for both.
	if !waitFor(10*time.Second, func() bool { return e.Stats().Open == 0 && closed.Load() == total }) {
		t.Fatalf("connections still open: %+v, OnClose %d", e.Stats(), closed.Load())
	}
	if st := e.Stats(); st.Accepted != total || closed.Load() != total {
		t.Fatalf("stats %+v, OnClose %d, want %d each", st, closed.Load(), total)
	}
	checkClean(t, e, cfg)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if !waitFor(2*time.Second, func() bool { return countFds(t) == before }) {
		t.Errorf("fds: %d before, %d after", before, countFds(t))
	}
}

// TestUringBufferRingExhaustion gives each loop 4 receive buffers of 256
// bytes and has 50 connections send 64 KiB each at once: the ring runs
// dry again and again (receives end with -ENOBUFS and are re-armed), and
// every byte must still come back, in order.
func TestUringBufferRingExhaustion(t *testing.T) {
	requireUring(t)
	const conns, size = 50, 64 << 10
	cfg := Config{RecvBuffers: 4, RecvBufferSize: 256}
	e, _ := echoEngine(t, cfg)
	cfg = e.cfg
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := range conns {
		wg.Go(func() {
			if err := echoOnce(e.Addr().String(), pattern(size, i)); err != nil {
				errs <- fmt.Errorf("conn %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if !waitFor(5*time.Second, func() bool { return e.Stats().Open == 0 }) {
		t.Fatalf("connections still open: %+v", e.Stats())
	}
	enobufs := 0
	for _, r := range checkClean(t, e, cfg) {
		enobufs += r.ENOBUFS
	}
	if enobufs == 0 {
		t.Fatal("the buffer ring never ran dry: the test did not test exhaustion")
	}
	t.Logf("receives ended by -ENOBUFS and re-armed: %d", enobufs)
}

// TestUringCQOverflow shrinks the rings (8 SQEs, 16 CQEs) and has 64
// connections send 16 KiB at once: completions overflow the CQ ring
// (the kernel queues them and ends multishot receives, which the loop
// re-arms) and every byte must still come back.
func TestUringCQOverflow(t *testing.T) {
	requireUring(t)
	const conns, size = 64, 16 << 10
	cfg := Config{ringEntries: 8, cqEntries: 16}
	e, _ := echoEngine(t, cfg)
	cfg = e.cfg
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := range conns {
		wg.Go(func() {
			if err := echoOnce(e.Addr().String(), pattern(size, i)); err != nil {
				errs <- fmt.Errorf("conn %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if !waitFor(5*time.Second, func() bool { return e.Stats().Open == 0 }) {
		t.Fatalf("connections still open: %+v", e.Stats())
	}
	overflows, early := 0, 0
	for _, r := range checkClean(t, e, cfg) {
		overflows += r.Overflows
		early += r.EarlyEnds
	}
	if overflows == 0 {
		t.Fatal("the CQ ring never overflowed: the test did not test overflow")
	}
	t.Logf("overflows seen %d, multishot receives ended early and re-armed %d", overflows, early)
}

// TestUringZeroCopy sends every response of 1 KiB or more with SEND_ZC
// and checks the bytes and that every buffer waited for its notification.
func TestUringZeroCopy(t *testing.T) {
	requireUring(t)
	cfg := Config{ZeroCopyThreshold: 1 << 10}
	e, _ := echoEngine(t, cfg)
	cfg = e.cfg
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			if err := echoOnce(e.Addr().String(), pattern(256<<10, i)); err != nil {
				errs <- fmt.Errorf("conn %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if !waitFor(5*time.Second, func() bool { return e.Stats().Open == 0 }) {
		t.Fatalf("connections still open: %+v", e.Stats())
	}
	checkClean(t, e, cfg)
}

// TestUringCloseCancels closes connections whose operations are in
// flight: a send stuck on a peer that does not read (the socket buffer is
// full), a large AsyncWritev sent in place, and the armed receive. Close
// must cancel them (their CQEs say -ECANCELED), run the write's done
// with an error, free the slot and close the descriptor.
func TestUringCloseCancels(t *testing.T) {
	requireUring(t)
	for _, how := range []string{"Close", "AsyncClose", "engine Close"} {
		t.Run(how, func(t *testing.T) {
			warmUpNet(t)
			before := countFds(t)
			var opened = make(chan Conn, 1)
			var closeErr = make(chan error, 1)
			big := make([]byte, 32<<20)
			cfg := Config{Model: Uring, Loops: 2, SocketWriteBuffer: 64 << 10, Tick: 20 * time.Millisecond}
			cfg.Callbacks = Callbacks{
				OnOpen: func(c Conn) {
					c.Write(big[:8<<20]) // a loop write: copied, then stuck in the kernel
					opened <- c
				},
				OnData:  func(c Conn, in []byte) int { return len(in) },
				OnClose: func(c Conn, err error) { closeErr <- err },
			}
			e := startEngine(t, cfg).(*uengine)
			nc, err := net.Dial("tcp", e.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.(*net.TCPConn).SetReadBuffer(64 << 10)
			c := <-opened
			done := make(chan error, 1)
			if err := c.AsyncWritev([][]byte{big}, func(err error) { done <- err }); err != nil {
				t.Fatal(err)
			}
			// Let the sends fill both socket buffers and wait in the kernel.
			time.Sleep(200 * time.Millisecond)
			if p := inspectPending(e, c); p == 0 {
				t.Fatal("nothing pending: the send is not in flight")
			}
			switch how {
			case "Close":
				e.ForEach(func(x Conn) { x.Close() })
			case "AsyncClose":
				c.AsyncClose()
			case "engine Close":
				e.Close()
			}
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("the in-place write reported success though the connection closed first")
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the in-place write's done never ran")
			}
			select {
			case <-closeErr:
			case <-time.After(5 * time.Second):
				t.Fatal("OnClose never ran")
			}
			if how != "engine Close" {
				reports := checkClean(t, e, e.cfg)
				canceled := 0
				for _, r := range reports {
					canceled += r.Canceled
				}
				if canceled < 2 {
					t.Fatalf("%d operations ended -ECANCELED, want the send and the receive", canceled)
				}
			}
			// The peer sees the end: EOF or a reset once it reads on.
			nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, err = io.Copy(io.Discard, nc)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the peer never saw the connection end")
			}
			e.Close()
			nc.Close()
			if !waitFor(2*time.Second, func() bool { return countFds(t) == before }) {
				t.Errorf("fds: %d before, %d after", before, countFds(t))
			}
		})
	}
}

// inspectPending reads c.Pending() on c's loop.
func inspectPending(e *uengine, c Conn) int {
	got := make(chan int, 1)
	if c.AsyncDo(func(bool) { got <- c.Pending() }) != nil {
		return 0
	}
	select {
	case n := <-got:
		return n
	case <-time.After(5 * time.Second):
		return 0
	}
}

// TestUringUnavailableError checks the start-up error: it wraps
// ErrUringUnavailable, says why, and names the model to use instead; and
// where io_uring cannot run, New with the Uring model fails with it.
func TestUringUnavailableError(t *testing.T) {
	cause := errors.New("uring: io_uring_setup: operation not permitted (io_uring disabled by a seccomp filter)")
	err := uringUnavailable(cause)
	if !errors.Is(err, ErrUringUnavailable) {
		t.Errorf("%v does not wrap ErrUringUnavailable", err)
	}
	for _, want := range []string{cause.Error(), "use -model reactor"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	if err := CheckUring(); err == nil {
		return // io_uring is available here: New cannot be made to fail
	}
	cb := Callbacks{OnOpen: func(Conn) {}, OnData: func(Conn, []byte) int { return 0 }, OnClose: func(Conn, error) {}}
	if _, nerr := New(Config{Model: Uring, Callbacks: cb}); nerr == nil || !errors.Is(nerr, ErrUringUnavailable) {
		t.Fatalf("New(Uring) = %v, want an error wrapping ErrUringUnavailable", nerr)
	}
}

// benchResponse measures request/response over one connection: the
// client writes one byte, the server answers size bytes, with Write on
// the loop or, async, with AsyncWritev (the worker pool's path).
func benchResponse(b *testing.B, cfg Config, size int, async bool) {
	requireUring(b)
	resp := pattern(size, 1) // shared and never modified: fit for in-place sends
	cfg.Model, cfg.Loops = Uring, 1
	cfg.Callbacks = Callbacks{
		OnOpen: func(Conn) {},
		OnData: func(c Conn, in []byte) int {
			for range in {
				if async {
					c.AsyncWritev([][]byte{resp}, nil)
				} else {
					c.Write(resp)
				}
			}
			return len(in)
		},
		OnClose: func(Conn, error) {},
	}
	eng := startEngine(b, cfg)
	nc, err := net.Dial("tcp", eng.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	buf := make([]byte, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := nc.Write([]byte{'x'}); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(nc, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUringSend compares IORING_OP_SEND (the kernel copies) with
// IORING_OP_SEND_ZC (pages pinned, a second completion when the kernel
// lets go) for responses written on the loop (Config.ZeroCopyThreshold).
func BenchmarkUringSend(b *testing.B) {
	for _, size := range []int{4 << 10, 64 << 10, 1 << 20} {
		for _, m := range []struct {
			name string
			zc   int
		}{{"send", 0}, {"send_zc", 1}} {
			b.Run(fmt.Sprintf("%s/%dKiB", m.name, size>>10), func(b *testing.B) {
				benchResponse(b, Config{ZeroCopyThreshold: m.zc}, size, false)
			})
		}
	}
}

// BenchmarkUringAsyncWrite compares the two ways AsyncWritev can send a
// caller's buffers: gathered (copied into the connection's queue, done at
// once) or in place (sent from the caller's memory, done at the send's
// completion); directSendMin is chosen from it.
func BenchmarkUringAsyncWrite(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20} {
		for _, m := range []struct {
			name   string
			direct int
		}{{"gather", 1 << 40}, {"inplace", -1}} {
			b.Run(fmt.Sprintf("%s/%dKiB", m.name, size>>10), func(b *testing.B) {
				benchResponse(b, Config{directSendMin: m.direct}, size, true)
			})
		}
	}
}
