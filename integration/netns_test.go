package integration

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// lab is a set of network namespaces joined by veth pairs, standing in for
// hosts. Everything it makes is removed in the test's cleanup, also when the
// test fails.
type lab struct {
	t      *testing.T
	prefix string
	hosts  []string
}

// newLab makes a lab or skips the test where namespaces cannot be made.
func newLab(t *testing.T) *lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("end-to-end test needs root to make network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("end-to-end test needs ip (iproute2)")
	}
	l := &lab{t: t, prefix: fmt.Sprintf("e2e%d", os.Getpid()%100000)}
	probe := l.prefix + "probe"
	if out, err := exec.Command("ip", "netns", "add", probe).CombinedOutput(); err != nil {
		t.Skipf("cannot make network namespaces here: %v: %s", err, out)
	}
	_ = exec.Command("ip", "netns", "del", probe).Run()
	t.Cleanup(l.teardown)
	return l
}

// ns returns the namespace name of a host.
func (l *lab) ns(host string) string { return l.prefix + host }

// host makes a namespace with loopback up.
func (l *lab) host(name string) {
	l.t.Helper()
	l.ip("netns", "add", l.ns(name))
	l.hosts = append(l.hosts, name)
	l.exec(name, "ip", "link", "set", "lo", "up")
}

// link joins two hosts with a veth pair and gives each end its addresses
// (CIDR notation).
func (l *lab) link(a string, aAddrs []string, b string, bAddrs []string) {
	l.t.Helper()
	ia, ib := fmt.Sprintf("%s-%s", a, b), fmt.Sprintf("%s-%s", b, a)
	l.ip("link", "add", ia, "netns", l.ns(a), "type", "veth", "peer", "name", ib, "netns", l.ns(b))
	for _, end := range []struct {
		host, ifname string
		addrs        []string
	}{{a, ia, aAddrs}, {b, ib, bAddrs}} {
		for _, addr := range end.addrs {
			l.exec(end.host, "ip", "addr", "add", addr, "dev", end.ifname)
		}
		l.exec(end.host, "ip", "link", "set", end.ifname, "up")
	}
}

// cmd returns argv that runs name inside host's namespace.
func (l *lab) cmd(host string, name string, args ...string) []string {
	return append([]string{"ip", "netns", "exec", l.ns(host), name}, args...)
}

// exec runs a command inside a host and fails the test if it fails.
func (l *lab) exec(host string, name string, args ...string) string {
	l.t.Helper()
	argv := l.cmd(host, name, args...)
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		l.t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}

func (l *lab) ip(args ...string) {
	l.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		l.t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// teardown kills whatever still runs in the lab's namespaces and deletes
// them (which deletes their veth ends too).
func (l *lab) teardown() {
	for _, h := range l.hosts {
		if out, err := exec.Command("ip", "netns", "pids", l.ns(h)).Output(); err == nil {
			for _, pid := range strings.Fields(string(out)) {
				_ = exec.Command("kill", "-9", pid).Run()
			}
		}
		if out, err := exec.Command("ip", "netns", "del", l.ns(h)).CombinedOutput(); err != nil {
			l.t.Errorf("ip netns del %s: %v: %s", l.ns(h), err, out)
		}
	}
}

// start runs a long-lived command inside host; the test's cleanup stops it.
func (l *lab) start(t *testing.T, host string, env []string, name string, args ...string) *process {
	t.Helper()
	argv := l.cmd(host, name, args...)
	return start(t, "", env, argv[0], argv[1:]...)
}

// output runs a command inside host and returns its combined output.
func (l *lab) output(host string, name string, args ...string) (string, error) {
	return l.outputEnv(host, nil, name, args...)
}

// outputEnv is output with extra environment variables.
func (l *lab) outputEnv(host string, env []string, name string, args ...string) (string, error) {
	argv := l.cmd(host, name, args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
