package api

import (
	"fmt"
	"testing"
)

// TestDisabledRowIsNotFound: a row PowerDNS tools disabled is not served,
// so the API neither reads nor deletes it, and the serial stays.
func TestDisabledRowIsNotFound(t *testing.T) {
	h, st, _ := storeHarness(t, nil)
	z, err := st.Zone(ctxb(), "example.com")
	if err != nil {
		t.Fatal(err)
	}
	res, err := st.DB().Exec("INSERT INTO records(domain_id, name, type, content, ttl, prio, disabled, auth) VALUES (?, 'www.example.com', 'A', '192.0.2.1', 300, 0, 1, 1)", z.ID)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := res.LastInsertId()
	path := fmt.Sprintf("/v1/zones/example.com/records/%d", id)
	before := h.serial("example.com")
	h.mustDo(404, "GET", path, readerToken, "")
	h.mustDo(404, "DELETE", path, adminToken, "")
	if after := h.serial("example.com"); after != before {
		t.Errorf("serial moved %d -> %d", before, after)
	}
	var n int
	st.DB().QueryRow("SELECT count(*) FROM records WHERE id = ?", id).Scan(&n)
	if n != 1 {
		t.Error("the disabled row was deleted")
	}
}
