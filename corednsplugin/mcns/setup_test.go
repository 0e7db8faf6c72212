package mcns

import (
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
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
		{input: "mcns z.db {\n answer_cache 0\n}", check: func(c config) bool { return c.answerCache < 0 }},
		{input: "mcns z.db {\n answer_cache 50000\n}", check: func(c config) bool { return c.answerCache == 50000 }},
		{input: "mcns z.db", check: func(c config) bool {
			return c.answerCache == 0 && answerCacheSize(0, 10) == 4096 && answerCacheSize(0, 1e6) == 262144
		}},
		{input: "mcns z.db {\n answer_cache lots\n}", wantErr: "Testfile:2 - Error during parsing: answer_cache"},
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

func TestParseUpdateAndJournal(t *testing.T) {
	for _, tc := range []struct {
		input   string
		keys    []string // server block keys
		wantErr string
		check   func(config) bool
	}{
		{input: "mcns z.db {\n update Example.ORG k1 k2.\n update example.org k3\n journal 50 24h\n}", check: func(c config) bool {
			e, a := c.journalLimits()
			return c.updateAllowed("example.org.", "k1.") && c.updateAllowed("example.org.", "k2.") && c.updateAllowed("example.org.", "k3.") &&
				!c.updateAllowed("example.net.", "k1.") && e == 50 && a == 24*time.Hour
		}},
		{input: "mcns z.db", check: func(c config) bool {
			e, a := c.journalLimits()
			return e == 1000 && a == 168*time.Hour && len(c.updates) == 0
		}},
		{input: "mcns z.db {\n journal 0 0\n}", check: func(c config) bool {
			e, a := c.journalLimits()
			return e == 0 && a == 0
		}},
		{input: "mcns z.db {\n update example.org\n}", wantErr: "Testfile:2"},
		{input: "mcns z.db {\n update example.org nokey\n}", wantErr: `Testfile:2 - Error during parsing: update example.org.: TSIG key "nokey." is not defined`},
		{input: "mcns z.db {\n journal many\n}", wantErr: "Testfile:2"},
		{input: "mcns z.db {\n journal 10 soon\n}", wantErr: "Testfile:2"},
		{input: "mcns z.db {\n journal 10\n journal 10\n}", wantErr: "Testfile:3"},
		{input: "mcns z.db {\n update example.net k1\n}", keys: []string{"example.org:53"}, wantErr: "not inside this server block"},
		{input: "mcns z.db {\n update sub.example.org k1\n}", keys: []string{"example.org:53"}, check: func(c config) bool {
			return c.updateAllowed("sub.example.org.", "k1.")
		}},
	} {
		c := caddy.NewTestController("dns", tc.input)
		c.ServerBlockKeys = tc.keys
		dnsserver.GetConfig(c).TsigSecret = map[string]string{"k1.": "a2V5", "k2.": "a2V5", "k3.": "a2V5"}
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
