// Command fasthttp is the fasthttp peer of the load-test harness: the three
// benchmark endpoints on github.com/valyala/fasthttp, JSON through
// encoding/json per request. See package peers for the contract.
package main

import (
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
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	// Name sets the Server header; fasthttp adds Date (refreshed each
	// second) and Content-Length itself. No timeouts, as for nethttp.
	srv := &fasthttp.Server{Handler: handle, Name: "fasthttp", MaxRequestBodySize: 1 << 20}
	if err := srv.Serve(ln); err != nil {
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
