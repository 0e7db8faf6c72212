package integration

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestXfrSecondariesFollow runs the primary with two secondaries on
// loopback, a bin/coredns with the secondary plugin and a knotd, and shows
// both take an API change and an UPDATE within 2 s through NOTIFY (their
// own refresh timers are hours).
func TestXfrSecondariesFollow(t *testing.T) {
	bin := binDir(t)
	knotd := needTool(t, "knotd")
	nsupdate := needTool(t, "nsupdate")
	secPort, knotPort := freePort(t), freePort(t)
	p := startPrimary(t, bin, knotPort, secPort)

	// The CoreDNS secondary.
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "Corefile"), fmt.Sprintf(`example.test:%d {
	bind 127.0.0.1
	secondary {
		transfer from %s
	}
}
`, secPort, p.addr))
	start(t, dir, nil, filepath.Join(bin, "coredns"), "-conf", filepath.Join(dir, "Corefile"))
	sec := "127.0.0.1:" + strconv.Itoa(secPort)

	knot := startKnotSecondary(t, knotd, knotPort, p.port)

	// Both load the zone at startup.
	for _, s := range []string{sec, knot} {
		waitFor(t, 10*time.Second, "secondary "+s+" loads the zone", func() error {
			serial, err := soaSerialAt(s, xfrZone)
			if err == nil && serial != xfrSerial {
				err = fmt.Errorf("serial %d", serial)
			}
			return err
		})
	}

	// follow waits until both secondaries serve want at name with the
	// primary's serial, at most 2 s after the change returned.
	follow := func(what, name string, qtype uint16, want string) {
		t.Helper()
		changed := time.Now()
		serial, err := soaSerialAt(p.addr, xfrZone)
		if err != nil {
			t.Fatal(err)
		}
		check := func(s string) error {
			got, _, err := answerAt(s, name, qtype)
			if err != nil {
				return err
			}
			if len(got) != 1 || got[0] != want {
				return fmt.Errorf("%s: %v", name, got)
			}
			if sv, err := soaSerialAt(s, xfrZone); err != nil || sv != serial {
				return fmt.Errorf("serial %d, want %d (%v)", sv, serial, err)
			}
			return nil
		}
		addrs := map[string]string{"coredns": sec, "knotd": knot}
		pending := map[string]error{"coredns": nil, "knotd": nil}
		for len(pending) > 0 {
			for s := range pending {
				if pending[s] = check(addrs[s]); pending[s] == nil {
					delete(pending, s)
					t.Logf("%s: %s followed in %v", what, s, time.Since(changed).Round(time.Millisecond))
				}
			}
			if len(pending) > 0 && time.Since(changed) > 2*time.Second {
				t.Fatalf("%s: not followed within 2 s: %v", what, pending)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	p.apiAddRecord(t, xfrZone, "follow", "A", "192.0.2.123")
	follow("API change", "follow.example.test.", dns.TypeA, "192.0.2.123")

	script := fmt.Sprintf("server 127.0.0.1 %d\nzone example.test\nupdate add _acme-challenge.example.test. 60 TXT \"follow-token\"\nsend\n", p.port)
	writeFile(t, filepath.Join(dir, "update.txt"), script)
	if out, err := run(t, nil, nsupdate, "-y", "hmac-sha256:"+updKeyName+":"+updKeySecret, filepath.Join(dir, "update.txt")); err != nil {
		t.Fatalf("nsupdate: %v\n%s", err, out)
	}
	follow("UPDATE", "_acme-challenge.example.test.", dns.TypeTXT, `"follow-token"`)

	// A burst of changes: still caught up, with one NOTIFY round per
	// quarter second at most, not one per change.
	for i := range 5 {
		p.apiAddRecord(t, xfrZone, "burst", "A", "192.0.2."+strconv.Itoa(200+i))
	}
	p.apiAddRecord(t, xfrZone, "burst-end", "A", "192.0.2.250")
	follow("burst of API changes", "burst-end.example.test.", dns.TypeA, "192.0.2.250")
	if got, _, _ := answerAt(knot, "burst.example.test.", dns.TypeA); len(got) != 5 {
		t.Errorf("knotd has %d of 5 burst records: %v", len(got), got)
	}
	log := p.process.out.String()
	ixfrs := strings.Count(log, `"IXFR IN example.test.`)
	t.Logf("primary served %d IXFR and %d AXFR requests", ixfrs, strings.Count(log, `"AXFR IN example.test.`))
	// knotd asks for IXFR after each NOTIFY; each was answered from the
	// journal, not with the whole zone.
	if ixfrs < 3 || strings.Contains(log, "sending a full transfer") {
		t.Errorf("knotd's IXFRs were not all incremental (%d IXFR requests)", ixfrs)
	}
	if n := strings.Count(log, "Outgoing"); n > 20 {
		t.Errorf("%d transfers for a handful of changes: NOTIFY not coalesced?", n)
	}
}
