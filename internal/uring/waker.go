package uring

import (
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"
)

// WakeMode is how a Waker reaches its ring. Safe for concurrent use.
type WakeMode uint8

const (
	// WakeMsgRing posts the wake CQE straight into the ring with
	// IORING_REGISTER_SEND_MSG_RING (Linux 6.13): one syscall from any
	// thread, no file descriptor, nothing to re-arm.
	WakeMsgRing WakeMode = iota + 1
	// WakeEventfd writes an eventfd that the ring reads with an
	// IORING_OP_READ kept armed; the read's CQE is the wake. The fallback
	// for kernels before 6.13.
	WakeEventfd
)

func (m WakeMode) String() string {
	switch m {
	case WakeMsgRing:
		return "msg_ring"
	case WakeEventfd:
		return "eventfd"
	}
	return "unknown"
}

// Waker lets other goroutines wake a loop blocked in SubmitAndWait: Wake
// makes a CQE with UserData equal to the waker's token appear in the ring.
//
// Wakes coalesce: after one Wake, further Wakes do nothing until the loop
// calls Ack, so a burst of posted tasks costs one syscall. The protocol:
// a poster first publishes its task (e.g. pushes it on a locked or
// lock-free queue), then calls Wake; the loop, on the waker's CQE, calls
// Ack first and then drains the whole queue. Ack before drain is what makes
// a lost wake impossible: a task published after the drain began is
// followed by a Wake that sees the flag clear and signals again.
//
// Wake is safe for concurrent use, and may be called after the ring closed
// (it then returns ErrClosed). Ack is Loop-only.
type Waker struct {
	r     *Ring    // immutable
	token uint64   // immutable
	mode  WakeMode // immutable
	efd   int      // immutable: the eventfd, -1 in WakeMsgRing mode
	msg   SQE      // immutable: the MSG_RING request Wake sends
	buf   [8]byte  // the kernel writes the eventfd count here; lives as long as the Ring holds the Waker

	pending atomic.Uint32 // 1 from a Wake until the loop's Ack
	dead    atomic.Bool   // set by shutdown; lets Wake fail fast without the lock

	mu     sync.RWMutex // held shared by Wake's syscall, exclusively by shutdown
	closed bool         // guarded by mu: the ring (and eventfd) are gone
}

var (
	syncMsgRingOnce sync.Once
	syncMsgRingOK   bool
)

// syncMsgRingSupported reports whether io_uring_register takes "blind"
// opcodes (fd -1), which arrived in Linux 6.13 together with
// IORING_REGISTER_SEND_MSG_RING. The test request has a wrong opcode on
// purpose: a kernel with blind opcodes answers EINVAL without posting
// anything, an older kernel EBADF.
func syncMsgRingSupported() bool {
	syncMsgRingOnce.Do(func() {
		s := SQE{Opcode: OpNop}
		_, err := sysRegister(-1, registerSendMsgRing, unsafe.Pointer(&s), 1)
		syncMsgRingOK = err == eINVAL
	})
	return syncMsgRingOK
}

// NewWaker returns a Waker whose wakes arrive as CQEs with UserData token.
// It picks WakeMsgRing when the kernel has it and WakeEventfd otherwise;
// in eventfd mode it queues the first read (sent with the next Submit).
// Loop-only.
func (r *Ring) NewWaker(token uint64) (*Waker, error) {
	mode := WakeEventfd
	if syncMsgRingSupported() {
		mode = WakeMsgRing
	}
	return r.newWaker(token, mode)
}

func (r *Ring) newWaker(token uint64, mode WakeMode) (*Waker, error) {
	if r.closed {
		return nil, ErrClosed
	}
	w := &Waker{r: r, token: token, mode: mode, efd: -1}
	switch mode {
	case WakeMsgRing:
		w.msg.PrepMsgRing(r.fd, 0, token, 0)
	case WakeEventfd:
		fd, err := newEventfd()
		if err != nil {
			return nil, fmt.Errorf("uring: eventfd: %w", err)
		}
		w.efd = fd
		if err := w.arm(); err != nil {
			closeFd(fd)
			return nil, err
		}
	default:
		return nil, fmt.Errorf("uring: unknown wake mode %d", mode)
	}
	r.wakers = append(r.wakers, w)
	return w, nil
}

// Token returns the UserData of the waker's CQEs. Safe for concurrent use.
func (w *Waker) Token() uint64 { return w.token }

// Mode returns how the waker reaches the ring. Safe for concurrent use.
func (w *Waker) Mode() WakeMode { return w.mode }

// Wake makes the loop's ring post a CQE with the waker's token, unless a
// wake is already on its way. Safe for concurrent use.
func (w *Waker) Wake() error {
	if w.dead.Load() {
		return ErrClosed
	}
	// Load before Swap: under a burst of posters the flag is usually set,
	// and a load does not take the cache line exclusively.
	if w.pending.Load() != 0 || w.pending.Swap(1) != 0 {
		return nil
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return ErrClosed
	}
	var err error
	switch w.mode {
	case WakeMsgRing:
		_, err = sysRegister(-1, registerSendMsgRing, unsafe.Pointer(&w.msg), 1)
	case WakeEventfd:
		err = eventfdSignal(w.efd)
	}
	if err != nil {
		w.pending.Store(0)
		return fmt.Errorf("uring: wake (%s): %w", w.mode, err)
	}
	return nil
}

// Ack must be called for every CQE carrying the waker's token, before the
// loop drains the work the wake announced (see Waker). In eventfd mode it
// queues the next read (sent with the next Submit) unless c says the read
// was canceled. Loop-only.
func (w *Waker) Ack(c CQE) error {
	w.pending.Store(0)
	if w.mode != WakeEventfd || c.Res == -int32(eCANCELED) || w.r.closed {
		return nil
	}
	return w.arm()
}

// arm queues the eventfd read.
func (w *Waker) arm() error {
	s, err := w.r.NextSQE()
	if err != nil {
		return fmt.Errorf("uring: arm waker: %w", err)
	}
	s.prepRead(w.efd, w.buf[:], 0, w.token)
	return nil
}

// shutdown waits for Wakes in progress and makes later ones fail. Called by
// Ring.Close before the ring's fd is closed, so a Wake never signals a file
// descriptor number that might have been reused.
func (w *Waker) shutdown() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	w.closed = true
	w.dead.Store(true)
	if w.efd >= 0 {
		closeFd(w.efd)
	}
}
