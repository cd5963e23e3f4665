package main

import "fmt"

// goal is what the issue asks of sluice in one scenario, on a 2-core
// machine with the server and wrk pinned. It is checked for each sluice
// target from the summaries' medians.
type goal struct {
	Text string // for the tables
	// Check judges s, a sluice target's summary, against the other
	// targets' summaries of the same scenario, by name. ok is false when
	// a number it needs is missing; detail gives the numbers that decide.
	Check func(s summary, all map[string]summary) (met, ok bool, detail string)
	// Applies, when set, picks the sluice targets the goal judges, given
	// the targets run; nil: every sluice target.
	Applies func(t target, ts []target) bool
}

// Goal verdicts, stored in summary.Goal.
const (
	goalMet     = "met"
	goalMissed  = "missed"
	goalUnknown = "unknown"
)

// tlsGoal: keep-alive HTTPS with at least 1.6 times net/http's requests
// per CPU-second and at least fasthttp's requests per second.
func tlsGoal(s summary, all map[string]summary) (bool, bool, string) {
	nh, ok1 := usable(all, "nethttp")
	fh, ok2 := usable(all, "fasthttp")
	if s.OK == 0 || !ok1 || !ok2 || nh.ReqPerCPUSec.Median <= 0 {
		return false, false, "needs nethttp and fasthttp"
	}
	eff := s.ReqPerCPUSec.Median / nh.ReqPerCPUSec.Median
	met := eff >= 1.6 && s.ReqPerSec.Median >= fh.ReqPerSec.Median
	return met, true, fmt.Sprintf("%.2f× nethttp's req/CPU-s; %s req/s vs fasthttp's %s",
		eff, si(s.ReqPerSec.Median), si(fh.ReqPerSec.Median))
}

// handshakeGoal: at least net/http's full handshakes per second.
func handshakeGoal(s summary, all map[string]summary) (bool, bool, string) {
	nh, ok := usable(all, "nethttp")
	switch {
	case s.OK == 0 || !ok || nh.ReqPerSec.Median <= 0:
		return false, false, "needs nethttp"
	case s.Resumed > 0 || nh.Resumed > 0:
		return false, false, "resumed handshakes were measured, not full ones"
	}
	r := s.ReqPerSec.Median / nh.ReqPerSec.Median
	return r >= 1, true, fmt.Sprintf("%s handshakes/s, %.2f× nethttp's; %.0f µs of server CPU each vs nethttp's %.0f µs",
		si(s.ReqPerSec.Median), r, s.CPUMicrosPerReq.Median, nh.CPUMicrosPerReq.Median)
}

// tlsIdleGoal: at most 10 KiB of server RSS per idle TLS connection
// after the handshake, with every connection still open.
func tlsIdleGoal(s summary, _ map[string]summary) (bool, bool, string) {
	if s.OK == 0 || s.KiBPerConn.N == 0 {
		return false, false, "no result"
	}
	met := s.KiBPerConn.Median <= 10 && s.Alive.Min >= float64(s.Conns)
	return met, true, fmt.Sprintf("%.1f KiB per connection, %.0f/%d alive", s.KiBPerConn.Median, s.Alive.Min, s.Conns)
}

// usable returns the named target's summary if it has a result.
func usable(all map[string]summary, name string) (summary, bool) {
	s, ok := all[name]
	return s, ok && s.OK > 0
}
