// Package harness starts and stops the real programs the end-to-end suite
// runs against: etcd, the Kubernetes control plane, the augur binary and
// Prometheus. Every program is a child process bound to loopback, logs to a
// file of its own and is stopped when the harness is torn down, whether the
// suite passed or not.
package harness

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// stopGrace is how long a process has to exit after SIGTERM before it is
// killed.
const stopGrace = 10 * time.Second

// Process is one child program with its log file.
type Process struct {
	// Name identifies the process in errors and log file names.
	Name string
	// Path is the executable.
	Path string
	// Args are the command-line arguments after the executable.
	Args []string
	// Env is added to the parent's environment.
	Env []string
	// LogPath is the file that receives stdout and stderr.
	LogPath string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start runs the process. It fails when the executable is missing or the
// process is already running.
func (p *Process) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("starting %s: already running", p.Name)
	}
	if _, err := os.Stat(p.Path); err != nil {
		return fmt.Errorf("starting %s: %w", p.Name, err)
	}
	logFile, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("opening log of %s: %w", p.Name, err)
	}
	fmt.Fprintf(logFile, "---- %s start %s\n", time.Now().UTC().Format(time.RFC3339), p.Name)
	cmd := exec.Command(p.Path, p.Args...)
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// A process group of its own, so that stopping it reaches its
	// children too and a Ctrl-C of the suite reaches them only through
	// the harness.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting %s: %w", p.Name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done = cmd, done
	go func() {
		err := cmd.Wait()
		logFile.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

// Exited reports whether the process has ended, and how.
func (p *Process) Exited() (bool, error) {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return true, nil
	}
	select {
	case <-done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return true, p.err
	default:
		return false, nil
	}
}

// Stop sends SIGTERM to the process group, waits up to stopGrace and then
// sends SIGKILL. Stopping a process that is not running does nothing.
func (p *Process) Stop() error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(stopGrace):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	p.mu.Lock()
	p.cmd, p.done = nil, nil
	p.mu.Unlock()
	return nil
}

// Tail returns the last n bytes of the process's log.
func (p *Process) Tail(n int64) string {
	f, err := os.Open(p.LogPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	if st.Size() > n {
		if _, err := f.Seek(st.Size()-n, io.SeekStart); err != nil {
			return fmt.Sprintf("(no log: %v)", err)
		}
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// FreePort asks the kernel for a free TCP port on 127.0.0.1. The port is
// released before it is returned, so a process started right after can
// bind it; CheckPortFree guards against the rare race.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// CheckPortFree fails when something already listens on 127.0.0.1:port.
func CheckPortFree(port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("port %d is taken: %w", port, err)
	}
	return l.Close()
}

// WaitFor calls check until it returns nil, the process exits or ctx
// ends. It polls every interval; the last error from check is reported.
func WaitFor(ctx context.Context, p *Process, interval time.Duration, check func() error) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var last error
	for {
		if last = check(); last == nil {
			return nil
		}
		if p != nil {
			if exited, err := p.Exited(); exited {
				return fmt.Errorf("%s exited before it was ready (%v): %w", p.Name, err, last)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last check: %w)", name(p), ctx.Err(), last)
		case <-tick.C:
		}
	}
}

func name(p *Process) string {
	if p == nil {
		return "condition"
	}
	return p.Name
}

// HTTPOK returns a check that passes when GET url answers 200 OK and, if
// want is not empty, the body contains want.
func HTTPOK(client *http.Client, url string, want string) func() error {
	return func() error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s: %s", url, resp.Status, bytes.TrimSpace(body))
		}
		if want != "" && !bytes.Contains(body, []byte(want)) {
			return fmt.Errorf("GET %s: body lacks %q", url, want)
		}
		return nil
	}
}

// Find returns path if it is an executable file, or an error that says how
// to build it.
func Find(path, hint string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", path, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("%s not found (%s): %w", abs, hint, err)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%s is not an executable (%s)", abs, hint)
	}
	return abs, nil
}
