package sluice

import (
	"bufio"
	"bytes"
	"net/http"
	"os"
	"runtime"
	"strconv"

	"github.com/sluice-go/sluice/metrics"
	"github.com/sluice-go/sluice/stage"
)

// Stats is a snapshot of the server: the stages' timings (sampled, see
// Config.StageSampling) and the counters, gauges and kernel figures of
// package stage, plus the connection counts. A plain value, safe to keep.
//
// What each stage measures:
//   - Accept: the server setting up an accepted connection (PerConn:
//     from accept(2) returning to the connection being ready).
//   - AcceptQueue: the wait between the handshake's final ACK and the
//     server holding the connection (TCP_INFO tcpi_last_ack_recv, in
//     kernel ticks: 4 ms resolution at HZ=250; it shows an overloaded
//     accept queue, not sub-millisecond waits).
//   - Read: from the loop first handling a request's bytes to its head
//     being complete: Parse, plus any wait for the rest of the head (the
//     read system call itself is in no stage; Decrypt comes before).
//   - Decrypt: TLS record decryption per read (sampled).
//   - Handshake: a TLS handshake, from the accept to its completion on
//     the loop (every handshake, not sampled).
//   - Parse: time inside the HTTP/1.1 parser.
//   - Decode: time inside Ctx.DecodeJSON, Form and Multipart.
//   - Process: the handler, without its Decode time.
//   - Write: from encoding the response to the kernel taking it (for pool
//     workers, to the loop's write completing).
//   - QueueWait: a batch waiting for a pool worker.
type Stats struct {
	stage.Snapshot
	OpenConns     int64 `json:"open_conns"`     // connections open now
	AcceptedConns int64 `json:"accepted_conns"` // connections accepted since Start
	RefusedConns  int64 `json:"refused_conns"`  // connections closed at accept: MaxConns reached
	MaxConns      int64 `json:"max_conns"`      // Config.MaxConns as resolved (from the open-file limit by default); negative: none
}

// Stats returns the server's snapshot. It reads the kernel's listen-queue
// figures (/proc/net/netstat and TCP_INFO of the listeners) each time:
// 50–250 µs (measured here, idle and under load), fine for a scrape, not
// for a hot path. Safe for concurrent use.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	eng, rec := s.eng, s.stages
	s.mu.Unlock()
	if eng == nil || rec == nil {
		return Stats{}
	}
	sh := rec.Shard(0)
	depth, limit := eng.AcceptQueue()
	sh.SetGauge(stage.AcceptQueueDepth, int64(depth))
	sh.SetGauge(stage.AcceptQueueLimit, int64(limit))
	sh.SetGauge(stage.PoolQueueDepth, int64(len(s.pool.tasks)))
	if o, d, ok := listenDrops(); ok {
		rec.SetKernel(stage.ListenOverflows, o)
		rec.SetKernel(stage.ListenDrops, d)
	}
	st := eng.Stats()
	return Stats{Snapshot: rec.Snapshot(), OpenConns: st.Open, AcceptedConns: st.Accepted, RefusedConns: st.Refused, MaxConns: st.MaxConns}
}

// MetricsHandler serves the server's Stats in the Prometheus text format
// (package metrics: a collector over the stage histograms and counters,
// built with the Prometheus Go client). Mount it on a Mux with FromHTTP,
// or on a debug listener. Safe for concurrent use.
func (s *Server) MetricsHandler() http.Handler {
	return metrics.Handler(func() stage.Snapshot { return s.Stats().Snapshot })
}

// listenDrops reads TcpExt ListenOverflows and ListenDrops from
// /proc/net/netstat: connections the kernel dropped because an accept
// queue was full (machine-wide, cumulative).
func listenDrops() (overflows, drops uint64, ok bool) {
	b, err := os.ReadFile("/proc/net/netstat")
	if err != nil {
		return 0, 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	var names []string
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) == 0 || string(f[0]) != "TcpExt:" {
			continue
		}
		if names == nil {
			for _, n := range f[1:] {
				names = append(names, string(n))
			}
			continue
		}
		for i, v := range f[1:] {
			if i >= len(names) {
				break
			}
			switch names[i] {
			case "ListenOverflows":
				overflows, _ = strconv.ParseUint(string(v), 10, 64)
			case "ListenDrops":
				drops, _ = strconv.ParseUint(string(v), 10, 64)
			}
		}
		return overflows, drops, true
	}
	return 0, 0, false
}

// stageShards is one shard per event loop (a loop records into its own),
// or per CPU for PerConn (connections spread by number).
func stageShards(cfg Config) int {
	if cfg.Model == PerConn || cfg.Loops == 0 {
		return runtime.GOMAXPROCS(0)
	}
	if cfg.Model == Single {
		return 1
	}
	return cfg.Loops
}
