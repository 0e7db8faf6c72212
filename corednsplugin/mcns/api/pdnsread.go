package api

import (
	"net/http"
	"sort"
	"strings"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
	"github.com/miekg/dns"
)

// pdnsAPIVersions answers GET /api, which clients read to pick the API
// version: only v1 is served.
func (s *Server) pdnsAPIVersions(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, []map[string]any{{"url": "/api/v1", "version": 1}})
}

func pdnsServerInfo() pdnsServer {
	base := "/api/v1/servers/" + pdnsServerID
	return pdnsServer{Type: "Server", ID: pdnsServerID, DaemonType: "authoritative", Version: "mcns",
		URL: base, ConfigURL: base + "/config{/config_setting}", ZonesURL: base + "/zones{/zone}"}
}

func (s *Server) pdnsServers(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, []pdnsServer{pdnsServerInfo()})
}

func (s *Server) pdnsServer(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("server") != pdnsServerID {
		s.pdnsError(w, r, &pdnsErr{status: http.StatusNotFound, msg: "Not Found"})
		return
	}
	writeJSON(w, http.StatusOK, pdnsServerInfo())
}

func pdnsZoneOf(z store.Zone) pdnsZone {
	return pdnsZone{ID: pdnsIDOf(z.Name), Name: z.Name, Type: "Zone", URL: pdnsZoneURL(z.Name), Kind: "Native",
		Serial: z.Serial, EditedSerial: z.Serial, Masters: []string{}, SOAEditAPI: "DEFAULT",
		MasterTSIGKeys: []string{}, SlaveTSIGKeys: []string{}}
}

// pdnsListZones answers GET /zones, optionally only ?zone=NAME, with the
// zones the principal may see.
func (s *Server) pdnsListZones(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("server") != pdnsServerID {
		s.pdnsError(w, r, &pdnsErr{status: http.StatusNotFound, msg: "Not Found"})
		return
	}
	zones, err := s.store.Zones(r.Context())
	if err != nil {
		s.pdnsError(w, r, err)
		return
	}
	only := strings.ToLower(r.URL.Query().Get("zone"))
	if only != "" && !strings.HasSuffix(only, ".") {
		only += "."
	}
	p := principalFrom(r.Context())
	out := []pdnsZone{}
	for _, z := range zones {
		if (only == "" || z.Name == only) && (p == nil || p.MaySee(z.Name)) {
			out = append(out, pdnsZoneOf(z))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// pdnsGetZone answers GET /zones/{id}: the zone with its RRsets unless
// ?rrsets=false, only those of ?rrset_name= and ?rrset_type= if given.
func (s *Server) pdnsGetZone(w http.ResponseWriter, r *http.Request) {
	out, err := s.pdnsLoadZone(r, r.URL.Query().Get("rrsets") != "false")
	if err != nil {
		s.pdnsError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) pdnsLoadZone(r *http.Request, withRRsets bool) (pdnsZone, error) {
	zone, err := pdnsZoneID(r)
	if err != nil {
		return pdnsZone{}, err
	}
	if err := pdnsVisible(r, zone); err != nil {
		return pdnsZone{}, err
	}
	z, err := s.store.Zone(r.Context(), zone)
	if err != nil {
		return pdnsZone{}, err
	}
	out := pdnsZoneOf(z)
	if !withRRsets {
		return out, nil
	}
	b, err := s.pdnsBackendOf()
	if err != nil {
		return pdnsZone{}, err
	}
	zd, err := b.LoadZone(r.Context(), zone)
	if err != nil {
		return pdnsZone{}, err
	}
	comments, err := b.Comments(r.Context(), zone)
	if err != nil {
		return pdnsZone{}, err
	}
	out.RRsets = filterRRsets(pdnsRRsetsOf(zd.Records, comments), r.URL.Query().Get("rrset_name"), r.URL.Query().Get("rrset_type"))
	return out, nil
}

// filterRRsets keeps the RRsets named name (all when empty) of type typ
// (all when empty), as PowerDNS's ?rrset_name= and ?rrset_type= do.
func filterRRsets(sets []pdnsRRset, name, typ string) []pdnsRRset {
	if name == "" && typ == "" {
		return sets
	}
	if name != "" {
		name = dns.CanonicalName(dns.Fqdn(name))
	}
	out := []pdnsRRset{}
	for _, s := range sets {
		if (name == "" || s.Name == name) && (typ == "" || strings.EqualFold(s.Type, typ)) {
			out = append(out, s)
		}
	}
	return out
}

// pdnsRRsetsOf groups records into RRsets ordered by name and type, each
// with its comments.
func pdnsRRsetsOf(rrs []dns.RR, comments []store.Comment) []pdnsRRset {
	type key struct {
		name string
		typ  string
	}
	sets := map[key]*pdnsRRset{}
	var keys []key
	for _, rr := range rrs {
		h := rr.Header()
		k := key{dns.CanonicalName(h.Name), dns.TypeToString[h.Rrtype]}
		set, ok := sets[k]
		if !ok {
			ttl := h.Ttl
			set = &pdnsRRset{Name: k.name, Type: k.typ, TTL: &ttl, Records: []pdnsRecord{}, Comments: []pdnsComment{}}
			sets[k] = set
			keys = append(keys, k)
		}
		set.Records = append(set.Records, pdnsRecord{Content: store.Rdata(rr)})
	}
	for _, c := range comments {
		if set, ok := sets[key{c.Name, c.Type}]; ok {
			set.Comments = append(set.Comments, pdnsComment{Content: c.Content, Account: c.Account, ModifiedAt: c.ModifiedAt})
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].name != keys[j].name {
			return keys[i].name < keys[j].name
		}
		return keys[i].typ < keys[j].typ
	})
	out := make([]pdnsRRset, 0, len(keys))
	for _, k := range keys {
		out = append(out, *sets[k])
	}
	return out
}

// pdnsExport answers GET /zones/{id}/export with the zone in zone-file
// format, SOA first.
func (s *Server) pdnsExport(w http.ResponseWriter, r *http.Request) {
	zone, err := pdnsZoneID(r)
	if err == nil {
		err = pdnsVisible(r, zone)
	}
	var b pdnsBackend
	if err == nil {
		b, err = s.pdnsBackendOf()
	}
	var zd *store.ZoneData
	if err == nil {
		zd, err = b.LoadZone(r.Context(), zone)
	}
	if err != nil {
		s.pdnsError(w, r, err)
		return
	}
	var sb strings.Builder
	for _, first := range []bool{true, false} {
		for _, rr := range zd.Records {
			if (rr.Header().Rrtype == dns.TypeSOA) == first {
				sb.WriteString(rr.String())
				sb.WriteByte('\n')
			}
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=us-ascii")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(sb.String()))
}
