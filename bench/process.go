package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// This file starts and stops the processes the harness owns. Each runs in
// its own process group, is tracked by PID in a procSet, and is stopped by
// signalling that group only: the harness never kills by name.

// procSet tracks the processes the harness started and has not yet reaped.
type procSet struct {
	mu   sync.Mutex
	live map[int]*proc // guarded by mu
}

func newProcSet() *procSet { return &procSet{live: make(map[int]*proc)} }

func (s *procSet) add(p *proc) {
	s.mu.Lock()
	s.live[p.pid] = p
	s.mu.Unlock()
}

func (s *procSet) remove(p *proc) {
	s.mu.Lock()
	delete(s.live, p.pid)
	s.mu.Unlock()
}

// stopAll stops every live process, as on Ctrl-C.
func (s *procSet) stopAll() {
	s.mu.Lock()
	ps := make([]*proc, 0, len(s.live))
	for _, p := range s.live {
		ps = append(ps, p)
	}
	s.mu.Unlock()
	for _, p := range ps {
		p.stop()
	}
}

// proc is one started server.
type proc struct {
	set  *procSet
	cmd  *exec.Cmd
	pid  int
	addr string        // from its "listening on" line
	out  *outputWriter // its stdout and stderr
	done chan struct{} // closed when it has exited
	err  error         // its exit status; read after done
	once sync.Once
	// debugAddr is a sluice server's debug listener (/debug/stats,
	// /metrics); "" when it has none.
	debugAddr string
}

// listenTimeout bounds the wait for "listening on": Node takes about
// 100 ms, a Go binary less.
const listenTimeout = 20 * time.Second

// startServer runs argv (pinned with taskset when pin >= 0) and waits for
// its "listening on HOST:PORT" line.
func (s *procSet) startServer(ctx context.Context, pin int, argv []string) (*proc, error) {
	argv = pinned(pin, argv)
	cmd := exec.Command(argv[0], argv[1:]...)
	out := newOutputWriter()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 2 * time.Second // if a grandchild holds the pipes
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{set: s, cmd: cmd, pid: cmd.Process.Pid, out: out, done: make(chan struct{})}
	s.add(p)
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t := time.NewTimer(listenTimeout)
	defer t.Stop()
	select {
	case addr := <-out.listening:
		p.addr = addr
		return p, nil
	case <-p.done:
		p.stop()
		return nil, fmt.Errorf("exited before listening (%v): %s", p.err, out.tail())
	case <-t.C:
		p.stop()
		return nil, fmt.Errorf("no \"listening on\" line within %v: %s", listenTimeout, out.tail())
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	}
}

// exited reports whether the process has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, then SIGKILL if it has not
// exited within a few seconds, and reaps it.
func (p *proc) stop() {
	p.once.Do(func() {
		defer p.set.remove(p)
		_ = syscall.Kill(-p.pid, syscall.SIGTERM)
		select {
		case <-p.done:
			return
		case <-time.After(5 * time.Second): // sluice drains for up to 10 s; idle clients are closed first
		}
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		<-p.done
	})
}

// pinned prefixes argv with taskset when cpu >= 0. taskset execs argv, so
// the PID stays that of the server.
func pinned(cpu int, argv []string) []string {
	if cpu < 0 {
		return argv
	}
	return append([]string{"taskset", "-c", strconv.Itoa(cpu)}, argv...)
}

// outputWriter collects a process's output: it reports the first
// "listening on " line and keeps the last few KiB for error messages.
type outputWriter struct {
	mu        sync.Mutex
	buf       []byte // guarded by mu: the last tailSize bytes
	line      []byte // guarded by mu: the current partial line
	found     bool   // guarded by mu
	listening chan string
}

const tailSize = 4 << 10

func newOutputWriter() *outputWriter { return &outputWriter{listening: make(chan string, 1)} }

func (w *outputWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	if len(w.buf) > tailSize {
		w.buf = append(w.buf[:0], w.buf[len(w.buf)-tailSize:]...)
	}
	if w.found {
		return len(b), nil
	}
	w.line = append(w.line, b...)
	for {
		i := bytes.IndexByte(w.line, '\n')
		if i < 0 {
			break
		}
		l := strings.TrimSpace(string(w.line[:i]))
		w.line = w.line[i+1:]
		if addr, ok := strings.CutPrefix(l, "listening on "); ok {
			w.found = true
			w.line = nil
			w.listening <- addr
			break
		}
	}
	if len(w.line) > tailSize { // a runaway line without newline
		w.line = w.line[len(w.line)-tailSize:]
	}
	return len(b), nil
}

// tail returns the last output, trimmed, on one line.
func (w *outputWriter) tail() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := strings.TrimSpace(string(w.buf))
	if s == "" {
		return "(no output)"
	}
	return strings.Join(strings.Fields(s), " ")
}

// freePort returns a port on 127.0.0.1 that was free a moment ago. The
// servers are given a fixed port rather than port 0 because a server with
// one SO_REUSEPORT listener per loop cannot share port 0.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// runCommand runs argv (pinned when cpu >= 0) in its own process group,
// killed with its group when ctx is done or after limit, and returns its
// standard output and the CPU time (user+system) it used.
func (s *procSet) runCommand(ctx context.Context, cpu int, limit time.Duration, argv []string) (string, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	name := argv[0]
	argv = pinned(cpu, argv)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	var used time.Duration
	if st := cmd.ProcessState; st != nil {
		used = st.UserTime() + st.SystemTime()
	}
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return stdout.String(), used, fmt.Errorf("%s: no result within %v", name, limit)
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = strings.TrimSpace(stdout.String())
		}
		return stdout.String(), used, fmt.Errorf("%s: %w: %s", name, err, msg)
	}
	return stdout.String(), used, nil
}
