// Command fasthttp is the fasthttp peer of the load-test harness: the three
// benchmark endpoints on github.com/valyala/fasthttp, JSON through
// encoding/json per request; with -cert and -key, over TLS with
// Server.ServeTLS (crypto/tls). See package peers for the contract.
package main

import (
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"

	"github.com/valyala/fasthttp"
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

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	certFile := flag.String("cert", "", "serve HTTPS with this PEM certificate chain (with -key)")
	keyFile := flag.String("key", "", "the PEM private key of -cert")
	noTickets := flag.Bool("no-session-tickets", false, "with -cert: send no TLS session tickets, so no handshake is resumed")
	flag.Parse()
	// Name sets the Server header; fasthttp adds Date (refreshed each
	// second) and Content-Length itself. No timeouts, as for nethttp.
	srv := &fasthttp.Server{Handler: handle, Name: "fasthttp", MaxRequestBodySize: 1 << 20}
	if *certFile != "" || *keyFile != "" {
		// Loaded here so that a bad file fails before "listening on";
		// ServeTLS then uses TLSConfig's certificate.
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

func handle(ctx *fasthttp.RequestCtx) {
	switch string(ctx.Path()) {
	case "/plaintext":
		if ctx.IsGet() || ctx.IsHead() {
			ctx.SetContentType("text/plain; charset=utf-8")
			ctx.SetBodyString("Hello, World!")
			return
		}
	case "/json":
		if ctx.IsGet() || ctx.IsHead() {
			b, err := json.Marshal(&message{Message: "Hello, World!"})
			if err != nil {
				ctx.Error(err.Error(), fasthttp.StatusInternalServerError)
				return
			}
			ctx.SetContentType("application/json")
			ctx.SetBody(b)
			return
		}
	case "/decode":
		if ctx.IsPost() {
			var req decodeRequest
			if err := json.Unmarshal(ctx.PostBody(), &req); err != nil {
				ctx.Error("400 Bad Request", fasthttp.StatusBadRequest)
				return
			}
			b, err := json.Marshal(&decodeResponse{OK: true, N: req.N})
			if err != nil {
				ctx.Error(err.Error(), fasthttp.StatusInternalServerError)
				return
			}
			ctx.SetContentType("application/json")
			ctx.SetBody(b)
			return
		}
	default:
		ctx.Error("404 Not Found", fasthttp.StatusNotFound)
		return
	}
	ctx.Error("405 Method Not Allowed", fasthttp.StatusMethodNotAllowed)
}
