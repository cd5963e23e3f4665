package sluice

import (
	"errors"
	"io"
	"sync"

	"github.com/sluice-go/sluice/codec/http1"
)

// Errors a streamed request body's reader may return.
var (
	// ErrBodyTimeout: the client stopped sending the body for longer
	// than Config.BodyReadTimeout.
	ErrBodyTimeout = errors.New("sluice: request body not received in time")
	// ErrBodyClosed: the connection closed before the body was complete.
	ErrBodyClosed = errors.New("sluice: connection closed during the request body")
)

// pipeSize is the window between the loop and a handler reading a
// streamed body: 256 KiB keeps a loopback upload above 1 GB/s with a
// handful of wake-ups per megabyte, and is all a slow handler costs.
const pipeSize = 256 << 10

// bodyPipe carries a streamed body from the loop (which never blocks: it
// pushes what fits and pauses reading the socket) to the handler (which
// blocks in Read). Safe for concurrent use by one producer and one
// consumer.
type bodyPipe struct {
	mu      sync.Mutex
	cond    sync.Cond
	buf     []byte // ring of pipeSize
	r, n    int    // read position and bytes held
	err     error  // io.EOF once the body is complete, or why it failed
	starved bool   // the producer stopped on a full pipe: wake it when space frees
	gone    bool   // the consumer returned: drop what is pushed
	wake    func() // asks the loop to push more (engine.Conn.Wake)
}

var pipes = sync.Pool{New: func() any {
	p := &bodyPipe{buf: make([]byte, pipeSize)}
	p.cond.L = &p.mu
	return p
}}

func newPipe(wake func()) *bodyPipe {
	p := pipes.Get().(*bodyPipe)
	p.r, p.n, p.err, p.starved, p.gone, p.wake = 0, 0, nil, false, false, wake
	return p
}

// free returns the room left. Producer side.
func (p *bodyPipe) free() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.buf) - p.n
}

// push copies as much of b as fits and returns how much; a short count
// means the pipe is full and the producer will be woken when it is not.
// Producer side; never blocks.
func (p *bodyPipe) push(b []byte) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gone {
		return len(b)
	}
	total := 0
	for len(b) > 0 && p.n < len(p.buf) {
		w := (p.r + p.n) % len(p.buf)
		end := len(p.buf)
		if w < p.r {
			end = p.r
		}
		k := copy(p.buf[w:end], b)
		p.n += k
		b = b[k:]
		total += k
	}
	if len(b) > 0 || p.n == len(p.buf) {
		p.starved = true // the producer pauses: wake it when there is room
	}
	if total > 0 {
		p.cond.Signal()
	}
	return total
}

// finish ends the body with err (io.EOF when complete). Producer side.
func (p *bodyPipe) finish(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.cond.Broadcast()
	p.mu.Unlock()
}

// Read reads the body; it blocks until bytes arrive, the body ends, or it
// fails. Consumer side.
func (p *bodyPipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	for p.n == 0 && p.err == nil {
		p.cond.Wait()
	}
	if p.n == 0 {
		err := p.err
		p.mu.Unlock()
		return 0, err
	}
	total := 0
	for len(b) > 0 && p.n > 0 {
		end := min(p.r+p.n, len(p.buf))
		k := copy(b, p.buf[p.r:end])
		p.r = (p.r + k) % len(p.buf)
		p.n -= k
		b = b[k:]
		total += k
	}
	wake := p.starved && p.n <= len(p.buf)/2
	if wake {
		p.starved = false
	}
	p.mu.Unlock()
	if wake {
		p.wake()
	}
	return total, nil
}

// complete reports whether the whole body arrived (it may not all have
// been read).
func (p *bodyPipe) complete() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err == io.EOF
}

// abandon marks the consumer gone: what is still pushed is discarded.
func (p *bodyPipe) abandon() {
	p.mu.Lock()
	p.gone = true
	p.mu.Unlock()
}

// stream is the loop's side of a request whose body is streamed: it feeds
// the bytes, de-chunked, into the pipe the handler reads. Loop-owned.
type stream struct {
	x       *Ctx
	pipe    *bodyPipe
	left    int64 // Content-Length bytes still to come; -1 for chunked
	dec     http1.ChunkedDecoder
	scratch []byte // de-chunked bytes on their way into the pipe
	trail   []byte // the trailer section's bytes, which the Ctx views point into
	done    bool   // the body ended (or failed): nothing more to feed
}

// feed pushes body bytes from in and returns how many it used, and
// whether it stopped because the pipe is full (the producer is then
// registered to be woken when the handler makes room).
func (s *stream) feed(in []byte) (used int, full bool, err error) {
	if s.left >= 0 {
		k := int(min(int64(len(in)), s.left))
		n := s.pipe.push(in[:k])
		s.left -= int64(n)
		if s.left == 0 {
			s.done = true
			s.pipe.finish(io.EOF)
			return n, false, nil
		}
		return n, n < k || s.pipe.free() == 0, nil
	}
	for used < len(in) {
		free := s.pipe.free()
		if free == 0 {
			s.pipe.mu.Lock()
			s.pipe.starved = true
			s.pipe.mu.Unlock()
			return used, true, nil
		}
		// Decoded bytes never outnumber encoded ones: feeding at most
		// free bytes makes the output fit the pipe.
		out, n, derr := s.dec.Decode(s.scratch[:0], in[used:used+min(len(in)-used, free)])
		s.scratch = out[:0]
		if len(out) > 0 {
			s.pipe.push(out)
		}
		used += n
		switch derr {
		case http1.ErrNeedMore:
			if n == 0 {
				return used, false, nil // a trailer section is still arriving
			}
		case nil:
			s.keepTrailers()
			s.done = true
			s.pipe.finish(io.EOF)
			return used, false, nil
		default:
			s.done = true
			s.pipe.finish(derr)
			return used, false, derr
		}
	}
	return used, false, nil
}

// keepTrailers copies the trailer fields out of the engine's buffer and
// points the request's Trailers at the copy. The handler may read them
// once Read has returned io.EOF (the pipe's lock orders the two).
func (s *stream) keepTrailers() {
	s.trail = s.trail[:0]
	for _, f := range s.dec.Trailers {
		s.trail = append(s.trail, f.Name...)
		s.trail = append(s.trail, f.Value...)
	}
	tr := s.x.req.Trailers[:0]
	off := 0
	for _, f := range s.dec.Trailers {
		name := s.trail[off : off+len(f.Name)]
		off += len(f.Name)
		value := s.trail[off : off+len(f.Value)]
		off += len(f.Value)
		tr = append(tr, http1.Header{Name: name, Value: value})
	}
	s.x.req.Trailers = tr
}
