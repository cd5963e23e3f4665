package main

import (
	"encoding/binary"
	"errors"
	"os"
	"slices"
	"testing"
)

func TestParseStatCPU(t *testing.T) {
	// Fields 3.. of a real stat line; utime (14) = 1234, stime (15) = 567.
	const rest = " S 1 2 3 0 -1 4194560 1000 0 0 0 1234 567 0 0 20 0 4 0 100 1000000 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"
	tests := []struct {
		name string
		in   string
		want uint64
		err  bool
	}{
		{name: "plain", in: "42 (hello)" + rest, want: 1801},
		{name: "spaces in comm", in: "42 (my server)" + rest, want: 1801},
		{name: "parens in comm", in: "42 (a) b (c))" + rest, want: 1801},
		{name: "no paren", in: "42 hello S 1 2", err: true},
		{name: "truncated", in: "42 (hello) S 1 2 3 0 -1 4194560 1000 0 0 0 1234", err: true},
		{name: "not a number", in: "42 (hello) S 1 2 3 0 -1 4194560 1000 0 0 0 x 567 0", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tt.in))
			if tt.err {
				if !errors.Is(err, errProcFormat) {
					t.Errorf("parseStatCPU = %d, %v; want errProcFormat", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("parseStatCPU = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

func TestCPUTicksSelf(t *testing.T) {
	for i := 0; i < 30_000_000; i++ { // some CPU time to read back
		sinkInt += i
	}
	ticks, err := cpuTicks(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if ticks == 0 {
		t.Log("no CPU tick counted yet (a fast machine)")
	}
}

var sinkInt int

func TestParseStatusKiB(t *testing.T) {
	const status = "Name:\thello\nVmPeak:\t  800000 kB\nVmRSS:\t    6144 kB\nThreads:\t5\n"
	if got, err := parseStatusKiB([]byte(status), "VmRSS"); err != nil || got != 6144 {
		t.Errorf("VmRSS = %d, %v; want 6144", got, err)
	}
	if _, err := parseStatusKiB([]byte(status), "VmSwap"); !errors.Is(err, errProcFormat) {
		t.Errorf("missing line: err = %v; want errProcFormat", err)
	}
	if _, err := parseStatusKiB([]byte("Threads:\t5\n"), "Threads"); !errors.Is(err, errProcFormat) {
		t.Errorf("no kB: err = %v; want errProcFormat", err)
	}
	rss, err := rssKiB(os.Getpid())
	if err != nil || rss <= 0 {
		t.Errorf("rssKiB(self) = %d, %v", rss, err)
	}
}

func TestAuxvValue(t *testing.T) {
	var b []byte
	for _, kv := range [][2]uint64{{6, 4096}, {atClkTck, 100}, {0, 0}, {atClkTck, 7}} {
		b = binary.NativeEndian.AppendUint64(b, kv[0])
		b = binary.NativeEndian.AppendUint64(b, kv[1])
	}
	if v, ok := auxvValue(b, atClkTck); !ok || v != 100 {
		t.Errorf("auxvValue(AT_CLKTCK) = %d, %v; want 100", v, ok)
	}
	if _, ok := auxvValue(b, 99); ok {
		t.Error("auxvValue found a key past AT_NULL")
	}
	if got := clockTicks(); got == 0 {
		t.Error("clockTicks() = 0")
	}
}

func TestParseCPUList(t *testing.T) {
	tests := []struct {
		in   string
		want []int
	}{
		{"0", []int{0}},
		{"0-1\n", []int{0, 1}},
		{"0-2,5,8-9", []int{0, 1, 2, 5, 8, 9}},
	}
	for _, tt := range tests {
		got, err := parseCPUList(tt.in)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("parseCPUList(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"a", "3-1", "1-x"} {
		if _, err := parseCPUList(bad); err == nil {
			t.Errorf("parseCPUList(%q) succeeded", bad)
		}
	}
}

func TestParseProcStat(t *testing.T) {
	const stat = "cpu  300 0 100 1000 10 0 5 0 0 0\n" +
		"cpu0 200 0 50 400 5 0 5 10 0 0\n" +
		"cpu1 100 0 50 600 5 0 0 0 0 0\n" +
		"intr 12345\nctxt 999\n"
	got, err := parseProcStat([]byte(stat))
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]cpuUse{0: {Busy: 265, Total: 670}, 1: {Busy: 150, Total: 755}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("parseProcStat = %+v; want %+v", got, want)
	}
	if _, err := parseProcStat([]byte("intr 1\n")); !errors.Is(err, errProcFormat) {
		t.Errorf("no cpu lines: err = %v", err)
	}
	if _, err := parseProcStat([]byte("cpu0 1 2 3 x 5 6 7 8 9 10\n")); !errors.Is(err, errProcFormat) {
		t.Errorf("bad field: err = %v", err)
	}
	if _, err := procStat(); err != nil {
		t.Error(err)
	}
}

func TestOtherLoad(t *testing.T) {
	before := map[int]cpuUse{0: {Busy: 1000, Total: 5000}}
	after := map[int]cpuUse{0: {Busy: 1300, Total: 5400}}
	// 300 busy ticks of 400, 250 of them the measured process's own.
	if got := otherLoad(before, after, 0, 250); got != 12.5 {
		t.Errorf("otherLoad = %v; want 12.5", got)
	}
	if got := otherLoad(before, after, 0, 400); got != 0 {
		t.Errorf("own ticks above busy (tick rounding): %v; want 0", got)
	}
	if got := otherLoad(before, after, 1, 0); got != -1 {
		t.Errorf("unknown CPU: %v; want -1", got)
	}
}
