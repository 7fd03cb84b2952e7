package stack

import (
	"net/netip"
	"sync"
	"time"
)

// The path MTU cache remembers, per destination, the MTU a connection
// learned (RFC 1191 6.3, RFC 8201 5.3), so the next connection to that
// host starts with segments that fit. Entries expire after pmtuExpiry
// (RFC 1191 6.3 suggests 10 minutes, as Linux's mtu_expires is), after
// which a connection tries the link MTU again. The cache holds at most
// pmtuMax destinations; only validated messages (a connection accepted
// them: quoted sequence number in flight) make entries, and when full the
// entry nearest expiry goes, so a flood cannot grow it.
const (
	pmtuExpiry = 10 * time.Minute
	pmtuMax    = 4096
)

type pmtuEntry struct {
	mtu     int
	expires time.Duration
}

type pmtuCache struct {
	mu sync.Mutex
	m  map[netip.Addr]pmtuEntry
}

// learn records mtu for dst.
func (p *pmtuCache) learn(now time.Duration, dst netip.Addr, mtu int, st *ICMPStats) {
	if mtu <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = make(map[netip.Addr]pmtuEntry)
	}
	if _, ok := p.m[dst]; !ok && len(p.m) >= pmtuMax {
		var victim netip.Addr
		first := true
		var soonest time.Duration
		for a, e := range p.m {
			if first || e.expires < soonest {
				victim, soonest, first = a, e.expires, false
			}
		}
		delete(p.m, victim)
		st.PMTUEvicted.Add(1)
	}
	p.m[dst] = pmtuEntry{mtu: mtu, expires: now + pmtuExpiry}
	st.PMTUCacheSize.Store(int64(len(p.m)))
}

// lookup returns the cached path MTU to dst, or 0.
func (p *pmtuCache) lookup(now time.Duration, dst netip.Addr, st *ICMPStats) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.m[dst]
	if !ok {
		return 0
	}
	if now >= e.expires {
		delete(p.m, dst)
		st.PMTUCacheSize.Store(int64(len(p.m)))
		return 0
	}
	return e.mtu
}

// PathMTU returns the path MTU the stack has cached for dst, or 0 when it
// knows none (the link MTU applies).
func (s *Stack) PathMTU(dst netip.Addr) int {
	return s.pmtu.lookup(s.clk.Now(), dst, &s.stats.ICMP)
}

// pmtuMSS lowers a new connection's MSS to fit the path MTU cached for
// remote, so its first segments need no ICMP to find the size.
func (s *Stack) pmtuMSS(mss int, remote netip.Addr) int {
	mtu := s.pmtu.lookup(s.clk.Now(), remote, &s.stats.ICMP)
	if mtu == 0 {
		return mss
	}
	hdr := 40
	if !remote.Is4() {
		hdr = 60
	}
	return min(mss, mtu-hdr)
}
