package api

import (
	"context"
	"encoding/json"
	"net"
	"os/exec"
	"testing"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

// TestCurlDeploymentCall runs the deployment plan's curl command, as
// written, against a TLS listener over a real store.
func TestCurlDeploymentCall(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed")
	}
	st, _ := openStore(t)
	if _, err := st.CreateZone(context.Background(), store.Zone{Name: "mcp.metacircular.net.", PrimaryNS: "ns.mcp.metacircular.net."}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key, _ := selfSigned(t, dir)
	s := newServer(&Config{Addr: "127.0.0.1:0", CertFile: cert, KeyFile: key, TokensFile: writeTokens(t, dir), Log: &testLog{}}, st, nil)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	_, port, _ := net.SplitHostPort(s.Addr().String())

	out, err := exec.Command(curl, "-sS", "--noproxy", "*", "--cacert", cert, "--resolve", "localhost:"+port+":127.0.0.1",
		"-X", "POST", "https://localhost:"+port+"/v1/zones/mcp.metacircular.net/records",
		"-H", "Authorization: Bearer "+adminToken,
		"-H", "Content-Type: application/json",
		"-d", `{"name": "ns", "type": "A", "value": "203.0.113.7", "ttl": 300}`).CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v: %s", err, out)
	}
	var rec recordJSON
	if err := json.Unmarshal(out, &rec); err != nil || rec.FQDN != "ns.mcp.metacircular.net." || rec.Value != "203.0.113.7" || rec.TTL != 300 {
		t.Fatalf("answer: %s", out)
	}
	if got, err := st.Record(context.Background(), "mcp.metacircular.net", rec.ID); err != nil || got.Content != "203.0.113.7" {
		t.Fatalf("stored: %+v %v", got, err)
	}
	// curl forced to TLS 1.1 at most is refused.
	if out, err := exec.Command(curl, "-sS", "--noproxy", "*", "--cacert", cert, "--resolve", "localhost:"+port+":127.0.0.1",
		"--tlsv1.0", "--tls-max", "1.1", "https://localhost:"+port+"/v1/health").CombinedOutput(); err == nil {
		t.Errorf("TLS 1.1 accepted: %s", out)
	}
}
