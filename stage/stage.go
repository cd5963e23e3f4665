package stage

import "strconv"

// Stage names one step of a request's journey, or one wait between steps.
// The values index Snapshot.Stages and the per-shard histograms.
//
// Safe for concurrent use: a plain value.
type Stage uint8

// The seven steps of the journey, in the order a request meets them, then
// the two waits sluice can measure between them, and the TLS handshake.
const (
	Accept  Stage = iota // the server accepting a connection (per connection, not per request)
	Read                 // a request's first bytes handled to its head complete: Parse plus any wait for the rest of the head
	Decrypt              // TLS record decryption, per read (handshakes are Handshake)
	Parse                // HTTP/1.1 framing: request line, headers, body framing
	Decode               // JSON, forms, query, on demand from the handler
	Process              // routing, the user's handler, building the response
	Write                // the way back: encode, encrypt, write

	// QueueWait is the worker-pool wait: from the loop handing a batch to
	// the pool to a worker starting it.
	QueueWait
	// AcceptQueue is the kernel accept-queue wait: from the handshake
	// completing to accept(2) returning it, as the server derives it from
	// TCP_INFO (tcpi_last_ack_recv). Its resolution is the kernel's tick
	// (4 ms at HZ=250): it shows a backlog under overload, not the
	// sub-millisecond waits of a healthy server (those read as 0 or one
	// tick).
	AcceptQueue
	// Handshake is a TLS handshake, per connection: from the accept to
	// the handshake's completion on the loop (part of the Decrypt step,
	// kept apart because it costs ~100× a record's decryption).
	Handshake

	// NumStages is the number of stages; it is not a stage.
	NumStages
)

var stageNames = [NumStages]string{
	Accept:      "accept",
	Read:        "read",
	Decrypt:     "decrypt",
	Parse:       "parse",
	Decode:      "decode",
	Process:     "process",
	Write:       "write",
	QueueWait:   "queue_wait",
	AcceptQueue: "accept_queue",
	Handshake:   "tls_handshake",
}

// String returns the stage's lower-case name, as used in JSON and in the
// Prometheus "stage" label ("parse", "queue_wait", ...).
func (s Stage) String() string {
	if s < NumStages {
		return stageNames[s]
	}
	return "Stage(" + strconv.Itoa(int(s)) + ")"
}
