package stack

import (
	"net/netip"
	"testing"

	"github.com/synack-tcp/synack/wire"
)

// Config.DropSynFin (FreeBSD's net.inet.tcp.drop_synfin): a listener
// drops <SEQ=1000><CTL=SYN,FIN>, with data or without, unanswered and
// counted, and holds no state for it; a plain SYN is still answered. Off,
// the SYN is taken as RFC 9293 3.10.7.2 says and answered with
// <SEQ=ISS><ACK=1001><CTL=SYN,ACK>.
func TestDropSynFin(t *testing.T) {
	for _, drop := range []bool{false, true} {
		r := &recLink{}
		s, err := New(r, Config{Addrs: []netip.Addr{addrB}, DropSynFin: drop})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.ListenTCP("tcp", ":80"); err != nil {
			t.Fatal(err)
		}
		for _, data := range [][]byte{nil, []byte("abc")} {
			r.out = nil
			deliver(s, [][]byte{segment(wire.TCP{Seq: 1000, Flags: wire.SYN | wire.FIN}, 80, data)})
			if drop {
				if len(r.out) != 0 || len(s.Conns()) != 0 {
					t.Fatalf("dropping, SYN,FIN with %d bytes: %d packets sent, %d connections", len(data), len(r.out), len(s.Conns()))
				}
				continue
			}
			if len(r.out) != 1 {
				t.Fatalf("SYN,FIN with %d bytes: %d packets sent, want a SYN,ACK", len(data), len(r.out))
			}
			if h, _ := parseOut(t, r.out[0]); h.Flags != wire.SYN|wire.ACK || h.Ack != 1001 {
				t.Fatalf("SYN,FIN answered with %v ACK %d, want SYN,ACK 1001", h.Flags, h.Ack)
			}
			for _, c := range s.Conns() {
				c.Abort()
			}
		}
		want := uint64(0)
		if drop {
			want = 2
		}
		if got := s.Stats().SynFinDropped.Load(); got != want {
			t.Fatalf("drop %v: SynFinDropped %d, want %d", drop, got, want)
		}
		r.out = nil
		deliver(s, [][]byte{segment(wire.TCP{Seq: 5000, Flags: wire.SYN}, 80, nil)})
		if len(r.out) != 1 {
			t.Fatalf("drop %v: a plain SYN drew %d packets", drop, len(r.out))
		}
		if h, _ := parseOut(t, r.out[0]); h.Flags != wire.SYN|wire.ACK || h.Ack != 5001 {
			t.Fatalf("drop %v: SYN answered with %v ACK %d", drop, h.Flags, h.Ack)
		}
	}
}
