// Command hello serves the classic benchmark endpoints:
//
//	GET  /plaintext  text/plain        Hello, World!
//	GET  /json       application/json  {"message":"Hello, World!"} (encoded per request)
//	POST /decode     application/json  decodes {"name","email","tags","n"}, answers {"ok":true,"n":<n>}
//
// All carry Server, Date and Content-Length; a malformed /decode body gets
// 400 with a JSON error naming the offset. Flags (see -h): -addr, -model,
// -inline, -accept (perloop or shared; -reuseport is -accept perloop),
// TLS (-cert/-key, -tls-self-signed, -no-session-tickets), -metrics
// (GET /metrics in the Prometheus format),
// -stage-sampling, -debug-addr (pprof and /debug/stats).
package main

import (
	"github.com/sluice-go/sluice"
	"github.com/sluice-go/sluice/examples/internal/cli"
)

func main() {
	cli.Main(func(*cli.Flags) sluice.Handler { return routes() },
		func(c *sluice.Config) { c.JSONTypes = jsonTypes })
}

type message struct {
	Message string `json:"message"`
}

// signup is the document POST /decode reads.
type signup struct {
	Name  string   `json:"name"`
	Email string   `json:"email"`
	Tags  []string `json:"tags"`
	N     int      `json:"n"`
}

type decoded struct {
	OK bool `json:"ok"`
	N  int  `json:"n"`
}

// jsonTypes are compiled by sonic at start-up.
var jsonTypes = []any{message{}, signup{}, decoded{}}

func routes() *sluice.Mux {
	mux := sluice.NewMux()
	mux.HandleFunc("GET /plaintext", func(c *sluice.Ctx) {
		_ = c.String(200, "Hello, World!")
	})
	mux.HandleFunc("GET /json", func(c *sluice.Ctx) {
		_ = c.JSON(200, message{Message: "Hello, World!"})
	})
	mux.HandleFunc("POST /decode", func(c *sluice.Ctx) {
		var in signup
		if !c.Bind(&in) {
			return
		}
		_ = c.JSON(200, decoded{OK: true, N: in.N})
	})
	return mux
}
