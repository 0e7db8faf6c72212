package mcns

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestFailedReloadStopsNewInstance: when a reload fails after mcns's
// OnStartup ran (here: the new server cannot listen), caddy keeps the old
// instance and drops the new one without its OnShutdown; the new mcns must
// not keep running (its API would answer with the rejected Corefile's
// settings). A successful reload keeps the new instance running.
func TestFailedReloadStopsNewInstance(t *testing.T) {
	seeds := writeZones(t, exampleOrg)
	dir := t.TempDir()
	db := filepath.Join(dir, "mcns.db")
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	corefile := func(dnsPort, apiPort int) string {
		return fmt.Sprintf(".:%d {\n bind 127.0.0.1\n mcns %s {\n  seed %s\n  api 127.0.0.1:%d {\n   insecure_plaintext\n   tokens %s\n  }\n }\n}",
			dnsPort, db, seeds[0], apiPort, tokens)
	}
	healthy := func(port int) bool {
		c := &http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/v1/health", port))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}

	api1 := freePort(t)
	inst, _ := startServer(t, corefile(0, api1))
	defer func() {
		inst.Stop()
		inst.ShutdownCallbacks()
	}()
	// A successful reload: the new instance (and its API) stays up.
	api2 := freePort(t)
	next, err := inst.Restart(corefileInput(corefile(0, api2)))
	if err != nil {
		t.Fatal(err)
	}
	inst = next
	addr := inst.Servers()[0].LocalAddr().String()
	if !healthy(api2) {
		t.Fatal("API of a successfully reloaded instance is down")
	}

	// A port held without SO_REUSEPORT makes the new server fail to
	// listen, after every OnStartup has run.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	api3 := freePort(t)
	same, err := inst.Restart(corefileInput(corefile(busy.Addr().(*net.TCPAddr).Port, api3)))
	if err == nil {
		t.Fatal("reload onto a taken port succeeded")
	}
	if same != inst {
		t.Fatal("a failed reload replaced the instance")
	}
	if healthy(api3) {
		t.Errorf("after the failed reload, the discarded instance's API answers on :%d", api3)
	}
	// The live instance is untouched.
	if !healthy(api2) {
		t.Error("the live instance's API stopped")
	}
	if resp := exchange(t, addr, "www.example.org.", dns.TypeA); len(resp.Answer) != 1 {
		t.Errorf("the live instance stopped serving: %v", resp)
	}
}

// TestFailedReloadAddingMCNS: the same when the Corefile being reloaded had
// no mcns yet, so nothing of mcns ran on the old instance.
func TestFailedReloadAddingMCNS(t *testing.T) {
	seeds := writeZones(t, exampleOrg)
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	inst, _ := startServer(t, ".:0 {\n bind 127.0.0.1\n}")
	defer func() {
		inst.Stop()
		inst.ShutdownCallbacks()
	}()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	api := freePort(t)
	bad := fmt.Sprintf(".:%d {\n bind 127.0.0.1\n mcns %s {\n  seed %s\n  api 127.0.0.1:%d {\n   insecure_plaintext\n   tokens %s\n  }\n }\n}",
		busy.Addr().(*net.TCPAddr).Port, filepath.Join(dir, "mcns.db"), seeds[0], api, tokens)
	if _, err := inst.Restart(corefileInput(bad)); err == nil {
		t.Fatal("reload onto a taken port succeeded")
	}
	c := &http.Client{Timeout: 2 * time.Second}
	if resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/v1/health", api)); err == nil {
		resp.Body.Close()
		t.Errorf("after the failed reload, the discarded instance's API answers on :%d", api)
	}
}
