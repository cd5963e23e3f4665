//go:build !linux

package engine

import (
	"errors"
	"fmt"
	"runtime"
)

// ErrUringUnavailable is wrapped by CheckUring's error and by New's for
// the Uring model when this kernel or platform cannot run it.
var ErrUringUnavailable = errors.New("engine: the uring model cannot run here")

// CheckUring reports whether the Uring model can run in this process. On
// this platform it cannot: io_uring is Linux's. Safe for concurrent use.
func CheckUring() error {
	return fmt.Errorf("%w: io_uring is Linux-only (GOOS %s); use -model reactor (Model: Reactor) instead", ErrUringUnavailable, runtime.GOOS)
}

func newUring(Config) (Engine, error) { return nil, CheckUring() }
