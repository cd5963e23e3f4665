package sluice

import (
	"sync"
	"sync/atomic"
	"time"
)

// workerIdle is how long a pool worker waits for a task before exiting:
// a burst's workers go away a few seconds after it, so an idle server
// holds few goroutines.
const workerIdle = 10 * time.Second

// workPool runs request batches on a bounded set of goroutines. Our own
// rather than ants: the loop must never block on submit, and a full queue
// must push back on the connection (it retries at the next tick) instead
// of failing the request; a channel and a worker count do that in a page.
// Safe for concurrent use.
type workPool struct {
	tasks   chan *batch
	max     int32
	running atomic.Int32 // workers alive
	idle    atomic.Int32 // workers waiting for a task
	wg      sync.WaitGroup
	stopped chan struct{}
	once    sync.Once
}

func newWorkPool(workers, queue int) *workPool {
	return &workPool{tasks: make(chan *batch, queue), max: int32(workers), stopped: make(chan struct{})}
}

// submit queues b; false means the queue is full. Never blocks.
func (p *workPool) submit(b *batch) bool {
	select {
	case p.tasks <- b:
	default:
		return false
	}
	if p.idle.Load() == 0 {
		for {
			n := p.running.Load()
			if n >= p.max {
				break
			}
			if p.running.CompareAndSwap(n, n+1) {
				p.wg.Add(1)
				go p.work()
				break
			}
		}
	}
	return true
}

func (p *workPool) work() {
	defer p.wg.Done()
	t := time.NewTimer(workerIdle)
	defer t.Stop()
	for {
		p.idle.Add(1)
		select {
		case b := <-p.tasks:
			p.idle.Add(-1)
			b.run()
			if !t.Stop() {
				select {
				case <-t.C:
				default:
				}
			}
			t.Reset(workerIdle)
		case <-t.C:
			p.idle.Add(-1)
			// Leave the count first, then look at the queue: a submit that
			// raced with us either sees the lower count and starts a
			// worker, or its task is seen here and we stay.
			p.running.Add(-1)
			if len(p.tasks) == 0 || !p.rejoin() {
				return
			}
			t.Reset(workerIdle)
		case <-p.stopped:
			p.idle.Add(-1)
			p.running.Add(-1)
			return
		}
	}
}

// rejoin counts an exiting worker back in, unless the pool is full again.
func (p *workPool) rejoin() bool {
	for {
		n := p.running.Load()
		if n >= p.max {
			return false
		}
		if p.running.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// stopGrace bounds stop's wait for handlers: a goroutine cannot be
// stopped, and a handler that never returns must not keep Close (or
// Shutdown past its deadline) from returning. Its connection is closed by
// then; its worker ends when it returns.
const stopGrace = time.Second

// stop makes the workers exit once the queue is empty and waits for them,
// up to stopGrace; it returns how many were still running then.
func (p *workPool) stop() int {
	p.once.Do(func() { close(p.stopped) })
	ended := make(chan struct{})
	go func() { p.wg.Wait(); close(ended) }()
	t := time.NewTimer(stopGrace)
	defer t.Stop()
	select {
	case <-ended:
		return 0
	case <-t.C:
		return int(p.running.Load())
	}
}
