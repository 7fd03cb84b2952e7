package stack

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/synack-tcp/synack/clock"
	"github.com/synack-tcp/synack/link"
	"github.com/synack-tcp/synack/link/sim"
	"github.com/synack-tcp/synack/tcp"
	"github.com/synack-tcp/synack/wire"
)

// ceMarker is a link endpoint in front of a router whose queue management
// marks instead of dropping: every every-th ECT packet it carries leaves
// marked CE (RFC 3168 5), its IPv4 header checksum fixed. It also checks
// what the stack sends: only packets with data may be ECT, none CE.
type ceMarker struct {
	*sim.Endpoint
	every          int
	ect, marked    int
	ectWithoutData int // SYNs, pure ACKs, window probes sent as ECT
	ceFromStack    int
	infoMismatch   int // packets whose link.PacketInfo disagrees with their IP header
}

func (m *ceMarker) WritePackets(pkts [][]byte, info []link.PacketInfo) (int, error) {
	for i, p := range pkts {
		if len(info) != len(pkts) || info[i] != link.ReadInfo(p) {
			m.infoMismatch++
		}
		ip, seg, err := wire.ParseIP(p)
		if err != nil || ip.V6 {
			continue
		}
		switch ip.TOS & ecnMask {
		case ecnCE:
			m.ceFromStack++
		case ecnECT0:
			m.ect++
			var h wire.TCP
			if payload, err := h.Parse(seg); err != nil || len(payload) == 0 {
				m.ectWithoutData++
			}
			if m.every > 0 && m.ect%m.every == 0 {
				p[1] |= ecnCE
				ihl := int(p[0]&0x0f) * 4
				p[10], p[11] = 0, 0
				binary.BigEndian.PutUint16(p[10:], wire.Fold(wire.Checksum(p[:ihl], 0)))
				m.marked++
				info[i].ECN = ecnCE
			}
		}
	}
	return m.Endpoint.WritePackets(pkts, info)
}

func newECNNet(t *testing.T, every int, ecnA, ecnB bool) (*simNet, *ceMarker, *ceMarker) {
	t.Helper()
	clk := clock.NewVirtual()
	lc := sim.Config{Delay: 5 * time.Millisecond, MTU: 1500}
	ea, eb := sim.New(clk, 1, lc, lc)
	ma, mb := &ceMarker{Endpoint: ea, every: every}, &ceMarker{Endpoint: eb, every: every}
	tc := tcp.Config{MSL: time.Second}
	a, err := New(ma, Config{Addrs: []netip.Addr{addrA}, Clock: clk, TCP: tc, Secret: []byte("ecn"), ECN: ecnA})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(mb, Config{Addrs: []netip.Addr{addrB}, Clock: clk, TCP: tc, Secret: []byte("ecn"), ECN: ecnB})
	if err != nil {
		t.Fatal(err)
	}
	return &simNet{t: t, clk: clk, a: a, b: b}, ma, mb
}

// Both stacks with ECN on, over a path that marks some data packets CE
// instead of dropping them: the transfer completes byte-exact, each
// sender reduces its window for the echoes it gets, and nothing is
// retransmitted, since nothing was lost.
func TestSimECNMarksInsteadOfDropping(t *testing.T) {
	n, ma, mb := newECNNet(t, 40, true, true)
	cli, srv := n.transfer(1<<20, 1, 10*time.Minute)
	cs, ss := cli.c.Status(), srv.c.Status()
	if !cs.ECN || !ss.ECN {
		t.Fatalf("ECN negotiated: client %v, server %v", cs.ECN, ss.ECN)
	}
	for _, m := range []*ceMarker{ma, mb} {
		if m.marked == 0 || m.ectWithoutData != 0 || m.ceFromStack != 0 || m.infoMismatch != 0 {
			t.Fatalf("%d ECT packets, %d marked CE, %d ECT without data, %d sent as CE, %d with PacketInfo unlike the header",
				m.ect, m.marked, m.ectWithoutData, m.ceFromStack, m.infoMismatch)
		}
	}
	for _, side := range []struct {
		name     string
		st       tcp.Stats
		markedTo int // CE marks on the data this side sent
		peer     tcp.Stats
	}{{"client", cs.Stats, ma.marked, ss.Stats}, {"server", ss.Stats, mb.marked, cs.Stats}} {
		st := side.st
		if st.Retransmits != 0 || st.TLPProbes != 0 || st.RTOExpirations != 0 {
			t.Errorf("%s: %d retransmits, %d probes, %d RTOs on a path that loses nothing", side.name, st.Retransmits, st.TLPProbes, st.RTOExpirations)
		}
		if st.ECNReductions == 0 || st.ECNReductions > uint64(side.markedTo) {
			t.Errorf("%s: %d window reductions for %d CE marks", side.name, st.ECNReductions, side.markedTo)
		}
		if side.peer.CEReceived != uint64(side.markedTo) {
			t.Errorf("%s's peer saw %d CE marks of %d", side.name, side.peer.CEReceived, side.markedTo)
		}
	}
}

// ECN off by default: a stack without it neither asks for it nor grants
// it, and nothing goes out ECN-capable.
func TestSimECNRefused(t *testing.T) {
	for _, on := range [][2]bool{{true, false}, {false, true}, {false, false}} {
		n, ma, mb := newECNNet(t, 1, on[0], on[1])
		cli, srv := n.transfer(64<<10, 1, 10*time.Minute)
		if cli.c.Status().ECN || srv.c.Status().ECN || ma.ect+mb.ect != 0 {
			t.Fatalf("ECN client %v, server %v: negotiated %v/%v, %d ECT packets", on[0], on[1],
				cli.c.Status().ECN, srv.c.Status().ECN, ma.ect+mb.ect)
		}
	}
}
