package uring

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"
)

// Errors returned by New and the Ring methods.
var (
	// ErrLinuxOnly is returned by New on every platform but Linux.
	ErrLinuxOnly = errors.New("uring: io_uring is Linux-only")
	// ErrClosed is returned by methods of a closed Ring, BufRing or Waker.
	ErrClosed = errors.New("uring: ring closed")
	// ErrWrongThread means the kernel refused a call (EEXIST) because it
	// came from a thread other than the one that created the ring
	// (IORING_SETUP_SINGLE_ISSUER).
	ErrWrongThread = errors.New("uring: ring used from a thread other than its creator " +
		"(IORING_SETUP_SINGLE_ISSUER): call runtime.LockOSThread before New and use the ring only from that goroutine")
	// ErrCQDropped means the kernel lost completions: the CQ ring
	// overflowed and it could not allocate room to queue them. Which
	// operations lost their CQE is unknown, so the loop must shut down.
	ErrCQDropped = errors.New("uring: kernel dropped completions (CQ overflow with no memory to queue them)")
)

// Defaults for Config.
const (
	// DefaultEntries: 256 SQEs (16 KiB shared) hold the largest batch one
	// loop iteration queues (a few SQEs per ready connection).
	DefaultEntries = 256
	// DefaultCQEntries: multishot accept and recv post many CQEs per SQE,
	// and an overflowing CQ ring ends multishot operations; 4096 entries
	// (64 KiB) make that rare for one loop.
	DefaultCQEntries = 4096
	// maxEntries is the kernel's IORING_MAX_ENTRIES; larger sizes are clamped.
	maxEntries = 32768
)

// Config sizes a Ring. The zero value is valid; New copies it.
type Config struct {
	// Entries is the SQ ring size: how many SQEs can be queued between two
	// Submit calls. Rounded up to a power of two by the kernel and clamped
	// to 32768. Zero means DefaultEntries.
	Entries uint32
	// CQEntries is the CQ ring size. Rounded up to a power of two, raised to
	// Entries if lower (the kernel requires CQ >= SQ), clamped to 65536.
	// Zero means DefaultCQEntries.
	CQEntries uint32
}

// SetupInfo describes the ring the kernel built. A value: safe for
// concurrent use.
type SetupInfo struct {
	Flags     uint32   // Setup* flags the kernel accepted
	Features  uint32   // Feat* flags the kernel reported
	SQEntries uint32   // actual SQ size
	CQEntries uint32   // actual CQ size
	Fallbacks []string // one line per setup flag the kernel refused, and what it means
}

// setupAttempts are tried in order; each refused one (EINVAL) adds its note
// to SetupInfo.Fallbacks. CQSIZE and CLAMP are always set.
var setupAttempts = []struct {
	flags   uint32
	refused string
}{
	{SetupSingleIssuer | SetupDeferTaskrun | SetupTaskrunFlag | SetupSubmitAll,
		"IORING_SETUP_DEFER_TASKRUN refused (needs Linux 6.1): completions run whenever the thread enters the kernel, not only when the loop waits"},
	{SetupSingleIssuer | SetupCoopTaskrun | SetupTaskrunFlag | SetupSubmitAll,
		"IORING_SETUP_SINGLE_ISSUER refused (needs Linux 6.0): the kernel cannot assume a single submitting thread"},
	{SetupCoopTaskrun | SetupTaskrunFlag | SetupSubmitAll,
		"IORING_SETUP_COOP_TASKRUN/TASKRUN_FLAG/SUBMIT_ALL refused (need Linux 5.19): completions may interrupt the loop with an IPI, and a failing SQE stops its batch"},
	{0, ""},
}

// Ring is one io_uring instance: a submission queue, a completion queue and
// the memory they share with the kernel. sluice runs one Ring per event loop.
//
// Loop-only: New and every method must be called from one goroutine that
// called runtime.LockOSThread before New and stays locked until after Close.
// The ring is created with IORING_SETUP_SINGLE_ISSUER and
// IORING_SETUP_DEFER_TASKRUN, so the kernel accepts submissions only from the
// creating thread and runs completion work only when that thread waits
// (otherwise ErrWrongThread). Other goroutines reach the loop through a
// Waker.
type Ring struct {
	fd    int       // immutable after New
	setup SetupInfo // immutable after New

	ringMem []byte // SQ ring mapping (and CQ ring with FeatSingleMmap); nil after Close
	cqMem   []byte // CQ ring mapping; aliases ringMem with FeatSingleMmap
	sqeMem  []byte // SQE array mapping

	// Submission queue. Memory ordering follows liburing: the index the
	// kernel writes (sqHead) is read with an atomic load (acquire), the one
	// we write (sqTail) is published with an atomic store (release) after
	// the SQEs it covers are filled.
	sqHead    *uint32 // kernel-owned
	sqTail    *uint32 // loop-owned, published by flush
	sqFlags   *uint32 // kernel-owned: sqCQOverflow, sqTaskrun
	sqMask    uint32  // immutable
	sqEntries uint32  // immutable
	sqes      []SQE   // the shared SQE array
	sqeTail   uint32  // loop-owned: SQEs handed out by GetSQE, published or not

	// Completion queue: cqTail is the kernel's (load-acquire), cqHead ours
	// (store-release once the entries are copied out).
	cqHead     *uint32 // loop-owned
	cqTail     *uint32 // kernel-owned
	cqOverflow *uint32 // kernel-owned: CQEs the kernel had to drop
	cqMask     uint32  // immutable
	cqes       []CQE   // the shared CQE array
	cqHeadLoc  uint32  // loop-owned copy of *cqHead

	wait     *waitArg   // io_uring_enter's timeout argument; heap, so its address is stable
	bufRings []*BufRing // loop-owned: unmapped by Close
	wakers   []*Waker   // loop-owned: shut down by Close
	closed   bool       // loop-owned
}

// waitArg holds the EXT_ARG of a timed wait. arg.ts points at ts, so both
// live in one heap object that the Ring keeps alive and Go never moves.
type waitArg struct {
	arg geteventsArg
	ts  Timespec
}

// New creates a ring. See Ring for the thread rule. If the kernel refuses
// an optional setup flag, New falls back (see SetupInfo.Fallbacks); it fails
// only if io_uring itself is unavailable, with the reason in the error.
func New(cfg Config) (*Ring, error) {
	entries := cfg.Entries
	if entries == 0 {
		entries = DefaultEntries
	}
	entries = min(entries, maxEntries)
	cqEntries := cfg.CQEntries
	if cqEntries == 0 {
		cqEntries = DefaultCQEntries
	}
	cqEntries = max(cqEntries, entries)

	var (
		p         params
		fd        = -1
		err       error
		fallbacks []string
	)
	for _, a := range setupAttempts {
		p = params{flags: a.flags | SetupCQSize | SetupClamp, cqEntries: cqEntries}
		fd, err = sysSetup(entries, &p)
		if err == nil {
			break
		}
		if err != eINVAL || a.flags == 0 {
			return nil, setupError(err)
		}
		fallbacks = append(fallbacks, a.refused)
	}
	r := &Ring{fd: fd, wait: new(waitArg)}
	r.setup = SetupInfo{
		Flags:     p.flags,
		Features:  p.features,
		SQEntries: p.sqEntries,
		CQEntries: p.cqEntries,
		Fallbacks: fallbacks,
	}
	if err := r.mapRings(&p); err != nil {
		r.unmap()
		closeFd(fd)
		return nil, err
	}
	return r, nil
}

func setupError(err error) error {
	switch err {
	case ErrLinuxOnly:
		return err
	case eNOSYS:
		return fmt.Errorf("uring: io_uring_setup: %w (kernel built without io_uring, or older than 5.1)", err)
	case ePERM:
		return fmt.Errorf("uring: io_uring_setup: %w (io_uring disabled by a seccomp filter, e.g. a container's default profile, or by sysctl kernel.io_uring_disabled)", err)
	case eINVAL:
		return fmt.Errorf("uring: io_uring_setup: %w (kernel older than 5.6 or bad sizes)", err)
	}
	return fmt.Errorf("uring: io_uring_setup: %w", err)
}

// mapRings maps the SQ ring, CQ ring and SQE array and points the ring's
// fields into them.
func (r *Ring) mapRings(p *params) error {
	sqSize := int(p.sqOff.array) + int(p.sqEntries)*4
	cqSize := int(p.cqOff.cqes) + int(p.cqEntries)*cqeSize
	single := p.features&FeatSingleMmap != 0
	if single {
		sqSize = max(sqSize, cqSize)
	}
	var err error
	if r.ringMem, err = mmapRing(r.fd, offSQRing, sqSize); err != nil {
		return fmt.Errorf("uring: mmap SQ ring: %w", err)
	}
	r.cqMem = r.ringMem
	if !single {
		if r.cqMem, err = mmapRing(r.fd, offCQRing, cqSize); err != nil {
			r.cqMem = nil
			return fmt.Errorf("uring: mmap CQ ring: %w", err)
		}
	}
	if r.sqeMem, err = mmapRing(r.fd, offSQEs, int(p.sqEntries)*sqeSize); err != nil {
		return fmt.Errorf("uring: mmap SQEs: %w", err)
	}

	r.sqHead = word(r.ringMem, p.sqOff.head)
	r.sqTail = word(r.ringMem, p.sqOff.tail)
	r.sqFlags = word(r.ringMem, p.sqOff.flags)
	r.sqMask = *word(r.ringMem, p.sqOff.ringMask)
	r.sqEntries = *word(r.ringMem, p.sqOff.ringEntries)
	r.sqes = unsafe.Slice((*SQE)(unsafe.Pointer(&r.sqeMem[0])), r.sqEntries)
	// The SQ ring holds indexes into the SQE array; slot i always names
	// SQE i, so the array is filled once, as liburing does.
	array := unsafe.Slice(word(r.ringMem, p.sqOff.array), r.sqEntries)
	for i := range array {
		array[i] = uint32(i)
	}
	r.sqeTail = atomic.LoadUint32(r.sqTail)

	r.cqHead = word(r.cqMem, p.cqOff.head)
	r.cqTail = word(r.cqMem, p.cqOff.tail)
	r.cqOverflow = word(r.cqMem, p.cqOff.overflow)
	r.cqMask = *word(r.cqMem, p.cqOff.ringMask)
	r.cqes = unsafe.Slice((*CQE)(unsafe.Pointer(&r.cqMem[p.cqOff.cqes])), *word(r.cqMem, p.cqOff.ringEntries))
	r.cqHeadLoc = atomic.LoadUint32(r.cqHead)
	return nil
}

// word returns a pointer to the 32-bit word at off in a ring mapping. The
// kernel aligns every offset it reports.
func word(mem []byte, off uint32) *uint32 {
	return (*uint32)(unsafe.Pointer(&mem[off]))
}

// Setup reports the flags, features and sizes the kernel granted.
func (r *Ring) Setup() SetupInfo { return r.setup }

// Fd returns the ring's file descriptor, the target of PrepMsgRing from
// another loop's ring. Safe for concurrent use; the number is stale after
// Close, so senders must stop before the target ring closes.
func (r *Ring) Fd() int { return r.fd }

// GetSQE returns the next free SQE, zeroed, or nil if the SQ ring is full
// (Submit, then try again) or the ring is closed. Fill it with a Prep
// method; it goes to the kernel with the next Submit. Loop-only.
func (r *Ring) GetSQE() *SQE {
	if r.sqes == nil {
		return nil
	}
	head := atomic.LoadUint32(r.sqHead)
	if r.sqeTail-head >= r.sqEntries {
		return nil
	}
	s := &r.sqes[r.sqeTail&r.sqMask]
	r.sqeTail++
	*s = SQE{}
	return s
}

// NextSQE is GetSQE, but when the SQ ring is full it first submits what is
// queued. Do not use it in the middle of a linked chain (SQEIOLink), which
// must be submitted whole. Loop-only.
func (r *Ring) NextSQE() (*SQE, error) {
	if s := r.GetSQE(); s != nil {
		return s, nil
	}
	if r.closed {
		return nil, ErrClosed
	}
	if _, err := r.Submit(); err != nil {
		return nil, err
	}
	if s := r.GetSQE(); s != nil {
		return s, nil
	}
	return nil, fmt.Errorf("uring: SQ ring still full after submit: %w", eBUSY)
}

// SQReady returns how many SQEs are queued and not yet consumed by the
// kernel. Loop-only.
func (r *Ring) SQReady() int {
	if r.sqes == nil {
		return 0
	}
	return int(r.sqeTail - atomic.LoadUint32(r.sqHead))
}

// flush publishes the SQEs handed out so far and returns how many the
// kernel has yet to consume.
func (r *Ring) flush() uint32 {
	atomic.StoreUint32(r.sqTail, r.sqeTail) // release: the SQEs' contents before the tail
	return r.sqeTail - atomic.LoadUint32(r.sqHead)
}

// needsEnter reports whether completions are waiting inside the kernel:
// in the overflow list (the CQ ring was full) or as deferred task work.
// Either way only io_uring_enter with GETEVENTS moves them into the CQ ring.
func (r *Ring) needsEnter() bool {
	return atomic.LoadUint32(r.sqFlags)&(sqCQOverflow|sqTaskrun) != 0
}

// Submit hands the queued SQEs to the kernel without waiting and returns how
// many it consumed. Loop-only.
func (r *Ring) Submit() (int, error) { return r.submit(0, nil) }

// SubmitAndWait submits the queued SQEs and blocks until at least waitNr
// CQEs are in the CQ ring (Reap them). A signal may end the wait early;
// the caller's loop simply reaps and waits again. Loop-only.
func (r *Ring) SubmitAndWait(waitNr uint32) (int, error) { return r.submit(waitNr, nil) }

// SubmitAndWaitTimeout is SubmitAndWait that gives up after d (rounded to
// the nanosecond; a retry after a signal restarts it). It is not an error
// when d passes: Reap returns what arrived. Loop-only.
func (r *Ring) SubmitAndWaitTimeout(waitNr uint32, d time.Duration) (int, error) {
	if r.setup.Features&FeatExtArg == 0 {
		return 0, fmt.Errorf("uring: timed wait needs IORING_FEAT_EXT_ARG (Linux 5.11)")
	}
	d = max(d, 0)
	r.wait.ts = Timespec{Sec: int64(d / time.Second), Nsec: int64(d % time.Second)}
	r.wait.arg = geteventsArg{ts: uint64(uintptr(unsafe.Pointer(&r.wait.ts)))}
	return r.submit(waitNr, r.wait)
}

func (r *Ring) submit(waitNr uint32, w *waitArg) (int, error) {
	if r.closed {
		return 0, ErrClosed
	}
	for {
		toSubmit := r.flush()
		var flags uint32
		if waitNr > 0 || r.needsEnter() {
			flags |= enterGetEvents
		}
		if toSubmit == 0 && flags == 0 {
			return 0, nil
		}
		var (
			arg     unsafe.Pointer
			argSize uintptr
		)
		if w != nil {
			flags |= enterGetEvents | enterExtArg
			arg, argSize = unsafe.Pointer(&w.arg), unsafe.Sizeof(w.arg)
		}
		n, err := sysEnter(r.fd, toSubmit, waitNr, flags, arg, argSize)
		switch err {
		case nil:
			return n, nil
		case eINTR:
			// Nothing was submitted (the kernel reports a count in
			// preference to a wait error): retry.
			continue
		case eTIME:
			return 0, nil
		}
		return 0, r.enterError(err)
	}
}

func (r *Ring) enterError(err error) error {
	switch {
	case err == eEXIST && r.setup.Flags&SetupSingleIssuer != 0:
		return ErrWrongThread
	case err == eBADR:
		return ErrCQDropped
	}
	return fmt.Errorf("uring: io_uring_enter: %w", err)
}

// Reap copies up to len(dst) completions into dst, frees their slots in the
// CQ ring, and returns how many it copied. It never blocks. When the CQ
// ring is empty but the kernel holds more completions — overflowed
// (IORING_SQ_CQ_OVERFLOW) or waiting as task work (IORING_SQ_TASKRUN) — it
// enters the kernel to move them into the ring and goes on reaping, so no
// completion is left behind: a return of fewer than len(dst) means nothing
// more has completed. Loop-only.
func (r *Ring) Reap(dst []CQE) (int, error) {
	if r.cqes == nil {
		return 0, ErrClosed
	}
	n := r.copyCQEs(dst)
	for n < len(dst) && r.needsEnter() {
		// copyCQEs emptied the ring, so the kernel has room to flush into.
		if _, err := sysEnter(r.fd, 0, 0, enterGetEvents, nil, 0); err != nil && err != eINTR {
			return n, r.enterError(err)
		}
		m := r.copyCQEs(dst[n:])
		if m == 0 {
			break
		}
		n += m
	}
	return n, nil
}

func (r *Ring) copyCQEs(dst []CQE) int {
	tail := atomic.LoadUint32(r.cqTail) // acquire: entries up to tail are written
	head := r.cqHeadLoc
	n := 0
	for head != tail && n < len(dst) {
		dst[n] = r.cqes[head&r.cqMask]
		head++
		n++
	}
	if n > 0 {
		r.cqHeadLoc = head
		atomic.StoreUint32(r.cqHead, head) // release: the slots were read before the kernel reuses them
	}
	return n
}

// CQReady returns how many CQEs sit in the CQ ring (not counting any the
// kernel still holds, see Reap). Loop-only.
func (r *Ring) CQReady() int {
	if r.cqes == nil {
		return 0
	}
	return int(atomic.LoadUint32(r.cqTail) - r.cqHeadLoc)
}

// Overflowed reports whether completions wait in the kernel's overflow list
// because the CQ ring was full. Reap recovers them. Loop-only.
func (r *Ring) Overflowed() bool {
	return r.sqFlags != nil && atomic.LoadUint32(r.sqFlags)&sqCQOverflow != 0
}

// Dropped returns how many completions the kernel has lost since the ring
// was created (the CQ overflow counter; it increments only when the kernel
// could not queue an overflowing CQE). Anything but 0 is fatal for the loop.
// Loop-only.
func (r *Ring) Dropped() uint32 {
	if r.cqOverflow == nil {
		return 0
	}
	return atomic.LoadUint32(r.cqOverflow)
}

// Close shuts the ring's wakers, closes the ring (the kernel cancels every
// operation still in flight) and unmaps the ring and its buffer rings. CQEs
// not yet reaped are lost; buffers the application holds become invalid.
// Loop-only; calling it again does nothing.
func (r *Ring) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	for _, w := range r.wakers {
		w.shutdown()
	}
	r.wakers = nil
	err := closeFd(r.fd)
	// After the fd is closed the kernel cancels the remaining requests;
	// cancellation never writes to their buffers, and anything it did still
	// touch would hit unmapped memory (EFAULT), never the Go heap.
	for _, b := range r.bufRings {
		b.release()
	}
	r.bufRings = nil
	r.unmap()
	if err != nil {
		return fmt.Errorf("uring: close: %w", err)
	}
	return nil
}

func (r *Ring) unmap() {
	if r.sqeMem != nil {
		munmap(r.sqeMem)
	}
	if r.cqMem != nil && len(r.ringMem) > 0 && &r.cqMem[0] != &r.ringMem[0] {
		munmap(r.cqMem)
	}
	if r.ringMem != nil {
		munmap(r.ringMem)
	}
	r.sqeMem, r.cqMem, r.ringMem = nil, nil, nil
	r.sqes, r.cqes = nil, nil
	r.sqHead, r.sqTail, r.sqFlags, r.cqHead, r.cqTail, r.cqOverflow = nil, nil, nil, nil, nil, nil
}
