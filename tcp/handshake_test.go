package tcp

import "testing"

// RFC 9293 Figure 6: basic three-way handshake, from both ends.
func TestFigure6BasicHandshake(t *testing.T) {
	a := established(t, testConfig())
	if a.lastCause() != "rcv SYN,ACK" {
		t.Fatalf("cause %q", a.lastCause())
	}
	b := passiveEstablished(t, testConfig())
	want := []transition{{Closed, Listen, CauseOpenPassive}, {Listen, SynReceived, "rcv SYN"}, {SynReceived, Established, "rcv ACK"}}
	if len(b.trans) != 3 {
		t.Fatalf("transitions %v", b.trans)
	}
	for i := range want {
		if b.trans[i] != want[i] {
			t.Fatalf("transition %d = %v, want %v", i, b.trans[i], want[i])
		}
	}
}

// RFC 9293 Figure 7: simultaneous open (MUST-10).
func TestFigure7SimultaneousOpen(t *testing.T) {
	f := newFixture(t, testConfig())
	f.c.OpenActive(0, 100)
	f.expect(SynSent, "<SEQ=100><CTL=SYN>")
	f.step(0, "<SEQ=300><CTL=SYN>", SynReceived, "<SEQ=100><ACK=301><CTL=SYN,ACK>")
	// Line 6: the peer's SYN,ACK acknowledges our SYN; nothing more is owed.
	f.step(0, "<SEQ=300><ACK=101><CTL=SYN,ACK>", Established)
	if !f.c.passive && f.trans[1].from != SynSent || f.trans[1].to != SynReceived {
		t.Fatalf("transitions %v", f.trans)
	}
	// A retransmitted SYN,ACK after that draws an ACK (RFC 5961 4.2).
	f.step(0, "<SEQ=300><ACK=101><CTL=SYN,ACK>", Established, "<SEQ=101><ACK=301><CTL=ACK>")
}

// A SYN repeated in SYN-RECEIVED means our SYN,ACK was lost: send it again.
func TestSynReceivedRepeatedSyn(t *testing.T) {
	f := newFixture(t, testConfig())
	f.c.OpenPassive(300)
	f.step(0, "<SEQ=100><CTL=SYN>", SynReceived, "<SEQ=300><ACK=101><CTL=SYN,ACK>")
	f.step(0, "<SEQ=100><CTL=SYN>", SynReceived, "<SEQ=300><ACK=101><CTL=SYN,ACK>")
}

// RFC 9293 Figure 10 (normal close) and Figure 11 (simultaneous close).
func TestFigure10NormalClose(t *testing.T) {
	f := established(t, testConfig())
	f.c.Close(f.now)
	f.expect(FinWait1, "<SEQ=101><ACK=301><CTL=FIN,ACK>")
	f.step(0, "<SEQ=301><ACK=102><CTL=ACK>", FinWait2)
	f.step(0, "<SEQ=301><ACK=102><CTL=FIN,ACK>", TimeWait, "<SEQ=102><ACK=302><CTL=ACK>")
	f.step(2*testConfig().MSL-1, "", TimeWait)
	f.step(2*testConfig().MSL, "", Closed)
	if f.lastCause() != CauseTimeWait {
		t.Fatalf("cause %q", f.lastCause())
	}
}

func TestFigure11SimultaneousClose(t *testing.T) {
	f := established(t, testConfig())
	f.c.Close(f.now)
	f.expect(FinWait1, "<SEQ=101><ACK=301><CTL=FIN,ACK>")
	f.step(0, "<SEQ=301><ACK=101><CTL=FIN,ACK>", Closing, "<SEQ=102><ACK=302><CTL=ACK>")
	f.step(0, "<SEQ=302><ACK=102><CTL=ACK>", TimeWait)
}
