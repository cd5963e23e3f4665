package main

import (
	"strings"
	"testing"
)

// A slowhttptest run whose connections the server closed at 11 s (its log
// and CSV as the tool writes them, colours included).
const (
	slowCSVClosed = "Seconds,Closed,Pending,Connected,Service Available\n0,0,1,0,200\n1,0,1,192,200\n2,0,0,200,200\n10,0,0,200,200\n11,178,0,22,200\n"
	slowLogClosed = "\x1b[1;32merror:       \x1b[1;32m        0\n\x1b[0mTest ended on 11th second\nExit status:\x1b[1;36m No open connections left\n"
)

func TestSlowVerdict(t *testing.T) {
	cases := []struct {
		name, csv, log string
		fail           string // substring of the failure; "" passes
	}{
		{"closed", slowCSVClosed, slowLogClosed, ""},
		{"time limit", "Seconds,Closed,Pending,Connected,Service Available\n0,0,1,0,200\n1,0,0,200,200\n15,0,0,200,200\n",
			"Exit status: Hit test time limit\n", "200 of 200 connections still open"},
		{"unavailable", "Seconds,Closed,Pending,Connected,Service Available\n0,0,1,0,200\n1,0,0,200,200\n2,0,0,200,0\n3,200,0,0,200\n",
			"Exit status: No open connections left\n", "service unavailable to the probe at 2 s"},
		{"not connected", "Seconds,Closed,Pending,Connected,Service Available\n0,0,1,0,200\n1,0,100,50,200\n2,150,0,0,200\n",
			"Exit status: No open connections left\n", "only 50 of 200"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := parseSlowCSV([]byte(tc.csv))
			if err != nil {
				t.Fatal(err)
			}
			status, _ := slowExit([]byte(tc.log))
			fail, summary := slowVerdict(rows, status, 200)
			if tc.fail == "" && fail != "" || tc.fail != "" && !strings.Contains(fail, tc.fail) {
				t.Fatalf("verdict %q (%s), want %q", fail, summary, tc.fail)
			}
		})
	}
	if status, errs := slowExit([]byte(slowLogClosed)); status != "No open connections left" || errs != 0 {
		t.Fatalf("exit %q, errors %d", status, errs)
	}
	if _, err := parseSlowCSV([]byte("garbage\n")); err == nil {
		t.Fatal("garbage parsed as a CSV report")
	}
}

func TestJudgeSSL(t *testing.T) {
	bad, ignored := judgeSSL([]sslFinding{
		{ID: "SSLv3", Severity: "OK", Finding: "not offered"},
		{ID: "cert_chain_of_trust", Severity: "CRITICAL", Finding: "failed (self signed)."},
		{ID: "TLS_session_ticket", Severity: "LOW", Finding: "valid for 604800 seconds (>daily)"},
		{ID: "BEAST", Severity: "MEDIUM", Finding: "VULNERABLE"},
		{ID: "scanProblem", Severity: "WARN", Finding: "timeout"},
		{ID: "HSTS", Severity: "LOW", Finding: "not offered"},
	}, nil)
	if len(bad) != 1 || !strings.Contains(bad[0], "BEAST") {
		t.Fatalf("bad %q", bad)
	}
	if len(ignored) != 3 || !strings.HasPrefix(ignored[0], "HSTS") || !strings.HasPrefix(ignored[1], "TLS_session_ticket") || !strings.HasPrefix(ignored[2], "cert_chain_of_trust") {
		t.Fatalf("ignored %q", ignored)
	}
	if bad, _ := judgeSSL([]sslFinding{{ID: "BREACH", Severity: "LOW"}}, map[string]bool{"BREACH": true}); len(bad) != 0 {
		t.Fatalf("an allowed finding failed: %q", bad)
	}
}
