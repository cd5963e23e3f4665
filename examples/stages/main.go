// Command stages is a service with three routes whose bottleneck sits in
// a different stage of sluice's pipeline, and a route that shows it:
//
//	POST /ingest         decodes a batch of nested records, answers a summary       (Decode)
//	GET  /hash?rounds=N  SHA-256 applied N times, 1 to 100000, 1000 by default       (Process)
//	GET  /headers        counts the request's header fields, runs on the event loop (Read, Parse)
//	GET  /stages         the server's per-stage breakdown and its culprit, as text
//
// The first three answer JSON; a refused body gets 400, 413 or 415 with a
// JSON error, a bad rounds 400 saying what is allowed. /stages needs
// -debug-addr HOST:PORT: cli.Main builds the server and keeps it, so the
// route reads the server's Stats back from the debug listener's
// /debug/stats (JSON) on loopback. It covers every request since start,
// all routes mixed.
//
// With -drive it serves nothing on -addr: it loads each route in turn on
// a fresh in-process server at 127.0.0.1:0 (so each server's stats are
// that route's only), with every request timed (-stage-sampling is
// ignored), and prints each route's breakdown and culprit. -model and
// -inline apply; -drive-time, -header-bytes and -header-write shape the
// load. README.md shows a run and what it found.
//
// The other flags are the examples' own (see -h): -addr, -model, -inline,
// -accept, TLS, -metrics, -stage-sampling, -debug-addr.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"os"
	"strconv"

	"github.com/sluice-go/sluice"
	"github.com/sluice-go/sluice/examples/internal/cli"
)

func main() {
	drive := flag.Bool("drive", false, "load each route on a fresh in-process server and print its stage breakdown, instead of serving on -addr")
	o := defaultDrive
	flag.DurationVar(&o.per, "drive-time", o.per, "-drive: how long each route is loaded")
	flag.IntVar(&o.headerBytes, "header-bytes", o.headerBytes, "-drive: the size of GET /headers's header set, in bytes")
	flag.IntVar(&o.headerWrite, "header-write", o.headerWrite, "-drive: write GET /headers requests this many bytes at a time; 0 writes each whole")
	cli.Main(func(f *cli.Flags) sluice.Handler {
		if *drive {
			// cli.Main calls this once the flags are parsed and before it
			// serves: the driver takes -model and -inline from the same
			// flags, and the process ends with it.
			os.Exit(runDrive(os.Stdout, os.Stderr, *f, o))
		}
		return routes(f)
	}, tune)
}

// tune is the server configuration the routes need, for the service and
// the driver alike.
func tune(c *sluice.Config) { c.JSONTypes = jsonTypes }

// batch is the document POST /ingest reads: a few hundred records, each
// with nested objects, an array of objects and a map, so that decoding it
// is most of the request's cost.
type batch struct {
	Source  string   `json:"source"`
	Records []record `json:"records"`
}

type record struct {
	ID       int64             `json:"id"`
	Device   string            `json:"device"`
	Tags     []string          `json:"tags"`
	Location location          `json:"location"`
	Readings []reading         `json:"readings"`
	Meta     map[string]string `json:"meta"`
}

type location struct {
	Site string  `json:"site"`
	Lat  float64 `json:"lat"`
	Lon  float64 `json:"lon"`
}

type reading struct {
	T    int64   `json:"t"`
	Kind string  `json:"kind"`
	V    float64 `json:"v"`
}

// summary is POST /ingest's answer.
type summary struct {
	Source   string  `json:"source"`
	Records  int     `json:"records"`
	Readings int     `json:"readings"`
	Sum      float64 `json:"sum"`
}

// hashed is GET /hash's answer.
type hashed struct {
	Rounds int    `json:"rounds"`
	Digest string `json:"digest"` // hex of SHA-256 applied Rounds times to "sluice"
}

// headerCount is GET /headers's answer.
type headerCount struct {
	Fields int `json:"fields"`
	Bytes  int `json:"bytes"` // names and values, without separators
}

// jsonTypes are compiled by sonic at start-up, so the first request of
// each type does not pay ~10 ms for it (and skew the first timings).
var jsonTypes = []any{batch{}, summary{}, hashed{}, headerCount{}}

const (
	// defaultRounds is GET /hash's work without ?rounds: ~0.1 ms.
	defaultRounds = 1000
	// maxRounds bounds GET /hash's work: a round of SHA-256 over 32 bytes
	// is ~90 ns with the CPU's SHA extensions (~370 ns without), so no
	// request holds a worker for more than ~9 ms (~37 ms) of CPU.
	maxRounds = 100000
)

// hashSeed is what GET /hash hashes.
var hashSeed = []byte("sluice")

// routes returns the service; f gives GET /stages the debug listener's
// address and says whether handlers run on the event loops.
func routes(f *cli.Flags) *sluice.Mux {
	mux := sluice.NewMux()
	mux.HandleFunc("POST /ingest", ingest)
	mux.HandleFunc("GET /hash", hash)
	// Inline: the handler counts fields and never blocks, and on the loop
	// it skips the worker pool's hand-off there and back, which for a
	// request this cheap costs more than reading and parsing it (README.md).
	mux.Handle("GET /headers", sluice.InlineFunc(headers))
	mux.Handle("GET /stages", stagesHandler(f))
	return mux
}

// ingest decodes the batch into typed structs (the Decode stage) and
// answers a summary that takes a pass over the readings (Process, small).
// The body is bounded by the server's Limits.MaxBodyBytes (4 MiB by
// default) and its nesting by Config.JSONMaxDepth.
func ingest(c *sluice.Ctx) {
	var in batch
	if !c.Bind(&in) {
		return
	}
	out := summary{Source: in.Source, Records: len(in.Records)}
	for i := range in.Records {
		out.Readings += len(in.Records[i].Readings)
		for _, r := range in.Records[i].Readings {
			out.Sum += r.V
		}
	}
	_ = c.JSON(200, out)
}

// hash applies SHA-256 rounds times (the Process stage), rounds from the
// query: 1 to maxRounds, defaultRounds when absent.
func hash(c *sluice.Ctx) {
	rounds := defaultRounds
	if s, ok := c.LookupQuery("rounds"); ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxRounds {
			_ = c.Error(400, "rounds must be an integer from 1 to "+strconv.Itoa(maxRounds))
			return
		}
		rounds = n
	}
	d := iterate(hashSeed, rounds)
	_ = c.JSON(200, hashed{Rounds: rounds, Digest: hex.EncodeToString(d[:])})
}

// iterate returns SHA-256 applied rounds (≥ 1) times to seed.
func iterate(seed []byte, rounds int) [sha256.Size]byte {
	d := sha256.Sum256(seed)
	for range rounds - 1 {
		d = sha256.Sum256(d[:])
	}
	return d
}

// headers answers how many header fields the request carried and their
// size: the work is the server's, reading and parsing them.
func headers(c *sluice.Ctx) {
	var out headerCount
	for _, h := range c.Headers() {
		out.Fields++
		out.Bytes += len(h.Name) + len(h.Value)
	}
	_ = c.JSON(200, out)
}
