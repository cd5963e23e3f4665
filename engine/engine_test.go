package engine

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// lineServer echoes newline-terminated lines upper-cased; "async" lines
// are answered from another goroutine, "bye" closes gracefully, "slow"
// arms a 300 ms timeout that writes "timeout\n" and closes, "stall"
// holds the loop for a second (a callback that should not block, but
// does) and then answers "STALLED\n".
type lineServer struct {
	eng     Engine
	opened  atomic.Int64
	closed  atomic.Int64
	timeout atomic.Int64
}

func startLines(t *testing.T, cfg Config) *lineServer {
	t.Helper()
	s := &lineServer{}
	cfg.Callbacks = Callbacks{
		OnOpen: func(c Conn) { s.opened.Add(1) },
		OnData: func(c Conn, in []byte) int {
			used := 0
			for {
				i := bytes.IndexByte(in[used:], '\n')
				if i < 0 {
					return used
				}
				line := string(in[used : used+i])
				used += i + 1
				switch line {
				case "bye":
					c.Write([]byte("BYE\n"))
					c.CloseGraceful()
					return used
				case "slow":
					c.SetTimeout(300 * time.Millisecond)
				case "stall":
					time.Sleep(time.Second)
					c.Write([]byte("STALLED\n"))
				case "order":
					go func() {
						c.AsyncWritev([][]byte{[]byte("A")}, nil)
						c.AsyncDo(func(closed bool) {
							if !closed {
								c.Write([]byte("B"))
							}
						})
						c.AsyncWritev([][]byte{[]byte("C\n")}, nil)
					}()
				case "async":
					go func() {
						done := make(chan error, 1)
						c.AsyncWritev([][]byte{[]byte("AS"), []byte("YNC\n")}, func(err error) { done <- err })
						<-done
					}()
				default:
					c.Write([]byte(strings.ToUpper(line) + "\n"))
				}
			}
		},
		OnTimeout: func(c Conn) {
			s.timeout.Add(1)
			c.Write([]byte("timeout\n"))
			c.Close()
		},
		OnClose: func(c Conn, err error) { s.closed.Add(1) },
	}
	if cfg.Tick == 0 {
		cfg.Tick = 20 * time.Millisecond
	}
	s.eng = startEngine(t, cfg)
	return s
}

// startEngine starts an engine for cfg on a loopback port; it is closed
// when the test ends.
func startEngine(tb testing.TB, cfg Config) Engine {
	tb.Helper()
	eng, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if err := eng.ListenAndServe("127.0.0.1:0"); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { eng.Close() })
	return eng
}

func dial(t *testing.T, s *lineServer) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", s.eng.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, bufio.NewReader(c)
}

func readLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	l, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v (got %q)", err, l)
	}
	return l
}

func models(t *testing.T, f func(t *testing.T, cfg Config)) {
	for _, cfg := range []struct {
		name string
		cfg  Config
	}{
		{"reactor", Config{Model: Reactor, Loops: 2}},
		{"reactor-reuseport", Config{Model: Reactor, Loops: 2, ReusePort: true}},
		{"single", Config{Model: Single}},
		{"perconn", Config{Model: PerConn}},
		{"uring", Config{Model: Uring, Loops: 2}},
		{"uring-reuseport", Config{Model: Uring, Loops: 2, ReusePort: true}},
	} {
		t.Run(cfg.name, func(t *testing.T) {
			if cfg.cfg.Model == Uring {
				if err := CheckUring(); err != nil {
					t.Skip(err)
				}
			}
			ignore := goleak.IgnoreCurrent()
			// Cleanups run last-in first-out: this one runs after the
			// engine and connections registered by f are closed.
			t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
			f(t, cfg.cfg)
		})
	}
}

func TestPartialReadsAndAsync(t *testing.T) {
	models(t, func(t *testing.T, cfg Config) {
		s := startLines(t, cfg)
		c, r := dial(t, s)
		for _, b := range []byte("hel") {
			c.Write([]byte{b})
			time.Sleep(time.Millisecond)
		}
		c.Write([]byte("lo\nworld\nasync\n"))
		for _, want := range []string{"HELLO\n", "WORLD\n", "ASYNC\n"} {
			if got := readLine(t, r); got != want {
				t.Fatalf("got %q want %q", got, want)
			}
		}
		c.Write([]byte("order\n"))
		for _, want := range []string{"ABC\n"} {
			if got := readLine(t, r); got != want {
				t.Fatalf("got %q want %q", got, want)
			}
		}
		c.Write([]byte("bye\nignored\n"))
		if got := readLine(t, r); got != "BYE\n" {
			t.Fatalf("got %q", got)
		}
		if _, err := r.ReadByte(); err != io.EOF {
			t.Fatalf("want EOF after graceful close, got %v", err)
		}
	})
}

func TestTimeout(t *testing.T) {
	models(t, func(t *testing.T, cfg Config) {
		s := startLines(t, cfg)
		c, r := dial(t, s)
		start := time.Now()
		c.Write([]byte("slow\n"))
		if got := readLine(t, r); got != "timeout\n" {
			t.Fatalf("got %q", got)
		}
		if d := time.Since(start); d < 250*time.Millisecond || d > 2*time.Second {
			t.Fatalf("timeout after %v, want ~300ms", d)
		}
	})
}

// TestTimeoutAfterStall: a deadline armed right after the loop was held
// up (here by a callback that sleeps a second, with Loops 1 so both
// connections share the loop) runs its full length. The loop's own ticks
// were waiting behind the callback; armed from its last tick, the
// deadline would fire at the first of them, at once.
func TestTimeoutAfterStall(t *testing.T) {
	models(t, func(t *testing.T, cfg Config) {
		if cfg.Model == PerConn {
			t.Skip("PerConn: every connection has a goroutine of its own; a stall holds only its own")
		}
		cfg.Loops = 1
		s := startLines(t, cfg)
		a, ra := dial(t, s)
		b, rb := dial(t, s)
		a.Write([]byte("stall\n"))
		time.Sleep(100 * time.Millisecond) // the loop is in the stall
		b.Write([]byte("slow\n"))
		if got := readLine(t, ra); got != "STALLED\n" {
			t.Fatalf("got %q", got)
		}
		end := time.Now() // about when b's line was read and its deadline armed
		if got := readLine(t, rb); got != "timeout\n" {
			t.Fatalf("got %q", got)
		}
		if d := time.Since(end); d < 200*time.Millisecond {
			t.Fatalf("the 300 ms timeout armed after the stall fired %v after it ended", d)
		}
	})
}

func TestMaxConns(t *testing.T) {
	models(t, func(t *testing.T, cfg Config) {
		cfg.MaxConns = 2
		s := startLines(t, cfg)
		var keep []net.Conn
		for i := 0; i < 2; i++ {
			c, r := dial(t, s)
			c.Write([]byte("x\n"))
			readLine(t, r)
			keep = append(keep, c)
		}
		c, r := dial(t, s)
		c.Write([]byte("x\n"))
		if _, err := r.ReadString('\n'); err == nil {
			t.Fatal("third connection served above MaxConns")
		}
		if st := s.eng.Stats(); st.Refused != 1 || st.Open != 2 {
			t.Fatalf("stats %+v", st)
		}
		_ = keep
	})
}

func TestShutdownRefusesNewAndWaits(t *testing.T) {
	models(t, func(t *testing.T, cfg Config) {
		s := startLines(t, cfg)
		c, r := dial(t, s)
		c.Write([]byte("a\n"))
		readLine(t, r)
		var wg sync.WaitGroup
		wg.Add(1)
		var shutErr error
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			shutErr = s.eng.Shutdown(ctx)
		}()
		// New connections are refused once accepting stops.
		deadline := time.Now().Add(2 * time.Second)
		for {
			nc, err := net.DialTimeout("tcp", s.eng.Addr().String(), 200*time.Millisecond)
			if err != nil {
				break
			}
			nc.Close()
			if time.Now().After(deadline) {
				t.Fatal("still accepting after Shutdown")
			}
			time.Sleep(10 * time.Millisecond)
		}
		// The open connection is still served until the layer above closes it.
		c.Write([]byte("b\n"))
		if got := readLine(t, r); got != "B\n" {
			t.Fatalf("got %q", got)
		}
		s.eng.ForEach(func(c Conn) { c.CloseGraceful() })
		wg.Wait()
		if shutErr != nil {
			t.Fatalf("Shutdown: %v", shutErr)
		}
		if s.opened.Load() != s.closed.Load() {
			t.Fatalf("opened %d closed %d", s.opened.Load(), s.closed.Load())
		}
	})
}

func TestBacklogWarning(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	cfg := Config{Model: Single, Backlog: 1 << 30, Logger: slogTo(&logs, &mu)}
	s := startLines(t, cfg)
	_ = s
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "somaxconn") {
		t.Fatalf("no warning logged: %q", logs.String())
	}
}

// TestStoppedEngineForgotten: a stopped Reactor leaves no entry in gnet's
// registry of engines (forgetEngine), which would keep it and everything
// its server held for the life of the process.
func TestStoppedEngineForgotten(t *testing.T) {
	for _, reuse := range []bool{false, true} {
		s := startLines(t, Config{Model: Reactor, Loops: 2, ReusePort: reuse})
		key := s.eng.(*reactor).protoAddr
		// gnet records the engine after OnBoot, which ListenAndServe
		// waits for, so the entry may come a moment later.
		for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
			if _, ok := gnetEngines.Load(key); ok {
				break
			}
		}
		if _, ok := gnetEngines.Load(key); !ok {
			t.Fatalf("reuseport %v: gnet has no entry %s while the engine runs: the registry moved", reuse, key)
		}
		if err := s.eng.Close(); err != nil {
			t.Fatal(err)
		}
		if _, ok := gnetEngines.Load(key); ok {
			t.Fatalf("reuseport %v: %s still in gnet's registry after Close", reuse, key)
		}
	}
}

// TestSent checks Sent on every model: while a peer does not read, what
// the kernel took (Sent) and what waits (Pending) add up to what was
// written, and once the peer has read everything, Sent is all of it,
// bytes written from the loop and from another goroutine alike.
func TestSent(t *testing.T) {
	const big, async = 4 << 20, 1 << 20
	models(t, func(t *testing.T, cfg Config) {
		conns := make(chan Conn, 1)
		cfg.SocketWriteBuffer = 64 << 10
		cfg.Callbacks = Callbacks{
			OnOpen: func(c Conn) { conns <- c },
			OnData: func(c Conn, in []byte) int {
				for _, b := range in {
					switch b {
					case 'w':
						c.Write(make([]byte, big))
					case 'a':
						go c.AsyncWritev([][]byte{make([]byte, async/2), make([]byte, async/2)}, nil)
					}
				}
				return len(in)
			},
			OnClose: func(Conn, error) {},
		}
		eng := startEngine(t, cfg)
		d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10)
			})
			return errors.Join(err, serr)
		}}
		nc, err := d.Dial("tcp", eng.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		c := <-conns
		// inspect reads Sent and Pending on c's loop.
		inspect := func() (sent int64, pending int) {
			got := make(chan struct{})
			if err := c.AsyncDo(func(bool) { sent, pending = c.Sent(), c.Pending(); close(got) }); err != nil {
				t.Fatal(err)
			}
			select {
			case <-got:
			case <-time.After(5 * time.Second):
				t.Fatal("the loop did not run the inspection")
			}
			return sent, pending
		}
		// settled polls until Sent is want and nothing is pending.
		settled := func(want int64) {
			deadline := time.Now().Add(5 * time.Second)
			for {
				sent, pending := inspect()
				if sent == want && pending == 0 {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("Sent %d, Pending %d; want %d sent, none pending", sent, pending, want)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		if _, err := nc.Write([]byte("w")); err != nil {
			t.Fatal(err)
		}
		if cfg.Model != PerConn { // PerConn's Write blocks until the peer reads
			time.Sleep(50 * time.Millisecond)
			sent, pending := inspect()
			if sent <= 0 || sent >= big || sent+int64(pending) != big {
				t.Fatalf("peer not reading: Sent %d + Pending %d, want some of %d sent and the rest pending", sent, pending, big)
			}
		}
		if _, err := io.CopyN(io.Discard, nc, big); err != nil {
			t.Fatal(err)
		}
		settled(big)
		if _, err := nc.Write([]byte("a")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.CopyN(io.Discard, nc, async); err != nil {
			t.Fatal(err)
		}
		settled(big + async)
	})
}
