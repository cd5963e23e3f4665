// Package uring is sluice's minimal io_uring binding, written over
// golang.org/x/sys/unix for the io_uring engine: one Ring per event loop,
// multishot accept, multishot recv into a provided buffer ring, send and
// zero-copy send, timeouts for the timer wheel, cancellation and close, and
// a Waker so worker goroutines can wake a loop. It is Linux-only; on other
// platforms New returns ErrLinuxOnly. Use CheckServer at start-up: it
// probes the kernel and names anything the engine needs and lacks.
//
// # Threads
//
// A Ring is created with IORING_SETUP_SINGLE_ISSUER and
// IORING_SETUP_DEFER_TASKRUN (falling back, with a note in
// SetupInfo.Fallbacks, on kernels that refuse them). The kernel then binds
// the ring to the thread that created it: only that thread may submit,
// register, and wait, and completion work runs only when it waits. A loop
// goroutine must therefore call runtime.LockOSThread before New and keep
// the thread until after Close; calls from another thread fail with
// ErrWrongThread. Other goroutines use only Waker.Wake.
//
// # Memory shared with the kernel
//
// The SQ ring, CQ ring and SQE array are mmap'd from the ring's fd. Their
// head and tail indexes are read and written the way liburing does: an
// atomic load (acquire) of the index the kernel advances (SQ head, CQ
// tail), an atomic store (release) of the one we advance (SQ tail after
// filling SQEs, CQ head after copying CQEs out). Go's sync/atomic is
// sequentially consistent, which is at least that strong.
//
// Buffers the kernel writes at any time (the provided buffer ring) live in
// an anonymous mmap outside the Go heap; see BufRing. Buffers passed to a
// single operation (send) are Go memory: the Prep methods force them to
// the heap, which Go never moves, and the caller keeps them reachable until
// the operation's last CQE; see SQE.PrepSend.
//
// # Completions
//
// Reap copies CQEs out of the ring. When the CQ ring is full the kernel
// queues further CQEs in an overflow list (IORING_FEAT_NODROP) and sets
// IORING_SQ_CQ_OVERFLOW; Reap sees the flag once the ring is drained and
// enters the kernel to flush the list, so every completion is delivered
// exactly once. Only if the kernel cannot allocate room for an overflowing
// CQE is it lost: Dropped counts those and io_uring_enter reports
// ErrCQDropped, after which the loop must stop. An overflow also ends
// multishot operations (their last CQE lacks CQEFMore), so the engine
// re-arms every multishot operation whose CQE lacks CQEFMore unless it
// ended on purpose.
//
// # Rules for the engine
//
//   - user_data is the engine's: a token naming the operation and its
//     connection. Multishot operations and SEND_ZC post several CQEs with
//     the same token; an operation is over at its first CQE without
//     CQEFMore, never before.
//   - Re-arm a multishot accept or recv whose last CQE was not a deliberate
//     end (cancel, end of stream, connection error): -ENOBUFS (after
//     buffers are recycled; see BufRing), a positive Res, or an accept
//     error such as EMFILE.
//   - Close a connection with PrepCancelFd(fd, CancelAll) hard-linked to
//     PrepClose(fd). Closing alone leaves its operations armed.
//   - Recycle a provided buffer only after the last CQE of every send that
//     reads it, and after every handler that sees its bytes has returned.
//   - Every loop iteration: Reap until it returns fewer than asked, handle
//     the CQEs, Publish recycled buffers, then SubmitAndWait(1) (or Submit
//     if work is pending). Acknowledge the Waker's CQE before draining the
//     task queue.
//   - Close the Ring before the loop goroutine exits or unlocks its thread.
//
// # Unsafe
//
// This package, unlike the rest of sluice, uses unsafe throughout: it
// shares memory with the kernel. The uses are pointer casts into mmap'd
// regions whose layout the kernel defines (checked in abi_test.go), the
// addresses of buffers written into SQEs, and pointer arguments to the three
// io_uring system calls.
package uring
