package stack

import (
	"crypto/sha256"
	"encoding/binary"
	"time"

	"github.com/synack-tcp/synack/seq"
	"github.com/synack-tcp/synack/tcp"
	"github.com/synack-tcp/synack/wire"
)

// SYN cookies (RFC 4987 3.6), as Linux's tcp_syncookies=1: used only when
// a listener's SYN queue is full. The cookie is the ISS of the SYN,ACK:
//
//	bits 31-4  a keyed hash of the 4-tuple, the peer's ISN and the
//	           generation (28 bits: a blind guess succeeds once in 2^28)
//	bit 3      the generation's parity
//	bits 2-0   the peer's MSS, as an index into cookieMSS
//
// A generation lasts cookiePeriod; a cookie of the current or the previous
// one is valid, so it lives one to two periods. When the SYN carries
// timestamps, the low six bits of our TSval carry the peer's window shift
// (4 bits, 15 for none), SACK-permitted and ECN (as Linux and FreeBSD do);
// the ACK echoes them in its TSecr.

const (
	cookiePeriod = 64 * time.Second
	tsOptBits    = 6
	tsNoWScale   = 15
)

// cookieMSS are the MSS values a cookie can carry: a peer's MSS is rounded
// down to the nearest (never up: it could not receive more).
var cookieMSS = [8]uint16{64, 536, 1220, 1300, 1380, 1440, 1460, 8960}

func cookieMSSIndex(mss uint16) uint32 {
	i := len(cookieMSS) - 1
	for i > 0 && cookieMSS[i] > mss {
		i--
	}
	return uint32(i)
}

// cookieHash keys the cookie with the stack's secret and the generation:
// each generation has its own key, so the keys rotate every cookiePeriod.
func (s *Stack) cookieHash(gen uint32, id tuple, irs uint32) uint32 {
	var buf [1 + 4 + 4 + 2*18]byte
	b := append(buf[:0], 'c')
	b = binary.BigEndian.AppendUint32(b, gen)
	b = binary.BigEndian.AppendUint32(b, irs)
	la, ra := id.local.Addr().As16(), id.remote.Addr().As16()
	b = append(b, la[:]...)
	b = binary.BigEndian.AppendUint16(b, id.local.Port())
	b = append(b, ra[:]...)
	b = binary.BigEndian.AppendUint16(b, id.remote.Port())
	h := sha256.New()
	h.Write(s.secret)
	h.Write(b)
	var sum [32]byte
	return binary.BigEndian.Uint32(h.Sum(sum[:0]))
}

func cookieGen(now time.Duration) uint32 { return uint32(now / cookiePeriod) }

// tsClock is the connection's timestamp clock as its TCB will run it
// (newConn's TSOffset, 1 ms ticks).
func (s *Stack) tsClock(id tuple, now time.Duration) uint32 {
	return s.keyedHash('t', id.local, id.remote, true) + uint32(now/time.Millisecond)
}

// makeCookie returns the ISS and TSval of the cookie SYN,ACK for syn.
func (s *Stack) makeCookie(now time.Duration, id tuple, syn *wire.TCP, cfg *tcp.Config) (seq.Value, uint32) {
	gen := cookieGen(now)
	mss := uint16(cfg.DefaultSendMSS)
	if syn.Options.HasMSS {
		mss = syn.Options.MSS
	}
	low := (gen&1)<<3 | cookieMSSIndex(mss)
	iss := s.cookieHash(gen, id, syn.Seq)&^0xf | low
	if !syn.Options.HasTimestamps {
		return seq.Value(iss), 0
	}
	opts := uint32(tsNoWScale)
	if cfg.WindowScale && syn.Options.HasWScale {
		opts = uint32(min(syn.Options.WScale, 14))
	}
	if cfg.SACK && syn.Options.SACKPermitted {
		opts |= 1 << 4
	}
	if cfg.ECN && syn.Flags&(wire.ECE|wire.CWR) == wire.ECE|wire.CWR {
		opts |= 1 << 5
	}
	clk := s.tsClock(id, now)
	ts := clk&^(1<<tsOptBits-1) | opts
	if int32(ts-clk) > 0 {
		ts -= 1 << tsOptBits // never ahead of the clock the TCB will run
	}
	return seq.Value(iss), ts
}

// checkCookie validates the cookie an ACK to a listener returns and
// decodes it.
func (s *Stack) checkCookie(now time.Duration, id tuple, h *wire.TCP) (tcp.SynCookie, bool) {
	cookie := h.Ack - 1
	irs := h.Seq - 1
	gen := cookieGen(now)
	if gen&1 != (cookie>>3)&1 {
		gen-- // the previous generation
	}
	if (s.cookieHash(gen, id, irs)^cookie)&^0xf != 0 {
		return tcp.SynCookie{}, false
	}
	k := tcp.SynCookie{
		ISS: seq.Value(cookie), IRS: seq.Value(irs), MSS: int(cookieMSS[cookie&7]),
		WScale: -1, Window: h.Window,
	}
	if !h.Options.HasTimestamps {
		return k, true // the SYN had none, or nothing but the MSS is known (as Linux)
	}
	ecr := h.Options.TSEcr
	if age := int32(s.tsClock(id, now) - ecr); age < 0 || time.Duration(age)*time.Millisecond > 2*cookiePeriod {
		return tcp.SynCookie{}, false // not a TSval we could have sent
	}
	opts := ecr & (1<<tsOptBits - 1)
	k.TS, k.TSVal = true, h.Options.TSVal
	if w := int(opts & 0xf); w != tsNoWScale {
		k.WScale = min(w, 14)
	}
	k.SACK, k.ECN = opts&(1<<4) != 0, opts&(1<<5) != 0
	return k, true
}

// sendCookie answers a SYN with a cookie SYN,ACK, holding no state.
func (l *Listener) sendCookie(now time.Duration, id tuple, syn *wire.TCP) {
	s := l.s
	cfg := s.tcpConfig(!id.local.Addr().Is4())
	iss, ts := s.makeCookie(now, id, syn, &cfg)
	h := tcp.CookieSynAck(cfg, syn, iss, ts)
	l.cookieAt.Store(int64(now) + 1)
	s.stats.SynCookiesSent.Add(1)
	b := s.getBatch()
	b.add(id, &h, nil, nil, ipDefaults(id.local.Addr()))
	s.sendBatch(b)
}

// cookieAck handles an ACK to a listener that sent cookies lately: a valid
// cookie makes an ESTABLISHED connection, accept queue permitting. It
// reports whether the ACK was taken (a valid cookie, even if dropped for a
// full queue); false means the ACK is treated as any other (3.10.7.2).
func (l *Listener) cookieAck(now time.Duration, id tuple, h *wire.TCP, payload []byte) bool {
	at := l.cookieAt.Load()
	if at == 0 || now-time.Duration(at-1) > 2*cookiePeriod {
		return false // no cookie out there: nothing to check
	}
	s := l.s
	k, ok := s.checkCookie(now, id, h)
	if !ok {
		s.stats.SynCookiesInvalid.Add(1)
		return false
	}
	l.mu.Lock()
	if l.closed || len(l.queue) >= l.backlog {
		l.mu.Unlock()
		s.stats.ListenOverflow.Add(1) // as Linux: the peer retransmits
		return true
	}
	l.pending++ // established() moves it to the queue
	l.mu.Unlock()
	c := s.newConn(id, l)
	s.mu.Lock()
	if s.conns[id] != nil || s.closed {
		s.mu.Unlock()
		l.forget(c)
		return true
	}
	s.conns[id] = c
	s.mu.Unlock()
	s.stats.SynCookiesValid.Add(1)
	c.mu.Lock()
	c.tcb.OpenCookie(now, k)
	c.tcb.Input(now, h, payload)
	c.flushLocked(now)
	c.mu.Unlock()
	return true
}
