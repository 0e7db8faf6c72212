package integration

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/metacircular/edge/internal/syncbuf"
	"github.com/metacircular/edge/internal/testutil"
)

// binDir returns the directory of the built binaries or skips the test.
func binDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("EDGE_BIN_DIR")
	if dir == "" {
		t.Skip("EDGE_BIN_DIR is not set; `make test` builds the binaries and sets it")
	}
	for _, b := range []string{"caddy", "coredns", "devca", "demobackend"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			t.Fatalf("EDGE_BIN_DIR=%s: %v (run `make build`)", dir, err)
		}
	}
	return dir
}

// repoRoot is the repository's top directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	return testutil.RepoRoot(t)
}

// freePort returns a loopback TCP port that is free now and whose UDP twin
// is free too (DNS listens on both).
func freePort(t *testing.T) int {
	t.Helper()
	return testutil.FreePort(t)
}

// run runs a command to completion and returns its combined output.
func run(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// process is a long-running command in its own process group.
type process struct {
	cmd  *exec.Cmd
	out  *syncbuf.Buffer
	done chan error
}

// start starts a command in its own process group; the test's cleanup kills
// the group if the test has not stopped it.
func start(t *testing.T, dir string, env []string, name string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out := new(syncbuf.Buffer)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, out: out, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		if t.Failed() {
			t.Logf("output of %s:\n%s", name, out.String())
		}
	})
	return p
}

// interrupt sends SIGINT to the whole process group, as Ctrl-C in a
// terminal does, and waits for the leader to exit.
func (p *process) interrupt(t *testing.T, within time.Duration) error {
	t.Helper()
	if err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(within):
		t.Fatalf("%s still running %v after SIGINT", p.cmd.Path, within)
		return nil
	}
}

// groupAlive reports whether any process of p's group still exists.
func (p *process) groupAlive() bool {
	return syscall.Kill(-p.cmd.Process.Pid, 0) == nil
}

// waitFor polls cond until it returns nil or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() error) {
	t.Helper()
	testutil.WaitFor(t, within, what, cond)
}

// query sends one DNS question over UDP.
func query(addr, name string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	c := &dns.Client{Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, addr)
	return r, err
}
