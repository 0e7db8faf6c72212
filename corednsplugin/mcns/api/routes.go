package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

// backend is the part of *store.Store the API uses.
type backend interface {
	Zones(ctx context.Context) ([]store.Zone, error)
	Zone(ctx context.Context, name string) (store.Zone, error)
	CreateZone(ctx context.Context, z store.Zone) (store.Zone, error)
	UpdateZone(ctx context.Context, name string, z store.Zone) (store.Zone, error)
	DeleteZone(ctx context.Context, name string) error
	Records(ctx context.Context, zone string, f store.Filter) ([]store.Record, error)
	Record(ctx context.Context, zone string, id int64) (store.Record, error)
	AddRecord(ctx context.Context, zone string, r store.RecordSpec) (store.Record, error)
	UpdateRecord(ctx context.Context, zone string, id int64, r store.RecordSpec) (store.Record, error)
	DeleteRecord(ctx context.Context, zone string, id int64) error
	Snapshot(ctx context.Context, dir string, keep int) (string, error)
}

var _ backend = (*store.Store)(nil)

// routes is the REST surface. Every path also gets a method-less pattern so
// a wrong method is answered 405 in JSON rather than ServeMux's plain text.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	read := func(h http.HandlerFunc) http.HandlerFunc { return s.require("", h) }
	write := func(h http.HandlerFunc) http.HandlerFunc { return s.require(RoleAdmin, h) }

	type route struct {
		method string
		h      http.HandlerFunc
	}
	table := []struct {
		path   string
		routes []route
	}{
		{"/v1/health", []route{{"GET", s.health}}},
		{"/v1/zones", []route{{"GET", read(s.listZones)}, {"POST", write(s.createZone)}}},
		{"/v1/zones/{zone}", []route{{"GET", read(s.getZone)}, {"PUT", write(s.updateZone)}, {"DELETE", write(s.deleteZone)}}},
		{"/v1/zones/{zone}/records", []route{{"GET", read(s.listRecords)}, {"POST", write(s.createRecord)}}},
		{"/v1/zones/{zone}/records/{id}", []route{{"GET", read(s.getRecord)}, {"PUT", write(s.updateRecord)}, {"DELETE", write(s.deleteRecord)}}},
		{"/v1/admin/snapshot", []route{{"POST", write(s.snapshot)}}},
		// PowerDNS's HTTP API (pdns*.go).
		{"/api", []route{{"GET", read(s.pdnsAPIVersions)}}},
		{"/api/v1/servers", []route{{"GET", read(s.pdnsServers)}}},
		{"/api/v1/servers/{server}", []route{{"GET", read(s.pdnsServer)}}},
		{"/api/v1/servers/{server}/zones", []route{{"GET", read(s.pdnsListZones)}, {"POST", write(s.pdnsCreateZone)}}},
		{"/api/v1/servers/{server}/zones/{zone}", []route{{"GET", read(s.pdnsGetZone)}, {"PATCH", write(s.pdnsPatchZone)}, {"DELETE", write(s.pdnsDeleteZone)}}},
		{"/api/v1/servers/{server}/zones/{zone}/notify", []route{{"PUT", write(s.pdnsNotify)}}},
		{"/api/v1/servers/{server}/zones/{zone}/export", []route{{"GET", read(s.pdnsExport)}}},
	}
	for _, t := range table {
		var allow []string
		for _, rt := range t.routes {
			mux.HandleFunc(rt.method+" "+t.path, rt.h)
			allow = append(allow, rt.method)
			if rt.method == "GET" {
				allow = append(allow, "HEAD")
			}
		}
		allowed := strings.Join(allow, ", ")
		mux.HandleFunc(t.path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allowed)
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed here; use "+allowed)
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint")
	})
	return mux
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// changed tells the DNS side about a committed write before the client
// hears of it, and leaves an audit line.
func (s *Server) changed(r *http.Request, zone, what string) {
	s.onChange(zone)
	if p := principalFrom(r.Context()); p != nil {
		s.log.Infof("api: %q (%s) from %q: %q %q", p.Name, p.Source, r.RemoteAddr, what, zone)
	}
}

// requestLine is a request's method and path for the log, quoted: both come
// from the client, and a newline in the path (%0a in the URL) must not
// start a line of its own in the log. Every other string the client
// controls is logged with %q for the same reason.
func requestLine(r *http.Request) string { return strconv.Quote(r.Method + " " + r.URL.Path) }

// writeCtx is the context for a write: it keeps the request's values but not
// its cancellation, so a client hanging up cannot leave a committed write
// unannounced to the DNS side.
func writeCtx(r *http.Request) context.Context { return context.WithoutCancel(r.Context()) }
