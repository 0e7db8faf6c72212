package mcns

import (
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		input   string
		wantErr string // substring; empty means success
		check   func(config) bool
	}{
		{input: "mcns /var/lib/mcns/zones.db", check: func(c config) bool {
			return c.dbPath == "/var/lib/mcns/zones.db" && c.refresh == time.Second && c.api == nil
		}},
		{input: "mcns z.db {\n seed a.zone b.zone\n seed c.zone\n refresh 250ms\n}", check: func(c config) bool {
			return strings.Join(c.seeds, ",") == "a.zone,b.zone,c.zone" && c.refresh == 250*time.Millisecond
		}},
		{input: "mcns", wantErr: "Wrong argument count"},
		{input: "mcns a.db b.db", wantErr: "Wrong argument count"},
		{input: "mcns z.db {\n seed\n}", wantErr: "Wrong argument count"},
		{input: "mcns z.db {\n refresh soon\n}", wantErr: "Testfile:2"},
		{input: "mcns z.db {\n refresh 5s\n}", wantErr: "between 10ms and 1s"},
		{input: "mcns z.db {\n bogus 1\n}", wantErr: `Testfile:2 - Error during parsing: unknown property "bogus"`},
		{input: "mcns z.db {\n api\n}", wantErr: "Testfile:2"},
		{input: "mcns z.db\nmcns y.db", wantErr: "only be used once"},
	} {
		c := caddy.NewTestController("dns", tc.input)
		cfg, err := parse(c)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: err %v, want %q", tc.input, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.input, err)
			continue
		}
		if !tc.check(cfg) {
			t.Errorf("%q: config %+v", tc.input, cfg)
		}
	}
}
