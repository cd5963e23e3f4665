// Package ratelog bounds how many log lines a stream of events may write:
// a client that sends ten thousand bad requests a second must not turn
// the server's log into the bottleneck, or fill its disk.
package ratelog

import (
	"sync/atomic"
	"time"
)

// Limiter lets through at most a fixed number of events per wall-clock
// second and counts the ones it holds back. The zero value lets nothing
// through. Safe for concurrent use: one atomic add per event in the
// common case, no lock.
type Limiter struct {
	max     int64
	window  atomic.Int64 // the Unix second being counted
	n       atomic.Int64 // events let through in that second
	dropped atomic.Int64 // events held back since the last report
	now     func() int64 // Unix seconds; a test's clock
}

// New returns a Limiter letting perSecond events through each second;
// perSecond ≤ 0 lets none through (everything is counted as held back).
func New(perSecond int) *Limiter {
	return &Limiter{max: int64(perSecond), now: func() int64 { return time.Now().Unix() }}
}

// Allow reports whether this event may be logged, and how many events were
// held back before the current second began (non-zero once per second at
// most, for the caller to log as a summary line).
func (l *Limiter) Allow() (ok bool, suppressed int64) {
	if l == nil || l.now == nil {
		return false, 0
	}
	now := l.now()
	if w := l.window.Load(); now != w && l.window.CompareAndSwap(w, now) {
		l.n.Store(0)
		suppressed = l.dropped.Swap(0)
	}
	if l.n.Add(1) <= l.max {
		return true, suppressed
	}
	l.dropped.Add(1)
	return false, suppressed
}
