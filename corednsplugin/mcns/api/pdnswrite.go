package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
	"github.com/miekg/dns"
)

// pdnsPatchZone answers PATCH /zones/{id}: every RRset of the body is
// checked, authorised and applied in one transaction, so the zone either
// takes all of them or none (PowerDNS's behaviour too). 204 on success.
func (s *Server) pdnsPatchZone(w http.ResponseWriter, r *http.Request) {
	zone, changes, err := s.pdnsPatchBody(w, r)
	if err == nil {
		err = s.applyRRsets(r, zone, changes)
	}
	if err != nil {
		s.pdnsError(w, r, err)
		return
	}
	s.changed(r, zone, "pdns patch")
	w.WriteHeader(http.StatusNoContent)
}

// pdnsPatchBody reads and validates a PATCH body; any RRset outside the
// principal's scope refuses the whole request with 403.
func (s *Server) pdnsPatchBody(w http.ResponseWriter, r *http.Request) (string, []rrsetChange, error) {
	zone, err := pdnsZoneID(r)
	if err == nil {
		err = pdnsVisible(r, zone)
	}
	if err == nil {
		_, err = s.store.Zone(r.Context(), zone)
	}
	if err != nil {
		return "", nil, err
	}
	var body pdnsPatch
	if err := pdnsDecode(w, r, &body); err != nil {
		return "", nil, err
	}
	if len(body.RRsets) == 0 {
		return "", nil, unprocessable("no rrsets given in update request")
	}
	changes, err := parseRRsets(zone, body.RRsets)
	if err != nil {
		return "", nil, err
	}
	p := principalFrom(r.Context())
	for _, c := range changes {
		if p != nil && !p.MayChange(zone, c.owner, c.typ) {
			return "", nil, &pdnsErr{status: http.StatusForbidden, msg: "not allowed to change " + c.owner + " " + dns.TypeToString[c.typ]}
		}
	}
	return zone, changes, nil
}

// parseRRsets validates sets; one RRset named twice is refused, as
// PowerDNS refuses it.
func parseRRsets(zone string, sets []pdnsRRset) ([]rrsetChange, error) {
	seen := map[string]bool{}
	var out []rrsetChange
	for _, set := range sets {
		c, err := parseRRset(zone, set)
		if err != nil {
			return nil, err
		}
		k := c.owner + "/" + dns.TypeToString[c.typ]
		if seen[k] {
			return nil, unprocessable("duplicate RRset %s in request", k)
		}
		seen[k] = true
		out = append(out, c)
	}
	return out, nil
}

func (s *Server) applyRRsets(r *http.Request, zone string, changes []rrsetChange) error {
	b, err := s.pdnsBackendOf()
	if err != nil {
		return err
	}
	return b.Update(writeCtx(r), zone, func(t *store.Tx) error {
		for _, c := range changes {
			if err := applyRRset(t, c); err != nil {
				return err
			}
		}
		return nil
	})
}

func applyRRset(t *store.Tx, c rrsetChange) error {
	var err error
	switch c.changeType {
	case "DELETE":
		err = t.DeleteRRset(c.owner, c.typ)
		if err == nil {
			err = t.SetComments(c.owner, c.typ, nil)
		}
		return err
	case "EXTEND":
		err = t.ExtendRRset(c.owner, c.typ, c.rrs)
	case "PRUNE":
		err = t.PruneRRset(c.owner, c.typ, c.rrs)
	case "REPLACE":
		err = replaceRRset(t, c)
	}
	if err == nil && c.setComment {
		err = t.SetComments(c.owner, c.typ, c.comments)
	}
	return err
}

// replaceRRset applies a REPLACE. For TXT at an "_acme-challenge" name, a
// REPLACE that brings a value not yet present only adds: ACME clients
// (lego among them) read the RRset, append their token and REPLACE the
// whole set, so two clients validating at once would each remove the
// other's token. A REPLACE that adds nothing removes the values it leaves
// out, which is how those clients clean up after validation.
func replaceRRset(t *store.Tx, c rrsetChange) error {
	if c.typ == dns.TypeTXT && isACMEChallenge(c.owner) {
		_, cur, err := t.RRset(c.owner, c.typ)
		if err != nil {
			return err
		}
		if addsValue(cur, c.rrs) {
			return t.ExtendRRset(c.owner, c.typ, c.rrs)
		}
	}
	return t.ReplaceRRset(c.owner, c.typ, c.rrs)
}

func isACMEChallenge(owner string) bool {
	return strings.HasPrefix(strings.ToLower(owner), "_acme-challenge.")
}

// addsValue reports whether want holds a record that cur lacks.
func addsValue(cur, want []dns.RR) bool {
	for _, w := range want {
		if !store.ContainsRecord(cur, w) {
			return true
		}
	}
	return false
}

// pdnsCreateZone answers POST /zones: 201 with the zone, 409 if it exists.
// The zone is created with its SOA, NS records for "nameservers" and the
// body's RRsets in one transaction. The first nameserver becomes the SOA's
// primary.
func (s *Server) pdnsCreateZone(w http.ResponseWriter, r *http.Request) {
	zone, err := s.pdnsCreate(w, r)
	if err != nil {
		s.pdnsError(w, r, err)
		return
	}
	s.changed(r, zone, "pdns create zone")
	z, err := s.store.Zone(r.Context(), zone)
	if err != nil {
		s.pdnsError(w, r, err)
		return
	}
	out := pdnsZoneOf(z)
	w.Header().Set("Location", out.URL)
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) pdnsCreate(w http.ResponseWriter, r *http.Request) (string, error) {
	if r.PathValue("server") != pdnsServerID {
		return "", &pdnsErr{status: http.StatusNotFound, msg: "Not Found"}
	}
	if p := principalFrom(r.Context()); p != nil && !p.MayManageZones() {
		return "", &pdnsErr{status: http.StatusForbidden, msg: "not allowed to create zones"}
	}
	var body pdnsNewZone
	if err := pdnsDecode(w, r, &body); err != nil {
		return "", err
	}
	zone, nsRRs, err := parseNewZone(body)
	if err == nil {
		err = s.checkCreatable(zone)
	}
	if err != nil {
		return "", err
	}
	changes, err := parseRRsets(zone, body.RRsets)
	if err != nil {
		return "", err
	}
	b, err := s.pdnsBackendOf()
	if err != nil {
		return "", err
	}
	z := store.Zone{Name: zone, PrimaryNS: nsRRs[0].(*dns.NS).Ns}
	err = b.CreateZoneWith(writeCtx(r), z, func(t *store.Tx) error {
		for _, ns := range nsRRs {
			if _, err := t.Add(ns); err != nil {
				return err
			}
		}
		for _, c := range changes {
			if err := applyRRset(t, c); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, store.ErrZoneExists) {
		return "", &pdnsErr{status: http.StatusConflict, msg: "Conflict: zone " + zone + " already exists"}
	}
	return zone, err
}

// parseNewZone checks a POST /zones body: a canonical name, kind Native or
// Master (mcns serves zones as primary either way) and at least one
// fully qualified nameserver.
func parseNewZone(body pdnsNewZone) (string, []dns.RR, error) {
	if !dns.IsFqdn(body.Name) || body.Name == "." {
		return "", nil, unprocessable("zone name %q is not canonical: it must end with a dot", body.Name)
	}
	if _, ok := dns.IsDomainName(body.Name); !ok || strings.ContainsAny(body.Name, " \t\r\n\x00;\"()$\\") {
		return "", nil, unprocessable("zone name %q is not a valid domain name", body.Name)
	}
	zone := dns.CanonicalName(body.Name)
	switch body.Kind {
	case "Native", "Master", "":
	default:
		return "", nil, unprocessable("zone kind %q is not served; use Native or Master", body.Kind)
	}
	if body.DNSSEC || len(body.Masters) > 0 {
		return "", nil, unprocessable("DNSSEC and secondary zones are not supported")
	}
	if len(body.Nameservers) == 0 {
		return "", nil, unprocessable("nameservers must list at least one name server")
	}
	var out []dns.RR
	for _, ns := range body.Nameservers {
		if !dns.IsFqdn(ns) || ns == "." {
			return "", nil, unprocessable("nameserver %q is not canonical: it must end with a dot", ns)
		}
		if _, ok := dns.IsDomainName(ns); !ok || strings.ContainsAny(ns, " \t\r\n\x00;\"()$\\") {
			return "", nil, unprocessable("nameserver %q is not a valid domain name", ns)
		}
		out = append(out, &dns.NS{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: store.DefaultTTL}, Ns: dns.CanonicalName(ns)})
	}
	return zone, out, nil
}

// pdnsDeleteZone answers DELETE /zones/{id} with 204.
func (s *Server) pdnsDeleteZone(w http.ResponseWriter, r *http.Request) {
	zone, err := pdnsZoneID(r)
	if err == nil {
		err = pdnsVisible(r, zone)
	}
	if err == nil {
		if p := principalFrom(r.Context()); p != nil && !p.MayManageZones() {
			err = &pdnsErr{status: http.StatusForbidden, msg: "not allowed to delete zones"}
		}
	}
	if err == nil {
		err = s.store.DeleteZone(writeCtx(r), zone)
	}
	if err != nil {
		s.pdnsError(w, r, err)
		return
	}
	s.changed(r, zone, "pdns delete zone")
	w.WriteHeader(http.StatusNoContent)
}

// pdnsNotify answers PUT /zones/{id}/notify. mcns sends NOTIFY to the
// zone's secondaries after every change, so this only announces the
// current serial again.
func (s *Server) pdnsNotify(w http.ResponseWriter, r *http.Request) {
	zone, err := pdnsZoneID(r)
	if err == nil {
		err = pdnsVisible(r, zone)
	}
	if err == nil {
		_, err = s.store.Zone(r.Context(), zone)
	}
	if err != nil {
		s.pdnsError(w, r, err)
		return
	}
	s.onChange(zone)
	writeJSON(w, http.StatusOK, map[string]string{"result": "Notification queued"})
}
