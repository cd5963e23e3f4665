package http1

import (
	"sync/atomic"
	"time"
)

// dateLine is a formatted "Date: <IMF-fixdate>\r\n" line and the Unix
// second it shows.
type dateLine struct {
	sec  int64
	line [len("Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n")]byte
}

// dateCache holds the line of the current second. Formatting a date costs
// ~150 ns; one reader per second pays it, every other response copies 37
// bytes. Safe for concurrent use: lines are immutable once published.
var dateCache atomic.Pointer[dateLine]

// AppendDate appends the Date field line (RFC 9110 §6.6.1) for the current
// second. The value never lags the clock by more than the second it is in.
// Safe for concurrent use.
func AppendDate(dst []byte) []byte { return append(dst, DateLine()...) }

// DateLine returns the "Date: ...\r\n" line for the current second, read
// from the clock now. Read-only and valid forever: a caller writing many
// responses at once (a batch of pipelined requests) can take one and pass
// it in ResponseHeader.DateLine, paying one clock read for all of them.
// Safe for concurrent use.
func DateLine() []byte {
	now := time.Now()
	sec := now.Unix()
	d := dateCache.Load()
	if d == nil || d.sec != sec {
		d = &dateLine{sec: sec}
		b := append(d.line[:0], "Date: "...)
		b = now.UTC().AppendFormat(b, "Mon, 02 Jan 2006 15:04:05 GMT")
		_ = append(b, "\r\n"...)
		dateCache.Store(d)
	}
	return d.line[:]
}
