package stack

import (
	"net/netip"
	"testing"

	"github.com/synack-tcp/synack/wire"
)

// Martian packets (martian.go) are dropped before any TCP processing and
// counted: each case is a SYN to a listener, which without its check
// would draw a SYN,ACK (or, for a destination that is not ours, count as
// NotForUs rather than Martian).
func TestMartiansDropped(t *testing.T) {
	cases := []struct {
		name     string
		src, dst string
	}{
		{"from our own address (land)", "10.0.0.2:80", "10.0.0.2:80"},
		{"from our own address, other port", "10.0.0.2:5000", "10.0.0.2:80"},
		{"from the broadcast address (MUST-63)", "255.255.255.255:5000", "10.0.0.2:80"},
		{"from a multicast address (MUST-63)", "224.0.0.1:5000", "10.0.0.2:80"},
		{"from the unspecified address (MUST-63)", "0.0.0.0:5000", "10.0.0.2:80"},
		{"from loopback off a loopback link", "127.0.0.1:5000", "10.0.0.2:80"},
		{"to the broadcast address (MUST-57)", "10.0.0.9:5000", "255.255.255.255:80"},
		{"to a multicast address (MUST-57)", "10.0.0.9:5000", "224.0.0.1:80"},
		{"IPv6 from a multicast address (MUST-63)", "[ff02::1]:5000", "[fd00::2]:80"},
		{"IPv6 from our own address", "[fd00::2]:5000", "[fd00::2]:80"},
		{"IPv6 from loopback", "[::1]:5000", "[fd00::2]:80"},
		{"IPv6 to a multicast address (MUST-57)", "[fd00::9]:5000", "[ff02::1]:80"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &recLink{}
			s, err := New(r, Config{Addrs: []netip.Addr{addrB, netip.MustParseAddr("fd00::2")}})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.ListenTCP("tcp", ":80"); err != nil {
				t.Fatal(err)
			}
			syn := wire.TCP{Seq: 1, Flags: wire.SYN, Window: 1000, Options: wire.Options{HasTimestamps: true, TSVal: 1}}
			s.DeliverPackets([][]byte{rawSeg(netip.MustParseAddrPort(tc.src), netip.MustParseAddrPort(tc.dst), syn, nil)}, nil)
			st := s.Stats()
			if len(r.out) != 0 || st.Martian.Load() != 1 || st.NotForUs.Load() != 0 || s.NumConns() != 0 {
				t.Fatalf("%d replies, Martian %d, NotForUs %d, %d conns", len(r.out), st.Martian.Load(), st.NotForUs.Load(), s.NumConns())
			}
		})
	}
}

// On a loopback link (the stack's addresses are loopback ones) a packet
// from a loopback address, ours included, is legitimate.
func TestLoopbackLinkAcceptsLoopback(t *testing.T) {
	r := &recLink{}
	lo := netip.MustParseAddr("127.0.0.1")
	s, err := New(r, Config{Addrs: []netip.Addr{lo}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.ListenTCP("tcp", ":80"); err != nil {
		t.Fatal(err)
	}
	s.DeliverPackets([][]byte{rawSeg(netip.AddrPortFrom(lo, 5000), netip.AddrPortFrom(lo, 80), wire.TCP{Seq: 1, Flags: wire.SYN, Window: 1000}, nil)}, nil)
	if len(r.out) != 1 || s.Stats().Martian.Load() != 0 {
		t.Fatalf("%d replies, Martian %d", len(r.out), s.Stats().Martian.Load())
	}
}

// MUST-46: no OPEN to a broadcast, multicast or unspecified address.
func TestOpenToMartianRefused(t *testing.T) {
	s, r := newRecStack(t)
	for _, a := range []string{"255.255.255.255:80", "224.0.0.1:80", "0.0.0.0:80"} {
		if c, err := s.Open(netip.MustParseAddrPort(a)); err == nil || c != nil {
			t.Fatalf("Open(%s) = %v, %v", a, c, err)
		}
		if _, err := s.OpenFrom(5000, netip.MustParseAddrPort(a)); err == nil {
			t.Fatalf("OpenFrom(%s) succeeded", a)
		}
	}
	if len(r.out) != 0 {
		t.Fatalf("%d packets sent", len(r.out))
	}
}

// One DeliverPackets call remembers the addresses of the last packet that
// passed the address checks (input.go, rx.src/dst) and skips the checks
// for the next packets between them: a martian or a bad checksum in the
// same batch, after good packets and before more of them, is still
// dropped and counted, and the good ones on either side still get their
// answers.
func TestBatchAddressMemo(t *testing.T) {
	r := &recLink{}
	s, err := New(r, Config{Addrs: []netip.Addr{addrB}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.ListenTCP("tcp", ":80"); err != nil {
		t.Fatal(err)
	}
	syn := func(port uint16) wire.TCP {
		return wire.TCP{Seq: uint32(port), Flags: wire.SYN, Window: 1000}
	}
	from := func(a string) netip.AddrPort { return netip.MustParseAddrPort(a) }
	dst := netip.AddrPortFrom(addrB, 80)
	bad := rawSeg(from("10.0.0.1:5002"), dst, syn(5002), nil)
	bad[len(bad)-1] ^= 0xff // the TCP checksum no longer verifies
	s.DeliverPackets([][]byte{
		rawSeg(from("10.0.0.1:5001"), dst, syn(5001), nil),
		bad,
		rawSeg(from("10.0.0.2:5003"), dst, syn(5003), nil), // from our own address
		rawSeg(from("10.0.0.1:5004"), dst, syn(5004), nil),
		rawSeg(from("10.0.0.1:5005"), netip.AddrPortFrom(netip.MustParseAddr("10.0.0.9"), 80), syn(5005), nil), // not ours
	}, nil)
	st := s.Stats()
	if len(r.out) != 2 || st.BadChecksum.Load() != 1 || st.Martian.Load() != 1 || st.NotForUs.Load() != 1 {
		t.Fatalf("%d replies, BadChecksum %d, Martian %d, NotForUs %d; want 2 SYN,ACKs and one of each",
			len(r.out), st.BadChecksum.Load(), st.Martian.Load(), st.NotForUs.Load())
	}
}
