package tls

import (
	"bytes"
	"errors"
)

// Gate errors.
var (
	// ErrNotTLS: the first bytes are not a TLS handshake record.
	ErrNotTLS = errors.New("tls: not a TLS handshake")
	// ErrPlainHTTP: the first bytes look like an HTTP request: a client
	// speaking plain HTTP to the TLS port (answer it with a 400 saying so).
	ErrPlainHTTP = errors.New("tls: plain HTTP request sent to the TLS port")
	// ErrClientHelloTooLarge: the ClientHello passes MaxClientHello.
	ErrClientHelloTooLarge = errors.New("tls: ClientHello too large")
	// ErrHandshakeFlood: more bytes arrived while a handshake was queued
	// or running than it can need (see Session.Feed).
	ErrHandshakeFlood = errors.New("tls: too many bytes before the handshake completed")
	// ErrHold: Feed kept the bytes, but the handshake has not taken them
	// and enough wait: stop reading the socket until it completes.
	// Preallocated.
	ErrHold = errors.New("tls: hold reading until the handshake completes")
	// ErrNeedMore: the ClientHello is not complete yet. Preallocated.
	ErrNeedMore = errors.New("tls: need more data")
)

const (
	recordHeaderLen = 5
	recordHandshake = 0x16
	msgClientHello  = 1
	// maxRecordLen is the largest TLSCiphertext record (RFC 8446 §5.2:
	// 2^14 + 256), the bound on one record of the first flight.
	maxRecordLen = 16384 + 256
	// MaxClientHello bounds the ClientHello the gate buffers: a hello
	// with a post-quantum key share is ~1.8 KiB; 32 KiB leaves room for
	// many extensions while a half-open handshake pins little memory.
	MaxClientHello = 32 << 10
)

// Gate inspects the first bytes of a connection. It returns nil once b
// holds a whole ClientHello (possibly spread over several handshake
// records), ErrNeedMore before, or why the bytes cannot start a TLS
// handshake. It looks only at framing; crypto/tls checks the rest.
func Gate(b []byte) error {
	if len(b) == 0 {
		return ErrNeedMore
	}
	if b[0] != recordHandshake {
		if looksLikeHTTP(b) {
			return ErrPlainHTTP
		}
		return ErrNotTLS
	}
	need := -1 // handshake message bytes still missing; -1 until known
	var msg [4]byte
	have := 0 // bytes of the message header seen so far
	for off := 0; ; {
		if len(b)-off < recordHeaderLen {
			if len(b)-off > 0 && !plausibleHeader(b[off:]) {
				return ErrNotTLS
			}
			return ErrNeedMore
		}
		h := b[off : off+recordHeaderLen]
		if h[0] != recordHandshake || h[1] != 3 || h[2] > 4 {
			return ErrNotTLS
		}
		n := int(h[3])<<8 | int(h[4])
		if n == 0 || n > maxRecordLen {
			return ErrNotTLS
		}
		frag := b[off+recordHeaderLen:]
		if len(frag) > n {
			frag = frag[:n]
		}
		for len(frag) > 0 && have < 4 {
			msg[have] = frag[0]
			frag = frag[1:]
			have++
			if have == 4 {
				if msg[0] != msgClientHello {
					return ErrNotTLS
				}
				need = int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3])
				if need+4 > MaxClientHello {
					return ErrClientHelloTooLarge
				}
			}
		}
		if need >= 0 {
			need -= len(frag)
			if need <= 0 {
				return nil
			}
		}
		if off+recordHeaderLen+n > len(b) {
			return ErrNeedMore
		}
		off += recordHeaderLen + n
		if off > MaxClientHello+8*recordHeaderLen {
			return ErrClientHelloTooLarge
		}
	}
}

// plausibleHeader reports whether the start of a record header could
// still be a handshake record's.
func plausibleHeader(h []byte) bool {
	return h[0] == recordHandshake && (len(h) < 2 || h[1] == 3) && (len(h) < 3 || h[2] <= 4)
}

// looksLikeHTTP reports whether b starts like an HTTP/1.x request line:
// an upper-case token and a space.
func looksLikeHTTP(b []byte) bool {
	for _, m := range [...]string{"GET ", "HEAD ", "POST ", "PUT ", "DELETE ", "OPTIONS ", "PATCH ", "CONNECT ", "TRACE ", "PRI "} {
		n := min(len(b), len(m))
		if bytes.Equal(b[:n], []byte(m[:n])) {
			return true
		}
	}
	return false
}
