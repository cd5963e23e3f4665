package uring

import "strconv"

// This file mirrors the kernel ABI of include/uapi/linux/io_uring.h: the
// submission and completion entries and the constants sluice uses. The
// layouts are checked field by field in abi_test.go.

// SQE is a submission queue entry (struct io_uring_sqe, 64 bytes). Unions in
// the kernel struct are collapsed into one field named after the member
// sluice uses; the comment lists the others.
//
// Loop-only: an SQE returned by Ring.GetSQE lives in memory shared with the
// kernel and must be filled, with one of the Prep methods, before the next
// Submit on the ring's goroutine.
type SQE struct {
	Opcode      Op     // IORING_OP_*
	Flags       uint8  // IOSQE_*
	Ioprio      uint16 // ioprio; per-op flags for accept/recv/send (IORING_ACCEPT_MULTISHOT, IORING_RECV_MULTISHOT)
	Fd          int32  // file descriptor the operation works on
	Off         uint64 // off | addr2 | cmd_op; timeout count, msg_ring target user_data
	Addr        uint64 // addr | splice_off_in; buffer, timespec, cancel key
	Len         uint32 // buffer length, timespec count, msg_ring res
	OpFlags     uint32 // rw_flags | msg_flags | timeout_flags | accept_flags | cancel_flags | msg_ring_flags ...
	UserData    uint64 // returned unchanged in the CQE
	BufIndex    uint16 // buf_index | buf_group (provided buffer group id with IOSQE_BUFFER_SELECT)
	Personality uint16
	FileIndex   int32  // splice_fd_in | file_index | addr_len
	Addr3       uint64 // addr3
	_           uint64 // __pad2
}

// CQE is a completion queue entry (struct io_uring_cqe, 16 bytes; the
// 32-byte IORING_SETUP_CQE32 form is not used). Reap copies CQEs out of the
// shared ring, so a CQE is a plain value: safe for concurrent use.
type CQE struct {
	UserData uint64 // the SQE's UserData
	Res      int32  // result: >= 0 on success, -errno on failure
	Flags    uint32 // IORING_CQE_F_*; the upper 16 bits carry a provided buffer id
}

// Op is an io_uring opcode (enum io_uring_op). Safe for concurrent use.
type Op uint8

// Opcodes, in kernel order. Only those sluice prepares or reports are named
// with a prep function; the rest exist so a probe can be printed.
const (
	OpNop Op = iota
	OpReadv
	OpWritev
	OpFsync
	OpReadFixed
	OpWriteFixed
	OpPollAdd
	OpPollRemove
	OpSyncFileRange
	OpSendmsg
	OpRecvmsg
	OpTimeout
	OpTimeoutRemove
	OpAccept
	OpAsyncCancel
	OpLinkTimeout
	OpConnect
	OpFallocate
	OpOpenat
	OpClose
	OpFilesUpdate
	OpStatx
	OpRead
	OpWrite
	OpFadvise
	OpMadvise
	OpSend
	OpRecv
	OpOpenat2
	OpEpollCtl
	OpSplice
	OpProvideBuffers
	OpRemoveBuffers
	OpTee
	OpShutdown
	OpRenameat
	OpUnlinkat
	OpMkdirat
	OpSymlinkat
	OpLinkat
	OpMsgRing
	OpFsetxattr
	OpSetxattr
	OpFgetxattr
	OpGetxattr
	OpSocket
	OpUringCmd
	OpSendZC
	OpSendmsgZC
	OpReadMultishot
	OpWaitid
	OpFutexWait
	OpFutexWake
	OpFutexWaitv
	OpFixedFdInstall
	OpFtruncate
	OpBind
	OpListen
	OpRecvZC
	OpEpollWait
	OpReadvFixed
	OpWritevFixed
	OpPipe
)

var opNames = [...]string{
	"NOP", "READV", "WRITEV", "FSYNC", "READ_FIXED", "WRITE_FIXED",
	"POLL_ADD", "POLL_REMOVE", "SYNC_FILE_RANGE", "SENDMSG", "RECVMSG",
	"TIMEOUT", "TIMEOUT_REMOVE", "ACCEPT", "ASYNC_CANCEL", "LINK_TIMEOUT",
	"CONNECT", "FALLOCATE", "OPENAT", "CLOSE", "FILES_UPDATE", "STATX",
	"READ", "WRITE", "FADVISE", "MADVISE", "SEND", "RECV", "OPENAT2",
	"EPOLL_CTL", "SPLICE", "PROVIDE_BUFFERS", "REMOVE_BUFFERS", "TEE",
	"SHUTDOWN", "RENAMEAT", "UNLINKAT", "MKDIRAT", "SYMLINKAT", "LINKAT",
	"MSG_RING", "FSETXATTR", "SETXATTR", "FGETXATTR", "GETXATTR", "SOCKET",
	"URING_CMD", "SEND_ZC", "SENDMSG_ZC", "READ_MULTISHOT", "WAITID",
	"FUTEX_WAIT", "FUTEX_WAKE", "FUTEX_WAITV", "FIXED_FD_INSTALL",
	"FTRUNCATE", "BIND", "LISTEN", "RECV_ZC", "EPOLL_WAIT", "READV_FIXED",
	"WRITEV_FIXED", "PIPE",
}

// String returns the kernel's name for op without the IORING_OP_ prefix, or
// OP_<n> for opcodes newer than this table.
func (op Op) String() string {
	if int(op) < len(opNames) {
		return opNames[op]
	}
	return "OP_" + strconv.Itoa(int(op))
}

// SQE flags (sqe->flags).
const (
	SQEFixedFile      = 1 << 0 // IOSQE_FIXED_FILE
	SQEIODrain        = 1 << 1 // IOSQE_IO_DRAIN
	SQEIOLink         = 1 << 2 // IOSQE_IO_LINK: next SQE starts after this one succeeds
	SQEIOHardlink     = 1 << 3 // IOSQE_IO_HARDLINK: next SQE starts after this one, even if it failed
	SQEAsync          = 1 << 4 // IOSQE_ASYNC
	SQEBufferSelect   = 1 << 5 // IOSQE_BUFFER_SELECT: take the buffer from group BufIndex
	SQECQESkipSuccess = 1 << 6 // IOSQE_CQE_SKIP_SUCCESS
)

// CQE flags (cqe->flags).
const (
	CQEFBuffer       = 1 << 0 // IORING_CQE_F_BUFFER: upper 16 bits are a provided buffer id
	CQEFMore         = 1 << 1 // IORING_CQE_F_MORE: the SQE will post more CQEs
	CQEFSockNonempty = 1 << 2 // IORING_CQE_F_SOCK_NONEMPTY: more data is queued on the socket
	CQEFNotif        = 1 << 3 // IORING_CQE_F_NOTIF: SEND_ZC notification, the buffer is free
	CQEBufferShift   = 16     // IORING_CQE_BUFFER_SHIFT
)

// Per-opcode flags carried in SQE.Ioprio.
const (
	AcceptMultishot = 1 << 0 // IORING_ACCEPT_MULTISHOT (Linux 5.19)
	RecvMultishot   = 1 << 1 // IORING_RECV_MULTISHOT (Linux 6.0)
)

// Timeout flags (SQE.OpFlags for OpTimeout).
const (
	TimeoutAbs       = 1 << 0 // IORING_TIMEOUT_ABS: ts is a CLOCK_MONOTONIC time, not a duration
	TimeoutMultishot = 1 << 6 // IORING_TIMEOUT_MULTISHOT (Linux 6.4): fire every period
)

// Cancel flags (SQE.OpFlags for OpAsyncCancel).
const (
	CancelAll = 1 << 0 // IORING_ASYNC_CANCEL_ALL: every match, not just the first
	CancelFd  = 1 << 1 // IORING_ASYNC_CANCEL_FD: match on Fd, not user_data
	CancelAny = 1 << 2 // IORING_ASYNC_CANCEL_ANY: match every request (shutdown)
)

// msgData is IORING_MSG_DATA, the MSG_RING command (in SQE.Addr) that posts
// a CQE with the given user_data and res to the target ring.
const msgData = 0

// Timespec is struct __kernel_timespec, the argument of OpTimeout. The
// kernel reads it during Submit; see PrepTimeout.
type Timespec struct {
	Sec  int64
	Nsec int64
}
