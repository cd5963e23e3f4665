//go:build linux && !poll_opt

package engine

import (
	"reflect"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// gnet has no call to stop reading a connection: its loops read every
// readable socket into an unbounded buffer. Backpressure needs the kernel
// to keep the bytes (so the TCP window closes), so the engine changes the
// connection's epoll interest itself.
//
// gnet v2.9.7's default poller registers each connection level-triggered
// with {Events: EPOLLIN|EPOLLPRI[|EPOLLOUT], Fd: fd}; its epoll descriptor
// is the unexported field eventloop.poller.fd, read here by reflection
// once per loop. (The poll_opt build of gnet stores a pointer in the
// event instead: pausing is disabled there, see pause_other.go.) When
// gnet flushes queued output it re-arms EPOLLIN itself; the layer above
// pauses again on the next OnData if it is still full, so at most one
// read of input slips through per flush.

// epollFD returns the epoll descriptor of gnet loop gl, or -1.
func epollFD(gl gnet.EventLoop) int {
	v := reflect.ValueOf(gl)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return -1
	}
	p := v.Elem().FieldByName("poller")
	if !p.IsValid() || p.Kind() != reflect.Pointer || p.IsNil() {
		return -1
	}
	fd := p.Elem().FieldByName("fd")
	if !fd.IsValid() || !fd.CanInt() {
		return -1
	}
	return int(fd.Int())
}

// setReadInterest registers fd with epfd for reads (on) or not, keeping
// write interest when output is queued.
func setReadInterest(epfd, fd int, on, wantWrite bool) error {
	var ev uint32
	if on {
		ev |= unix.EPOLLIN | unix.EPOLLPRI
	}
	if wantWrite {
		ev |= unix.EPOLLOUT
	}
	return unix.EpollCtl(epfd, unix.EPOLL_CTL_MOD, fd, &unix.EpollEvent{Fd: int32(fd), Events: ev})
}

func epollUnavailable() bool { return false }
