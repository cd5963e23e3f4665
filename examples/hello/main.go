// Command hello serves the classic benchmark endpoints:
//
//	GET /plaintext  text/plain        Hello, World!
//	GET /json       application/json  {"message":"Hello, World!"} (encoded per request)
//
// Both carry Server, Date and Content-Length. Flags: -addr, -model,
// -inline.
package main

import (
	"github.com/sluice-go/sluice"
	"github.com/sluice-go/sluice/examples/internal/cli"
)

func main() { cli.Main(func(*cli.Flags) sluice.Handler { return routes() }) }

type message struct {
	Message string `json:"message"`
}

func routes() *sluice.Mux {
	mux := sluice.NewMux()
	mux.HandleFunc("GET /plaintext", func(c *sluice.Ctx) {
		_ = c.String(200, "Hello, World!")
	})
	mux.HandleFunc("GET /json", func(c *sluice.Ctx) {
		_ = c.JSON(200, message{Message: "Hello, World!"})
	})
	return mux
}
