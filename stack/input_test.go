package stack

import (
	"net/netip"
	"testing"

	"github.com/synack-tcp/synack/link"
	"github.com/synack-tcp/synack/tcp"
	"github.com/synack-tcp/synack/wire"
)

// recLink is a link that records what the stack writes; the test delivers
// inbound packets by calling the stack's DeliverPackets directly.
type recLink struct{ out [][]byte }

func (r *recLink) MTU() int             { return 1500 }
func (r *recLink) Attach(link.Receiver) {}
func (r *recLink) Close() error         { return nil }
func (r *recLink) WritePackets(p [][]byte, info []link.PacketInfo) (int, error) {
	for _, b := range p {
		r.out = append(r.out, append([]byte(nil), b...))
	}
	return len(p), nil
}

var peer = netip.MustParseAddr("10.0.0.9")

// segment builds an IPv4 packet from peer:40000 to 10.0.0.2:port.
func segment(h wire.TCP, port uint16, payload []byte) []byte {
	h.SrcPort, h.DstPort = 40000, port
	if h.Window == 0 {
		h.Window = 1000
	}
	b := wire.AppendIPHeader(nil, peer, addrB, wire.ProtoTCP, 0, h.HeaderLen()+len(payload))
	t := len(b)
	b = h.Append(b)
	b = append(b, payload...)
	wire.SetTCPChecksum(peer, addrB, b[t:])
	return b
}

func parseOut(t *testing.T, b []byte) (wire.TCP, []byte) {
	t.Helper()
	ip, seg, err := wire.ParseIP(b)
	if err != nil || !wire.VerifyTCPChecksum(ip.Src, ip.Dst, seg) {
		t.Fatalf("stack sent a bad packet: %v", err)
	}
	var h wire.TCP
	p, err := h.Parse(seg)
	if err != nil {
		t.Fatal(err)
	}
	return h, p
}

func newRecStack(t *testing.T) (*Stack, *recLink) {
	r := &recLink{}
	s, err := New(r, Config{Addrs: []netip.Addr{addrB}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, r
}

func TestMalformedPacketsAreCounted(t *testing.T) {
	s, r := newRecStack(t)
	good := segment(wire.TCP{Seq: 1, Flags: wire.SYN}, 80, nil)
	badSum := append([]byte(nil), good...)
	badSum[len(badSum)-1] ^= 0xff
	badOpt := segment(wire.TCP{Seq: 1, Flags: wire.SYN, Options: wire.Options{HasMSS: true, MSS: 1460}}, 80, nil)
	badOpt[20+20+1] = 40 // the MSS option's length overruns the header
	wire.SetTCPChecksum(peer, addrB, badOpt[20:])
	badOff := append([]byte(nil), good...)
	badOff[20+12] = 0xf0 // data offset 60 bytes, past the end
	wire.SetTCPChecksum(peer, addrB, badOff[20:])
	notUs := wire.AppendIPHeader(nil, peer, netip.MustParseAddr("10.0.0.77"), wire.ProtoTCP, 0, 20)
	notUs = append(notUs, good[20:]...)
	lengths := append([]byte(nil), good...)
	lengths[3] = 200 // IP total length past the packet
	s.DeliverPackets([][]byte{nil, {0x45}, good[:30], good, badSum, badOpt, badOff, notUs, lengths, {0x60, 0, 0}}, nil)
	st := s.Stats()
	if st.BadChecksum.Load() != 1 || st.MalformedTCP.Load() != 2 || st.NotForUs.Load() != 1 || st.MalformedIP.Load() != 5 {
		t.Fatalf("counters: checksum %d, tcp %d, notforus %d, ip %d", st.BadChecksum.Load(), st.MalformedTCP.Load(), st.NotForUs.Load(), st.MalformedIP.Load())
	}
	if len(r.out) != 1 { // only the good SYN, to a closed port, is answered
		t.Fatalf("%d replies", len(r.out))
	}
}

// RFC 9293 3.10.7.1: a segment for no connection draws a reset:
// <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> without ACK, <SEQ=SEG.ACK><CTL=RST> with.
func TestNoConnectionResets(t *testing.T) {
	s, r := newRecStack(t)
	s.DeliverPackets([][]byte{
		segment(wire.TCP{Seq: 100, Flags: wire.SYN}, 81, nil),
		segment(wire.TCP{Seq: 100, Ack: 555, Flags: wire.ACK | wire.PSH}, 81, []byte("data")),
		segment(wire.TCP{Seq: 100, Flags: wire.RST}, 81, nil),
	}, nil)
	if len(r.out) != 2 {
		t.Fatalf("%d replies, want 2 (none to a RST)", len(r.out))
	}
	h, _ := parseOut(t, r.out[0])
	if h.Flags != wire.RST|wire.ACK || h.Seq != 0 || h.Ack != 101 || h.DstPort != 40000 {
		t.Fatalf("reply to SYN: %+v", h)
	}
	h, _ = parseOut(t, r.out[1])
	if h.Flags != wire.RST || h.Seq != 555 {
		t.Fatalf("reply to ACK: %+v", h)
	}
}

// 3.10.7.2: to a listener, an ACK draws <SEQ=SEG.ACK><CTL=RST>, a RST is
// ignored, a SYN makes a connection answered with SYN,ACK carrying our MSS.
func TestListenerReplies(t *testing.T) {
	s, r := newRecStack(t)
	l, err := s.ListenTCP("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	s.DeliverPackets([][]byte{
		segment(wire.TCP{Seq: 7, Flags: wire.RST}, 80, nil),
		segment(wire.TCP{Seq: 7, Ack: 99, Flags: wire.ACK}, 80, nil),
		segment(wire.TCP{Seq: 1000, Flags: wire.SYN, Options: wire.Options{HasMSS: true, MSS: 1000}}, 80, nil),
	}, nil)
	if len(r.out) != 2 {
		t.Fatalf("%d replies", len(r.out))
	}
	if h, _ := parseOut(t, r.out[0]); h.Flags != wire.RST || h.Seq != 99 {
		t.Fatalf("reply to ACK: %+v", h)
	}
	h, _ := parseOut(t, r.out[1])
	if h.Flags != wire.SYN|wire.ACK || h.Ack != 1001 || !h.Options.HasMSS || h.Options.MSS != 1460 {
		t.Fatalf("SYN,ACK: %+v", h)
	}
	s.DeliverPackets([][]byte{segment(wire.TCP{Seq: 1001, Ack: h.Seq + 1, Flags: wire.ACK}, 80, []byte("hi"))}, nil)
	c, err := l.TryAccept()
	if err != nil || c == nil || c.State() != tcp.Established {
		t.Fatalf("accept: %v %v", c, err)
	}
	buf := make([]byte, 8)
	if n, _ := c.TryRead(buf); string(buf[:n]) != "hi" {
		t.Fatalf("read %q", buf[:n])
	}
}

// FuzzDeliver feeds arbitrary packets to a stack with a listener and an
// established connection: it must never panic, and the TCB invariants must
// hold after every packet.
func FuzzDeliver(f *testing.F) {
	f.Add(segment(wire.TCP{Seq: 1, Flags: wire.SYN}, 80, nil))
	f.Add(segment(wire.TCP{Seq: 1001, Ack: 1, Flags: wire.ACK | wire.FIN}, 80, []byte("x")))
	f.Add(segment(wire.TCP{Seq: 1001, Flags: wire.RST}, 80, nil))
	f.Add([]byte{0x45, 0, 0, 20})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		s, _ := newRecStack(t)
		s.ListenTCP("tcp", ":80")
		s.DeliverPackets([][]byte{segment(wire.TCP{Seq: 1000, Flags: wire.SYN}, 80, nil)}, nil)
		s.DeliverPackets([][]byte{pkt}, nil)
		// Also as a TCP segment with valid IP and checksum around it.
		if len(pkt) >= 20 {
			b := wire.AppendIPHeader(nil, peer, addrB, wire.ProtoTCP, 0, len(pkt))
			t0 := len(b)
			b = append(b, pkt...)
			wire.SetTCPChecksum(peer, addrB, b[t0:])
			s.DeliverPackets([][]byte{b}, nil)
		}
		s.mu.RLock()
		defer s.mu.RUnlock()
		for _, c := range s.conns {
			c.mu.Lock()
			err := c.tcb.CheckInvariants()
			c.mu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
		}
	})
}
