package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// sslFinding is one entry of testssl's flat JSON (--jsonfile).
type sslFinding struct {
	ID       string `json:"id"`
	Severity string `json:"severity"`
	Finding  string `json:"finding"`
}

// sslBad are the severities that fail the check: testssl rates what is
// weak LOW and what is vulnerable MEDIUM, HIGH or CRITICAL; OK, INFO,
// WARN (a test that could not run) and DEBUG do not.
var sslBad = map[string]bool{"LOW": true, "MEDIUM": true, "HIGH": true, "CRITICAL": true}

// sslIgnored are findings that are not about the TLS stack under test,
// with the reason they are set aside.
var sslIgnored = map[string]string{
	"cert_chain_of_trust":   "the demo certificate is self-signed",
	"cert_expirationStatus": "the demo certificate lives one day",
	"cert_notAfter":         "the demo certificate lives one day",
	"cert_revocation":       "the demo certificate names no CRL or OCSP responder",
	"cert_trust":            "the demo certificate's names",
	"DNS_CAArecord":         "no DNS for 127.0.0.1",
	"HSTS":                  "an HTTP header the application sets",
	"security_headers":      "HTTP headers the application sets",
	// crypto/tls announces a fixed 7-day ticket lifetime and has no
	// setting for it (testssl rates anything above a day LOW). Its
	// automatic ticket keys rotate daily and are dropped after 7 days;
	// TLS 1.3 resumption is psk_dhe_ke only, so it keeps forward secrecy,
	// TLS 1.2 resumption does not for the keys' lifetime. A server that
	// must not take that turns tickets off (tls.Config.
	// SessionTicketsDisabled; the examples' -no-session-tickets).
	"TLS_session_ticket": "crypto/tls fixes the ticket lifetime hint at 7 days; turn tickets off (-no-session-tickets) if TLS 1.2 resumption's weaker forward secrecy matters",
}

// judgeSSL sorts findings into those that fail the check and those set
// aside.
func judgeSSL(fs []sslFinding, allowed map[string]bool) (bad, ignored []string) {
	for _, f := range fs {
		if !sslBad[f.Severity] {
			continue
		}
		line := fmt.Sprintf("%s %s %q", f.Severity, f.ID, f.Finding)
		if why, ok := sslIgnored[f.ID]; ok {
			ignored = append(ignored, f.ID+" ("+why+")")
			continue
		}
		if allowed[f.ID] {
			ignored = append(ignored, fmt.Sprintf("%s %s %q (-testssl-allow)", f.Severity, f.ID, f.Finding))
			continue
		}
		bad = append(bad, line)
	}
	sort.Strings(bad)
	sort.Strings(ignored)
	return bad, ignored
}

// testSSL runs testssl.sh's default scan against srv's TLS listener, with
// no DNS lookups and no outside contact (CRL, OCSP).
func testSSL(ctx context.Context, srv *server, o *options, work string) result {
	js := filepath.Join(work, "testssl.json")
	reset := srv.resetPeak()
	before := srv.rss()
	out, err := runTool(ctx, o.testsslTimeout, work, "testssl",
		"--quiet", "--color", "0", "--warnings", "off", "--nodns", "none",
		"--connect-timeout", "10", "--openssl-timeout", "10",
		"--jsonfile", js, srv.addr)
	_ = os.WriteFile(filepath.Join(work, "testssl.log"), out, 0o644)
	if errors.Is(err, errMissing) {
		return result{status: "FAIL", detail: "testssl is not installed: apt-get install -y testssl.sh"}
	}
	mem := srv.peakNote(reset, before)
	if err != nil {
		return result{status: "FAIL", detail: fmt.Sprintf("testssl: %v: %s", err, firstLines(out, 3))}
	}
	b, err := os.ReadFile(js)
	if err != nil {
		return result{status: "FAIL", detail: fmt.Sprintf("no JSON report (%v): %s", err, firstLines(out, 3))}
	}
	var fs []sslFinding
	if err := json.Unmarshal(b, &fs); err != nil {
		return result{status: "FAIL", detail: "testssl JSON: " + err.Error()}
	}
	bad, ignored := judgeSSL(fs, o.testsslAllow)
	detail := fmt.Sprintf("%d findings", len(fs))
	if len(ignored) > 0 {
		detail += "; set aside: " + strings.Join(ignored, ", ")
	}
	detail += "; " + mem
	if len(bad) > 0 {
		return result{status: "FAIL", detail: fmt.Sprintf("%d rated LOW or worse: %s; %s", len(bad), strings.Join(bad, "; "), detail)}
	}
	return result{status: "PASS", detail: "nothing rated LOW or worse; " + detail}
}
