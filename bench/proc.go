package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// This file reads what the harness needs from Linux's /proc.

var errProcFormat = errors.New("bench: unexpected /proc format")

// parseStatCPU returns utime+stime, in clock ticks, from the contents of
// /proc/PID/stat (proc(5): fields 14 and 15). The second field, the
// command name, is in parentheses and may itself hold spaces and
// parentheses, so fields are counted from the last ')'.
func parseStatCPU(b []byte) (uint64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("%w: no ')' in stat", errProcFormat)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state), so field k is f[k-3].
	const utime, stime = 14 - 3, 15 - 3
	if len(f) <= stime {
		return 0, fmt.Errorf("%w: %d fields in stat", errProcFormat, len(f)+2)
	}
	u, err := strconv.ParseUint(f[utime], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: utime: %v", errProcFormat, err)
	}
	s, err := strconv.ParseUint(f[stime], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: stime: %v", errProcFormat, err)
	}
	return u + s, nil
}

// cpuTicks reads the CPU time pid has used so far, user plus system, in
// clock ticks, over all its threads.
func cpuTicks(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(b)
}

// parseStatusKiB returns the value of a "Name:   1234 kB" line of
// /proc/PID/status, in KiB.
func parseStatusKiB(b []byte, name string) (int64, error) {
	for line := range strings.Lines(string(b)) {
		v, ok := strings.CutPrefix(line, name+":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		v, ok = strings.CutSuffix(v, " kB")
		if !ok {
			return 0, fmt.Errorf("%w: %s is not in kB", errProcFormat, name)
		}
		return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	}
	return 0, fmt.Errorf("%w: no %s line", errProcFormat, name)
}

// rssKiB reads the resident set size of pid (VmRSS), in KiB.
func rssKiB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseStatusKiB(b, "VmRSS")
}

// atClkTck is the auxiliary-vector key of sysconf(_SC_CLK_TCK).
const atClkTck = 17

// clockTicks is sysconf(_SC_CLK_TCK), the unit of utime and stime. Go has
// no sysconf without cgo, so it is read from the auxiliary vector the
// kernel gave this process; Linux has used 100 on every architecture for
// user space since 2.6, which is the fallback.
func clockTicks() uint64 {
	b, err := os.ReadFile("/proc/self/auxv")
	if err == nil {
		if v, ok := auxvValue(b, atClkTck); ok && v > 0 {
			return v
		}
	}
	return 100
}

// auxvValue finds key in an auxiliary vector of native-endian 64-bit
// (key, value) pairs.
func auxvValue(b []byte, key uint64) (uint64, bool) {
	for ; len(b) >= 16; b = b[16:] {
		k, v := binary.NativeEndian.Uint64(b), binary.NativeEndian.Uint64(b[8:])
		if k == key {
			return v, true
		}
		if k == 0 { // AT_NULL ends the vector
			break
		}
	}
	return 0, false
}

// parseCPUList parses a kernel CPU list such as "0-3,8,10-11".
func parseCPUList(s string) ([]int, error) {
	var cpus []int
	for part := range strings.SplitSeq(strings.TrimSpace(s), ",") {
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("%w: cpu list %q", errProcFormat, s)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("%w: cpu list %q", errProcFormat, s)
			}
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}

// allowedCPUs lists the CPUs this process may run on.
func allowedCPUs() ([]int, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return parseCPUList(v)
		}
	}
	return nil, fmt.Errorf("%w: no Cpus_allowed_list", errProcFormat)
}

// raiseFileLimit sets the soft RLIMIT_NOFILE to the hard limit and returns
// it. Calling Setrlimit also makes the children inherit the raised limit
// (Go otherwise restores the original soft limit for them).
func raiseFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	return lim.Cur, nil
}

// readTrim returns the trimmed contents of a small file, or "".
func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// cpuModel returns the first "model name" of /proc/cpuinfo, or "".
func cpuModel() string {
	for line := range strings.Lines(readTrim("/proc/cpuinfo")) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// cpuUse is one CPU's line of /proc/stat, in clock ticks.
type cpuUse struct {
	Busy  uint64 // user, nice, system, irq, softirq, steal
	Total uint64 // Busy plus idle and iowait
}

// parseProcStat returns the per-CPU lines ("cpu0 ...") of /proc/stat.
// Steal (time the hypervisor gave to another guest) counts as busy: the
// CPU was not there for this machine's processes.
func parseProcStat(b []byte) (map[int]cpuUse, error) {
	cpus := make(map[int]cpuUse)
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 9 || !strings.HasPrefix(f[0], "cpu") || f[0] == "cpu" {
			continue
		}
		n, err := strconv.Atoi(f[0][3:])
		if err != nil {
			continue
		}
		var v [8]uint64 // user nice system idle iowait irq softirq steal
		for i := range v {
			if v[i], err = strconv.ParseUint(f[i+1], 10, 64); err != nil {
				return nil, fmt.Errorf("%w: /proc/stat %s", errProcFormat, f[0])
			}
		}
		var u cpuUse
		for i, x := range v {
			u.Total += x
			if i != 3 && i != 4 {
				u.Busy += x
			}
		}
		cpus[n] = u
	}
	if len(cpus) == 0 {
		return nil, fmt.Errorf("%w: no cpuN line in /proc/stat", errProcFormat)
	}
	return cpus, nil
}

// procStat reads /proc/stat.
func procStat() (map[int]cpuUse, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return nil, err
	}
	return parseProcStat(b)
}

// otherLoad is the share, in percent, of a CPU's time between two
// /proc/stat readings that went to processes other than the ones
// measured (own ticks), clamped to 0..100; -1 when unknown.
func otherLoad(before, after map[int]cpuUse, cpu int, own uint64) float64 {
	b, okB := before[cpu]
	a, okA := after[cpu]
	if !okA || !okB || a.Total <= b.Total {
		return -1
	}
	busy := float64(a.Busy-b.Busy) - float64(own)
	return min(100, max(0, 100*busy/float64(a.Total-b.Total)))
}
