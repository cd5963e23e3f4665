//go:build linux

package uring

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// echoServer drives a ring by hand the way the engine will: multishot
// accept, multishot recv into a buffer ring, the received buffer sent back
// as is (send or send_zc) and recycled only when the send no longer reads
// it, one send in flight per connection, close once the peer is done and
// every buffer is back. Loop-only: it runs on the test goroutine.
type echoServer struct {
	t  *testing.T
	r  *Ring
	br *BufRing
	ln int
	zc bool

	conns       map[uint64]*echoConn
	nextID      uint64
	acceptArmed bool
	shutdown    bool        // the accept was canceled on purpose
	starved     []*echoConn // recv ended with -ENOBUFS, waiting for buffers
	cqes        [128]CQE

	accepted, closed, enobufs, notifs, rearms int
}

type echoConn struct {
	id        uint64
	fd        int
	recvArmed bool
	eof       bool // the peer closed, or the recv failed
	broken    bool // a send failed
	canceling bool
	closing   bool
	starved   bool
	sendq     []*outBuf          // the head is being sent
	bufs      map[uint16]*outBuf // buffers taken and not yet recycled
}

type outBuf struct {
	bid    uint16
	data   []byte
	off    int
	sent   bool // every byte sent, or given up
	notifs int  // SEND_ZC notifications still due
}

// User data: kind in the top byte, connection id, buffer id in the low 16
// bits.
const (
	kAccept = iota + 1
	kRecv
	kSend
	kClose
	kCancel
)

func tok(kind, conn uint64, bid uint16) uint64 { return kind<<56 | conn<<16 | uint64(bid) }
func tokKind(ud uint64) uint64                 { return ud >> 56 }
func tokConn(ud uint64) uint64                 { return ud >> 16 & (1<<40 - 1) }
func tokBid(ud uint64) uint16                  { return uint16(ud) }

func newEchoServer(t *testing.T, r *Ring, br *BufRing, ln int, zc bool) *echoServer {
	s := &echoServer{t: t, r: r, br: br, ln: ln, zc: zc, conns: map[uint64]*echoConn{}}
	s.armAccept()
	return s
}

func (s *echoServer) sqe() *SQE {
	q, err := s.r.NextSQE()
	if err != nil {
		s.t.Fatalf("NextSQE: %v", err)
	}
	return q
}

func (s *echoServer) armAccept() {
	s.sqe().PrepAccept(s.ln, unix.SOCK_CLOEXEC, true, tok(kAccept, 0, 0))
	s.acceptArmed = true
}

func (s *echoServer) armRecv(c *echoConn) {
	s.sqe().PrepRecvMultishot(c.fd, s.br.Group(), tok(kRecv, c.id, 0))
	c.recvArmed = true
}

func (s *echoServer) startSend(c *echoConn) {
	ob := c.sendq[0]
	q := s.sqe()
	if s.zc {
		q.PrepSendZC(c.fd, ob.data[ob.off:], 0, tok(kSend, c.id, ob.bid))
	} else {
		q.PrepSend(c.fd, ob.data[ob.off:], 0, tok(kSend, c.id, ob.bid))
	}
}

func (s *echoServer) handle(c CQE) {
	switch tokKind(c.UserData) {
	case kAccept:
		s.onAccept(c)
	case kRecv:
		s.onRecv(c)
	case kSend:
		s.onSend(c)
	case kClose:
		if c.Res != 0 {
			s.t.Errorf("close: %v", errno(c.Res))
		}
		delete(s.conns, tokConn(c.UserData))
		s.closed++
	case kCancel:
	default:
		s.t.Fatalf("unknown CQE %+v", c)
	}
}

func (s *echoServer) onAccept(c CQE) {
	switch {
	case c.Res >= 0:
		s.nextID++
		conn := &echoConn{id: s.nextID, fd: int(c.Res), bufs: map[uint16]*outBuf{}}
		s.conns[conn.id] = conn
		s.accepted++
		s.armRecv(conn)
	case isErr(c.Res, eCANCELED) && s.shutdown:
	default:
		s.t.Errorf("accept: %v", errno(c.Res))
	}
	if !c.More() {
		s.acceptArmed = false
		if !s.shutdown {
			s.armAccept()
		}
	}
}

func (s *echoServer) onRecv(c CQE) {
	conn := s.conns[tokConn(c.UserData)]
	if data, bid, ok := s.br.Take(c); ok {
		if len(data) == 0 || conn.broken {
			s.br.Stage(bid)
		} else {
			ob := &outBuf{bid: bid, data: data}
			conn.bufs[bid] = ob
			conn.sendq = append(conn.sendq, ob)
			if len(conn.sendq) == 1 {
				s.startSend(conn)
			}
		}
	}
	if c.More() {
		return
	}
	conn.recvArmed = false
	switch {
	case isErr(c.Res, eNOBUFS):
		// The ring ran dry; the data waits in the socket. Re-arm once
		// buffers come back (rearmStarved).
		s.enobufs++
		conn.starved = true
		s.starved = append(s.starved, conn)
	case c.Res > 0:
		s.rearms++ // the kernel ended the multishot early (e.g. CQ overflow)
		s.armRecv(conn)
	default:
		conn.eof = true // 0: the peer closed; <0: reset or canceled
	}
	s.maybeClose(conn)
}

func (s *echoServer) onSend(c CQE) {
	conn := s.conns[tokConn(c.UserData)]
	ob := conn.bufs[tokBid(c.UserData)]
	if c.Notif() {
		s.notifs++
		ob.notifs--
		s.maybeFree(conn, ob)
		return
	}
	if c.More() {
		ob.notifs++ // a SEND_ZC notification will follow
	}
	if c.Res >= 0 {
		ob.off += int(c.Res)
		if ob.off < len(ob.data) {
			s.startSend(conn) // short send: the rest, before anything queued behind
			return
		}
	} else {
		conn.broken = true
	}
	ob.sent = true
	conn.sendq = conn.sendq[1:]
	s.maybeFree(conn, ob)
	if conn.broken {
		for _, q := range conn.sendq {
			q.sent = true
			s.maybeFree(conn, q)
		}
		conn.sendq = nil
	} else if len(conn.sendq) > 0 {
		s.startSend(conn)
	}
	s.maybeClose(conn)
}

// maybeFree recycles a buffer once no send reads it any more.
func (s *echoServer) maybeFree(conn *echoConn, ob *outBuf) {
	if !ob.sent || ob.notifs > 0 {
		return
	}
	delete(conn.bufs, ob.bid)
	s.br.Stage(ob.bid)
	s.maybeClose(conn)
}

func (s *echoServer) maybeClose(conn *echoConn) {
	if conn.closing || !(conn.eof || conn.broken) {
		return
	}
	if conn.recvArmed {
		if !conn.canceling {
			conn.canceling = true
			s.sqe().PrepCancelFd(conn.fd, CancelAll, tok(kCancel, conn.id, 0))
		}
		return
	}
	if len(conn.bufs) > 0 {
		return
	}
	conn.closing = true
	s.sqe().PrepClose(conn.fd, tok(kClose, conn.id, 0))
}

func (s *echoServer) rearmStarved() {
	if len(s.starved) == 0 || s.br.InRing() == 0 {
		return
	}
	for _, conn := range s.starved {
		conn.starved = false
		if !conn.closing && !conn.broken && s.conns[conn.id] == conn {
			s.armRecv(conn)
		}
	}
	s.starved = s.starved[:0]
}

// run drives the loop until done reports true, or fails the test after d.
func (s *echoServer) run(done func() bool, d time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(d)
	for !done() {
		n, err := s.r.Reap(s.cqes[:])
		if err != nil {
			s.t.Fatalf("Reap: %v", err)
		}
		for _, c := range s.cqes[:n] {
			s.handle(c)
		}
		s.br.Publish()
		s.rearmStarved()
		if n > 0 {
			if _, err := s.r.Submit(); err != nil {
				s.t.Fatalf("Submit: %v", err)
			}
			continue
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("echo loop timed out: accepted %d closed %d open %d", s.accepted, s.closed, len(s.conns))
		}
		if _, err := s.r.SubmitAndWaitTimeout(1, 50*time.Millisecond); err != nil {
			s.t.Fatalf("SubmitAndWaitTimeout: %v", err)
		}
	}
}

// stop cancels the multishot accept (the shutdown path) and waits for its
// final CQE.
func (s *echoServer) stop() {
	s.shutdown = true
	s.sqe().PrepCancel(tok(kAccept, 0, 0), 0, tok(kCancel, 0, 0))
	s.run(func() bool { return !s.acceptArmed }, 5*time.Second)
}

// checkClean fails unless every connection is closed and every buffer is
// back in the ring.
func (s *echoServer) checkClean(p *Probe) {
	s.t.Helper()
	if len(s.conns) != 0 {
		s.t.Errorf("%d connections still open", len(s.conns))
	}
	if n := s.br.Outstanding(); n != 0 {
		s.t.Errorf("%d buffers not recycled", n)
	}
	if p.Features.BufRingStatus {
		avail, err := s.br.Available()
		if err != nil || avail != s.br.Entries() {
			s.t.Errorf("kernel sees %d of %d buffers in the ring (%v)", avail, s.br.Entries(), err)
		}
	}
}

// echoClient dials addr, writes msgs from a second goroutine while it reads
// the echo, checks it, and closes with an RST (linger 0) so that thousands
// of connections leave no TIME_WAIT behind.
func echoClient(addr string, msgs [][]byte) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	want := bytes.Join(msgs, nil)
	werr := make(chan error, 1)
	go func() {
		for _, m := range msgs {
			if _, err := c.Write(m); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()
	got := make([]byte, len(want))
	_, rerr := io.ReadFull(c, got)
	if err := <-werr; err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if rerr != nil {
		return fmt.Errorf("read: %w", rerr)
	}
	if !bytes.Equal(got, want) {
		return errors.New("echo differs from what was sent")
	}
	return c.(*net.TCPConn).SetLinger(0)
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7+i/251)
	}
	return b
}

func TestEcho(t *testing.T) {
	p := requireServer(t)
	tests := []struct {
		name      string
		zc        bool
		clients   int
		msgs      int
		size      int
		bufs      int
		bufSize   int
		wantNotif bool
	}{
		{"send", false, 4, 3, 100, 16, 4096, false},
		{"send_zc", true, 4, 3, 100, 16, 4096, true},
		{"large, few small buffers", false, 2, 2, 200 << 10, 4, 1024, false},
		{"large send_zc", true, 2, 2, 200 << 10, 8, 16 << 10, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTestRing(t, Config{Entries: 64})
			br, err := r.NewBufRing(1, tt.bufs, tt.bufSize)
			if err != nil {
				t.Fatal(err)
			}
			ln := listenTCP(t)
			s := newEchoServer(t, r, br, ln, tt.zc)
			addr := sockAddr(t, ln)

			var wg sync.WaitGroup
			errs := make(chan error, tt.clients)
			for i := range tt.clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var msgs [][]byte
					for m := range tt.msgs {
						msgs = append(msgs, pattern(tt.size, byte(i*16+m)))
					}
					if err := echoClient(addr, msgs); err != nil {
						errs <- fmt.Errorf("client %d: %w", i, err)
					}
				}()
			}
			s.run(func() bool { return s.closed == tt.clients }, 20*time.Second)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			s.stop()
			unix.Close(ln)
			s.checkClean(p)
			if tt.wantNotif && s.notifs == 0 {
				t.Errorf("send_zc posted no notification CQE")
			}
			t.Logf("accepted %d, ENOBUFS %d, notifications %d, early multishot ends %d",
				s.accepted, s.enobufs, s.notifs, s.rearms)
		})
	}
}

// TestManyConnections opens and closes 10,000 connections against the echo
// loop and checks that no buffer and no file descriptor leaks.
func TestManyConnections(t *testing.T) {
	p := requireServer(t)
	const (
		total   = 10000
		clients = 4 // concurrent dialers: enough to overlap, modest on 2 cores
	)
	warmUpNet(t)
	before := countFds(t)

	r := newTestRing(t, Config{Entries: 256})
	br, err := r.NewBufRing(2, 64, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ln := listenTCP(t)
	s := newEchoServer(t, r, br, ln, false)
	addr := sockAddr(t, ln)

	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range total / clients {
				msg := []byte("conn " + strconv.Itoa(i) + "/" + strconv.Itoa(j))
				if err := echoClient(addr, [][]byte{msg}); err != nil {
					errs <- fmt.Errorf("client %d conn %d: %w", i, j, err)
					return
				}
			}
		}()
	}
	s.run(func() bool { return s.closed == total }, 120*time.Second)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	s.stop()
	s.checkClean(p)
	unix.Close(ln)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for countFds(t) != before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if after := countFds(t); after != before {
		t.Errorf("fds: %d before, %d after", before, after)
	}
	t.Logf("accepted %d, closed %d, ENOBUFS %d", s.accepted, s.closed, s.enobufs)
}

// warmUpNet makes the net package open its poller descriptors now, so that
// they are not counted as a leak.
func warmUpNet(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	a, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	c.Close()
	l.Close()
}
