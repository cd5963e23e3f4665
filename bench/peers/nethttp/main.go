// Command nethttp is the net/http peer of the load-test harness: the three
// benchmark endpoints on net/http's ServeMux, JSON through encoding/json per
// request; with -cert and -key, over TLS with Server.ServeTLS. See package
// peers for the contract.
package main

import (
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
)

type message struct {
	Message string `json:"message"`
}

type decodeRequest struct {
	Name  string   `json:"name"`
	Email string   `json:"email"`
	Tags  []string `json:"tags"`
	N     int      `json:"n"`
}

type decodeResponse struct {
	OK bool `json:"ok"`
	N  int  `json:"n"`
}

// maxBody bounds a /decode body: the benchmark sends about 300 bytes.
const maxBody = 1 << 20

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	certFile := flag.String("cert", "", "serve HTTPS with this PEM certificate chain (with -key)")
	keyFile := flag.String("key", "", "the PEM private key of -cert")
	noTickets := flag.Bool("no-session-tickets", false, "with -cert: send no TLS session tickets, so no handshake is resumed")
	flag.Parse()
	// No timeouts: the idle scenarios keep connections open, and the
	// other peers do not time out idle connections within a run either.
	srv := &http.Server{Handler: routes()}
	if *certFile != "" || *keyFile != "" {
		// Loaded here rather than by ServeTLS, so that a bad file fails
		// before the "listening on" line.
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, SessionTicketsDisabled: *noTickets}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	if srv.TLSConfig != nil {
		err = srv.ServeTLS(ln, "", "")
	} else {
		err = srv.Serve(ln)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /plaintext", func(w http.ResponseWriter, r *http.Request) {
		write(w, http.StatusOK, "text/plain; charset=utf-8", []byte("Hello, World!"))
	})
	mux.HandleFunc("GET /json", func(w http.ResponseWriter, r *http.Request) {
		b, err := json.Marshal(&message{Message: "Hello, World!"})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		write(w, http.StatusOK, "application/json", b)
	})
	mux.HandleFunc("POST /decode", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		var req decodeRequest
		if err == nil {
			err = json.Unmarshal(body, &req)
		}
		if err != nil {
			write(w, http.StatusBadRequest, "text/plain; charset=utf-8", []byte("400 Bad Request"))
			return
		}
		b, err := json.Marshal(&decodeResponse{OK: true, N: req.N})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		write(w, http.StatusOK, "application/json", b)
	})
	return mux
}

// write sends body with the shared header set; net/http adds Date.
func write(w http.ResponseWriter, status int, contentType string, body []byte) {
	h := w.Header()
	h.Set("Server", "nethttp")
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
