package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

// PowerDNS's HTTP API (v1) under /api, for clients written for PowerDNS
// (ACME clients, external-dns). It uses the same tokens and roles as /v1,
// taking the token from the X-API-Key header PowerDNS clients send; every
// write goes through store.Update, so mcns's zone rules, serial bump,
// journal and NOTIFY apply as for /v1.

const pdnsServerID = "localhost"

// pdnsBackend is what the PowerDNS API needs beyond backend.
type pdnsBackend interface {
	Update(ctx context.Context, zone string, fn func(*store.Tx) error) error
	CreateZoneWith(ctx context.Context, z store.Zone, fn func(*store.Tx) error) error
	LoadZone(ctx context.Context, name string) (*store.ZoneData, error)
	Comments(ctx context.Context, zone string) ([]store.Comment, error)
}

var _ pdnsBackend = (*store.Store)(nil)

// pdnsErr is an error answered as PowerDNS does: a status and a JSON
// object whose "error" member says why.
type pdnsErr struct {
	status int
	msg    string
}

func (e *pdnsErr) Error() string { return e.msg }

// unprocessable is PowerDNS's answer to well-formed JSON with invalid data.
func unprocessable(format string, v ...any) error {
	return &pdnsErr{status: http.StatusUnprocessableEntity, msg: fmt.Sprintf(format, v...)}
}

func (s *Server) pdnsError(w http.ResponseWriter, r *http.Request, err error) {
	var pe *pdnsErr
	status, msg := http.StatusInternalServerError, "internal error"
	switch {
	case errors.As(err, &pe):
		status, msg = pe.status, pe.msg
	case errors.Is(err, store.ErrNotFound):
		status, msg = http.StatusNotFound, err.Error()
	case errors.Is(err, store.ErrConflict):
		// PowerDNS answers 409 only to creating an existing zone; a
		// record conflicting with the zone's rules is invalid data.
		status, msg = http.StatusUnprocessableEntity, err.Error()
	case errors.Is(err, store.ErrInvalid):
		status, msg = http.StatusUnprocessableEntity, err.Error()
	case errors.Is(err, store.ErrForbidden):
		status, msg = http.StatusForbidden, err.Error()
	default:
		s.log.Errorf("api: %s: %q", requestLine(r), err)
	}
	writeJSON(w, status, map[string]string{"error": msg})
}

// pdnsBackendOf returns the store as the PowerDNS API needs it.
func (s *Server) pdnsBackendOf() (pdnsBackend, error) {
	b, ok := s.store.(pdnsBackend)
	if !ok {
		return nil, &pdnsErr{status: http.StatusNotImplemented, msg: "this store does not support the PowerDNS API"}
	}
	return b, nil
}

// pdnsDecode reads one JSON object into v, at most maxBodyBytes. Unknown
// members are ignored, as PowerDNS ignores them (clients send members of
// older API versions).
func pdnsDecode(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	err := dec.Decode(v)
	if err == nil {
		if err = dec.Decode(&struct{}{}); err == io.EOF {
			return nil
		} else if err == nil {
			return &pdnsErr{status: http.StatusBadRequest, msg: "body must hold exactly one JSON object"}
		}
	}
	var typ *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return &pdnsErr{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("body exceeds %d bytes", maxBodyBytes)}
	case errors.As(err, &typ) && typ.Field != "":
		return unprocessable("member %q must be %s", typ.Field, typ.Type)
	default:
		return &pdnsErr{status: http.StatusBadRequest, msg: "unable to parse JSON: " + err.Error()}
	}
}

// pdnsZoneID turns a zone id from the path into a zone name. PowerDNS's id
// is the name with its trailing dot and '/' written as "=2F".
func pdnsZoneID(r *http.Request) (string, error) {
	if srv := r.PathValue("server"); srv != pdnsServerID {
		return "", &pdnsErr{status: http.StatusNotFound, msg: "Not Found"}
	}
	id := strings.ReplaceAll(r.PathValue("zone"), "=2F", "/")
	if !strings.HasSuffix(id, ".") || id == "." {
		return "", &pdnsErr{status: http.StatusNotFound, msg: "Could not find domain '" + id + "'"}
	}
	return strings.ToLower(id), nil
}

// pdnsIDOf is the id PowerDNS gives zone.
func pdnsIDOf(zone string) string { return strings.ReplaceAll(zone, "/", "=2F") }

func pdnsZoneURL(zone string) string {
	return "/api/v1/servers/" + pdnsServerID + "/zones/" + pdnsIDOf(zone)
}

// pdnsVisible returns zone's name when the request's principal may see it,
// and PowerDNS's 404 otherwise, so a scoped token cannot probe for zones.
func pdnsVisible(r *http.Request, zone string) error {
	if p := principalFrom(r.Context()); p != nil && !p.MaySee(zone) {
		return &pdnsErr{status: http.StatusNotFound, msg: "Could not find domain '" + zone + "'"}
	}
	return nil
}
