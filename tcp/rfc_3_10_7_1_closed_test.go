package tcp

import (
	"testing"

	"github.com/synack-tcp/synack/wire"
)

// RFC 9293 3.10.7.1 CLOSED state (and 3.5.2 group 1): all data is
// discarded; a RST is discarded; anything else draws a reset made
// acceptable to the sender:
//
//	ACK off: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
//	ACK on:  <SEQ=SEG.ACK><CTL=RST>
//
// and the connection stays CLOSED.
func TestSegClosedResets(t *testing.T) {
	cases := []struct{ in, out string }{
		{"<SEQ=100><CTL=SYN>", "<SEQ=0><ACK=101><CTL=RST,ACK>"},
		{"<SEQ=100><CTL=SYN><DATA=hello>", "<SEQ=0><ACK=106><CTL=RST,ACK>"}, // SEG.LEN counts SYN and text
		{"<SEQ=100><CTL=FIN><DATA=ab>", "<SEQ=0><ACK=103><CTL=RST,ACK>"},
		{"<SEQ=100><CTL=SYN,FIN>", "<SEQ=0><ACK=102><CTL=RST,ACK>"},
		{"<SEQ=4294967295><CTL=SYN>", "<SEQ=0><ACK=0><CTL=RST,ACK>"}, // modulo 2^32
		{"<SEQ=100><DATA=x>", "<SEQ=0><ACK=101><CTL=RST,ACK>"},
		{"<SEQ=300><ACK=100><CTL=ACK>", "<SEQ=100><CTL=RST>"},
		{"<SEQ=300><ACK=100><CTL=ACK><DATA=0123456789>", "<SEQ=100><CTL=RST>"}, // Figure 10 line 3
		{"<SEQ=300><ACK=91><CTL=SYN,ACK>", "<SEQ=91><CTL=RST>"},
		{"<SEQ=300><ACK=77><CTL=FIN,ACK>", "<SEQ=77><CTL=RST>"},
	}
	for _, tc := range cases {
		f := newFixture(t, testConfig())
		f.step(0, tc.in, Closed, tc.out)
		if len(f.trans) != 0 || f.c.Buffered() != 0 {
			t.Fatalf("%s: transitions %v, %d bytes kept", tc.in, f.trans, f.c.Buffered())
		}
	}
}

// RFC 9293 3.10.7.1: "An incoming segment containing a RST is discarded."
func TestSegClosedIgnoresReset(t *testing.T) {
	for _, in := range []string{"<SEQ=5><CTL=RST>", "<SEQ=5><ACK=9><CTL=RST,ACK>", "<SEQ=5><CTL=SYN,RST>"} {
		f := newFixture(t, testConfig())
		f.step(0, in, Closed)
	}
}

// The reset answers the segment's ports swapped, for the stack's
// connectionless path (ResetFor).
func TestSegClosedResetForPorts(t *testing.T) {
	h := wire.TCP{SrcPort: 1234, DstPort: 80, Seq: 7, Flags: wire.SYN}
	rst, ok := ResetFor(&h, 0)
	if !ok || rst.SrcPort != 80 || rst.DstPort != 1234 || rst.Seq != 0 || rst.Ack != 8 || rst.Flags != wire.RST|wire.ACK {
		t.Fatalf("ResetFor(SYN) = %+v, %v", rst, ok)
	}
	h.Flags = wire.RST
	if _, ok := ResetFor(&h, 0); ok {
		t.Fatal("ResetFor(RST) wants a reset")
	}
}

// A TCB that reached CLOSED by the TIME-WAIT timeout answers late segments
// as CLOSED does.
func TestSegClosedAfterTimeWait(t *testing.T) {
	f := inState(t, testConfig(), TimeWait)
	f.step(2*testConfig().MSL, "", Closed)
	f.step(f.now, "<SEQ=302><ACK=102><CTL=ACK><DATA=late>", Closed, "<SEQ=102><CTL=RST>")
}
