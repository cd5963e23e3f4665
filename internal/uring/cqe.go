package uring

import "syscall"

// More reports whether the operation that posted c will post more CQEs
// (IORING_CQE_F_MORE). A multishot operation is over, and must be re-armed
// if still wanted, at the first CQE without it; a SEND_ZC buffer is free at
// the first CQE without it.
func (c CQE) More() bool { return c.Flags&CQEFMore != 0 }

// HasBuffer reports whether c consumed a provided buffer (IORING_CQE_F_BUFFER).
// Such a buffer belongs to the application until it is recycled.
func (c CQE) HasBuffer() bool { return c.Flags&CQEFBuffer != 0 }

// BufferID returns the provided buffer id in c's flags; meaningful only if
// HasBuffer.
func (c CQE) BufferID() uint16 { return uint16(c.Flags >> CQEBufferShift) }

// Notif reports whether c is a SEND_ZC notification (IORING_CQE_F_NOTIF):
// the kernel no longer reads the send's buffer. Its Res is not a byte count.
func (c CQE) Notif() bool { return c.Flags&CQEFNotif != 0 }

// SockNonempty reports whether more data was queued on the socket when the
// receive completed (IORING_CQE_F_SOCK_NONEMPTY).
func (c CQE) SockNonempty() bool { return c.Flags&CQEFSockNonempty != 0 }

// Err returns the error in c, a syscall.Errno, or nil if Res >= 0.
func (c CQE) Err() error {
	if c.Res >= 0 {
		return nil
	}
	return syscall.Errno(-c.Res)
}
