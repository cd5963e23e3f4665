//go:build linux

package uring

import (
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestCancel covers ending in-flight operations: the connection-close
// sequence, what a bare close does not do, the peer's close, and the
// accept canceled at shutdown.
func TestCancel(t *testing.T) {
	requireServer(t)
	tests := []struct {
		name string
		run  func(t *testing.T, r *Ring, b *BufRing)
	}{
		{"cancel by fd, hardlinked close", testCancelFdThenClose},
		{"hardlinked close runs when nothing to cancel", testHardlinkCloseNothingArmed},
		{"close alone leaves recv armed", testCloseLeavesRecvArmed},
		{"peer close ends recv", testPeerCloseEndsRecv},
		{"accept canceled on shutdown", testAcceptCanceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTestRing(t, Config{Entries: 16})
			b, err := r.NewBufRing(1, 8, 256)
			if err != nil {
				t.Fatal(err)
			}
			tt.run(t, r, b)
			if b.Outstanding() != 0 {
				t.Errorf("%d buffers not recycled", b.Outstanding())
			}
		})
	}
}

func socketpair(t *testing.T) [2]int {
	t.Helper()
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// byUD indexes CQEs by user_data, failing on duplicates.
func byUD(t *testing.T, cqes []CQE) map[uint64]CQE {
	t.Helper()
	m := map[uint64]CQE{}
	for _, c := range cqes {
		if _, dup := m[c.UserData]; dup {
			t.Fatalf("two CQEs for user_data %d: %+v", c.UserData, cqes)
		}
		m[c.UserData] = c
	}
	return m
}

func fdClosed(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == unix.EBADF
}

func testCancelFdThenClose(t *testing.T, r *Ring, b *BufRing) {
	sp := socketpair(t)
	defer unix.Close(sp[1])
	r.GetSQE().PrepRecvMultishot(sp[0], b.Group(), 1)
	quiet(t, r, 10*time.Millisecond) // armed, nothing to read

	c := r.GetSQE()
	c.PrepCancelFd(sp[0], CancelAll, 2)
	c.Flags |= SQEIOHardlink
	r.GetSQE().PrepClose(sp[0], 3)
	got := byUD(t, collect(t, r, 3, time.Second))
	if c := got[1]; !isErr(c.Res, eCANCELED) || c.More() {
		t.Errorf("recv: %+v, want -ECANCELED without F_MORE", c)
	}
	if c := got[2]; c.Res != 1 {
		t.Errorf("cancel: %+v, want Res 1 (one request canceled)", c)
	}
	if c := got[3]; c.Res != 0 {
		t.Errorf("close: %+v", c)
	}
	if !fdClosed(sp[0]) {
		t.Errorf("fd %d still open", sp[0])
	}
}

func testHardlinkCloseNothingArmed(t *testing.T, r *Ring, b *BufRing) {
	sp := socketpair(t)
	defer unix.Close(sp[1])
	c := r.GetSQE()
	c.PrepCancelFd(sp[0], CancelAll, 1)
	c.Flags |= SQEIOHardlink
	r.GetSQE().PrepClose(sp[0], 2)
	got := byUD(t, collect(t, r, 2, time.Second))
	if c := got[1]; c.Res != 0 && !isErr(c.Res, eNOENT) {
		t.Errorf("cancel: %+v, want 0 or -ENOENT", c)
	}
	if c := got[2]; c.Res != 0 {
		t.Errorf("close: %+v (a plain IOSQE_IO_LINK would have canceled it)", c)
	}
	if !fdClosed(sp[0]) {
		t.Errorf("fd %d still open", sp[0])
	}
}

// testCloseLeavesRecvArmed documents why the engine cancels before it
// closes: the request holds its own reference to the socket.
func testCloseLeavesRecvArmed(t *testing.T, r *Ring, b *BufRing) {
	sp := socketpair(t)
	defer unix.Close(sp[1])
	r.GetSQE().PrepRecvMultishot(sp[0], b.Group(), 1)
	r.GetSQE().PrepClose(sp[0], 2)
	if c := collect(t, r, 1, time.Second)[0]; c.UserData != 2 || c.Res != 0 {
		t.Fatalf("close: %+v", c)
	}
	quiet(t, r, 30*time.Millisecond) // the recv is still armed

	r.GetSQE().PrepCancelFd(sp[0], CancelAll, 3) // too late: the fd is gone
	if c := collect(t, r, 1, time.Second)[0]; c.UserData != 3 || !isErr(c.Res, eBADF) {
		t.Fatalf("cancel by closed fd: %+v, want -EBADF", c)
	}
	r.GetSQE().PrepCancel(1, 0, 4) // by user_data still works
	got := byUD(t, collect(t, r, 2, time.Second))
	if c := got[1]; !isErr(c.Res, eCANCELED) || c.More() {
		t.Errorf("recv: %+v", c)
	}
	if c := got[4]; c.Res != 0 {
		t.Errorf("cancel: %+v", c)
	}
}

func testPeerCloseEndsRecv(t *testing.T, r *Ring, b *BufRing) {
	sp := socketpair(t)
	r.GetSQE().PrepRecvMultishot(sp[0], b.Group(), 1)
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Write(sp[1], []byte("bye")); err != nil {
		t.Fatal(err)
	}
	unix.Close(sp[1])
	var data []byte
	for done := false; !done; {
		for _, c := range collect(t, r, 1, time.Second) {
			if d, id, ok := b.Take(c); ok {
				data = append(data, d...)
				b.Recycle(id)
			}
			if !c.More() {
				if c.Res != 0 {
					t.Errorf("final recv CQE %+v, want Res 0 (end of stream)", c)
				}
				done = true
			}
		}
	}
	if string(data) != "bye" {
		t.Errorf("got %q", data)
	}
	r.GetSQE().PrepClose(sp[0], 2)
	collect(t, r, 1, time.Second)
}

func testAcceptCanceled(t *testing.T, r *Ring, b *BufRing) {
	ln := listenTCP(t)
	defer unix.Close(ln)
	r.GetSQE().PrepAccept(ln, unix.SOCK_CLOEXEC, true, 1)
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		c, err := net.Dial("tcp", sockAddr(t, ln))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		a := collect(t, r, 1, time.Second)[0]
		if a.UserData != 1 || a.Res < 0 || !a.More() {
			t.Fatalf("accept: %+v, want an fd with F_MORE", a)
		}
		unix.Close(int(a.Res))
	}
	r.GetSQE().PrepCancel(1, 0, 2)
	got := byUD(t, collect(t, r, 2, time.Second))
	if c := got[1]; !isErr(c.Res, eCANCELED) || c.More() {
		t.Errorf("accept: %+v, want -ECANCELED without F_MORE", c)
	}
	if c := got[2]; c.Res != 0 {
		t.Errorf("cancel: %+v", c)
	}
}
