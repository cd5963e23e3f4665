//go:build linux

package uring

import (
	"errors"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestProbe(t *testing.T) {
	p := requireURing(t)
	t.Logf("probe:\n%s", p)
	if !p.Supports(OpNop) {
		t.Errorf("NOP unsupported")
	}
	if err := p.CheckServer(); err != nil {
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("CheckServer error %v does not wrap ErrUnsupported", err)
		}
		t.Logf("CheckServer: %v", err)
	}
	if err := CheckServer(); (err == nil) != (p.CheckServer() == nil) {
		t.Errorf("CheckServer() = %v, disagrees with the probe", err)
	}
}

func TestCheckServerNamesMissing(t *testing.T) {
	tests := []struct {
		name    string
		probe   func(p *Probe)
		missing []string
	}{
		{"all present", func(p *Probe) {}, nil},
		{"no multishot recv", func(p *Probe) { p.Features.MultishotRecv = false },
			[]string{"IORING_RECV_MULTISHOT"}},
		{"no send_zc, no buf ring", func(p *Probe) { p.ops[OpSendZC] = false; p.Features.BufRing = false },
			[]string{"IORING_OP_SEND_ZC", "IORING_REGISTER_PBUF_RING"}},
		{"eventfd wakeup suffices", func(p *Probe) { p.Features.SyncMsgRing = false }, nil},
		{"no wakeup path", func(p *Probe) { p.Features.SyncMsgRing = false; p.ops[OpRead] = false },
			[]string{"a wakeup path"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Probe{Kernel: "test", Features: Features{
				MultishotAccept: true, MultishotRecv: true, CancelFdAll: true, BufRing: true, SyncMsgRing: true,
			}}
			for _, o := range []Op{OpAccept, OpRecv, OpSend, OpSendZC, OpTimeout, OpAsyncCancel, OpClose, OpRead} {
				p.ops[o] = true
			}
			tt.probe(p)
			err := p.CheckServer()
			if (err == nil) != (len(tt.missing) == 0) {
				t.Fatalf("CheckServer() = %v, want missing %q", err, tt.missing)
			}
			for _, m := range tt.missing {
				if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not name %q", err, m)
				}
			}
		})
	}
}

func TestSetup(t *testing.T) {
	tests := []struct {
		name          string
		cfg           Config
		wantSQ        uint32
		wantCQ        uint32
		wantCQAtLeast bool
	}{
		{"defaults", Config{}, DefaultEntries, DefaultCQEntries, false},
		{"rounded up", Config{Entries: 5, CQEntries: 9}, 8, 16, false},
		{"cq raised to sq", Config{Entries: 64, CQEntries: 8}, 64, 64, false},
		{"clamped", Config{Entries: 1 << 20, CQEntries: 1 << 20}, maxEntries, 2 * maxEntries, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTestRing(t, tt.cfg)
			s := r.Setup()
			if s.SQEntries != tt.wantSQ || s.CQEntries != tt.wantCQ {
				t.Errorf("SQ %d CQ %d, want %d %d", s.SQEntries, s.CQEntries, tt.wantSQ, tt.wantCQ)
			}
			if s.Flags&SetupSingleIssuer == 0 || s.Flags&SetupDeferTaskrun == 0 {
				t.Logf("kernel refused flags: %q", s.Fallbacks)
			}
		})
	}
}

func TestNopRoundTrip(t *testing.T) {
	r := newTestRing(t, Config{Entries: 8})
	for i := range 5 {
		r.GetSQE().PrepNop(uint64(100 + i))
	}
	if got := r.SQReady(); got != 5 {
		t.Fatalf("SQReady = %d, want 5", got)
	}
	n, err := r.SubmitAndWait(5)
	if err != nil || n != 5 {
		t.Fatalf("SubmitAndWait = %d, %v", n, err)
	}
	cqes := collect(t, r, 5, time.Second)
	for i, c := range cqes {
		if c.UserData != uint64(100+i) || c.Res != 0 {
			t.Errorf("cqe %d = %+v", i, c)
		}
	}
}

func TestSQFull(t *testing.T) {
	r := newTestRing(t, Config{Entries: 4})
	for range 4 {
		if r.GetSQE() == nil {
			t.Fatal("GetSQE nil before the ring is full")
		}
	}
	if r.GetSQE() != nil {
		t.Fatal("GetSQE not nil with a full SQ ring")
	}
	s, err := r.NextSQE() // submits the 4 zeroed SQEs (NOPs)
	if err != nil || s == nil {
		t.Fatalf("NextSQE = %v, %v", s, err)
	}
	s.PrepNop(5)
	collect(t, r, 5, time.Second)
}

// TestWrongThread: with SINGLE_ISSUER the kernel refuses a submission from
// another thread; the error must say what to do.
func TestWrongThread(t *testing.T) {
	r := newTestRing(t, Config{Entries: 4})
	if r.Setup().Flags&SetupSingleIssuer == 0 {
		t.Skip("kernel refused IORING_SETUP_SINGLE_ISSUER")
	}
	r.GetSQE().PrepNop(1)
	done := make(chan error)
	go func() {
		// A goroutine never runs on a thread another goroutine has locked.
		_, err := r.Submit()
		done <- err
	}()
	if err := <-done; !errors.Is(err, ErrWrongThread) {
		t.Fatalf("Submit from another thread: %v, want ErrWrongThread", err)
	}
	collect(t, r, 1, time.Second) // the owner can still submit it
}

// TestCQOverflow submits far more NOPs than the CQ ring holds without
// reaping, then checks every completion is reaped exactly once.
func TestCQOverflow(t *testing.T) {
	tests := []struct {
		name         string
		sq, cq       uint32
		rounds       int
		reapBatch    int
		wantOverflow bool
	}{
		{"8/8 x40", 8, 8, 40, 7, true},
		{"16/32 x10", 16, 32, 10, 64, true},
		{"32/64 x2 fits", 32, 64, 2, 5, false},
		{"4/8 x200 reap 1", 4, 8, 200, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTestRing(t, Config{Entries: tt.sq, CQEntries: tt.cq})
			total := 0
			for range tt.rounds {
				for {
					s := r.GetSQE()
					if s == nil {
						break
					}
					s.PrepNop(uint64(total))
					total++
				}
				if _, err := r.Submit(); err != nil {
					t.Fatalf("Submit after %d NOPs: %v", total, err)
				}
			}
			if got := r.Overflowed(); got != tt.wantOverflow {
				t.Errorf("Overflowed() = %v, want %v (CQ %d, %d completions)", got, tt.wantOverflow, tt.cq, total)
			}
			seen := make([]int, total)
			buf := make([]CQE, tt.reapBatch)
			reaped := 0
			for {
				n, err := r.Reap(buf)
				if err != nil {
					t.Fatalf("Reap: %v", err)
				}
				if n == 0 {
					break
				}
				for _, c := range buf[:n] {
					if c.UserData >= uint64(total) || c.Res != 0 {
						t.Fatalf("bad CQE %+v", c)
					}
					seen[c.UserData]++
				}
				reaped += n
			}
			if reaped != total {
				t.Errorf("reaped %d of %d", reaped, total)
			}
			for ud, n := range seen {
				if n != 1 {
					t.Errorf("user_data %d reaped %d times", ud, n)
				}
			}
			if r.Overflowed() || r.Dropped() != 0 {
				t.Errorf("after reaping: overflowed %v, dropped %d", r.Overflowed(), r.Dropped())
			}
			quiet(t, r, 10*time.Millisecond)
		})
	}
}

func TestTimeout(t *testing.T) {
	p := requireURing(t)
	tests := []struct {
		name      string
		flags     uint32
		need      bool
		ticks     int
		cancel    bool
		wantFinal int32
	}{
		{"single", 0, true, 1, false, -int32(eTIME)},
		{"multishot ticks then cancel", TimeoutMultishot, p.Features.MultishotTimeout, 3, true, -int32(eCANCELED)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.need {
				t.Skip("kernel lacks IORING_TIMEOUT_MULTISHOT (Linux 6.4)")
			}
			r := newTestRing(t, Config{Entries: 4})
			ts := &Timespec{Nsec: int64(2 * time.Millisecond)}
			r.GetSQE().PrepTimeout(ts, 0, tt.flags, 1)
			start := time.Now()
			cqes := collect(t, r, tt.ticks, 2*time.Second)
			if time.Since(start) < time.Duration(tt.ticks)*2*time.Millisecond {
				t.Errorf("%d ticks in %v", tt.ticks, time.Since(start))
			}
			for i, c := range cqes[:tt.ticks] {
				if c.UserData != 1 || c.Res != -int32(eTIME) {
					t.Errorf("tick %d: %+v", i, c)
				}
				if last := !tt.cancel && i == tt.ticks-1; c.More() == last {
					t.Errorf("tick %d: More() = %v", i, c.More())
				}
			}
			if !tt.cancel {
				return
			}
			r.GetSQE().PrepCancel(1, 0, 2)
			// Further ticks may land before the cancel; read to the end.
			for done := false; !done; {
				for _, c := range collect(t, r, 1, time.Second) {
					switch {
					case c.UserData == 1 && !c.More():
						if c.Res != tt.wantFinal {
							t.Errorf("final CQE %+v, want Res %d", c, tt.wantFinal)
						}
						done = true
					case c.UserData == 2 && c.Res != 0:
						t.Errorf("cancel CQE %+v", c)
					}
				}
			}
		})
	}
}

// TestCloseWithArmedOps closes a ring while a recv and an accept are armed:
// the kernel cancels them, and no descriptor is left behind.
func TestCloseWithArmedOps(t *testing.T) {
	requireServer(t)
	before := countFds(t)
	func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		r, err := New(Config{Entries: 8})
		if err != nil {
			t.Fatal(err)
		}
		b, err := r.NewBufRing(3, 4, 128)
		if err != nil {
			t.Fatal(err)
		}
		sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		ln := listenTCP(t)
		if _, err := r.NewWaker(99); err != nil {
			t.Fatal(err)
		}
		r.GetSQE().PrepRecvMultishot(sp[0], b.Group(), 1)
		r.GetSQE().PrepAccept(ln, unix.SOCK_CLOEXEC, true, 2)
		if _, err := r.Submit(); err != nil {
			t.Fatal(err)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Submit(); !errors.Is(err, ErrClosed) {
			t.Errorf("Submit after Close: %v", err)
		}
		if r.GetSQE() != nil {
			t.Errorf("GetSQE after Close not nil")
		}
		for _, fd := range []int{sp[0], sp[1], ln} {
			unix.Close(fd)
		}
	}()
	// The kernel tears a ring down asynchronously; give it a moment.
	deadline := time.Now().Add(2 * time.Second)
	for countFds(t) != before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if after := countFds(t); after != before {
		t.Errorf("fds: %d before, %d after", before, after)
	}
}

// listenTCP returns a listening socket on 127.0.0.1:0 made with plain
// system calls, and closes it at cleanup unless already closed.
func listenTCP(t *testing.T) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 4096); err != nil {
		t.Fatal(err)
	}
	return fd
}

func sockAddr(t *testing.T, fd int) string {
	t.Helper()
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	a := sa.(*unix.SockaddrInet4)
	return "127.0.0.1:" + strconv.Itoa(a.Port)
}

// TestSetupFallback forces the fallback path: DEFER_TASKRUN without
// SINGLE_ISSUER is refused by every kernel (EINVAL), so New must go on to
// the next attempt and record why.
func TestSetupFallback(t *testing.T) {
	requireURing(t)
	saved := setupAttempts
	t.Cleanup(func() { setupAttempts = saved })
	setupAttempts = []struct {
		flags   uint32
		refused string
	}{
		{SetupDeferTaskrun, "refused on purpose"},
		{0, ""},
	}
	r := newTestRing(t, Config{Entries: 4})
	s := r.Setup()
	if len(s.Fallbacks) != 1 || s.Fallbacks[0] != "refused on purpose" {
		t.Errorf("Fallbacks = %q", s.Fallbacks)
	}
	if s.Flags&(SetupDeferTaskrun|SetupSingleIssuer) != 0 {
		t.Errorf("flags %#x still hold the refused ones", s.Flags)
	}
	r.GetSQE().PrepNop(1)
	collect(t, r, 1, time.Second)
}
