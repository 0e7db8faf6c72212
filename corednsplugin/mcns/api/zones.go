package api

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"

	"github.com/miekg/dns"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

// zoneRequest is the body of POST /v1/zones and PUT /v1/zones/{zone}.
// Fields left out take the store's defaults on create (store.DefaultRefresh
// and the like, admin hostmaster@ZONE) and keep their value on update;
// primary_ns is required on create.
type zoneRequest struct {
	Name       *string `json:"name"`
	PrimaryNS  *string `json:"primary_ns"`
	AdminEmail *string `json:"admin_email"`
	Refresh    *int64  `json:"refresh"`
	Retry      *int64  `json:"retry"`
	Expire     *int64  `json:"expire"`
	Minimum    *int64  `json:"minimum"`
	TTL        *int64  `json:"ttl"`
}

// zoneName checks a zone name and returns it fully qualified in lower case.
// Zone names are held to letters, digits, '-', '_' and '.', which every
// real zone fits and which keeps escapes out of paths and logs.
func zoneName(name string) (string, error) {
	if name == "" || len(name) > 254 {
		return "", badRequest("zone name must be 1 to 253 characters")
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return "", badRequest("zone name %q may hold only letters, digits, '-', '_' and '.'", name)
		}
	}
	fq := strings.ToLower(dns.Fqdn(name))
	if _, ok := dns.IsDomainName(fq); !ok || strings.Contains(fq, "..") || (fq != "." && strings.HasPrefix(fq, ".")) {
		return "", badRequest("%q is not a domain name", name)
	}
	return fq, nil
}

func zoneParam(r *http.Request) (string, error) { return zoneName(r.PathValue("zone")) }

// secondsField reads an optional request field holding a time in seconds
// (a TTL or an SOA timer): nil gives def; otherwise it must lie from min
// to 2^31-1, the most RFC 2181 §8 lets such a 32-bit field hold.
func secondsField(field string, v *int64, min int64, def uint32) (uint32, error) {
	if v == nil {
		return def, nil
	}
	if *v < min || *v > math.MaxInt32 {
		return 0, badRequest("%s must be between %d and %d", field, min, math.MaxInt32)
	}
	return uint32(*v), nil
}

// apply sets z's fields from the request. The store reads a zero SOA field
// as "default" or "unchanged", so an explicit 0 is refused rather than
// silently ignored.
func (q *zoneRequest) apply(z *store.Zone) error {
	var err error
	fields := []struct {
		name string
		v    *int64
		dst  *uint32
	}{
		{"refresh", q.Refresh, &z.Refresh},
		{"retry", q.Retry, &z.Retry},
		{"expire", q.Expire, &z.Expire},
		{"minimum", q.Minimum, &z.Minimum},
		{"ttl", q.TTL, &z.TTL},
	}
	for _, f := range fields {
		if *f.dst, err = secondsField(f.name, f.v, 1, *f.dst); err != nil {
			return err
		}
	}
	if q.PrimaryNS != nil {
		if *q.PrimaryNS == "" {
			return badRequest("primary_ns must not be empty")
		}
		z.PrimaryNS = *q.PrimaryNS
	}
	if q.AdminEmail != nil {
		if *q.AdminEmail == "" {
			return badRequest("admin_email must not be empty")
		}
		z.AdminEmail = *q.AdminEmail
	}
	return nil
}

func (s *Server) listZones(w http.ResponseWriter, r *http.Request) {
	zones, err := s.store.Zones(r.Context())
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	visible := []store.Zone{}
	for _, z := range zones {
		if checkSee(r, z.Name) == nil {
			visible = append(visible, z)
		}
	}
	zones = visible
	writeJSON(w, http.StatusOK, map[string]any{"zones": zones})
}

func (s *Server) getZone(w http.ResponseWriter, r *http.Request) {
	name, err := zoneParam(r)
	if err == nil {
		err = checkSee(r, name)
	}
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	z, err := s.store.Zone(r.Context(), name)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, z)
}

// checkCreatable is the one rule, for /v1 and the PowerDNS API alike, on
// which zones may be created: a zone created here is answered
// authoritatively to everyone, so which names the platform may claim is the
// operator's decision. Without allow_zones no zone may be created (the
// store alone would then accept any zone, "com." included); with it, only
// zones at or below one of its suffixes. The store checks the suffixes
// again on every write, so PATCH and DELETE of a zone outside them fail
// there. zone is canonical (lower case, trailing dot).
func (s *Server) checkCreatable(zone string) error {
	if len(s.cfg.AllowZones) == 0 {
		return fmt.Errorf("%w: zone creation through the API is off: set allow_zones in the Corefile's mcns block", store.ErrForbidden)
	}
	for _, suffix := range s.cfg.AllowZones {
		if dns.IsSubDomain(strings.ToLower(dns.Fqdn(suffix)), zone) {
			return nil
		}
	}
	return fmt.Errorf("%w: zone %s is outside allow_zones (%s)", store.ErrForbidden, zone, strings.Join(s.cfg.AllowZones, " "))
}

func (s *Server) createZone(w http.ResponseWriter, r *http.Request) {
	if err := checkManage(r); err != nil {
		s.writeErr(w, r, err)
		return
	}
	var q zoneRequest
	if err := decode(w, r, &q); err != nil {
		s.writeErr(w, r, err)
		return
	}
	if q.Name == nil {
		s.writeErr(w, r, badRequest("name is required"))
		return
	}
	name, err := zoneName(*q.Name)
	if err == nil {
		err = s.checkCreatable(name)
	}
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	if q.PrimaryNS == nil {
		s.writeErr(w, r, badRequest("primary_ns is required"))
		return
	}
	z := store.Zone{Name: name}
	if err := q.apply(&z); err != nil {
		s.writeErr(w, r, err)
		return
	}
	z, err = s.store.CreateZone(writeCtx(r), z)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	s.changed(r, z.Name, "created zone")
	w.Header().Set("Location", "/v1/zones/"+url.PathEscape(strings.TrimSuffix(z.Name, ".")))
	writeJSON(w, http.StatusCreated, z)
}

func (s *Server) updateZone(w http.ResponseWriter, r *http.Request) {
	name, err := zoneParam(r)
	if err == nil {
		err = checkManage(r)
	}
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	var q zoneRequest
	if err := decode(w, r, &q); err != nil {
		s.writeErr(w, r, err)
		return
	}
	if q.Name != nil {
		if n, err := zoneName(*q.Name); err != nil || n != name {
			s.writeErr(w, r, badRequest("name %q does not match the zone in the path; zones cannot be renamed", *q.Name))
			return
		}
	}
	var z store.Zone // zero fields: unchanged
	if err := q.apply(&z); err != nil {
		s.writeErr(w, r, err)
		return
	}
	z, err = s.store.UpdateZone(writeCtx(r), name, z)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	s.changed(r, name, "updated zone")
	writeJSON(w, http.StatusOK, z)
}

func (s *Server) deleteZone(w http.ResponseWriter, r *http.Request) {
	name, err := zoneParam(r)
	if err == nil {
		err = checkManage(r)
	}
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	if err := s.store.DeleteZone(writeCtx(r), name); err != nil {
		s.writeErr(w, r, err)
		return
	}
	s.changed(r, name, "deleted zone")
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) snapshot(w http.ResponseWriter, r *http.Request) {
	if err := checkManage(r); err != nil {
		s.writeErr(w, r, err)
		return
	}
	if r.ContentLength > 0 {
		if err := decode(w, r, &struct{}{}); err != nil {
			s.writeErr(w, r, err)
			return
		}
	}
	if s.cfg.SnapshotDir == "" {
		writeError(w, http.StatusNotImplemented, "not_configured", "no snapshot_dir is configured")
		return
	}
	path, err := s.store.Snapshot(writeCtx(r), s.cfg.SnapshotDir, s.cfg.SnapshotKeep)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	if p := principalFrom(r.Context()); p != nil {
		s.log.Infof("api: %q (%s) from %q: snapshot %q", p.Name, p.Source, r.RemoteAddr, path)
	}
	writeJSON(w, http.StatusCreated, map[string]string{"path": path})
}
