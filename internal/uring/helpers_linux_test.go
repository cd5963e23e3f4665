//go:build linux

package uring

import (
	"errors"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var (
	probeOnce   sync.Once
	kernelProbe *Probe
	kernelErr   error
)

// requireURing skips the test, naming the reason, when io_uring cannot be
// used here: ENOSYS (no io_uring), EPERM (seccomp or
// kernel.io_uring_disabled), or an old kernel. The reasons come from New's
// error text.
func requireURing(t *testing.T) *Probe {
	t.Helper()
	probeOnce.Do(func() { kernelProbe, kernelErr = ProbeKernel() })
	if kernelErr != nil {
		t.Skipf("io_uring unavailable: %v", kernelErr)
	}
	return kernelProbe
}

// requireServer skips unless the kernel has everything CheckServer wants,
// naming what is missing.
func requireServer(t *testing.T) *Probe {
	t.Helper()
	p := requireURing(t)
	if err := p.CheckServer(); err != nil {
		t.Skipf("kernel lacks what this test uses: %v", err)
	}
	return p
}

// newTestRing locks the test goroutine to its thread (the ring's rule) and
// returns a ring closed at cleanup.
func newTestRing(t *testing.T, cfg Config) *Ring {
	t.Helper()
	requireURing(t)
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread)
	r, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r
}

// collect submits and waits until want CQEs have been reaped, or fails the
// test after d.
func collect(t *testing.T, r *Ring, want int, d time.Duration) []CQE {
	t.Helper()
	var got []CQE
	var buf [64]CQE
	deadline := time.Now().Add(d)
	for {
		n, err := r.Reap(buf[:])
		if err != nil {
			t.Fatalf("Reap: %v", err)
		}
		got = append(got, buf[:n]...)
		if len(got) >= want {
			return got
		}
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("got %d CQEs, want %d: %+v", len(got), want, got)
		}
		if _, err := r.SubmitAndWaitTimeout(1, min(left, 100*time.Millisecond)); err != nil {
			t.Fatalf("SubmitAndWaitTimeout: %v", err)
		}
	}
}

// quiet asserts that no CQE arrives within d.
func quiet(t *testing.T, r *Ring, d time.Duration) {
	t.Helper()
	if _, err := r.SubmitAndWaitTimeout(1, d); err != nil {
		t.Fatalf("SubmitAndWaitTimeout: %v", err)
	}
	var buf [8]CQE
	n, err := r.Reap(buf[:])
	if err != nil {
		t.Fatalf("Reap: %v", err)
	}
	if n != 0 {
		t.Fatalf("unexpected CQEs: %+v", buf[:n])
	}
}

// countFds counts this process's open file descriptors.
func countFds(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("read /proc/self/fd: %v", err)
	}
	return len(ents) - 1 // ReadDir's own descriptor
}

func errno(res int32) error {
	if res >= 0 {
		return nil
	}
	return CQE{Res: res}.Err()
}

func isErr(res int32, want error) bool { return errors.Is(errno(res), want) }
