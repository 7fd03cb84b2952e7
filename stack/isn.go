package stack

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/synack-tcp/synack/seq"
)

func randomSecret() []byte {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return b
}

// keyedHash is F() of RFC 6528 and RFC 6056: SHA-256 over the secret and
// the connection identifiers, so outsiders cannot compute it (MUST-9).
func (s *Stack) keyedHash(tag byte, local, remote netip.AddrPort, withLocalPort bool) uint32 {
	var buf [1 + 2*18]byte
	buf[0] = tag
	b := buf[:1]
	la, ra := local.Addr().As16(), remote.Addr().As16()
	b = append(b, la[:]...)
	if withLocalPort {
		b = binary.BigEndian.AppendUint16(b, local.Port())
	}
	b = append(b, ra[:]...)
	b = binary.BigEndian.AppendUint16(b, remote.Port())
	h := sha256.New()
	h.Write(s.secret)
	h.Write(b)
	var sum [32]byte
	return binary.BigEndian.Uint32(h.Sum(sum[:0]))
}

// isn is RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport,
// secretkey), M a timer ticking every 4 microseconds (MUST-8, SHLD-1).
func (s *Stack) isn(id tuple, now time.Duration) seq.Value {
	if s.isnHook != nil {
		return s.isnHook(id)
	}
	m := uint32(now / (4 * time.Microsecond))
	return seq.Value(m + s.keyedHash('i', id.local, id.remote, true))
}

// pickPort is RFC 6056 3.3.3 Algorithm 3 ("simple hash-based"): start at
// a keyed hash of the addresses plus a counter and take the first port
// whose 4-tuple is free. Called with s.mu held.
func (s *Stack) pickPort(local netip.Addr, remote netip.AddrPort) (uint16, bool) {
	num := uint32(s.cfg.PortMax-s.cfg.PortMin) + 1
	offset := s.keyedHash('p', netip.AddrPortFrom(local, 0), remote, false)
	for i := uint32(0); i < num; i++ {
		p := s.cfg.PortMin + uint16((offset+s.nextPort+i)%num)
		id := tuple{netip.AddrPortFrom(local, p), remote}
		if s.conns[id] == nil && s.listenerFor(id.local) == nil && !s.tw.has(id) {
			s.nextPort += i + 1
			return p, true
		}
	}
	return 0, false
}
