//go:build linux

package uring

import (
	"bytes"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestBufRingExhaustion sends more data than the buffer ring holds and
// recycles buffers only when the recv reports -ENOBUFS: the recv must end
// there, and once buffers are back and it is re-armed, every byte must
// arrive, in order.
func TestBufRingExhaustion(t *testing.T) {
	p := requireServer(t)
	tests := []struct {
		name        string
		bufs, size  int
		total       int
		wantENOBUFS int // at least
	}{
		{"4x64, 1000 bytes", 4, 64, 1000, 3},
		{"1x16, 100 bytes", 1, 16, 100, 6},
		{"8x128, 16 KiB", 8, 128, 16 << 10, 15},
		{"fits exactly", 4, 64, 256, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTestRing(t, Config{Entries: 16})
			b, err := r.NewBufRing(7, tt.bufs, tt.size)
			if err != nil {
				t.Fatal(err)
			}
			sp := socketpair(t)
			defer unix.Close(sp[1])
			sent := pattern(tt.total, 3)
			if n, err := unix.Write(sp[1], sent); err != nil || n != len(sent) {
				t.Fatalf("write: %d, %v", n, err)
			}
			r.GetSQE().PrepRecvMultishot(sp[0], b.Group(), 1)
			armed := true

			var got []byte
			var held []uint16
			enobufs := 0
			for len(got) < tt.total {
				for _, c := range collect(t, r, 1, 2*time.Second) {
					if d, id, ok := b.Take(c); ok {
						got = append(got, d...)
						held = append(held, id)
					}
					if len(held) > tt.bufs {
						t.Fatalf("holding %d buffers of %d", len(held), tt.bufs)
					}
					if c.More() {
						continue
					}
					armed = false
					switch {
					case isErr(c.Res, eNOBUFS):
						enobufs++
						if len(held) != tt.bufs || b.InRing() != 0 {
							t.Fatalf("ENOBUFS while holding %d of %d buffers", len(held), tt.bufs)
						}
						if p.Features.BufRingStatus {
							if n, err := b.Available(); err != nil || n != 0 {
								t.Fatalf("kernel reports %d buffers available (%v)", n, err)
							}
						}
						for _, id := range held {
							b.Stage(id)
						}
						b.Publish()
						held = held[:0]
						r.GetSQE().PrepRecvMultishot(sp[0], b.Group(), 1)
						armed = true
					case c.Res > 0:
						r.GetSQE().PrepRecvMultishot(sp[0], b.Group(), 1)
						armed = true
					default:
						t.Fatalf("recv ended: %+v", c)
					}
				}
			}
			if !bytes.Equal(got, sent) {
				t.Fatalf("received %d bytes, differing from the %d sent", len(got), len(sent))
			}
			if enobufs < tt.wantENOBUFS {
				t.Errorf("%d ENOBUFS, want at least %d", enobufs, tt.wantENOBUFS)
			}
			for _, id := range held {
				b.Recycle(id)
			}
			// End of stream closes the recv; every buffer is then back.
			if !armed {
				r.GetSQE().PrepRecvMultishot(sp[0], b.Group(), 1)
			}
			unix.Close(sp[1])
			for done := false; !done; {
				for _, c := range collect(t, r, 1, time.Second) {
					if c.HasBuffer() || c.More() || c.Res != 0 {
						t.Fatalf("after end of stream: %+v", c)
					}
					done = true
				}
			}
			unix.Close(sp[0])
			if b.Outstanding() != 0 || b.InRing() != tt.bufs {
				t.Errorf("outstanding %d, in ring %d", b.Outstanding(), b.InRing())
			}
			if p.Features.BufRingStatus {
				if n, err := b.Available(); err != nil || n != tt.bufs {
					t.Errorf("kernel reports %d of %d buffers available (%v)", n, tt.bufs, err)
				}
			}
		})
	}
}

func TestBufRingMisuse(t *testing.T) {
	requireServer(t)
	r := newTestRing(t, Config{Entries: 4})
	tests := []struct {
		name    string
		entries int
		size    int
	}{
		{"not a power of two", 3, 64},
		{"zero entries", 0, 64},
		{"too many", 65536, 64},
		{"zero size", 4, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if b, err := r.NewBufRing(9, tt.entries, tt.size); err == nil {
				b.Close()
				t.Fatalf("NewBufRing(%d, %d) succeeded", tt.entries, tt.size)
			}
		})
	}
	b, err := r.NewBufRing(9, 2, 64)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.NewBufRing(9, 2, 64); err == nil {
		t.Error("second buffer ring with the same group succeeded")
	}
	mustPanic(t, "recycle of a buffer not taken", func() { b.Recycle(0) })
	mustPanic(t, "take of a buffer the kernel owns twice", func() {
		c := CQE{Res: 1, Flags: CQEFBuffer | 1<<CQEBufferShift}
		b.Take(c)
		b.Take(c)
	})
	b.Recycle(1)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	// The group is free again.
	b, err = r.NewBufRing(9, 2, 64)
	if err != nil {
		t.Fatalf("re-register after Close: %v", err)
	}
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s did not panic", what)
		}
	}()
	f()
}
