// Package metrics exposes sluice's stage measurements to Prometheus.
//
// A Collector turns a stage.Snapshot source (such as a Recorder's
// Snapshot method, or the server's Stats) into Prometheus metrics built
// with the Prometheus Go client: the stage histograms as const histograms
// whose bucket bounds are stage's own bucket bounds in seconds, counters as
// const counters, gauges as const gauges. Handler serves them in the text
// exposition format from a private registry; users with their own registry
// register the Collector instead.
//
// The families, all prefixed sluice_ (label values in braces):
//
//	sluice_stage_duration_seconds{stage}        histogram, sampled 1 in N
//	sluice_stage_sample_every                   gauge: N (0: sampling off)
//	sluice_connections_accepted_total           counter
//	sluice_connections_refused_total            counter
//	sluice_connections_open                     gauge
//	sluice_requests_total{class="1xx".."5xx"}   counter
//	sluice_requests_in_flight                   gauge
//	sluice_parse_errors_total{status}           counter: 400 408 413 414 417 431 501 505 other
//	sluice_decode_errors_total                  counter
//	sluice_handler_panics_total                 counter
//	sluice_timeouts_total{kind}                 counter: header body idle write handshake handler
//	sluice_received_bytes_total                 counter
//	sluice_sent_bytes_total                     counter
//	sluice_reads_total                          counter: reads that brought bytes
//	sluice_tls_handshakes_total{result}         counter: ok failed
//	sluice_pool_queue_depth                     gauge
//	sluice_accept_queue_depth                   gauge
//	sluice_accept_queue_limit                   gauge
//	sluice_listen_overflows_total               counter, machine-wide
//	sluice_listen_drops_total                   counter, machine-wide
//
// The stage label takes the values of stage.Stage.String: accept, read,
// decrypt, parse, decode, process, write, queue_wait, accept_queue,
// tls_handshake.
//
// This package imports stage and the Prometheus client, and nothing else of
// sluice.
package metrics
