package uring

import "unsafe"

// Prep functions fill a whole SQE (every field, so an SQE never carries a
// stale value from the previous use of its slot). Flags such as SQEIOLink
// may be added afterwards. userData comes back unchanged in every CQE the
// operation posts; sluice uses it as a 64-bit token naming the operation.
//
// Memory handed to the kernel: a prep function stores the address of a
// buffer or Timespec in the SQE, which the kernel reads or writes later.
// Two rules follow, both the caller's to keep:
//   - The memory must stay reachable from Go until the operation's final CQE
//     (the SQE holds a plain address, which the garbage collector does not
//     see), and must not be modified (send) or read (recv) meanwhile.
//   - The memory must not move. Go's heap never moves objects, but goroutine
//     stacks are copied when they grow; toKernel therefore forces every
//     buffer passed to a prep function onto the heap.

// msgNoSignal is Linux's MSG_NOSIGNAL. Sends always carry it: a peer that
// reset the connection must surface as -EPIPE in the CQE, not as SIGPIPE.
const msgNoSignal = 0x4000

// escapeSink is written only in a branch that never runs (on is never set).
// The compiler cannot prove that, so whatever might be stored here is
// allocated on the heap: see toKernel.
var escapeSink struct {
	on bool
	b  []byte
	ts *Timespec
}

// toKernel returns the address of b's first byte for an SQE, and makes b's
// backing array escape to the heap so that it cannot be a stack buffer,
// which would move if the stack grew while the kernel holds the address.
func toKernel(b []byte) uint64 {
	if escapeSink.on {
		escapeSink.b = b
	}
	if len(b) == 0 {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
}

// PrepNop prepares a no-op, which completes with Res 0.
func (s *SQE) PrepNop(userData uint64) {
	*s = SQE{Opcode: OpNop, UserData: userData}
}

// PrepAccept prepares an accept on the listening socket fd. flags are
// accept4 flags (pass SOCK_CLOEXEC; SOCK_NONBLOCK is not needed by io_uring
// itself). With multishot (Linux 5.19) one SQE accepts until canceled or
// until a CQE arrives without CQEFMore (on any error, e.g. EMFILE, or when
// the CQ ring overflowed); the engine must then re-arm it. Each CQE's Res is
// the new connection's fd or -errno. The peer address is not collected.
func (s *SQE) PrepAccept(fd int, flags int, multishot bool, userData uint64) {
	*s = SQE{Opcode: OpAccept, Fd: int32(fd), OpFlags: uint32(flags), UserData: userData}
	if multishot {
		s.Ioprio = AcceptMultishot
	}
}

// PrepRecvMultishot prepares a multishot receive on fd that takes each
// buffer from the provided buffer ring with group id group (IOSQE_BUFFER_SELECT,
// IORING_RECV_MULTISHOT, Linux 6.0). Each CQE carries Res bytes in the buffer
// named by CQE.BufferID, and CQEFMore while the receive stays armed. The
// receive ends with a CQE without CQEFMore: Res 0 at end of stream, -errno
// on error, -ENOBUFS when the buffer ring was empty (the data is still in
// the socket: return buffers, then re-arm), or a positive Res when the
// kernel stopped it early (e.g. CQ overflow: re-arm).
func (s *SQE) PrepRecvMultishot(fd int, group uint16, userData uint64) {
	*s = SQE{
		Opcode:   OpRecv,
		Flags:    SQEBufferSelect,
		Ioprio:   RecvMultishot,
		Fd:       int32(fd),
		UserData: userData,
		BufIndex: group,
	}
}

// PrepSend prepares a send of buf on fd. MSG_NOSIGNAL is always added to
// msgFlags. Res is the number of bytes sent, which may be short: the caller
// resubmits the rest. buf must stay reachable and unmodified until the CQE.
func (s *SQE) PrepSend(fd int, buf []byte, msgFlags int, userData uint64) {
	*s = SQE{
		Opcode:   OpSend,
		Fd:       int32(fd),
		Addr:     toKernel(buf),
		Len:      uint32(len(buf)),
		OpFlags:  uint32(msgFlags) | msgNoSignal,
		UserData: userData,
	}
}

// PrepSendZC prepares a zero-copy send of buf on fd (Linux 6.0). It posts
// up to two CQEs with userData: the result (Res bytes or -errno) and, if that
// CQE has CQEFMore, a later notification with CQEFNotif once the kernel no
// longer reads buf. Rule: buf may be reused or released only after a CQE for
// this send arrives without CQEFMore. Worth it only for large buffers (the
// notification costs a CQE; below a few KiB a copy is cheaper).
func (s *SQE) PrepSendZC(fd int, buf []byte, msgFlags int, userData uint64) {
	*s = SQE{
		Opcode:   OpSendZC,
		Fd:       int32(fd),
		Addr:     toKernel(buf),
		Len:      uint32(len(buf)),
		OpFlags:  uint32(msgFlags) | msgNoSignal,
		UserData: userData,
	}
}

// PrepTimeout prepares a timeout of ts (relative unless flags has
// TimeoutAbs). It completes with -ETIME when the time passes, with 0 if count
// > 0 other completions happened first, or -ECANCELED. With TimeoutMultishot
// (Linux 6.4) it fires every ts, each CQE with CQEFMore, count times (0:
// until canceled) — one SQE drives a loop's timer wheel. The kernel copies
// *ts during Submit; ts must stay valid until Submit returns.
func (s *SQE) PrepTimeout(ts *Timespec, count uint32, flags uint32, userData uint64) {
	if escapeSink.on {
		escapeSink.ts = ts
	}
	*s = SQE{
		Opcode:   OpTimeout,
		Off:      uint64(count),
		Addr:     uint64(uintptr(unsafe.Pointer(ts))),
		Len:      1,
		OpFlags:  flags,
		UserData: userData,
	}
}

// PrepCancel prepares a cancel of the operation submitted with user_data
// target (add CancelAll to cancel every operation with that user_data). The
// canceled operation completes with -ECANCELED (a multishot one without
// CQEFMore); the cancel's own Res is 0 (or the count with CancelAll),
// -ENOENT if nothing matched, or -EALREADY if it was already running.
func (s *SQE) PrepCancel(target uint64, flags uint32, userData uint64) {
	*s = SQE{Opcode: OpAsyncCancel, Fd: -1, Addr: target, OpFlags: flags, UserData: userData}
}

// PrepCancelFd prepares a cancel of the operations on fd (CancelFd is added;
// add CancelAll for every one, Linux 5.19). fd must still be open: closing a
// socket does not cancel operations on it (they hold their own reference to
// the file), and a closed fd can no longer be matched (-EBADF). To close a
// connection, submit PrepCancelFd(fd, CancelAll) with SQEIOHardlink followed
// by PrepClose(fd): a hard link runs the close even when the cancel found
// nothing (-ENOENT), which a plain SQEIOLink would not.
func (s *SQE) PrepCancelFd(fd int, flags uint32, userData uint64) {
	*s = SQE{Opcode: OpAsyncCancel, Fd: int32(fd), OpFlags: flags | CancelFd, UserData: userData}
}

// PrepClose prepares a close of fd. Res is 0 or -errno.
func (s *SQE) PrepClose(fd int, userData uint64) {
	*s = SQE{Opcode: OpClose, Fd: int32(fd), UserData: userData}
}

// PrepMsgRing prepares a message to another ring (Linux 5.18): the target
// ring gets a CQE with UserData targetUserData and Res res; this ring gets a
// CQE with userData and Res 0 or -errno. Loops use it to wake each other.
func (s *SQE) PrepMsgRing(ringFd int, res int32, targetUserData, userData uint64) {
	*s = SQE{
		Opcode:   OpMsgRing,
		Fd:       int32(ringFd),
		Off:      targetUserData,
		Addr:     msgData,
		Len:      uint32(res),
		UserData: userData,
	}
}

// prepRead prepares a read of len(buf) bytes at offset off (the eventfd
// waker's read). buf must stay reachable until the CQE.
func (s *SQE) prepRead(fd int, buf []byte, off uint64, userData uint64) {
	*s = SQE{
		Opcode:   OpRead,
		Fd:       int32(fd),
		Off:      off,
		Addr:     toKernel(buf),
		Len:      uint32(len(buf)),
		UserData: userData,
	}
}
