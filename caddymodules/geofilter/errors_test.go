package geofilter

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metacircular/edge/internal/caddytestutil"
)

// adapt is caddytestutil.Adapt with the error as text, as the package's
// table tests compare either against their expectation.
func adapt(t *testing.T, in string) (string, bool) {
	t.Helper()
	out, err := caddytestutil.Adapt(t, in)
	if err != nil {
		return err.Error(), false
	}
	return out, true
}

// TestCaddyfileErrors checks that bad options are refused with the file and
// line of the offending option.
func TestCaddyfileErrors(t *testing.T) {
	dbs := makeTestDBs(t)
	for _, c := range []struct {
		name, body, want string
	}{
		{"unknown subdirective", "block_everyone", `unrecognized subdirective "block_everyone"`},
		{"unknown subdirective with args", "allow_ips 1.2.3.4", `unrecognized subdirective "allow_ips"`},
		{"country too long", "db " + dbs.country + "\n\t\tblock_countries USA", `invalid country code "USA"`},
		{"country digits", "db " + dbs.country + "\n\t\tallow_countries U1", `invalid country code "U1"`},
		{"block and allow countries", "db " + dbs.country + "\n\t\tblock_countries CN\n\t\tallow_countries US", "mutually exclusive"},
		{"countries without db", "block_countries CN", "need a db"},
		{"asn without db", "block_asn 64496", "need a db"},
		{"bad asn", "db " + dbs.asn + "\n\t\tblock_asn ASx", `invalid AS number "ASx"`},
		{"bad ip", "block_ips 300.1.2.3", `invalid IP address "300.1.2.3"`},
		{"cidr as ip", "block_ips 10.0.0.0/8", `invalid IP address "10.0.0.0/8"`},
		{"bad cidr", "block_cidrs 10.0.0.0/33", `invalid CIDR "10.0.0.0/33"`},
		{"bad allow cidr", "allow_cidrs nope", `invalid IP address "nope"`},
		{"no args", "block_ips", "wrong argument count"},
		{"unknown_country value", "unknown_country maybe", "want allow or block"},
		{"rate_limit count", "rate_limit x 10s", `invalid request count "x"`},
		{"rate_limit window", "rate_limit 10 forever", `invalid window "forever"`},
		{"rate_limit arity", "rate_limit 10", "wrong argument count"},
		{"ipv6 prefix", "rate_limit 10 1s\n\t\trate_limit_ipv6_prefix 129", "want 1..128"},
		{"max clients", "rate_limit 10 1s\n\t\trate_limit_max_clients 0", "want a positive number"},
		{"rate options without rate_limit", "rate_limit_max_clients 10", "need rate_limit"},
		{"status", "status 200", "want a 4xx or 5xx code"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := ":8080 {\n\tgeofilter {\n\t\t" + c.body + "\n\t}\n}\n"
			out, ok := adapt(t, in)
			if ok {
				t.Fatalf("accepted:\n%s", out)
			}
			if !strings.Contains(out, c.want) {
				t.Errorf("error %q does not contain %q", out, c.want)
			}
			// The error names the line of the last option in the block.
			line := strings.Count(c.body, "\n") + 3
			if !strings.Contains(out, "Caddyfile:"+itoa(line)) {
				t.Errorf("error %q does not name Caddyfile:%d", out, line)
			}
		})
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestAdaptWithoutDatabases checks that adapting a Caddyfile does not open
// the db files, so configs can be adapted on a host without them; the files
// are checked when the config is loaded.
func TestAdaptWithoutDatabases(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "GeoLite2-Country.mmdb")
	in := "{\n\tservers {\n\t\tlistener_wrappers {\n\t\t\tgeofilter {\n\t\t\t\tdb " + missing +
		"\n\t\t\t\tblock_asn 64496\n\t\t\t}\n\t\t\ttls\n\t\t}\n\t}\n}\n" +
		":8080 {\n\tgeofilter {\n\t\tdb " + missing + "\n\t\tblock_countries CN\n\t\tblock_asn 64496\n\t}\n" +
		"\t@m geo db " + missing + " country US\n\trespond @m 403\n}\n"
	out, ok := adapt(t, in)
	if !ok {
		t.Fatalf("adapt failed: %s", out)
	}
	for _, want := range []string{`"handler":"geofilter"`, `"wrapper":"geofilter"`, `"geo":{`} {
		if !strings.Contains(out, want) {
			t.Errorf("adapted config lacks %s:\n%s", want, out)
		}
	}
	if strings.Count(out, missing) != 3 {
		t.Errorf("adapted config does not name the db 3 times:\n%s", out)
	}
}
