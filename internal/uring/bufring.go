package uring

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"unsafe"
)

// BufRing is a provided buffer ring (IORING_REGISTER_PBUF_RING, Linux 5.19):
// Entries buffers of Size bytes each, registered under a group id. A
// multishot recv prepared with PrepRecvMultishot(fd, group, ...) takes one
// buffer per CQE, so a loop needs no buffer per idle connection.
//
// Memory: the ring and all buffers live in one anonymous mmap, outside the
// Go heap. The kernel writes into the buffers at any time while they are in
// the ring; Go's heap does not move objects, but memory the garbage
// collector frees could be reused while the kernel still holds its address,
// and the ring must be page-aligned, so neither is left to the heap. The
// mapping is released by Close or Ring.Close, after the kernel has let go.
//
// Ownership: each buffer is either in the ring (the kernel's) or taken (the
// application's). A CQE with CQEFBuffer hands its buffer to the application;
// Take returns its bytes. The buffer goes back with Recycle, or with Stage
// and then Publish to return several at once. sluice's rule: a buffer is
// recycled only when no handler can still see its bytes. Recycling a buffer
// that is not taken panics: two recvs filling one buffer would corrupt data.
//
// Exhaustion: when a multishot recv has data and the ring is empty, it ends
// with a CQE of Res -ENOBUFS and no CQEFMore. No data is lost — it stays in
// the socket's receive queue — but the recv is no longer armed. The engine
// must remember such connections and re-arm their recv after it recycles
// buffers (InRing says how many the kernel has at most). If the ring is
// still empty the new recv ends with -ENOBUFS again at once, so re-arming
// after every Publish is safe, merely wasteful.
//
// Loop-only: every method must be called on the ring's goroutine.
type BufRing struct {
	r       *Ring
	group   uint16 // immutable
	entries uint32 // immutable, a power of two
	size    int    // immutable
	mem     []byte // loop-owned: ring area (page-rounded) then the buffers; nil after release
	bufBase int    // immutable: offset of buffer 0 in mem
	tailW   *uint32

	tail  uint16 // loop-owned: entries added so far (wraps, like the kernel's)
	taken []bool // loop-owned: taken[id] while the application holds buffer id
	out   int    // loop-owned: number of taken buffers
}

// tailShift locates the 16-bit tail inside the aligned 32-bit word at
// offset 12 of the ring (bufs[0].bid, then tail): its high half on
// little-endian machines. Go has no 16-bit atomic store, so the tail is
// published by storing that whole word.
var tailShift = func() uint32 {
	if binary.NativeEndian.Uint16([]byte{1, 0}) == 1 {
		return 16
	}
	return 0
}()

// NewBufRing allocates and registers a buffer ring of entries buffers
// (a power of two, at most 32768) of size bytes under group id group, and
// puts every buffer in it. Loop-only.
func (r *Ring) NewBufRing(group uint16, entries int, size int) (*BufRing, error) {
	if r.closed {
		return nil, ErrClosed
	}
	if entries <= 0 || entries > bufRingMaxEntries || entries&(entries-1) != 0 {
		return nil, fmt.Errorf("uring: buffer ring of %d entries: need a power of two in 1..%d", entries, bufRingMaxEntries)
	}
	// The kernel takes a 32-bit length; a single buffer above 1 GiB is a bug.
	if size <= 0 || size > 1<<30 {
		return nil, fmt.Errorf("uring: buffer size %d: need 1..1GiB", size)
	}
	page := pageSize()
	ringLen := (entries*bufRingEntrySize + page - 1) &^ (page - 1)
	mem, err := mmapAnon(ringLen + entries*size)
	if err != nil {
		return nil, fmt.Errorf("uring: mmap buffer ring: %w", err)
	}
	b := &BufRing{
		r:       r,
		group:   group,
		entries: uint32(entries),
		size:    size,
		mem:     mem,
		bufBase: ringLen,
		tailW:   (*uint32)(unsafe.Pointer(&mem[bufRingTailWordOffset])),
		taken:   make([]bool, entries),
	}
	reg := bufReg{
		ringAddr:    uint64(uintptr(unsafe.Pointer(&mem[0]))),
		ringEntries: uint32(entries),
		bgid:        group,
	}
	if _, err := sysRegister(r.fd, registerPbufRing, unsafe.Pointer(&reg), 1); err != nil {
		munmap(mem)
		if err == eEXIST && r.setup.Flags&SetupSingleIssuer != 0 {
			// EEXIST is also "group already registered"; say both.
			return nil, fmt.Errorf("uring: register buffer ring %d: %w (group in use, or %v)", group, err, ErrWrongThread)
		}
		return nil, fmt.Errorf("uring: register buffer ring %d: %w", group, err)
	}
	for id := range entries {
		b.put(uint16(id))
	}
	b.Publish()
	r.bufRings = append(r.bufRings, b)
	return b, nil
}

// Group returns the buffer group id. Entries and Size return the number and
// size of buffers.
func (b *BufRing) Group() uint16 { return b.group }

// Entries returns the number of buffers.
func (b *BufRing) Entries() int { return int(b.entries) }

// Size returns the size of each buffer.
func (b *BufRing) Size() int { return b.size }

// put writes buffer id into the next ring slot without publishing it. The
// slot's fields are written one by one, never as a whole 16-byte struct: the
// last two bytes of slot 0 are the ring's tail, which only Publish changes.
func (b *BufRing) put(id uint16) {
	slot := (uint32(b.tail) & (b.entries - 1)) * bufRingEntrySize
	e := b.mem[slot : slot+bufRingEntrySize : slot+bufRingEntrySize]
	off := b.bufBase + int(id)*b.size
	*(*uint64)(unsafe.Pointer(&e[0])) = uint64(uintptr(unsafe.Pointer(&b.mem[off]))) // addr
	*(*uint32)(unsafe.Pointer(&e[8])) = uint32(b.size)                               // len
	*(*uint16)(unsafe.Pointer(&e[12])) = id                                          // bid
	b.tail++
}

// Take claims the buffer c names and returns the c.Res bytes the kernel put
// in it and its id, or ok false if c carries no buffer. Borrowed: valid
// until Recycle(id); copy to keep. Every buffer-carrying CQE must be taken
// (and later recycled), or the buffer is lost to the ring. Loop-only.
func (b *BufRing) Take(c CQE) (data []byte, id uint16, ok bool) {
	if !c.HasBuffer() || b.mem == nil {
		return nil, 0, false
	}
	id = c.BufferID()
	if uint32(id) >= b.entries || b.taken[id] {
		panic(fmt.Sprintf("uring: CQE names buffer %d of group %d, which the kernel does not own (wrong group, or the CQE was taken twice)", id, b.group))
	}
	b.taken[id] = true
	b.out++
	n := max(int(c.Res), 0)
	off := b.bufBase + int(id)*b.size
	return b.mem[off : off+n : off+b.size], id, true
}

// Recycle returns buffer id to the kernel at once (Stage, then Publish).
// The bytes Take returned must no longer be used. Loop-only.
func (b *BufRing) Recycle(id uint16) {
	b.Stage(id)
	b.Publish()
}

// Stage puts buffer id back in the ring without telling the kernel; Publish
// does, for every staged buffer at once. Loop-only.
func (b *BufRing) Stage(id uint16) {
	if b.mem == nil {
		return
	}
	if uint32(id) >= b.entries || !b.taken[id] {
		panic(fmt.Sprintf("uring: buffer %d of group %d recycled but not taken (recycled twice?)", id, b.group))
	}
	b.taken[id] = false
	b.out--
	b.put(id)
}

// Publish makes staged buffers visible to the kernel: a store-release of
// the ring's tail after the slots are written. Loop-only.
func (b *BufRing) Publish() {
	if b.mem == nil {
		return
	}
	const half = 0xffff
	w := atomic.LoadUint32(b.tailW)
	w = w&^(half<<tailShift) | uint32(b.tail)<<tailShift
	atomic.StoreUint32(b.tailW, w)
}

// Outstanding returns how many buffers the application has taken and not
// recycled. Zero once every handler has finished. Loop-only.
func (b *BufRing) Outstanding() int { return b.out }

// InRing returns how many buffers are at most available to the kernel:
// those not taken. Buffers the kernel filled whose CQEs are not yet reaped
// are still counted, hence "at most". Loop-only.
func (b *BufRing) InRing() int { return int(b.entries) - b.out }

// Available asks the kernel how many buffers it has not consumed
// (IORING_REGISTER_PBUF_STATUS, Linux 6.8). Loop-only.
func (b *BufRing) Available() (int, error) {
	if b.mem == nil {
		return 0, ErrClosed
	}
	st := bufStatus{bufGroup: uint32(b.group)}
	if _, err := sysRegister(b.r.fd, registerPbufStatus, unsafe.Pointer(&st), 1); err != nil {
		return 0, fmt.Errorf("uring: buffer ring status: %w", err)
	}
	return int(b.tail - uint16(st.head)), nil
}

// Close unregisters the buffer ring and unmaps its memory. No operation
// using the group may still be armed, and no taken buffer may still be in
// use. Ring.Close does the same for buffer rings still open. Loop-only.
func (b *BufRing) Close() error {
	if b.mem == nil {
		return nil
	}
	reg := bufReg{bgid: b.group}
	_, err := sysRegister(b.r.fd, unregisterPbufRing, unsafe.Pointer(&reg), 1)
	b.release()
	for i, x := range b.r.bufRings {
		if x == b {
			b.r.bufRings = append(b.r.bufRings[:i], b.r.bufRings[i+1:]...)
			break
		}
	}
	if err != nil {
		return fmt.Errorf("uring: unregister buffer ring %d: %w", b.group, err)
	}
	return nil
}

func (b *BufRing) release() {
	if b.mem != nil {
		munmap(b.mem)
		b.mem = nil
		b.tailW = nil
	}
}
