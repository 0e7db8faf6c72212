// Package testutil holds helpers shared by the project's tests: free
// ports, the repository root, polling for a condition and replacing a
// file the way deploy tools do.
package testutil

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// FreePort returns a loopback port that is free now for TCP and whose UDP
// twin is free too (DNS servers listen on both).
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := findFreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// MustFreePort is FreePort for package-level variables, where no
// testing.TB exists yet; it panics on failure.
func MustFreePort() int {
	port, err := findFreePort()
	if err != nil {
		panic(err)
	}
	return port
}

func findFreePort() (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port))
		l.Close()
		if err == nil {
			u.Close()
			return port, nil
		}
	}
	return 0, errors.New("free port: none with both TCP and UDP free after 50 tries")
}

// RepoRoot returns the repository's top directory: the nearest directory
// above the test's working directory (its package directory) that holds
// go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("repository root: no go.mod above the working directory")
		}
		dir = parent
	}
}

// WaitFor polls cond until it returns nil, and fails the test with the
// last error if that does not happen within the given time.
func WaitFor(t testing.TB, within time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, within, err)
		}
		time.Sleep(waitStep(within))
	}
}

// waitStep polls often for short waits and gently for long ones.
func waitStep(within time.Duration) time.Duration {
	return min(max(within/100, 10*time.Millisecond), 100*time.Millisecond)
}

// ReplaceFile writes data to path atomically (temporary file in the same
// directory, then rename), as deploy tools and geoipupdate do: readers see
// the old or the new file, never a mix, and the inode changes.
func ReplaceFile(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		t.Fatal(err)
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		t.Fatalf("replace %s: %v", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		t.Fatalf("replace %s: %v", path, err)
	}
}

// DistinctPorts returns a function handing out free ports, never the same
// one twice: FreePort releases each port at once, so two calls in a row
// may return the same port, and a test that starts several servers
// before any of them listens needs them apart.
func DistinctPorts(t testing.TB) func() int {
	used := map[int]bool{}
	return func() int {
		t.Helper()
		for {
			if p := FreePort(t); !used[p] {
				used[p] = true
				return p
			}
		}
	}
}
