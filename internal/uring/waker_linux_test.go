//go:build linux

package uring

import (
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"
)

const wakeToken = 1 << 60

// TestWake wakes a loop blocked in SubmitAndWait from another goroutine,
// then has several goroutines post tasks and checks the loop sees each one.
func TestWake(t *testing.T) {
	p := requireServer(t)
	tests := []struct {
		name string
		mode WakeMode
		have bool
	}{
		{"msg_ring", WakeMsgRing, p.Features.SyncMsgRing},
		{"eventfd", WakeEventfd, p.Supports(OpRead)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.have {
				t.Skipf("kernel lacks the %s wake path", tt.mode)
			}
			r := newTestRing(t, Config{Entries: 8})
			w, err := r.newWaker(wakeToken, tt.mode)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.Submit(); err != nil { // the eventfd read
				t.Fatal(err)
			}

			// 1. A blocked loop wakes.
			go func() {
				time.Sleep(20 * time.Millisecond)
				if err := w.Wake(); err != nil {
					t.Error(err)
				}
			}()
			start := time.Now()
			if _, err := r.SubmitAndWaitTimeout(1, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("woke after %v", d)
			}
			c := collect(t, r, 1, time.Second)
			if len(c) != 1 || c[0].UserData != wakeToken {
				t.Fatalf("CQEs %+v, want one wake", c)
			}
			if err := w.Ack(c[0]); err != nil {
				t.Fatal(err)
			}

			// 2. Posters: publish a task, then Wake; the loop Acks, then drains.
			const posters, perPoster = 4, 2000
			var (
				mu    sync.Mutex
				queue []int
				wg    sync.WaitGroup
			)
			for i := range posters {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for j := range perPoster {
						mu.Lock()
						queue = append(queue, i*perPoster+j)
						mu.Unlock()
						if err := w.Wake(); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			seen := make([]bool, posters*perPoster)
			got, wakes := 0, 0
			var cqes [16]CQE
			deadline := time.Now().Add(20 * time.Second)
			for got < len(seen) {
				if time.Now().After(deadline) {
					t.Fatalf("got %d of %d tasks after %d wakes", got, len(seen), wakes)
				}
				if _, err := r.SubmitAndWaitTimeout(1, time.Second); err != nil {
					t.Fatal(err)
				}
				n, err := r.Reap(cqes[:])
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range cqes[:n] {
					if c.UserData != wakeToken {
						t.Fatalf("unexpected CQE %+v", c)
					}
					wakes++
					if err := w.Ack(c); err != nil {
						t.Fatal(err)
					}
					mu.Lock()
					for _, task := range queue {
						if seen[task] {
							t.Fatalf("task %d seen twice", task)
						}
						seen[task] = true
					}
					got += len(queue)
					queue = queue[:0]
					mu.Unlock()
				}
			}
			wg.Wait()
			t.Logf("%d tasks, %d wakes", got, wakes)

			// 3. After Close, Wake fails instead of signaling a stale fd.
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			if err := w.Wake(); !errors.Is(err, ErrClosed) {
				t.Errorf("Wake after Close: %v, want ErrClosed", err)
			}
		})
	}
}

// TestMsgRingBetweenLoops: one loop wakes another with IORING_OP_MSG_RING
// submitted on its own ring.
func TestMsgRingBetweenLoops(t *testing.T) {
	p := requireServer(t)
	if !p.Supports(OpMsgRing) {
		t.Skip("kernel lacks IORING_OP_MSG_RING (Linux 5.18)")
	}
	fdc := make(chan int)
	got := make(chan CQE, 1)
	errc := make(chan error, 1)
	go func() { // the target loop, on its own locked thread
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		r, err := New(Config{Entries: 4})
		if err != nil {
			errc <- err
			close(fdc)
			return
		}
		defer r.Close()
		fdc <- r.Fd()
		if _, err := r.SubmitAndWaitTimeout(1, 10*time.Second); err != nil {
			errc <- err
			return
		}
		var c [1]CQE
		if n, err := r.Reap(c[:]); err != nil || n != 1 {
			errc <- errors.Join(err, errors.New("no CQE"))
			return
		}
		got <- c[0]
	}()
	target, ok := <-fdc
	if !ok {
		t.Fatal(<-errc)
	}
	r := newTestRing(t, Config{Entries: 4})
	r.GetSQE().PrepMsgRing(target, 42, 7, 1)
	if c := collect(t, r, 1, time.Second)[0]; c.UserData != 1 || c.Res != 0 {
		t.Fatalf("sender CQE %+v", c)
	}
	select {
	case c := <-got:
		if c.UserData != 7 || c.Res != 42 {
			t.Errorf("target CQE %+v, want user_data 7 res 42", c)
		}
	case err := <-errc:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("target loop not woken")
	}
}
