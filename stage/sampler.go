package stage

import "math"

// Sampler decides which requests get their stages timed: Sample reports
// true once in every N calls on average. It is a countdown, not a random
// draw per call, so the common "no" costs a decrement and a branch, and
// there is no shared state to contend on.
//
// The gap between two samples is not exactly N: it is drawn uniformly from
// [N-h, N+h] with h = (N-1)/2 by a per-sampler xorshift generator, so the
// mean gap is N. A fixed gap would alias with periodic traffic: with
// requests pipelined 16 to a batch and N = 16, every sample would be the
// first request of a batch. The draw happens once per sample, not per call.
//
// The zero value never samples. A Sampler must not be copied after first
// use (copies would repeat the same choices).
//
// Loop-only: one goroutine calls Sample (the loop or worker that owns the
// shard, or the connection's goroutine for a per-connection Sampler).
type Sampler struct {
	left  uint32 // calls until the next sample, counting this one
	every uint32 // N; immutable after NewSampler
	x     uint64 // xorshift64 state, never zero when every > 1
}

// NewSampler returns a Sampler that reports true once in every calls:
// every = 0 disables sampling (Sample always false), every = 1 samples all.
// Negative every counts as 0. Samplers with different seeds start at
// different points of their first gap (drawn uniformly from [1, N]), so
// that short-lived samplers, such as one per connection, sample the first
// requests with probability 1/N instead of never.
func NewSampler(every int, seed uint64) Sampler {
	if every <= 0 {
		return Sampler{left: math.MaxUint32}
	}
	// Durations are sampled to be read, not to be exact: capping N keeps
	// the countdown in 32 bits, so Sampler fits in 16 bytes.
	every = min(every, math.MaxUint32/2)
	s := Sampler{every: uint32(every), x: splitmix64(seed) | 1}
	s.left = uint32(s.next()%uint64(every)) + 1
	return s
}

// Every returns N, the configured mean gap between samples (0: disabled).
func (s *Sampler) Every() int { return int(s.every) }

// Sample reports whether the current request should be timed. Call it
// once per request, where the request begins (or once per connection for
// the Accept stage), and carry the answer with the request: asking again
// per stage would time a different subset of requests in every stage.
//
// Loop-only. It does not allocate.
func (s *Sampler) Sample() bool {
	if s.left > 1 {
		s.left--
		return false
	}
	return s.reload()
}

// reload handles the call that ends a gap, and the disabled and
// every-request cases, which both live here so that Sample's fast path is
// a single compare.
func (s *Sampler) reload() bool {
	switch s.every {
	case 0:
		s.left = math.MaxUint32 // the disabled sampler passes here once per 4e9 calls
		return false
	case 1:
		return true
	}
	h := (s.every - 1) / 2
	s.left = s.every - h + uint32(s.next()%uint64(2*h+1))
	return true
}

// next steps the xorshift64 generator (Marsaglia 2003): three shifts and
// xors, period 2^64-1, plenty for choosing gaps.
func (s *Sampler) next() uint64 {
	x := s.x
	x ^= x << 13
	x ^= x >> 7
	x ^= x << 17
	s.x = x
	return x
}

// splitmix64 spreads a small seed (a shard index, a connection id) over 64
// bits so that neighbouring seeds give unrelated sequences.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
