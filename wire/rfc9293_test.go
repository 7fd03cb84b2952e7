package wire

import "testing"

// MUST-64: options need not be word aligned. A window scale option (3
// bytes) puts the MSS that follows at offset 3 and the timestamps at 7.
func TestTCPOptionsUnaligned(t *testing.T) {
	opts := []byte{3, 3, 7, 2, 4, 5, 180, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0}
	opts = append(opts, make([]byte, 20-len(opts))...) // EOL and zero padding
	var h TCP
	if _, err := h.Parse(seg(opts)); err != nil {
		t.Fatal(err)
	}
	o := h.Options
	if !o.HasWScale || o.WScale != 7 || !o.HasMSS || o.MSS != 1460 || !o.HasTimestamps || o.TSVal != 1 || o.TSEcr != 2 {
		t.Fatalf("unaligned options parsed as %+v", o)
	}
}
