package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// tlsFiles is the certificate every target serves in the TLS scenarios:
// one ECDSA P-256 self-signed certificate for 127.0.0.1, written once per
// harness run, so that every server sends the same chain and signs with
// the same kind of key.
type tlsFiles struct {
	Cert, Key string      // PEM files
	client    *tls.Config // trusts Cert; used by the probe and the Go clients
}

// writeTLSFiles generates the certificate and its key into dir.
func writeTLSFiles(dir string) (*tlsFiles, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "sluice bench"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	f := &tlsFiles{Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem")}
	if err := os.WriteFile(f.Cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(f.Key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	f.client = &tls.Config{
		RootCAs: roots,
		// X25519 only: the group wrk (OpenSSL 3.0, no ML-KEM) ends up with,
		// so the Go clients' handshakes cost the servers what wrk's do and
		// leave the same records behind (Go's default X25519MLKEM768 key
		// share makes the ClientHello about 1.2 KB larger).
		CurvePreferences: []tls.CurveID{tls.X25519},
	}
	return f, nil
}

// clientConfig returns a client configuration for addr: f's roots and
// the address's host as the server name (the certificate has
// 127.0.0.1's IP).
func (f *tlsFiles) clientConfig(addr string) *tls.Config {
	c := f.client.Clone()
	c.ServerName, _, _ = net.SplitHostPort(addr)
	return c
}

// serverResumes connects to addr twice over TLS with a session cache,
// getting path each time on a new connection, and reports whether the
// second handshake resumed the first one's session. wrk offers each
// connection slot's last session on every reconnect, so a server that
// resumes serves wrk abbreviated handshakes.
func serverResumes(ctx context.Context, addr, path string, cfg *tls.Config) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	cfg = cfg.Clone()
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: cfg}}
	defer client.CloseIdleConnections()
	var resumed bool
	for i := range 2 {
		req, err := http.NewRequestWithContext(ctx, "GET", "https://"+addr+path, nil)
		if err != nil {
			return false, err
		}
		req.Close = true
		resp, err := client.Do(req)
		if err != nil {
			return false, err
		}
		// Reading the response also reads the TLS 1.3 session tickets
		// the server sent before it.
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return false, err
		}
		if resp.TLS == nil {
			return false, errors.New("not a TLS connection")
		}
		if i == 1 {
			resumed = resp.TLS.DidResume
		}
	}
	return resumed, nil
}
