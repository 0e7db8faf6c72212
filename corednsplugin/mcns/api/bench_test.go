package api

import (
	"fmt"
	"testing"
)

// BenchmarkAddRecord is one authenticated POST of a record into a real
// SQLite store, through the whole handler (auth, JSON, store transaction).
func BenchmarkAddRecord(b *testing.B) {
	h, _, _ := storeHarness(b, nil)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		body := fmt.Sprintf(`{"name":"b%d","type":"A","value":"198.51.100.%d","ttl":60}`, i, i%250+1)
		if r := h.do("POST", "/v1/zones/example.com/records", adminToken, body); r.status != 201 {
			b.Fatalf("%d %s", r.status, r.body)
		}
	}
}

// BenchmarkListRecords lists a 1,000-record zone filtered by name.
func BenchmarkListRecords(b *testing.B) {
	h, _, _ := storeHarness(b, nil)
	for i := 0; i < 1000; i++ {
		h.mustDo(201, "POST", "/v1/zones/example.com/records", adminToken, fmt.Sprintf(`{"name":"n%d","type":"A","value":"198.51.100.1"}`, i))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := h.do("GET", "/v1/zones/example.com/records?name=n500&type=A", readerToken, ""); r.status != 200 {
			b.Fatalf("%d", r.status)
		}
	}
}
