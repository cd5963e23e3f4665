package tls

import (
	"bytes"
	stdtls "crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"
)

var testCert = func() stdtls.Certificate {
	c, err := SelfSigned("example.test")
	if err != nil {
		panic(err)
	}
	return c
}()

func clientConfig(version uint16) *stdtls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(testCert.Leaf)
	return &stdtls.Config{RootCAs: pool, ServerName: "example.test", MinVersion: version, MaxVersion: version}
}

// pipeEnd is one direction of an in-memory byte stream.
type pipeEnd struct {
	mu     sync.Mutex
	cond   sync.Cond
	buf    []byte
	closed bool
}

func newPipeEnd() *pipeEnd { p := &pipeEnd{}; p.cond.L = &p.mu; return p }

func (p *pipeEnd) write(b []byte) {
	p.mu.Lock()
	p.buf = append(p.buf, b...)
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *pipeEnd) read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.buf) == 0 && !p.closed {
		p.cond.Wait()
	}
	if len(p.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(b, p.buf)
	p.buf = p.buf[n:]
	return n, nil
}

// take removes and returns what is buffered, without waiting.
func (p *pipeEnd) take() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.buf
	p.buf = nil
	return b
}

func (p *pipeEnd) close() {
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	p.mu.Unlock()
}

// clientConn is the client's net.Conn: it writes to up, reads from down.
type clientConn struct {
	up, down *pipeEnd
}

func (c *clientConn) Read(b []byte) (int, error)       { return c.down.read(b) }
func (c *clientConn) Write(b []byte) (int, error)      { c.up.write(b); return len(b), nil }
func (c *clientConn) Close() error                     { c.up.close(); return nil }
func (c *clientConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *clientConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *clientConn) SetDeadline(time.Time) error      { return nil }
func (c *clientConn) SetReadDeadline(time.Time) error  { return nil }
func (c *clientConn) SetWriteDeadline(time.Time) error { return nil }

// echoOverSession runs a TLS client that sends reqs (pipelined when
// pipelined is set) and reads the echo of each, against a Session driven
// by this goroutine as its loop, which feeds the client's bytes in pieces
// chosen by pick. It returns what the client read back.
func echoOverSession(t *testing.T, version uint16, reqs [][]byte, pipelined bool, pick func(n int) int) []byte {
	t.Helper()
	return echoShared(t, version, reqs, pipelined, pick, false)
}

// echoShared is echoOverSession; with shared, the Session decrypts into a
// scratch buffer (Hooks.Scratch) that is scribbled over after every
// round, as other connections of the loop would, and echoes at most 13
// bytes a round, so plaintext is often left unconsumed across rounds.
func echoShared(t *testing.T, version uint16, reqs [][]byte, pipelined bool, pick func(n int) int, shared bool) []byte {
	t.Helper()
	srv, err := NewServer(Config{TLS: &stdtls.Config{Certificates: []stdtls.Certificate{testCert}}, HandshakeTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	up, down := newPipeEnd(), newPipeEnd()
	tasks := make(chan func(), 16)
	var sess *Session
	var scratch []byte
	hooks := Hooks{
		Send: down.write,
		Done: func() { tasks <- func() {} },
	}
	if shared {
		hooks.Scratch = &scratch
	}
	sess = srv.NewSession(&net.TCPAddr{}, &net.TCPAddr{}, hooks)
	want := 0
	for _, r := range reqs {
		want += len(r)
	}
	result := make(chan []byte, 1)
	go func() {
		c := stdtls.Client(&clientConn{up: up, down: down}, clientConfig(version))
		var got []byte
		defer func() { result <- got }()
		if err := c.Handshake(); err != nil {
			return
		}
		if pipelined {
			c.Write(bytes.Join(reqs, nil))
		}
		buf := make([]byte, 4096)
		for i := 0; len(got) < want; i++ {
			if !pipelined && i < len(reqs) {
				c.Write(reqs[i])
			}
			n, err := c.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				return
			}
		}
		c.CloseWrite()
	}()
	var pending []byte
	finished := false
	deadline := time.After(10 * time.Second)
	for {
		select {
		case got := <-result:
			sess.Close()
			down.close()
			return got
		case <-deadline:
			t.Fatal("timed out")
		case task := <-tasks:
			task()
			if err := sess.Finish(); err != nil {
				t.Fatalf("handshake: %v", err)
			}
			finished = true
		case <-time.After(time.Millisecond):
		}
		pending = append(pending, up.take()...)
		for len(pending) > 0 {
			k := pick(len(pending))
			err := sess.Feed(pending[:k])
			pending = pending[k:]
			if err != nil && err != ErrNeedMore {
				t.Fatalf("feed: %v", err)
			}
		}
		if p := sess.Pending(); len(p) > 0 {
			down.write(append([]byte(nil), p...))
		}
		if finished && len(sess.Plain()) > 0 {
			p := sess.Plain()
			if shared {
				p = p[:min(len(p), 13)]
			}
			out, err := sess.Write(p)
			if err != nil {
				t.Fatalf("write: %v", err)
			}
			down.write(append([]byte(nil), out...))
			sess.Consume(len(p))
		}
		if shared {
			sess.Detach()
			for i := range scratch {
				scratch[i] = 0xAA // another connection's records
			}
		}
	}
}

func requests(n int) [][]byte {
	var rs [][]byte
	for i := 0; i < n; i++ {
		rs = append(rs, []byte("GET /"+string(rune('a'+i%26))+" HTTP/1.1\r\nHost: x\r\n\r\n"))
	}
	return rs
}

func TestSessionEcho(t *testing.T) {
	base := runtime.NumGoroutine()
	for _, v := range []uint16{stdtls.VersionTLS12, stdtls.VersionTLS13} {
		for _, pieces := range []struct {
			name string
			pick func(n int) int
		}{
			{"whole", func(n int) int { return n }},
			{"byte by byte", func(int) int { return 1 }},
			{"odd pieces", func(n int) int { return min(n, 7) }},
		} {
			for _, pipelined := range []bool{false, true} {
				reqs := requests(100)
				if !pipelined {
					reqs = reqs[:5]
				}
				got := echoOverSession(t, v, reqs, pipelined, pieces.pick)
				if want := bytes.Join(reqs, nil); !bytes.Equal(got, want) {
					t.Fatalf("%s %s pipelined=%v: got %d bytes, want %d", stdtls.VersionName(v), pieces.name, pipelined, len(got), len(want))
				}
			}
		}
	}
	waitGoroutines(t, base)
}

// TestSessionSharedScratch: with the loop's scratch buffer shared and
// scribbled over between rounds, and plaintext left unconsumed across
// rounds, every byte still comes back right: Detach moved what was left.
func TestSessionSharedScratch(t *testing.T) {
	base := runtime.NumGoroutine()
	for _, v := range []uint16{stdtls.VersionTLS12, stdtls.VersionTLS13} {
		for _, pipelined := range []bool{false, true} {
			reqs := requests(40)
			got := echoShared(t, v, reqs, pipelined, func(n int) int { return min(n, 300) }, true)
			if want := bytes.Join(reqs, nil); !bytes.Equal(got, want) {
				t.Fatalf("%s pipelined=%v: got %q, want %q", stdtls.VersionName(v), pipelined, got, want)
			}
		}
	}
	waitGoroutines(t, base)
}

// FuzzSplit feeds the TLS stream to the Session in random pieces: the
// result must not depend on how the ciphertext was split.
func FuzzSplit(f *testing.F) {
	f.Add(uint64(1), true)
	f.Add(uint64(2), false)
	f.Fuzz(func(t *testing.T, seed uint64, tls13 bool) {
		rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b9))
		v := uint16(stdtls.VersionTLS12)
		if tls13 {
			v = stdtls.VersionTLS13
		}
		reqs := requests(3)
		got := echoOverSession(t, v, reqs, true, func(n int) int { return 1 + rng.IntN(n) })
		if want := bytes.Join(reqs, nil); !bytes.Equal(got, want) {
			t.Fatalf("got %q", got)
		}
	})
}

func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > base+1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base+1 {
		t.Fatalf("%d goroutines, %d before", n, base)
	}
}

func TestGate(t *testing.T) {
	hello := clientHelloBytes(t)
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"whole hello", hello, nil},
		{"half hello", hello[:len(hello)/2], ErrNeedMore},
		{"record header only", hello[:5], ErrNeedMore},
		{"plain HTTP", []byte("GET / HTTP/1.1\r\n"), ErrPlainHTTP},
		{"h2 preface", []byte("PRI * HTTP/2.0\r\n"), ErrPlainHTTP},
		{"garbage", []byte{0x00, 0x01, 0x02}, ErrNotTLS},
		{"alert record", []byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28}, ErrNotTLS},
		{"SSLv2 hello", []byte{0x80, 0x2e, 0x01, 0x00, 0x02}, ErrNotTLS},
		{"bad version", []byte{0x16, 0x02, 0x00, 0x00, 0x10}, ErrNotTLS},
		{"oversized record", []byte{0x16, 0x03, 0x01, 0xff, 0xff}, ErrNotTLS},
		{"not a ClientHello", []byte{0x16, 0x03, 0x01, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00}, ErrNotTLS},
		{"huge ClientHello", []byte{0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x01, 0x00, 0x00}, ErrClientHelloTooLarge},
	} {
		if err := Gate(tc.in); !errors.Is(err, tc.want) && err != tc.want {
			t.Errorf("%s: Gate = %v, want %v", tc.name, err, tc.want)
		}
	}
	// A ClientHello split over two records is whole only with both.
	frag := splitIntoRecords(hello, 100)
	if err := Gate(frag[:len(frag)-1]); err != ErrNeedMore {
		t.Errorf("split hello, last byte missing: %v", err)
	}
	if err := Gate(frag); err != nil {
		t.Errorf("split hello: %v", err)
	}
}

// clientHelloBytes captures a real ClientHello from crypto/tls.
func clientHelloBytes(t *testing.T) []byte {
	up, down := newPipeEnd(), newPipeEnd()
	go stdtls.Client(&clientConn{up: up, down: down}, clientConfig(stdtls.VersionTLS13)).Handshake()
	defer down.close()
	for i := 0; i < 500; i++ {
		up.mu.Lock()
		n := len(up.buf)
		up.mu.Unlock()
		if n > 5 {
			time.Sleep(10 * time.Millisecond)
			return up.take()
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("no ClientHello")
	return nil
}

// splitIntoRecords re-frames one handshake record's payload into records
// of at most n payload bytes.
func splitIntoRecords(rec []byte, n int) []byte {
	payload := rec[5:]
	var out []byte
	for len(payload) > 0 {
		k := min(n, len(payload))
		out = append(out, rec[0], rec[1], rec[2], byte(k>>8), byte(k))
		out = append(out, payload[:k]...)
		payload = payload[k:]
	}
	return out
}

// TestHandshakeFlood: bytes sent while a handshake is queued for a slot,
// or running, are bounded (a client must not grow the server's memory
// while it waits), and the sessions end cleanly.
func TestHandshakeFlood(t *testing.T) {
	base := runtime.NumGoroutine()
	srv, err := NewServer(Config{TLS: &stdtls.Config{Certificates: []stdtls.Certificate{testCert}}, HandshakeTimeout: 5 * time.Second, MaxHandshakes: 1})
	if err != nil {
		t.Fatal(err)
	}
	hello := clientHelloBytes(t)
	hooks := Hooks{Send: func([]byte) {}, Done: func() {}}
	running := srv.NewSession(&net.TCPAddr{}, &net.TCPAddr{}, hooks)
	queued := srv.NewSession(&net.TCPAddr{}, &net.TCPAddr{}, hooks)
	defer running.Close()
	defer queued.Close()
	if err := running.Feed(hello); err != nil {
		t.Fatal(err)
	}
	if err := queued.Feed(hello); err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, 16<<10)
	var err2 error
	n := 0
	for ; n < 64 && err2 == nil; n++ {
		err2 = queued.Feed(junk)
	}
	if err2 != ErrHandshakeFlood || n*len(junk) > maxQueuedBytes+len(junk) {
		t.Fatalf("queued: %v after %d KiB, want ErrHandshakeFlood by %d KiB", err2, n*16, maxQueuedBytes>>10)
	}
	// The running handshake reads what it is fed; a flood it cannot
	// parse ends it; past holdHandshakeBytes unread Feed asks the caller
	// to stop reading (ErrHold), and past maxHandshakeBytes it refuses.
	err2 = nil
	for n = 0; n < 128 && (err2 == nil || err2 == ErrHold); n++ {
		err2 = running.Feed(junk)
	}
	if n == 128 {
		t.Fatal("a running handshake took 2 MiB of junk")
	}
	running.Close()
	queued.Close()
	waitGoroutines(t, base)
}
