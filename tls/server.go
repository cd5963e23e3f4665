package tls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	stdtls "crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures TLS termination. The zero value of each field means
// the default named on it.
type Config struct {
	// TLS is the standard library configuration: certificates (or
	// GetCertificate / GetConfigForClient for SNI), client auth, and so
	// on. It is cloned; these defaults fill what it leaves unset:
	// MinVersion TLS 1.2; for TLS 1.2, only ECDHE suites with AES-GCM or
	// ChaCha20-Poly1305 (Go's default list still has CBC suites, which
	// scanners flag); NextProtos ["http/1.1"]; session tickets on.
	TLS *stdtls.Config
	// HandshakeTimeout bounds a handshake from the ClientHello to the
	// client's Finished. Zero means 10 s.
	HandshakeTimeout time.Duration
	// MaxHandshakes is the most handshakes running at once; more wait,
	// their ClientHello buffered, for a slot. A handshake is ~200 µs of
	// CPU: more than a few per core only adds latency. Zero means
	// 4 per GOMAXPROCS.
	MaxHandshakes int
}

// DefaultCipherSuites are the TLS 1.2 suites a Server offers by default:
// forward secrecy and AEAD only. (TLS 1.3 suites are not configurable in
// crypto/tls; all three are AEAD.)
var DefaultCipherSuites = []uint16{
	stdtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	stdtls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	stdtls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	stdtls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	stdtls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	stdtls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// ErrNoCertificate: the configuration has no way to pick a certificate.
var ErrNoCertificate = errors.New("tls: no certificate (set Certificates, GetCertificate or GetConfigForClient, or call SetCertificate)")

// Server holds what every connection's Session shares: the configuration
// with defaults applied, the current certificate and the handshake slots.
// Safe for concurrent use.
type Server struct {
	cfg     *stdtls.Config
	timeout time.Duration

	cert atomic.Pointer[stdtls.Certificate] // set by SetCertificate

	slots   chan struct{} // one token per running handshake
	mu      sync.Mutex    // guards waiting
	waiting []*Session    // handshakes waiting for a slot, in arrival order

	handshakes atomic.Int64 // completed handshakes
	failures   atomic.Int64 // failed handshakes
}

// NewServer returns a Server for c.
func NewServer(c Config) (*Server, error) {
	s := &Server{timeout: c.HandshakeTimeout}
	if s.timeout <= 0 {
		s.timeout = 10 * time.Second
	}
	n := c.MaxHandshakes
	if n <= 0 {
		n = 4 * runtime.GOMAXPROCS(0)
	}
	s.slots = make(chan struct{}, n)
	var cfg *stdtls.Config
	if c.TLS != nil {
		cfg = c.TLS.Clone()
	} else {
		cfg = &stdtls.Config{}
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = stdtls.VersionTLS12
	}
	if cfg.MinVersion < stdtls.VersionTLS12 {
		return nil, fmt.Errorf("tls: MinVersion below TLS 1.2 is not supported")
	}
	if cfg.CipherSuites == nil {
		cfg.CipherSuites = DefaultCipherSuites
	}
	if cfg.NextProtos == nil {
		cfg.NextProtos = []string{"http/1.1"}
	}
	if len(cfg.Certificates) == 0 && cfg.GetCertificate == nil && cfg.GetConfigForClient == nil {
		cfg.GetCertificate = func(*stdtls.ClientHelloInfo) (*stdtls.Certificate, error) {
			if c := s.cert.Load(); c != nil {
				return c, nil
			}
			return nil, ErrNoCertificate
		}
	}
	s.cfg = cfg
	return s, nil
}

// SetCertificate replaces the certificate served when the configuration
// has none of its own: new handshakes use it at once, with no restart.
func (s *Server) SetCertificate(c *stdtls.Certificate) { s.cert.Store(c) }

// LoadCertificate reads a PEM certificate chain and key and serves them
// from the next handshake on: a reload hook for rotated certificates.
func (s *Server) LoadCertificate(certFile, keyFile string) error {
	c, err := stdtls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return err
	}
	s.SetCertificate(&c)
	return nil
}

// Config returns the configuration handshakes use. Do not modify it.
func (s *Server) Config() *stdtls.Config { return s.cfg }

// HandshakeStats returns the completed and failed handshake counts.
func (s *Server) HandshakeStats() (ok, failed int64) {
	return s.handshakes.Load(), s.failures.Load()
}

// acquire takes a handshake slot for x, or queues it; it reports whether
// x may start now.
func (s *Server) acquire(x *Session) bool {
	select {
	case s.slots <- struct{}{}:
		return true
	default:
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	select { // a slot may have freed meanwhile
	case s.slots <- struct{}{}:
		return true
	default:
	}
	s.waiting = append(s.waiting, x)
	return false
}

// release hands the slot to the next waiting handshake, or frees it.
func (s *Server) release() {
	for {
		s.mu.Lock()
		if len(s.waiting) == 0 {
			<-s.slots
			s.mu.Unlock()
			return
		}
		x := s.waiting[0]
		s.waiting[0] = nil
		s.waiting = s.waiting[1:]
		s.mu.Unlock()
		if x.startQueued() {
			return // x took the slot
		}
	}
}

// forget removes x from the waiting list (its connection closed).
func (s *Server) forget(x *Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, w := range s.waiting {
		if w == x {
			s.waiting = append(s.waiting[:i], s.waiting[i+1:]...)
			return
		}
	}
}

// SelfSigned returns an ephemeral ECDSA P-256 certificate for hosts (names
// or IP addresses), valid for a day: for demos and tests only.
func SelfSigned(hosts ...string) (stdtls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return stdtls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return stdtls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "sluice self-signed"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return stdtls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return stdtls.Certificate{}, err
	}
	return stdtls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}
