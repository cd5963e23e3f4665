package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// build compiles examples/<example> of the repository at root (or of the
// module containing the current directory) into dir.
func build(ctx context.Context, root, example, dir string) (string, error) {
	if root == "" {
		out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
		if err != nil {
			return "", fmt.Errorf("go env GOMOD: %w", err)
		}
		gomod := strings.TrimSpace(string(out))
		if gomod == "" || gomod == os.DevNull {
			return "", errors.New("not inside the sluice module: run from the repository or pass -root")
		}
		root = filepath.Dir(gomod)
	}
	bin := filepath.Join(dir, example)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./examples/"+example)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./examples/%s: %v\n%s", example, err, out)
	}
	return bin, nil
}

// server is an example process started by stress.
type server struct {
	cmd   *exec.Cmd
	addr  string
	debug string // the -debug-addr it serves /debug/stats on, or ""
	log   *lockedBuffer
	done  chan struct{} // closed when the process has exited
	err   error         // its exit status, once done is closed

	stopOnce sync.Once
	stopErr  error
}

// lockedBuffer collects a process's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startServer runs bin with args and waits for its "listening on" line.
// With nofile > 0 the process runs with that open-file limit (soft and
// hard), which sets the server's default MaxConns to nofile-128. Its
// output also goes to logPath.
func startServer(ctx context.Context, bin string, args []string, nofile int, logPath string) (*server, error) {
	var cmd *exec.Cmd
	if nofile > 0 {
		// The shell lowers the limit and replaces itself with the server:
		// the process id stays the server's.
		script := fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, nofile)
		cmd = exec.Command("/bin/sh", append([]string{"-c", script, bin}, args...)...)
	} else {
		cmd = exec.Command(bin, args...)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, log: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stderr = s.log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	lines := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		first := true
		for {
			line, err := r.ReadString('\n')
			if first && line != "" {
				lines <- line
				first = false
			}
			s.log.Write([]byte(line))
			if err != nil {
				break
			}
		}
		s.err = cmd.Wait()
		if logPath != "" {
			_ = os.WriteFile(logPath, []byte(s.log.String()), 0o644)
		}
		close(s.done)
	}()
	select {
	case line := <-lines:
		addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
		if !ok {
			s.stop()
			return nil, fmt.Errorf("%s: unexpected first line %q", filepath.Base(bin), line)
		}
		s.addr = addr
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("%s exited: %v: %s", filepath.Base(bin), s.err, s.log.String())
	case <-time.After(30 * time.Second):
		s.stop()
		return nil, fmt.Errorf("%s: no listening line in 30 s", filepath.Base(bin))
	case <-ctx.Done():
		s.stop()
		return nil, ctx.Err()
	}
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// alive reports whether the process is still running.
func (s *server) alive() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// tail returns the end of the process's output.
func (s *server) tail() string {
	out := strings.Join(strings.Fields(strings.ReplaceAll(s.log.String(), "\n", " | ")), " ")
	if len(out) > 400 {
		out = "..." + out[len(out)-400:]
	}
	return out
}

// errors returns the process's first few log lines that report an error
// (ERROR or fatal), joined, or its tail when there are none.
func (s *server) errors() string {
	var picked []string
	for _, line := range strings.Split(s.log.String(), "\n") {
		if strings.Contains(line, "ERROR") || strings.Contains(line, "fatal") {
			picked = append(picked, strings.TrimSpace(line))
			if len(picked) == 3 {
				break
			}
		}
	}
	if len(picked) == 0 {
		return s.tail()
	}
	return strings.Join(picked, " | ")
}

// stop sends SIGTERM (the examples shut down gracefully on it), then
// SIGKILL after 15 s; it returns an error if the server did not exit
// cleanly.
func (s *server) stop() error {
	s.stopOnce.Do(func() {
		if !s.alive() {
			s.stopErr = fmt.Errorf("the server had exited: %v: %s", s.err, s.tail())
			return
		}
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
			if s.err != nil {
				s.stopErr = fmt.Errorf("the server exited with %v: %s", s.err, s.tail())
			}
		case <-time.After(15 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
			s.stopErr = errors.New("the server did not stop within 15 s of SIGTERM (killed)")
		}
	})
	return s.stopErr
}

// status reads a "Name:   123 kB" field of /proc/PID/status, in kB, or -1.
func (s *server) status(field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid()))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

// rss returns the resident set size in kB.
func (s *server) rss() int64 { return s.status("VmRSS") }

// peak returns the peak resident set size (since the last resetPeak) in
// kB.
func (s *server) peak() int64 { return s.status("VmHWM") }

// resetPeak sets the peak resident size back to the current one (Linux 4.0
// and later); it reports whether it could, otherwise the peak is the
// process's lifetime peak.
func (s *server) resetPeak() bool {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", s.pid()), []byte("5"), 0) == nil
}

// peakNote describes the peak RSS of a check.
func (s *server) peakNote(reset bool, before int64) string {
	note := fmt.Sprintf("server RSS %s, peak %s", mib(before), mib(s.peak()))
	if !reset {
		note += " (lifetime peak: clear_refs unavailable)"
	}
	return note
}

// runTool runs a command in a process group of its own, with a time
// limit, and returns its combined output. At the limit (or when ctx is
// done) the whole group is killed: testssl runs openssl processes.
func runTool(ctx context.Context, limit time.Duration, dir, name string, args ...string) ([]byte, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return nil, errMissing
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Stdin = nil
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case err = <-done:
	case <-timer.C:
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the group created above
		<-done
		err = fmt.Errorf("%s did not finish within %v (killed)", name, limit)
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		err = ctx.Err()
	}
	return []byte(out.String()), err
}

// firstLines returns up to n lines of b, for error messages.
func firstLines(b []byte, n int) string {
	lines := strings.SplitN(string(b), "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.TrimSpace(strings.Join(lines, " | "))
}

var _ io.Writer = (*lockedBuffer)(nil)
