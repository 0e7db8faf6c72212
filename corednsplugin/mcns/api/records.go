package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

// recordRequest is the body of POST and PUT on records.
type recordRequest struct {
	Name  *string `json:"name"`
	Type  *string `json:"type"`
	Value *string `json:"value"`
	TTL   *int64  `json:"ttl"`
}

// recordJSON is a record in answers: its name both relative to the zone
// and fully qualified, and its value as a request would give it (MX and
// SRV with their priority).
type recordJSON struct {
	ID    int64  `json:"id"`
	Zone  string `json:"zone"`
	Name  string `json:"name"`
	FQDN  string `json:"fqdn"`
	Type  string `json:"type"`
	TTL   uint32 `json:"ttl"`
	Value string `json:"value"`
}

func toJSON(zone string, r store.Record) recordJSON {
	return recordJSON{
		ID:    r.ID,
		Zone:  zone,
		Name:  relName(r.Name, zone),
		FQDN:  r.Name,
		Type:  r.Type,
		TTL:   r.TTL,
		Value: fullValue(r),
	}
}

// fullValue is the record's RDATA in presentation format with names fully
// qualified, as a request may send it back: the priority PowerDNS keeps in
// its own column is put back, and content names, which PowerDNS stores
// without the trailing dot, are read relative to the root.
func fullValue(r store.Record) string {
	v := r.Content
	switch strings.ToUpper(r.Type) {
	case "MX", "SRV":
		v = strconv.Itoa(r.Prio) + " " + v
	}
	rr, err := dns.NewRR(". 0 IN " + r.Type + " " + v)
	if err != nil || rr == nil {
		return v
	}
	return store.Rdata(rr)
}

// relName is fqdn relative to zone, "@" for the apex.
func relName(fqdn, zone string) string {
	f, z := strings.ToLower(fqdn), strings.ToLower(zone)
	switch {
	case f == z:
		return "@"
	case z == ".":
		return strings.TrimSuffix(fqdn, ".")
	case strings.HasSuffix(f, "."+z):
		return fqdn[:len(fqdn)-len(z)-1]
	}
	return fqdn
}

// absName turns a request's name into a fully qualified one: "@" is the
// apex, a trailing dot means fully qualified, and so does a name ending in
// the zone's own name (people write "www.example.com" meaning just that);
// anything else is relative to the zone. Whether the result lies inside the
// zone is the store's rule to enforce.
func absName(name, zone string) (string, error) {
	if name == "" {
		return "", badRequest("name must not be empty")
	}
	if len(name) > 255 {
		return "", badRequest("name is longer than 255 characters")
	}
	for _, c := range name {
		if c <= ' ' || c == 0x7f {
			return "", badRequest("name must not hold spaces or control characters")
		}
	}
	lz := strings.TrimSuffix(zone, ".")
	ln := strings.ToLower(name)
	switch {
	case name == "@":
		return zone, nil
	case strings.HasSuffix(name, "."):
		return name, nil
	case zone == ".":
		return name + ".", nil
	case ln == lz || strings.HasSuffix(ln, "."+lz):
		return name + ".", nil
	}
	return name + "." + zone, nil
}

// recordRef reads the zone and record id of /v1/zones/{zone}/records/{id}.
func recordRef(r *http.Request) (zone string, id int64, err error) {
	if zone, err = zoneParam(r); err != nil {
		return "", 0, err
	}
	id, err = strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return "", 0, badRequest("record id must be a positive integer")
	}
	return zone, id, nil
}

// spec builds the store's record from the request over base, checking what
// the API can check before the store applies DNS's rules.
func (q *recordRequest) spec(zone string, base store.RecordSpec) (store.RecordSpec, error) {
	out := base
	if q.Name != nil {
		n, err := absName(*q.Name, zone)
		if err != nil {
			return out, err
		}
		out.Name = n
	}
	if q.Type != nil {
		out.Type = strings.ToUpper(strings.TrimSpace(*q.Type))
	}
	if q.Value != nil {
		out.Value = *q.Value
	}
	ttl, err := secondsField("ttl", q.TTL, 0, out.TTL)
	if err != nil {
		return out, err
	}
	out.TTL = ttl
	switch {
	case out.Name == "":
		return out, badRequest("name is required")
	case out.Type == "":
		return out, badRequest("type is required")
	case strings.TrimSpace(out.Value) == "":
		return out, badRequest("value is required")
	}
	return out, nil
}

func (s *Server) listRecords(w http.ResponseWriter, r *http.Request) {
	zone, err := zoneParam(r)
	if err == nil {
		err = checkSee(r, zone)
	}
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	var f store.Filter
	q := r.URL.Query()
	if n := q.Get("name"); n != "" {
		if f.Name, err = absName(n, zone); err != nil {
			s.writeErr(w, r, err)
			return
		}
		f.Name = strings.ToLower(f.Name)
	}
	f.Type = strings.ToUpper(q.Get("type"))
	recs, err := s.store.Records(r.Context(), zone, f)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	out := make([]recordJSON, 0, len(recs))
	for _, rec := range recs {
		out = append(out, toJSON(zone, rec))
	}
	writeJSON(w, http.StatusOK, map[string]any{"zone": zone, "records": out})
}

func (s *Server) getRecord(w http.ResponseWriter, r *http.Request) {
	zone, id, err := recordRef(r)
	if err == nil {
		err = checkSee(r, zone)
	}
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	rec, err := s.store.Record(r.Context(), zone, id)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toJSON(zone, rec))
}

func (s *Server) createRecord(w http.ResponseWriter, r *http.Request) {
	zone, err := zoneParam(r)
	if err == nil {
		err = checkSee(r, zone)
	}
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	var q recordRequest
	if err := decode(w, r, &q); err != nil {
		s.writeErr(w, r, err)
		return
	}
	base := store.RecordSpec{}
	if q.TTL == nil {
		// The zone's default TTL; this read also answers 404 for a
		// zone that does not exist.
		z, err := s.store.Zone(r.Context(), zone)
		if err != nil {
			s.writeErr(w, r, err)
			return
		}
		base.TTL = z.TTL
	}
	spec, err := q.spec(zone, base)
	if err == nil {
		err = checkChange(r, zone, spec.Name, spec.Type)
	}
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	rec, err := s.store.AddRecord(writeCtx(r), zone, spec)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	s.changed(r, zone, "added "+rec.Type+" "+rec.Name+" to")
	w.Header().Set("Location", r.URL.Path+"/"+strconv.FormatInt(rec.ID, 10))
	writeJSON(w, http.StatusCreated, toJSON(zone, rec))
}

func (s *Server) updateRecord(w http.ResponseWriter, r *http.Request) {
	zone, id, err := recordRef(r)
	if err == nil {
		err = checkSee(r, zone)
	}
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	var q recordRequest
	if err := decode(w, r, &q); err != nil {
		s.writeErr(w, r, err)
		return
	}
	cur, err := s.store.Record(r.Context(), zone, id)
	if err == nil {
		err = checkChange(r, zone, cur.Name, cur.Type)
	}
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	spec, err := q.spec(zone, store.RecordSpec{Name: cur.Name, Type: cur.Type, Value: fullValue(cur), TTL: cur.TTL})
	if err == nil {
		err = checkChange(r, zone, spec.Name, spec.Type)
	}
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	rec, err := s.store.UpdateRecord(writeCtx(r), zone, id, spec)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	s.changed(r, zone, "updated "+rec.Type+" "+rec.Name+" in")
	writeJSON(w, http.StatusOK, toJSON(zone, rec))
}

func (s *Server) deleteRecord(w http.ResponseWriter, r *http.Request) {
	zone, id, err := recordRef(r)
	if err == nil {
		err = checkSee(r, zone)
	}
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	// A scoped principal may delete only a record its scopes cover.
	if p := principalFrom(r.Context()); p != nil && len(p.Scopes) > 0 {
		cur, err := s.store.Record(r.Context(), zone, id)
		if err == nil {
			err = checkChange(r, zone, cur.Name, cur.Type)
		}
		if err != nil {
			s.writeErr(w, r, err)
			return
		}
	}
	if err := s.store.DeleteRecord(writeCtx(r), zone, id); err != nil {
		s.writeErr(w, r, err)
		return
	}
	s.changed(r, zone, "deleted record "+strconv.FormatInt(id, 10)+" from")
	w.WriteHeader(http.StatusNoContent)
}
