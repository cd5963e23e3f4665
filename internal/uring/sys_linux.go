//go:build linux

package uring

import (
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The io_uring system calls. Pointer arguments are converted to uintptr in
// the call expression itself, which keeps the pointee alive and in place for
// the duration of the call (unsafe.Pointer rule 4).

// Errnos the portable code tests for; sys_other.go has the same names.
const (
	eBADF     = unix.EBADF
	eBADR     = unix.EBADR
	eBUSY     = unix.EBUSY
	eCANCELED = unix.ECANCELED
	eEXIST    = unix.EEXIST
	eINTR     = unix.EINTR
	eINVAL    = unix.EINVAL
	eNOBUFS   = unix.ENOBUFS
	eNOENT    = unix.ENOENT
	eNOSYS    = unix.ENOSYS
	ePERM     = unix.EPERM
	eTIME     = unix.ETIME
)

func sysSetup(entries uint32, p *params) (int, error) {
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(p)), 0)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

// sysEnter may block (waiting for completions), so it goes through
// Syscall6, which lets the Go scheduler run other goroutines meanwhile.
func sysEnter(fd int, toSubmit, minComplete, flags uint32, arg unsafe.Pointer, argSize uintptr) (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(fd), uintptr(toSubmit), uintptr(minComplete),
		uintptr(flags), uintptr(arg), argSize)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// sysRegister calls io_uring_register; fd -1 is a "blind" opcode that needs
// no ring (IORING_REGISTER_SEND_MSG_RING).
func sysRegister(fd int, opcode uint32, arg unsafe.Pointer, nrArgs uint32) (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(fd), uintptr(opcode), uintptr(arg),
		uintptr(nrArgs), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// mmapRing maps one of the ring's shared regions. MAP_POPULATE faults the
// pages in now rather than on the loop's first submissions.
func mmapRing(fd int, offset int64, size int) ([]byte, error) {
	return unix.Mmap(fd, offset, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
}

// mmapAnon maps private anonymous memory outside the Go heap.
func mmapAnon(size int) ([]byte, error) {
	return unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
}

func munmap(b []byte) error { return unix.Munmap(b) }

func closeFd(fd int) error { return unix.Close(fd) }

func newEventfd() (int, error) {
	return unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
}

// eventfdSignal adds 1 to the eventfd's counter. EAGAIN means the counter is
// at its maximum, so a reader will wake anyway.
func eventfdSignal(fd int) error {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	_, err := unix.Write(fd, one[:])
	if err == unix.EAGAIN {
		return nil
	}
	return err
}

func pageSize() int { return unix.Getpagesize() }
