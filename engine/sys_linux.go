package engine

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// somaxconn reads net.core.somaxconn, the kernel's cap on listen backlogs,
// or returns 4096 (the default since Linux 5.4) if it cannot be read.
func somaxconn() int {
	b, err := os.ReadFile("/proc/sys/net/core/somaxconn")
	if err != nil {
		return 4096
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n <= 0 {
		return 4096
	}
	return n
}

// refuseWrite writes msg to a refused connection's fd without waiting:
// what the socket does not take at once is dropped.
func refuseWrite(fd int, msg []byte) {
	if len(msg) > 0 {
		_, _ = unix.SendmsgN(fd, msg, nil, nil, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL)
	}
}

// fdReserve is the descriptors MaxConns's default keeps free for
// listeners, epoll and ring instances, and the application's own files.
const fdReserve = 128

// defaultMaxConns derives MaxConns from the open-file limit: the limit
// minus fdReserve and, for models that accept in bursts (a gnet acceptor
// or a multishot accept hands connections to the loops that refuse them
// later), minus the listen backlog, to leave room for a burst of accepts
// (a margin, not a bound: see Config.MaxConns), since gnet stops the
// whole engine when accept fails with EMFILE. When the backlog would take more than a quarter of a low limit,
// the backlog is lowered to that quarter and returned.
func defaultMaxConns(backlog int, burst bool) (maxConns, newBacklog int) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil || rl.Cur < 256 {
		return 1024, backlog
	}
	limit := int(min(rl.Cur, 1<<30))
	maxConns = limit - fdReserve
	if !burst {
		return maxConns, backlog
	}
	eff := backlog
	if eff == 0 || eff > somaxconn() {
		eff = somaxconn()
	}
	if eff > limit/4 {
		eff = limit / 4
		backlog = eff
	}
	return maxConns - eff, backlog
}

// listenerFDs returns the descriptors of this process's listening TCP
// sockets bound to addr. gnet keeps its listeners to itself; this is how
// the engine finds them to set the backlog or to close them early.
func listenerFDs(addr *net.TCPAddr) ([]int, error) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, err
	}
	var fds []int
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var st unix.Stat_t
		if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
			continue
		}
		if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || v != 1 {
			continue
		}
		sa, err := unix.Getsockname(fd)
		if err != nil {
			continue
		}
		if sameAddr(sa, addr) {
			fds = append(fds, fd)
		}
	}
	return fds, nil
}

func sameAddr(sa unix.Sockaddr, addr *net.TCPAddr) bool {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return sa.Port == addr.Port && net.IP(sa.Addr[:]).Equal(addr.IP)
	case *unix.SockaddrInet6:
		return sa.Port == addr.Port && net.IP(sa.Addr[:]).Equal(addr.IP)
	}
	return false
}

// closeListener closes the listening socket behind fd at once, while the
// descriptor number stays valid for gnet, which closes it at the end:
// another socket is duplicated over it. The kernel then refuses new
// connections to the address (nothing listens) while accepted ones go on.
//
// The stand-in is itself a non-blocking listener on an unused loopback
// port: an epoll event already queued for the old socket may still make
// gnet call accept on the number, and accept must then say EAGAIN (which
// gnet ignores), not EINVAL (which stops its engine).
func closeListener(fd int) error {
	dummy, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(dummy)
	if err := unix.Bind(dummy, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return err
	}
	if err := unix.Listen(dummy, 0); err != nil {
		return err
	}
	return unix.Dup3(dummy, fd, unix.O_CLOEXEC)
}

// localAddr returns the address a socket is bound to.
func localAddr(fd int) (*net.TCPAddr, error) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return nil, err
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: append(net.IP(nil), sa.Addr[:]...), Port: sa.Port}, nil
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: append(net.IP(nil), sa.Addr[:]...), Port: sa.Port}, nil
	}
	return nil, fmt.Errorf("engine: unexpected socket address %T", sa)
}

// shutdownWrite half-closes the write side of a connection (FIN).
func shutdownWrite(fd int) error { return unix.Shutdown(fd, unix.SHUT_WR) }

// freePort asks the kernel for a free TCP port on host. With ReusePort,
// gnet binds one listener per loop: a port of 0 would give each a
// different port, so the engine picks one first.
func freePort(host string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func closeFD(fd int)                 { _ = unix.Close(fd) }
func listenFD(fd, backlog int) error { return unix.Listen(fd, backlog) }

// kernelUnread returns the bytes in a socket's receive queue (FIONREAD).
func kernelUnread(fd int) int {
	n, err := unix.IoctlGetInt(fd, unix.SIOCINQ)
	if err != nil {
		return 0
	}
	return n
}

// rawConn is syscall.RawConn, named here so perconn.go needs no syscall
// import.
type rawConn = syscall.RawConn

// isTemporaryAccept reports accept errors worth retrying: out of file
// descriptors or memory, which pass as connections close.
func isTemporaryAccept(err error) bool {
	return errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE) ||
		errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.ENOMEM)
}

// tcpInfo reads TCP_INFO of a socket.
func tcpInfo(fd int) (*unix.TCPInfo, error) {
	return unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
}

// acceptWait is how long an accepted connection waited since the
// handshake's final ACK (tcpi_last_ack_recv, in milliseconds): its time in
// the accept queue and on the way to the server. ok is false when the
// peer already sent data (the last ACK is then a later one).
func acceptWait(fd int) (d time.Duration, ok bool) {
	ti, err := tcpInfo(fd)
	if err != nil || ti.Last_data_recv != 0 && ti.Last_data_recv < ti.Last_ack_recv {
		return 0, false
	}
	return time.Duration(ti.Last_ack_recv) * time.Millisecond, true
}

// listenQueue reads a listening socket's accept queue: tcpi_unacked is
// the connections waiting for accept(2), tcpi_sacked the queue's limit.
func listenQueue(fd int) (depth, limit int) {
	ti, err := tcpInfo(fd)
	if err != nil {
		return 0, 0
	}
	return int(ti.Unacked), int(ti.Sacked)
}
