package mcnsdns

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	"github.com/libdns/libdns"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/metacircular/edge/internal/caddytestutil"
)

const wantProvider = `{"ca_cert":"/etc/caddy/mcns-ca.pem","endpoint":"https://127.0.0.1:8444","name":"mcns","token":"{env.MCNS_TOKEN}"}`

// TestCaddyfile adapts the provider in the tls directive and in the
// acme_dns global option. The token stays a placeholder in the JSON: the
// secret is read from the environment only when the module is loaded.
func TestCaddyfile(t *testing.T) {
	for name, input := range map[string]string{
		"tls directive": `*.svc.mcp.metacircular.net {
	tls {
		dns mcns {
			endpoint https://127.0.0.1:8444
			token {env.MCNS_TOKEN}
			ca_cert /etc/caddy/mcns-ca.pem
		}
		resolvers 127.0.0.1:53
	}
	respond "hi"
}`,
		"acme_dns global option, endpoint as argument": `{
	acme_dns mcns https://127.0.0.1:8444 {
		token {env.MCNS_TOKEN}
		ca_cert /etc/caddy/mcns-ca.pem
	}
}
*.svc.mcp.metacircular.net {
	respond "hi"
}`,
	} {
		out, err := caddytestutil.Adapt(t, input)
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if !strings.Contains(out, `"provider":`+wantProvider) {
			t.Errorf("%s: adapted config lacks the provider %s:\n%s", name, wantProvider, out)
		}
	}
}

func TestCaddyfileErrors(t *testing.T) {
	for _, tc := range []struct{ block, want string }{
		{"dns mcns {\n\t\t\tendpoint https://a:8444\n\t\t\ttoken t\n\t\t\tca_certs /x\n\t\t}", `mcns: unrecognized subdirective "ca_certs", at Caddyfile:6`},
		{"dns mcns {\n\t\t\ttoken t\n\t\t}", "mcns: endpoint is required, at Caddyfile:"},
		{"dns mcns https://a:8444", "mcns: token is required"},
		{"dns mcns https://a:8444 extra", `mcns: unexpected argument "extra" (only the endpoint may follow the provider name), at Caddyfile:3`},
		{"dns mcns {\n\t\t\tendpoint\n\t\t}", "mcns: endpoint needs one argument, at Caddyfile:4"},
		{"dns mcns {\n\t\t\tendpoint a b\n\t\t}", `mcns: endpoint takes one argument, got "b" too, at Caddyfile:4`},
		{"dns mcns https://a:8444 {\n\t\t\tendpoint https://b:8444\n\t\t}", "mcns: endpoint given twice, at Caddyfile:4"},
	} {
		_, err := caddytestutil.Adapt(t, "example.com {\n\ttls {\n\t\t"+tc.block+"\n\t}\n}\n")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.block, err, tc.want)
		}
	}
}

// TestJSONAndPlaceholders loads the module from JSON as Caddy does,
// expands the token from the environment, and checks that nothing it logs
// holds the token.
func TestJSONAndPlaceholders(t *testing.T) {
	m := startMCNS(t)
	t.Setenv("MCNS_TEST_TOKEN", adminToken)
	t.Setenv("MCNS_TEST_CA", m.caFile)
	core, logs := observer.New(zap.DebugLevel)
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	var p Provider
	cfg := `{"endpoint": "` + m.endpoint + `", "token": "{env.MCNS_TEST_TOKEN}", "ca_cert": "{env.MCNS_TEST_CA}"}`
	if err := json.Unmarshal([]byte(cfg), &p); err != nil {
		t.Fatal(err)
	}
	if err := p.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	p.logger = zap.New(core)
	recs, err := p.AppendRecords(ctx, testZone, []libdns.Record{libdns.TXT{Name: "_acme-challenge", Text: "json"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DeleteRecords(ctx, testZone, recs); err != nil {
		t.Fatal(err)
	}
	if logs.Len() != 2 {
		t.Errorf("want one log line per change, got %d", logs.Len())
	}
	for _, e := range logs.All() {
		line, _ := json.Marshal(e.ContextMap())
		if strings.Contains(e.Message+string(line), adminToken) {
			t.Errorf("log line holds the token: %s %s", e.Message, line)
		}
	}
	// The configuration keeps the placeholder, not the secret.
	out, _ := json.Marshal(&p)
	if strings.Contains(string(out), adminToken) || !strings.Contains(string(out), "{env.MCNS_TEST_TOKEN}") {
		t.Errorf("marshalled provider: %s", out)
	}

	// An unset variable is an error that names the placeholder.
	var q Provider
	q.Endpoint, q.Token = m.endpoint, "{env.MCNS_TEST_UNSET}"
	err = q.Provision(ctx)
	if err == nil || !strings.Contains(err.Error(), "MCNS_TEST_UNSET") {
		t.Errorf("unset token variable: %v", err)
	}
}
