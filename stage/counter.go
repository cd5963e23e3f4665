package stage

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Counter names a monotonic count kept per shard and summed by Snapshot.
// Counters are exact: they are not sampled.
//
// Safe for concurrent use: a plain value.
type Counter uint8

// The counters. Requests, parse errors and timeouts have one counter per
// status class, status or kind; RequestCounter, ParseErrorCounter map a
// status to its counter.
const (
	ConnsAccepted Counter = iota // connections accepted
	ConnsRefused                 // connections closed at accept: MaxConns reached, or shutting down

	Requests1xx // responses sent, by status class: the handlers', the parser's refusals and 408 timeouts
	Requests2xx
	Requests3xx
	Requests4xx
	Requests5xx

	ParseErrors400 // requests the parser rejected, by the status answered
	ParseErrors408
	ParseErrors413
	ParseErrors414
	ParseErrors417
	ParseErrors431
	ParseErrors501
	ParseErrors505
	ParseErrorsOther // any other status: a new parser error the table does not know yet

	DecodeErrors // request bodies the Decode stage refused
	Panics       // handler panics recovered

	TimeoutsHeader    // header read timeouts (slowloris)
	TimeoutsBody      // body read timeouts
	TimeoutsIdle      // keep-alive idle timeouts
	TimeoutsWrite     // write (peer not draining) timeouts
	TimeoutsHandshake // TLS handshake timeouts
	TimeoutsHandler   // handlers that did not answer within the write timeout: connection closed

	BytesIn  // bytes read from connections, as on the wire (TLS ciphertext)
	Reads    // read calls that brought bytes: Reads / requests is reads per request
	BytesOut // bytes written to connections, as on the wire

	TLSHandshakesOK     // TLS handshakes completed
	TLSHandshakesFailed // TLS handshakes failed (timeouts included)

	// NumCounters is the number of counters; it is not a counter.
	NumCounters
)

var counterNames = [NumCounters]string{
	ConnsAccepted:       "conns_accepted",
	ConnsRefused:        "conns_refused",
	Requests1xx:         "requests_1xx",
	Requests2xx:         "requests_2xx",
	Requests3xx:         "requests_3xx",
	Requests4xx:         "requests_4xx",
	Requests5xx:         "requests_5xx",
	ParseErrors400:      "parse_errors_400",
	ParseErrors408:      "parse_errors_408",
	ParseErrors413:      "parse_errors_413",
	ParseErrors414:      "parse_errors_414",
	ParseErrors417:      "parse_errors_417",
	ParseErrors431:      "parse_errors_431",
	ParseErrors501:      "parse_errors_501",
	ParseErrors505:      "parse_errors_505",
	ParseErrorsOther:    "parse_errors_other",
	DecodeErrors:        "decode_errors",
	Panics:              "panics",
	TimeoutsHeader:      "timeouts_header",
	TimeoutsBody:        "timeouts_body",
	TimeoutsIdle:        "timeouts_idle",
	TimeoutsWrite:       "timeouts_write",
	TimeoutsHandshake:   "timeouts_handshake",
	TimeoutsHandler:     "timeouts_handler",
	BytesIn:             "bytes_in",
	Reads:               "reads",
	BytesOut:            "bytes_out",
	TLSHandshakesOK:     "tls_handshakes_ok",
	TLSHandshakesFailed: "tls_handshakes_failed",
}

// String returns the counter's snake_case name, as used in JSON.
func (c Counter) String() string {
	if c < NumCounters {
		return counterNames[c]
	}
	return "Counter(" + strconv.Itoa(int(c)) + ")"
}

// RequestCounter returns the counter of the status class of status:
// Requests1xx for 100-199, ... Requests5xx for 500 and above. Statuses
// below 200 count as 1xx.
func RequestCounter(status int) Counter {
	switch {
	case status < 200:
		return Requests1xx
	case status < 300:
		return Requests2xx
	case status < 400:
		return Requests3xx
	case status < 500:
		return Requests4xx
	}
	return Requests5xx
}

// ParseErrorCounter returns the counter for a parse error answered with
// status, or ParseErrorsOther for a status without its own counter.
func ParseErrorCounter(status int) Counter {
	switch status {
	case 400:
		return ParseErrors400
	case 408:
		return ParseErrors408
	case 413:
		return ParseErrors413
	case 414:
		return ParseErrors414
	case 417:
		return ParseErrors417
	case 431:
		return ParseErrors431
	case 501:
		return ParseErrors501
	case 505:
		return ParseErrors505
	}
	return ParseErrorsOther
}

// Gauge names a level kept per shard. Snapshot reports the sum over the
// shards, so a gauge may be raised on one shard and lowered on another
// (a connection accepted on loop 2 and closed from worker 5); a gauge that
// one goroutine sets as a whole (Shard.SetGauge) is then set on one shard
// per source, such as each loop its own listener's accept queue.
//
// Safe for concurrent use: a plain value.
type Gauge uint8

// The gauges.
const (
	ConnsOpen        Gauge = iota // connections open: +1 on accept, -1 on close
	InFlight                      // requests parsed and not yet answered
	PoolQueueDepth                // batches waiting in the worker pool's queue
	AcceptQueueDepth              // connections waiting in the kernel accept queue (TCP_INFO tcpi_unacked of the listener)
	AcceptQueueLimit              // the accept queue's limit, the effective backlog (TCP_INFO tcpi_sacked of the listener)

	// NumGauges is the number of gauges; it is not a gauge.
	NumGauges
)

var gaugeNames = [NumGauges]string{
	ConnsOpen:        "conns_open",
	InFlight:         "in_flight",
	PoolQueueDepth:   "pool_queue_depth",
	AcceptQueueDepth: "accept_queue_depth",
	AcceptQueueLimit: "accept_queue_limit",
}

// String returns the gauge's snake_case name, as used in JSON.
func (g Gauge) String() string {
	if g < NumGauges {
		return gaugeNames[g]
	}
	return "Gauge(" + strconv.Itoa(int(g)) + ")"
}

// Kernel names a machine-wide cumulative figure that the server reads from
// the kernel and stores whole with Recorder.SetKernel. It is not sharded:
// the kernel already sums it.
//
// Safe for concurrent use: a plain value.
type Kernel uint8

// The kernel figures.
const (
	// ListenOverflows is TcpExt ListenOverflows of /proc/net/netstat: SYNs
	// or completed handshakes dropped because an accept queue was full.
	ListenOverflows Kernel = iota
	// ListenDrops is TcpExt ListenDrops: every drop at a listener,
	// overflows included.
	ListenDrops

	// NumKernel is the number of kernel figures; it is not one.
	NumKernel
)

var kernelNames = [NumKernel]string{
	ListenOverflows: "listen_overflows",
	ListenDrops:     "listen_drops",
}

// String returns the figure's snake_case name, as used in JSON.
func (k Kernel) String() string {
	if k < NumKernel {
		return kernelNames[k]
	}
	return "Kernel(" + strconv.Itoa(int(k)) + ")"
}

// Counters holds one value per Counter. In JSON it is an object keyed by
// Counter.String.
//
// Safe for concurrent use for reading: a plain value.
type Counters [NumCounters]uint64

// Gauges holds one value per Gauge. In JSON it is an object keyed by
// Gauge.String.
//
// Safe for concurrent use for reading: a plain value.
type Gauges [NumGauges]int64

// Kernels holds one value per Kernel figure. In JSON it is an object keyed
// by Kernel.String.
//
// Safe for concurrent use for reading: a plain value.
type Kernels [NumKernel]uint64

// MarshalJSON encodes the counters as {"conns_accepted": n, ...}.
func (c Counters) MarshalJSON() ([]byte, error) { return marshalNamed(c[:], counterNames[:]) }

// UnmarshalJSON decodes what MarshalJSON encodes; unknown names are
// ignored and missing ones are left unchanged.
func (c *Counters) UnmarshalJSON(b []byte) error { return unmarshalNamed(b, c[:], counterNames[:]) }

// MarshalJSON encodes the gauges as {"conns_open": n, ...}.
func (g Gauges) MarshalJSON() ([]byte, error) { return marshalNamed(g[:], gaugeNames[:]) }

// UnmarshalJSON decodes what MarshalJSON encodes; unknown names are
// ignored and missing ones are left unchanged.
func (g *Gauges) UnmarshalJSON(b []byte) error { return unmarshalNamed(b, g[:], gaugeNames[:]) }

// MarshalJSON encodes the figures as {"listen_overflows": n, ...}.
func (k Kernels) MarshalJSON() ([]byte, error) { return marshalNamed(k[:], kernelNames[:]) }

// UnmarshalJSON decodes what MarshalJSON encodes; unknown names are
// ignored and missing ones are left unchanged.
func (k *Kernels) UnmarshalJSON(b []byte) error { return unmarshalNamed(b, k[:], kernelNames[:]) }

// marshalNamed writes the values in enum order (a map would sort them by
// name and scatter the groups).
func marshalNamed[T int64 | uint64](vals []T, names []string) ([]byte, error) {
	b := make([]byte, 0, 32*len(vals))
	b = append(b, '{')
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, names[i])
		b = append(b, ':')
		b = fmt.Appendf(b, "%d", v)
	}
	return append(b, '}'), nil
}

func unmarshalNamed[T int64 | uint64](b []byte, vals []T, names []string) error {
	var m map[string]T
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	for i, name := range names {
		if v, ok := m[name]; ok {
			vals[i] = v
		}
	}
	return nil
}
