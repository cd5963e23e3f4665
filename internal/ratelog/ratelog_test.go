package ratelog

import (
	"sync"
	"testing"
)

func TestLimiter(t *testing.T) {
	sec := int64(100)
	l := New(3)
	l.now = func() int64 { return sec }
	var ok, sup int64
	for range 10 {
		a, s := l.Allow()
		if a {
			ok++
		}
		sup += s
	}
	if ok != 3 || sup != 0 {
		t.Fatalf("first second: %d let through, %d reported, want 3 and 0", ok, sup)
	}
	sec++
	a, s := l.Allow()
	if !a || s != 7 {
		t.Fatalf("next second: allowed %v, suppressed %d, want true and 7", a, s)
	}
	if _, s := l.Allow(); s != 0 {
		t.Fatalf("suppressed reported twice: %d", s)
	}
}

func TestLimiterOff(t *testing.T) {
	l := New(0)
	if a, _ := l.Allow(); a {
		t.Fatal("a zero rate let an event through")
	}
	var nilL *Limiter
	if a, _ := nilL.Allow(); a {
		t.Fatal("a nil limiter let an event through")
	}
}

// TestLimiterConcurrent: under contention exactly max events pass in a
// second, and every other one is reported once.
func TestLimiterConcurrent(t *testing.T) {
	var mu sync.Mutex
	sec := int64(1)
	l := New(50)
	l.now = func() int64 { mu.Lock(); defer mu.Unlock(); return sec }
	var wg sync.WaitGroup
	var passed, reported [8]int64
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				a, s := l.Allow()
				if a {
					passed[g]++
				}
				reported[g] += s
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	sec++
	mu.Unlock()
	_, s := l.Allow()
	var p, r int64
	for g := range 8 {
		p += passed[g]
		r += reported[g]
	}
	if p != 50 || r+s != 8000-50 {
		t.Fatalf("passed %d (want 50), reported %d (want %d)", p, r+s, 8000-50)
	}
}
