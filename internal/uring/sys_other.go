//go:build !linux

package uring

import (
	"syscall"
	"unsafe"
)

// io_uring exists only on Linux. Elsewhere the portable code compiles against
// these stubs and New fails with ErrLinuxOnly, so packages importing uring
// build on every platform and choose another engine at run time.

// Errnos named like sys_linux.go's, with Linux's values; no stub returns
// them except eNOSYS.
const (
	eBADF     = syscall.Errno(9)
	eBADR     = syscall.Errno(53)
	eBUSY     = syscall.Errno(16)
	eCANCELED = syscall.Errno(125)
	eEXIST    = syscall.Errno(17)
	eINTR     = syscall.Errno(4)
	eINVAL    = syscall.Errno(22)
	eNOBUFS   = syscall.Errno(105)
	eNOENT    = syscall.Errno(2)
	eNOSYS    = syscall.Errno(38)
	ePERM     = syscall.Errno(1)
	eTIME     = syscall.Errno(62)
)

func sysSetup(uint32, *params) (int, error) { return -1, ErrLinuxOnly }

func sysEnter(int, uint32, uint32, uint32, unsafe.Pointer, uintptr) (int, error) {
	return 0, ErrLinuxOnly
}

func sysRegister(int, uint32, unsafe.Pointer, uint32) (int, error) { return 0, ErrLinuxOnly }

func mmapRing(int, int64, int) ([]byte, error) { return nil, ErrLinuxOnly }

func mmapAnon(int) ([]byte, error) { return nil, ErrLinuxOnly }

func munmap([]byte) error { return nil }

func closeFd(int) error { return nil }

func newEventfd() (int, error) { return -1, ErrLinuxOnly }

func eventfdSignal(int) error { return ErrLinuxOnly }

func pageSize() int { return 4096 }

// ProbeKernel returns ErrLinuxOnly: io_uring is Linux-only.
func ProbeKernel() (*Probe, error) { return nil, ErrLinuxOnly }
