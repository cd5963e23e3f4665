//go:build linux

package uring

import (
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ProbeKernel reports what this kernel's io_uring supports. It builds a
// small ring as New would (on a thread it locks for the duration), reads the
// opcode table, and tests each Features entry by using it: a buffer ring is
// registered, a multishot accept (on an autobound unix socket), a multishot
// recv (on a socketpair) and a multishot timeout are armed and canceled by
// fd and by user_data, and a message is sent with IORING_REGISTER_SEND_MSG_RING.
// It takes well under a millisecond and leaves nothing behind.
// Safe for concurrent use.
func ProbeKernel() (*Probe, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r, err := New(Config{Entries: 8, CQEntries: 32})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	p := &Probe{Kernel: kernelRelease(), Setup: r.Setup()}
	if err := r.probeOps(p); err != nil {
		return nil, err
	}
	if err := r.probeFeatures(p); err != nil {
		return nil, err
	}
	return p, nil
}

func kernelRelease() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}

// User data of the probe's own operations.
const (
	probeAccept = 1 + iota
	probeRecv
	probeTimeout
	probeMsg
	probeCancelAccept
	probeCancelRecv
	probeCancelTimeout
)

func (r *Ring) probeFeatures(p *Probe) error {
	if b, err := r.NewBufRing(0, 1, 64); err == nil {
		p.Features.BufRing = true
		_, err := b.Available()
		p.Features.BufRingStatus = err == nil
	}

	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(sp[0])
	defer unix.Close(sp[1])
	ln, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(ln)
	// An empty name autobinds an abstract address: no file, no port.
	if err := unix.Bind(ln, &unix.SockaddrUnix{}); err != nil {
		return err
	}
	if err := unix.Listen(ln, 1); err != nil {
		return err
	}

	// armed[ud] is true while the operation may still post CQEs.
	armed := map[uint64]bool{}
	if p.Supports(OpAccept) {
		r.GetSQE().PrepAccept(ln, unix.SOCK_CLOEXEC, true, probeAccept)
		armed[probeAccept] = true
	}
	if p.Supports(OpRecv) && p.Features.BufRing {
		r.GetSQE().PrepRecvMultishot(sp[0], 0, probeRecv)
		armed[probeRecv] = true
	}
	ts := &Timespec{Sec: 3600}
	if p.Supports(OpTimeout) {
		r.GetSQE().PrepTimeout(ts, 0, TimeoutMultishot, probeTimeout)
		armed[probeTimeout] = true
	}
	if _, err := r.Submit(); err != nil {
		return err
	}
	msgSent := false
	if syncMsgRingSupported() {
		var s SQE
		s.PrepMsgRing(r.fd, 0, probeMsg, 0)
		_, err := sysRegister(-1, registerSendMsgRing, unsafe.Pointer(&s), 1)
		msgSent = err == nil
	}

	// Unsupported flags fail at submission (-EINVAL); supported operations
	// stay armed and post nothing. The message arrives at once on a kernel
	// that has the feature; 200ms only bounds a start-up on one that lies.
	var cqes [16]CQE
	einval := map[uint64]bool{}
	deadline := time.Now().Add(200 * time.Millisecond)
	for {
		n, err := r.Reap(cqes[:])
		if err != nil {
			return err
		}
		for _, c := range cqes[:n] {
			if c.UserData == probeMsg {
				p.Features.SyncMsgRing = true
				continue
			}
			if c.Res == -int32(eINVAL) {
				einval[c.UserData] = true
			}
			if !c.More() {
				armed[c.UserData] = false
			}
		}
		if (p.Features.SyncMsgRing || !msgSent) || time.Now().After(deadline) {
			break
		}
		if _, err := r.SubmitAndWaitTimeout(1, 10*time.Millisecond); err != nil {
			return err
		}
	}
	p.Features.MultishotAccept = p.Supports(OpAccept) && !einval[probeAccept]
	p.Features.MultishotRecv = p.Supports(OpRecv) && p.Features.BufRing && !einval[probeRecv]
	p.Features.MultishotTimeout = p.Supports(OpTimeout) && !einval[probeTimeout]

	if !p.Supports(OpAsyncCancel) {
		return nil // Close cancels whatever is armed
	}
	r.GetSQE().PrepCancelFd(ln, CancelAll, probeCancelAccept)
	r.GetSQE().PrepCancelFd(sp[0], CancelAll, probeCancelRecv)
	r.GetSQE().PrepCancel(probeTimeout, 0, probeCancelTimeout)
	if _, err := r.Submit(); err != nil {
		return err
	}
	pending := map[uint64]bool{probeCancelAccept: true, probeCancelRecv: true, probeCancelTimeout: true}
	deadline = time.Now().Add(time.Second) // cancels complete at once; this only bounds a broken kernel
	for {
		n, err := r.Reap(cqes[:])
		if err != nil {
			return err
		}
		for _, c := range cqes[:n] {
			switch c.UserData {
			case probeCancelRecv:
				// -EINVAL: the FD|ALL flags are unknown. Anything else
				// (a count, or -ENOENT if nothing was armed) means known.
				p.Features.CancelFdAll = c.Res != -int32(eINVAL)
			}
			delete(pending, c.UserData)
			if !c.More() {
				armed[c.UserData] = false
			}
		}
		if len(pending) == 0 && !armed[probeAccept] && !armed[probeRecv] && !armed[probeTimeout] {
			break
		}
		if time.Now().After(deadline) {
			break // Close cancels the rest
		}
		if _, err := r.SubmitAndWaitTimeout(1, 10*time.Millisecond); err != nil {
			return err
		}
	}
	runtime.KeepAlive(ts)
	return nil
}
