package netlist

import (
	"net"
	"net/netip"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		want    string
		wantErr string
	}{
		{args: []string{"127.0.0.0/8 ::1/128  100.64.0.0/10", "192.168.88.0/24"}, want: "127.0.0.0/8 ::1/128 100.64.0.0/10 192.168.88.0/24"},
		{args: []string{"192.0.2.7", "2001:db8::1", "10.1.2.3/8", "::ffff:198.51.100.1"}, want: "192.0.2.7/32 2001:db8::1/128 10.0.0.0/8 198.51.100.1/32"},
		{args: []string{""}, wantErr: "no networks given"},
		{args: nil, wantErr: "no networks given"},
		{args: []string{"10.0.0.0/33"}, wantErr: `"10.0.0.0/33" is not a network`},
		{args: []string{"everyone"}, wantErr: `"everyone" is not a network`},
	} {
		l, err := Parse(tc.args)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: err %v, want %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		var got []string
		for _, p := range l {
			got = append(got, p.String())
		}
		if err != nil || strings.Join(got, " ") != tc.want {
			t.Errorf("%q: %v %v, want %s", tc.args, got, err, tc.want)
		}
	}
}

func TestContains(t *testing.T) {
	l, err := Parse([]string{"100.64.0.0/10 2001:db8:100::/48"})
	if err != nil {
		t.Fatal(err)
	}
	for ip, want := range map[string]bool{
		"100.64.0.1": true, "100.127.255.254": true, "::ffff:100.64.7.7": true, "2001:db8:100::53": true,
		"100.128.0.1": false, "203.0.113.9": false, "2001:db8:ffff::1": false,
	} {
		if got := l.Contains(netip.MustParseAddr(ip)); got != want {
			t.Errorf("Contains(%s) = %v", ip, got)
		}
		if got := l.ContainsIP(net.ParseIP(ip)); got != want {
			t.Errorf("ContainsIP(%s) = %v", ip, got)
		}
	}
	if l.ContainsIP(nil) {
		t.Error("nil IP contained")
	}
}
