package stack

import (
	"net/netip"
	"testing"
	"time"

	"github.com/synack-tcp/synack/clock"
	"github.com/synack-tcp/synack/seq"
	"github.com/synack-tcp/synack/tcp"
	"github.com/synack-tcp/synack/wire"
)

// rawSeg builds an IPv4 or IPv6 packet carrying h from src to dst, with a
// valid checksum: what an attacker (or a test) writes onto a link.
func rawSeg(src, dst netip.AddrPort, h wire.TCP, payload []byte) []byte {
	h.SrcPort, h.DstPort = src.Port(), dst.Port()
	b := wire.AppendIPHeader(nil, src.Addr(), dst.Addr(), wire.ProtoTCP, 0, h.HeaderLen()+len(payload))
	t := len(b)
	b = h.Append(b)
	b = append(b, payload...)
	wire.SetTCPChecksum(src.Addr(), dst.Addr(), b[t:])
	return b
}

var srv80 = netip.AddrPortFrom(addrB, 80)

// cookieStack is a stack on a recording link under a virtual clock with a
// one-slot listener on :80, its SYN queue already full from a first SYN.
func cookieStack(t *testing.T, lc ListenConfig, events *[]Event) (*Stack, *recLink, *Listener, *clock.Virtual) {
	t.Helper()
	clk := clock.NewVirtual()
	clk.Advance(time.Hour) // away from generation 0
	r := &recLink{}
	cfg := Config{Addrs: []netip.Addr{addrB}, Clock: clk, Secret: []byte("cookie test")}
	if events != nil {
		cfg.OnEvent = func(e Event) { *events = append(*events, e) }
	}
	s, err := New(r, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	lc.Backlog = 1
	l, err := s.ListenWith(lc, "tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	s.DeliverPackets([][]byte{rawSeg(netip.MustParseAddrPort("10.0.0.9:39999"), srv80, wire.TCP{Seq: 5, Flags: wire.SYN, Window: 1000}, nil)}, nil)
	if len(r.out) != 1 || s.Stats().SynCookiesSent.Load() != 0 {
		t.Fatalf("first SYN: %d replies, %d cookies", len(r.out), s.Stats().SynCookiesSent.Load())
	}
	r.out = nil
	return s, r, l, clk
}

var cli = netip.MustParseAddrPort("10.0.0.9:40000")

func fullSyn() wire.TCP {
	return wire.TCP{Seq: 1000, Flags: wire.SYN | wire.ECE | wire.CWR, Window: 65535, Options: wire.Options{
		HasMSS: true, MSS: 1400, HasWScale: true, WScale: 7, SACKPermitted: true,
		HasTimestamps: true, TSVal: 777,
	}}
}

// RFC 4987 3.6: with the SYN queue full, a SYN is answered by a cookie
// SYN,ACK and no state; the ACK returning the cookie makes an ESTABLISHED
// connection with the MSS (rounded down to the table), window scale, SACK
// and timestamps the SYN negotiated, through the usual transitions.
func TestSynCookieHandshake(t *testing.T) {
	var ev []Event
	s, r, l, _ := cookieStack(t, ListenConfig{}, &ev)
	syn := fullSyn()
	s.DeliverPackets([][]byte{rawSeg(cli, srv80, syn, nil)}, nil)
	if len(r.out) != 1 || s.Stats().SynCookiesSent.Load() != 1 || s.NumConns() != 1 {
		t.Fatalf("%d replies, %d cookies, %d conns", len(r.out), s.Stats().SynCookiesSent.Load(), s.NumConns())
	}
	sa, _ := parseOut(t, r.out[0])
	o := sa.Options
	if sa.Flags != wire.SYN|wire.ACK || sa.Ack != 1001 || !o.HasMSS || !o.HasWScale || !o.SACKPermitted || !o.HasTimestamps || o.TSEcr != 777 {
		t.Fatalf("cookie SYN,ACK %+v", sa)
	}
	r.out = nil
	ack := wire.TCP{Seq: 1001, Ack: sa.Seq + 1, Flags: wire.ACK, Window: 100, Options: wire.Options{HasTimestamps: true, TSVal: 778, TSEcr: o.TSVal}}
	s.DeliverPackets([][]byte{rawSeg(cli, srv80, ack, []byte("hello"))}, nil)
	c, err := l.TryAccept()
	if err != nil || c == nil {
		t.Fatalf("accept: %v %v", c, err)
	}
	st := c.Status()
	if st.State != tcp.Established || st.SendMSS != 1380-12 || !st.SACK || !st.WindowScale || st.SndShift != 7 || !st.Timestamps || st.SndWnd != 100<<7 {
		t.Fatalf("status %+v", st)
	}
	buf := make([]byte, 16)
	if n, _ := c.TryRead(buf); string(buf[:n]) != "hello" {
		t.Fatalf("read %q", buf[:n])
	}
	if s.Stats().SynCookiesValid.Load() != 1 {
		t.Fatal("valid cookie not counted")
	}
	var walk []string
	for _, e := range ev {
		if e.Remote == cli {
			walk = append(walk, e.From.String()+">"+e.To.String())
		}
	}
	if len(walk) != 2 || walk[0] != "LISTEN>SYN-RECEIVED" || walk[1] != "SYN-RECEIVED>ESTABLISHED" {
		t.Fatalf("transitions %v", walk)
	}
	// What it ACKs carries TS.Recent from the cookie's ACK.
	if len(r.out) != 1 {
		t.Fatalf("%d segments after the data, want its ACK", len(r.out))
	}
	if h, _ := parseOut(t, r.out[0]); h.Ack != 1006 || h.Options.TSEcr != 778 {
		t.Fatalf("ACK %+v", h)
	}
}

// An ACK with a wrong cookie is an ordinary ACK to a listener: it draws
// <SEQ=SEG.ACK><CTL=RST> (3.10.7.2) and is counted. A cookie lives one to
// two generations (64 s each), not longer.
func TestSynCookieInvalidAndExpired(t *testing.T) {
	s, r, _, clk := cookieStack(t, ListenConfig{}, nil)
	syn := fullSyn()
	syn.Options = wire.Options{HasMSS: true, MSS: 1460} // no timestamps: the MSS alone
	s.DeliverPackets([][]byte{rawSeg(cli, srv80, syn, nil)}, nil)
	sa, _ := parseOut(t, r.out[0])
	r.out = nil
	bad := wire.TCP{Seq: 1001, Ack: sa.Seq + 1 + 16, Flags: wire.ACK, Window: 100}
	s.DeliverPackets([][]byte{rawSeg(cli, srv80, bad, nil)}, nil)
	if len(r.out) != 1 || s.Stats().SynCookiesInvalid.Load() != 1 || s.NumConns() != 1 {
		t.Fatalf("bad cookie: %d replies, %d invalid, %d conns", len(r.out), s.Stats().SynCookiesInvalid.Load(), s.NumConns())
	}
	if h, _ := parseOut(t, r.out[0]); h.Flags != wire.RST || h.Seq != bad.Ack {
		t.Fatalf("reply %+v", h)
	}
	r.out = nil
	clk.Advance(2*cookiePeriod + time.Second)
	good := wire.TCP{Seq: 1001, Ack: sa.Seq + 1, Flags: wire.ACK, Window: 100}
	s.DeliverPackets([][]byte{rawSeg(cli, srv80, good, nil)}, nil)
	if h, _ := parseOut(t, r.out[len(r.out)-1]); s.Stats().SynCookiesValid.Load() != 0 || h.Flags != wire.RST {
		t.Fatalf("expired cookie: %d valid, reply %+v", s.Stats().SynCookiesValid.Load(), h)
	}
	// A fresh one (the first half-open gave up meanwhile: fill its slot
	// again), checked in the next generation: still good.
	r.out = nil
	s.DeliverPackets([][]byte{rawSeg(netip.MustParseAddrPort("10.0.0.9:39998"), srv80, wire.TCP{Seq: 5, Flags: wire.SYN, Window: 1000}, nil)}, nil)
	s.DeliverPackets([][]byte{rawSeg(cli, srv80, syn, nil)}, nil)
	if s.Stats().SynCookiesSent.Load() != 2 {
		t.Fatalf("%d cookies sent", s.Stats().SynCookiesSent.Load())
	}
	sa, _ = parseOut(t, r.out[len(r.out)-1])
	clk.Advance(cookiePeriod)
	good.Ack = sa.Seq + 1
	s.DeliverPackets([][]byte{rawSeg(cli, srv80, good, nil)}, nil)
	if s.Stats().SynCookiesValid.Load() != 1 {
		t.Fatal("a cookie of the previous generation was refused")
	}
}

// Without cookies (ListenConfig.NoSynCookies) a SYN finding the SYN queue
// full is dropped; with them, a cookie ACK finding the accept queue full
// is dropped too (the peer retransmits), both counted as overflow.
func TestSynCookieQueues(t *testing.T) {
	s, r, _, _ := cookieStack(t, ListenConfig{NoSynCookies: true}, nil)
	s.DeliverPackets([][]byte{rawSeg(cli, srv80, fullSyn(), nil)}, nil)
	if len(r.out) != 0 || s.Stats().ListenOverflow.Load() != 1 {
		t.Fatalf("no cookies: %d replies, %d overflows", len(r.out), s.Stats().ListenOverflow.Load())
	}

	s, r, l, _ := cookieStack(t, ListenConfig{}, nil)
	cli2 := netip.MustParseAddrPort("10.0.0.9:40002")
	var sas []wire.TCP
	for _, c := range []netip.AddrPort{cli, cli2} {
		syn := fullSyn()
		syn.Options.HasTimestamps = false
		s.DeliverPackets([][]byte{rawSeg(c, srv80, syn, nil)}, nil)
		h, _ := parseOut(t, r.out[len(r.out)-1])
		sas = append(sas, h)
	}
	r.out = nil
	for i, c := range []netip.AddrPort{cli, cli2} {
		s.DeliverPackets([][]byte{rawSeg(c, srv80, wire.TCP{Seq: 1001, Ack: sas[i].Seq + 1, Flags: wire.ACK, Window: 100}, nil)}, nil)
	}
	if s.Stats().SynCookiesValid.Load() != 1 || s.Stats().ListenOverflow.Load() != 1 || len(r.out) != 0 {
		t.Fatalf("%d valid, %d overflow, %d replies", s.Stats().SynCookiesValid.Load(), s.Stats().ListenOverflow.Load(), len(r.out))
	}
	if c, _ := l.TryAccept(); c == nil || c.RemoteAddr().String() != cli.String() {
		t.Fatalf("accepted %v", c)
	}
}

// FuzzSynCookie: checking any ACK never panics and decodes only in-range
// values; a cookie made for any SYN checks and restores its options; a
// cookie with any bit of its hash flipped does not.
func FuzzSynCookie(f *testing.F) {
	f.Add(uint32(1000), uint16(1460), uint8(7), true, true, true, uint32(12345), uint32(5), uint16(100), uint8(0))
	f.Add(uint32(0xffffffff), uint16(0), uint8(14), false, false, false, uint32(0), uint32(0), uint16(0), uint8(31))
	f.Add(uint32(7), uint16(536), uint8(200), true, false, true, uint32(1<<31), uint32(99), uint16(65535), uint8(4))
	s, err := New(&recLink{}, Config{Addrs: []netip.Addr{addrB}, Clock: clock.NewVirtual(), Secret: []byte("fuzz")})
	if err != nil {
		f.Fatal(err)
	}
	cfg := s.tcpConfig(false)
	id := tuple{srv80, cli}
	f.Fuzz(func(t *testing.T, isn uint32, mss uint16, ws uint8, ts, sack, ecn bool, tsval, ackSeq uint32, wnd uint16, flip uint8) {
		now := time.Duration(tsval%100000) * time.Second
		// Any ACK at all.
		raw := wire.TCP{Seq: isn, Ack: ackSeq, Flags: wire.ACK, Window: wnd}
		raw.Options.HasTimestamps, raw.Options.TSVal, raw.Options.TSEcr = ts, tsval, ackSeq^tsval
		if k, ok := s.checkCookie(now, id, &raw); ok && (k.WScale < -1 || k.WScale > 14 || k.MSS < 64) {
			t.Fatalf("decoded %+v", k)
		}
		// A cookie for a SYN.
		syn := wire.TCP{Seq: isn, Flags: wire.SYN, Window: wnd}
		syn.Options.HasMSS, syn.Options.MSS = mss != 0, mss
		syn.Options.HasWScale, syn.Options.WScale = ws < 100, ws%15
		syn.Options.SACKPermitted, syn.Options.HasTimestamps, syn.Options.TSVal = sack, ts, tsval
		if ecn {
			syn.Flags |= wire.ECE | wire.CWR
		}
		iss, ourTS := s.makeCookie(now, id, &syn, &cfg)
		ack := wire.TCP{Seq: isn + 1, Ack: uint32(iss) + 1, Flags: wire.ACK, Window: wnd}
		if ts {
			ack.Options.HasTimestamps, ack.Options.TSVal, ack.Options.TSEcr = true, tsval+1, ourTS
		}
		later := now + time.Duration(flip%64)*time.Second // a cookie lives at least one period
		k, ok := s.checkCookie(later, id, &ack)
		if !ok {
			t.Fatalf("own cookie refused: syn %+v", syn)
		}
		want := uint16(cfg.DefaultSendMSS)
		if syn.Options.HasMSS {
			want = mss
		}
		if k.MSS > int(max(want, 64)) || k.ISS != iss || k.IRS != seq.Value(isn) {
			t.Fatalf("cookie %+v for MSS %d", k, want)
		}
		if ts {
			wantWS := -1
			if syn.Options.HasWScale && cfg.WindowScale {
				wantWS = int(syn.Options.WScale)
			}
			if k.WScale != wantWS || k.SACK != (sack && cfg.SACK) || k.ECN != (ecn && cfg.ECN) || !k.TS || k.TSVal != tsval+1 {
				t.Fatalf("cookie %+v for SYN %+v", k, syn.Options)
			}
		}
		ack.Ack ^= 1 << (4 + flip%28)
		if _, ok := s.checkCookie(later, id, &ack); ok {
			t.Fatalf("cookie with hash bit %d flipped accepted", 4+flip%28)
		}
	})
}
