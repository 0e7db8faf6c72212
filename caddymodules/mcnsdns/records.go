package mcnsdns

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/libdns/libdns"
	"github.com/miekg/dns"
)

// apiRecord is a record as the API answers it: name relative to the zone
// ("@" for the apex), fqdn, and value in presentation format with names
// fully qualified.
type apiRecord struct {
	ID    int64  `json:"id"`
	Zone  string `json:"zone"`
	Name  string `json:"name"`
	FQDN  string `json:"fqdn"`
	Type  string `json:"type"`
	TTL   uint32 `json:"ttl"`
	Value string `json:"value"`
}

// libdns turns an API record into the libdns type of its RR type (TXT,
// Address, MX, ...), or an RR when libdns has no type for it or cannot
// parse it.
func (r apiRecord) libdns() libdns.Record {
	rr := libdns.RR{
		Name: r.Name,
		TTL:  time.Duration(r.TTL) * time.Second,
		Type: r.Type,
		Data: r.Value,
	}
	if r.Type == "TXT" {
		if txt, err := parseTXT(r.Value); err == nil {
			rr.Data = txt
		}
	}
	if rec, err := rr.Parse(); err == nil {
		return rec
	}
	return rr
}

// want is a libdns record turned into what the API takes: a fully
// qualified name (so the API never reads a relative name that happens to
// end in the zone's name as fully qualified), the value in presentation
// format, and a TTL in seconds (nil: the zone's default).
type want struct {
	fqdn  string
	typ   string
	value string // presentation format; "" matches any value
	ttl   *int64
	// rr is the value parsed for comparisons; nil if it could not be.
	rr dns.RR
}

func toWant(rec libdns.Record, zone string) (*want, error) {
	if rec == nil {
		return nil, fmt.Errorf("mcns: nil record")
	}
	rr := rec.RR()
	name := strings.TrimSpace(rr.Name)
	if strings.ContainsAny(name, " \t\r\n") {
		return nil, fmt.Errorf("mcns: record name %q holds whitespace", rr.Name)
	}
	w := &want{
		fqdn: strings.ToLower(dns.Fqdn(libdns.AbsoluteName(name, dns.Fqdn(zone)))),
		typ:  strings.ToUpper(strings.TrimSpace(rr.Type)),
	}
	if rr.TTL != 0 {
		ttl := int64(rr.TTL / time.Second)
		w.ttl = &ttl
	}
	if rr.Data != "" {
		if w.typ == "" {
			return nil, fmt.Errorf("mcns: record %s has a value but no type", w.fqdn)
		}
		w.value = rr.Data
		if w.typ == "TXT" {
			w.value = quoteTXT(rr.Data)
		}
		w.rr = parseRR(w.fqdn, w.typ, w.value, zone)
	}
	return w, nil
}

// matches reports whether r is one of the records w describes for
// deletion: same name and, where w gives them, type, value and TTL.
func (w *want) matches(r apiRecord, zone string) bool {
	if !strings.EqualFold(dns.Fqdn(r.FQDN), w.fqdn) {
		return false
	}
	if w.typ != "" && !strings.EqualFold(r.Type, w.typ) {
		return false
	}
	if w.ttl != nil && int64(r.TTL) != *w.ttl {
		return false
	}
	return w.value == "" || w.sameData(r, zone)
}

// sameData reports whether r has w's type and value, compared as DNS data
// (so "www" and "www.example.com." are the same CNAME target in zone
// example.com, and TXT quoting does not matter).
func (w *want) sameData(r apiRecord, zone string) bool {
	if !strings.EqualFold(r.Type, w.typ) {
		return false
	}
	got := parseRR(w.fqdn, r.Type, r.Value, zone)
	if w.rr == nil || got == nil {
		return strings.TrimSpace(w.value) == strings.TrimSpace(r.Value)
	}
	return dns.IsDuplicate(w.rr, got)
}

// parseRR parses one record in zone file syntax with zone as the origin,
// or returns nil.
func parseRR(fqdn, typ, value, zone string) dns.RR {
	zp := dns.NewZoneParser(strings.NewReader(fqdn+" 0 IN "+typ+" "+value), dns.Fqdn(zone), "")
	rr, ok := zp.Next()
	if !ok || zp.Err() != nil {
		return nil
	}
	return rr
}

// quoteTXT is text as a TXT value in presentation format: quoted, with
// quotes, backslashes and bytes outside printable ASCII escaped, split into
// character-strings of at most 255 bytes.
func quoteTXT(text string) string {
	var parts []string
	for {
		n := min(255, len(text))
		var b strings.Builder
		b.WriteByte('"')
		for _, c := range []byte(text[:n]) {
			switch {
			case c == '"' || c == '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case c < ' ' || c > '~':
				fmt.Fprintf(&b, "\\%03d", c)
			default:
				b.WriteByte(c)
			}
		}
		b.WriteByte('"')
		parts = append(parts, b.String())
		if text = text[n:]; text == "" {
			return strings.Join(parts, " ")
		}
	}
}

// parseTXT is the text of a TXT value in presentation format: its
// character-strings unescaped and joined.
func parseTXT(value string) (string, error) {
	rr, err := dns.NewRR(". 0 IN TXT " + value)
	if err != nil {
		return "", err
	}
	txt, ok := rr.(*dns.TXT)
	if !ok {
		return "", fmt.Errorf("not a TXT value: %q", value)
	}
	var b strings.Builder
	for _, s := range txt.Txt {
		b.WriteString(unescapeTXT(s))
	}
	return b.String(), nil
}

// unescapeTXT undoes the escapes miekg/dns keeps in a parsed
// character-string (\" \\ and \DDD).
func unescapeTXT(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			n, _ := strconv.Atoi(s[i+1 : i+4])
			if n <= 255 {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i+1])
		i++
	}
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
