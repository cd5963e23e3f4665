package engine

import (
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// TestPauseRead: a paused connection leaves the peer's bytes in the
// kernel (the peer's writes block), and resuming delivers every byte.
func TestPauseRead(t *testing.T) {
	models(t, func(t *testing.T, cfg Config) {
		if (cfg.Model == Reactor || cfg.Model == Single) && epollUnavailable() {
			t.Skip("gnet built with poll_opt: reads cannot be paused")
		}
		var got atomic.Int64
		var maxBuffered atomic.Int64
		resume := make(chan Conn, 1)
		cfg.Tick = 20 * time.Millisecond
		cfg.Callbacks = Callbacks{
			OnOpen: func(c Conn) { c.PauseRead(); resume <- c },
			OnData: func(c Conn, in []byte) int {
				if int64(len(in)) > maxBuffered.Load() {
					maxBuffered.Store(int64(len(in)))
				}
				got.Add(int64(len(in)))
				return len(in)
			},
			OnClose: func(Conn, error) {},
		}
		eng := startEngine(t, cfg)
		nc, err := net.Dial("tcp", eng.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		ec := <-resume
		const total = 64 << 20
		written := make(chan int64, 1)
		go func() {
			n, _ := io.Copy(nc, io.LimitReader(zeroReader{}, total))
			written <- n
		}()
		time.Sleep(300 * time.Millisecond)
		if g := got.Load(); g > 1<<20 {
			t.Fatalf("%d bytes delivered while paused", g)
		}
		select {
		case n := <-written:
			t.Fatalf("the peer wrote all %d bytes while the server was paused", n)
		default:
		}
		eng.ForEach(func(c Conn) {
			if c == ec {
				c.ResumeRead()
			}
		})
		if n := <-written; n != total {
			t.Fatalf("wrote %d", n)
		}
		deadline := time.Now().Add(10 * time.Second)
		for got.Load() < total && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if got.Load() != total {
			t.Fatalf("delivered %d of %d", got.Load(), total)
		}
	})
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
