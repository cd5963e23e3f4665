package main

import (
	"bufio"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// wrkResult is what the harness keeps of one wrk run.
type wrkResult struct {
	Requests       int64   `json:"requests"`
	Seconds        float64 `json:"seconds"` // wrk's own measured duration
	RequestsPerSec float64 `json:"requests_per_sec"`
	// Latencies in milliseconds, from --latency.
	LatencyAvgMs float64 `json:"latency_avg_ms"`
	LatencyP50Ms float64 `json:"latency_p50_ms"`
	LatencyP99Ms float64 `json:"latency_p99_ms"`
	// Socket errors and responses with status >= 400 (wrk's "Non-2xx or
	// 3xx responses").
	ErrConnect int64 `json:"err_connect"`
	ErrRead    int64 `json:"err_read"`
	ErrWrite   int64 `json:"err_write"`
	ErrTimeout int64 `json:"err_timeout"`
	Non2xx     int64 `json:"non_2xx"`
}

// socketErrors is the sum of wrk's socket error counts.
func (r *wrkResult) socketErrors() int64 {
	return r.ErrConnect + r.ErrRead + r.ErrWrite + r.ErrTimeout
}

var errWrkOutput = errors.New("bench: unexpected wrk output")

// parseWrk reads wrk's text report (run with --latency). It needs the
// "N requests in T" line; everything else is optional, because wrk omits
// the error lines when there are none.
func parseWrk(out string) (*wrkResult, error) {
	r := &wrkResult{}
	var haveCount, haveRate, inDist bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if inDist {
			// "     50%  500.00us", one line per percentile.
			if len(f) == 2 && strings.HasSuffix(f[0], "%") {
				v, err := parseWrkTime(f[1])
				if err != nil {
					return nil, fmt.Errorf("%w: percentile %q", errWrkOutput, line)
				}
				switch f[0] {
				case "50%":
					r.LatencyP50Ms = ms(v)
				case "99%":
					r.LatencyP99Ms = ms(v)
				}
				continue
			}
			inDist = false
		}
		switch {
		case line == "Latency Distribution":
			inDist = true
		case f[0] == "Latency" && len(f) >= 2:
			// "Latency   512.34us  100.12us   5.00ms   90.00%" (avg, stdev, max)
			if v, err := parseWrkTime(f[1]); err == nil {
				r.LatencyAvgMs = ms(v)
			}
		case len(f) >= 4 && f[1] == "requests" && f[2] == "in":
			// "600000 requests in 5.00s, 80.00MB read"
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%w: request count in %q", errWrkOutput, line)
			}
			d, err := parseWrkTime(strings.TrimSuffix(f[3], ","))
			if err != nil {
				return nil, fmt.Errorf("%w: duration in %q", errWrkOutput, line)
			}
			r.Requests, r.Seconds, haveCount = n, d.Seconds(), true
		case strings.HasPrefix(line, "Socket errors:"):
			// "Socket errors: connect 0, read 12, write 0, timeout 0"
			for i := 2; i+1 < len(f); i += 2 {
				n, err := strconv.ParseInt(strings.TrimSuffix(f[i+1], ","), 10, 64)
				if err != nil {
					return nil, fmt.Errorf("%w: %q", errWrkOutput, line)
				}
				switch f[i] {
				case "connect":
					r.ErrConnect = n
				case "read":
					r.ErrRead = n
				case "write":
					r.ErrWrite = n
				case "timeout":
					r.ErrTimeout = n
				}
			}
		case strings.HasPrefix(line, "Non-2xx or 3xx responses:"):
			n, err := strconv.ParseInt(f[len(f)-1], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%w: %q", errWrkOutput, line)
			}
			r.Non2xx = n
		case f[0] == "Requests/sec:" && len(f) == 2:
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return nil, fmt.Errorf("%w: %q", errWrkOutput, line)
			}
			r.RequestsPerSec, haveRate = v, true
		}
	}
	if !haveCount {
		return nil, fmt.Errorf("%w: no \"requests in\" line", errWrkOutput)
	}
	if !haveRate && r.Seconds > 0 {
		r.RequestsPerSec = float64(r.Requests) / r.Seconds
	}
	return r, nil
}

// parseWrkTime parses wrk's durations: a number followed by us, ms, s, m
// or h (wrk's format_time_us and format_time_s).
func parseWrkTime(s string) (time.Duration, error) {
	units := []struct {
		suffix string
		unit   time.Duration
	}{
		{"us", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second},
		{"m", time.Minute}, {"h", time.Hour},
	}
	for _, u := range units {
		num, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(num, 64)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("%w: time %q", errWrkOutput, s)
		}
		return time.Duration(v * float64(u.unit)), nil
	}
	return 0, fmt.Errorf("%w: time %q", errWrkOutput, s)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// wrkArgs builds wrk's command line. wrk takes whole seconds.
func wrkArgs(conns int, d time.Duration, script, url string, scriptArgs []string) []string {
	secs := max(1, int((d+time.Second-1)/time.Second))
	args := []string{"-t1", "-c" + strconv.Itoa(conns), "-d" + strconv.Itoa(secs) + "s", "--latency"}
	if script != "" {
		args = append(args, "-s", script)
	}
	args = append(args, url)
	if len(scriptArgs) > 0 {
		args = append(append(args, "--"), scriptArgs...)
	}
	return args
}
