package stack

import (
	"net/netip"
	"testing"
	"time"
)

// RFC 1191 6.3: a learnt path MTU is forgotten after 10 minutes, so a path
// that widened is used again; the cache is bounded, the entry nearest
// expiry going first, and counted.
func TestPMTUCacheExpiryAndBound(t *testing.T) {
	var p pmtuCache
	var st ICMPStats
	a := netip.MustParseAddr("10.1.0.1")
	p.learn(0, a, 1280, &st)
	if got := p.lookup(pmtuExpiry-1, a, &st); got != 1280 {
		t.Fatalf("before expiry: %d", got)
	}
	if got := p.lookup(pmtuExpiry, a, &st); got != 0 || st.PMTUCacheSize.Load() != 0 {
		t.Fatalf("after expiry: %d, size %d", got, st.PMTUCacheSize.Load())
	}
	for i := range pmtuMax + 10 {
		p.learn(time.Duration(i), netip.AddrFrom4([4]byte{10, 2, byte(i >> 8), byte(i)}), 1400, &st)
	}
	if n := st.PMTUCacheSize.Load(); n != pmtuMax || st.PMTUEvicted.Load() != 10 {
		t.Fatalf("size %d, evicted %d", n, st.PMTUEvicted.Load())
	}
	if got := p.lookup(time.Minute, netip.AddrFrom4([4]byte{10, 2, 0, 0}), &st); got != 0 {
		t.Fatal("the oldest entry survived the bound")
	}
	if got := p.lookup(time.Minute, netip.AddrFrom4([4]byte{10, 2, 16, 9}), &st); got != 1400 {
		t.Fatal("the newest entry is gone")
	}
}
