package tcp

import (
	"errors"
	"testing"
	"time"

	"github.com/synack-tcp/synack/seq"
)

// The figures of RFC 9293 3.5 and 3.6 not covered by handshake_test.go,
// numbered as in RFC 9293 (RFC 793 numbered them two higher). Each peer is
// a single TCB driven by the lines of the figure that it sees.

// establishedSeq returns a fixture in ESTABLISHED with SND.NXT=snd and
// RCV.NXT=rcv, as the figures' "(send 300, receive 100)".
func establishedSeq(t *testing.T, cfg Config, snd, rcv uint32) *fixture {
	t.Helper()
	f := newFixture(t, cfg)
	if err := f.c.OpenActive(0, seq.Value(snd-1)); err != nil {
		t.Fatal(err)
	}
	f.expect(SynSent, "<SEQ="+itoa(snd-1)+"><CTL=SYN>")
	f.step(0, "<SEQ="+itoa(rcv-1)+"><ACK="+itoa(snd)+"><CTL=SYN,ACK>", Established,
		"<SEQ="+itoa(snd)+"><ACK="+itoa(rcv)+"><CTL=ACK>")
	f.trans = nil
	return f
}

// RFC 9293 Figure 8: Recovery from Old Duplicate SYN.
func TestFigure8RecoveryFromOldDuplicateSYN(t *testing.T) {
	// TCP Peer A.
	a := newFixture(t, testConfig())
	a.c.OpenActive(0, 100)
	a.expect(SynSent, "<SEQ=100><CTL=SYN>") // line 2
	// Line 4-5: B's SYN,ACK answers the old SYN; its ACK is unacceptable.
	a.step(0, "<SEQ=300><ACK=91><CTL=SYN,ACK>", SynSent, "<SEQ=91><CTL=RST>")
	a.step(0, "<SEQ=400><ACK=101><CTL=SYN,ACK>", Established, "<SEQ=101><ACK=401><CTL=ACK>") // lines 7-8
	if w := a.walk(); !equalStates(w, []State{Closed, SynSent, Established}) {
		t.Fatalf("A walked %v", w)
	}

	// TCP Peer B. (The figure's B picks ISS 400 for the second attempt;
	// a TCB returned to LISTEN reuses the ISS of its passive OPEN, and the
	// stack gives each new connection its own.)
	b := inState(t, testConfig(), Listen)
	b.step(0, "<SEQ=90><CTL=SYN>", SynReceived, "<SEQ=300><ACK=91><CTL=SYN,ACK>") // lines 3-4
	b.step(0, "<SEQ=91><CTL=RST>", Listen)                                        // line 5
	b.step(0, "<SEQ=100><CTL=SYN>", SynReceived, "<SEQ=300><ACK=101><CTL=SYN,ACK>")
	b.step(0, "<SEQ=101><ACK=301><CTL=ACK>", Established) // line 8
	if w := b.walk(); !equalStates(w, []State{Closed, Listen, SynReceived, Listen, SynReceived, Established}) {
		t.Fatalf("B walked %v", w)
	}
	if b.c.Err() != nil {
		t.Fatalf("B's user was told %v (the return to LISTEN is silent)", b.c.Err())
	}
}

// RFC 9293 Figure 9: Half-Open Connection Discovery. A rebooted and opens
// again; B still has the old connection (send 300, receive 100).
func TestFigure9HalfOpenConnectionDiscovery(t *testing.T) {
	a := newFixture(t, testConfig())
	a.c.OpenActive(0, 400)
	a.expect(SynSent, "<SEQ=400><CTL=SYN>")                                 // line 3
	a.step(0, "<SEQ=300><ACK=100><CTL=ACK>", SynSent, "<SEQ=100><CTL=RST>") // lines 4-5
	a.step(time.Second, "", SynSent, "<SEQ=400><CTL=SYN>")                  // line 7: A keeps trying

	// B: the SYN, in its window or not, draws the ACK of line 4; the RST
	// of line 5 is exactly at RCV.NXT and aborts.
	for _, syn := range []string{"<SEQ=400><CTL=SYN>", "<SEQ=90000><CTL=SYN>"} {
		b := establishedSeq(t, testConfig(), 300, 100)
		b.step(0, syn, Established, "<SEQ=300><ACK=100><CTL=ACK>")
		b.step(0, "<SEQ=100><CTL=RST>", Closed) // line 6
		if !errors.Is(b.c.Err(), ErrReset) {
			t.Fatalf("B: Err %v", b.c.Err())
		}
	}
}

// RFC 9293 Figure 10: Active Side Causes Half-Open Connection Discovery.
func TestFigure10ActiveSideCausesHalfOpenDiscovery(t *testing.T) {
	// A has no connection: its TCB is CLOSED.
	a := newFixture(t, testConfig())
	a.step(0, "<SEQ=300><ACK=100><CTL=ACK><DATA=0123456789>", Closed, "<SEQ=100><CTL=RST>") // lines 2-3

	b := establishedSeq(t, testConfig(), 300, 100)
	b.write([]byte("0123456789"))
	b.expect(Established, "<SEQ=300><ACK=100><CTL=ACK><DATA=0123456789>") // line 2
	b.step(0, "<SEQ=100><CTL=RST>", Closed)                               // line 3: ABORT
	if !errors.Is(b.c.Err(), ErrReset) {
		t.Fatalf("B: Err %v", b.c.Err())
	}
	b.noDeadline() // the unacknowledged data is flushed, not retransmitted
}

// RFC 9293 Figure 11: Old Duplicate SYN Initiates a Reset on Two Passive
// Sockets (Z=1000, X=5000).
func TestFigure11OldDuplicateSYNResetsTwoPassiveSockets(t *testing.T) {
	a := newFixture(t, testConfig())
	a.c.OpenPassive(7000)
	a.expect(Listen)
	a.step(0, "<SEQ=5000><ACK=1001><CTL=SYN,ACK>", Listen, "<SEQ=1001><CTL=RST>") // lines 3-4, 5

	b := newFixture(t, testConfig())
	b.c.OpenPassive(5000)
	b.expect(Listen)
	b.step(0, "<SEQ=1000><CTL=SYN>", SynReceived, "<SEQ=5000><ACK=1001><CTL=SYN,ACK>") // lines 2-3
	b.step(0, "<SEQ=1001><CTL=RST>", Listen)                                           // line 4
	b.noDeadline()
	if b.c.Err() != nil {
		t.Fatalf("B: Err %v", b.c.Err())
	}
}

// RFC 9293 Figure 12: Normal Close Sequence, both peers with the figure's
// numbers. (TestFigure10NormalClose covers A with other numbers.)
func TestFigure12NormalCloseSequence(t *testing.T) {
	a := establishedSeq(t, testConfig(), 100, 300)
	a.close()
	a.expect(FinWait1, "<SEQ=100><ACK=300><CTL=FIN,ACK>")                                 // line 2
	a.step(0, "<SEQ=300><ACK=101><CTL=ACK>", FinWait2)                                    // line 3
	a.step(0, "<SEQ=300><ACK=101><CTL=FIN,ACK>", TimeWait, "<SEQ=101><ACK=301><CTL=ACK>") // lines 4-5
	a.step(2*testConfig().MSL, "", Closed)                                                // line 6
	if w := a.walk(); !equalStates(w, []State{Established, FinWait1, FinWait2, TimeWait, Closed}) {
		t.Fatalf("A walked %v", w)
	}

	b := establishedSeq(t, testConfig(), 300, 100)
	b.step(0, "<SEQ=100><ACK=300><CTL=FIN,ACK>", CloseWait, "<SEQ=300><ACK=101><CTL=ACK>") // lines 2-3
	b.close()
	b.expect(LastAck, "<SEQ=300><ACK=101><CTL=FIN,ACK>") // line 4
	b.step(0, "<SEQ=101><ACK=301><CTL=ACK>", Closed)     // line 5
	if w := b.walk(); !equalStates(w, []State{Established, CloseWait, LastAck, Closed}) {
		t.Fatalf("B walked %v", w)
	}
	if a.c.Err() != nil || b.c.Err() != nil {
		t.Fatalf("errors %v %v after a normal close", a.c.Err(), b.c.Err())
	}
}

// RFC 9293 Figure 13: Simultaneous Close Sequence, with the figure's
// numbers; the peers are symmetric, so one TCB shows both.
func TestFigure13SimultaneousCloseSequence(t *testing.T) {
	a := establishedSeq(t, testConfig(), 100, 300)
	a.close()
	a.expect(FinWait1, "<SEQ=100><ACK=300><CTL=FIN,ACK>")                                // line 2
	a.step(0, "<SEQ=300><ACK=100><CTL=FIN,ACK>", Closing, "<SEQ=101><ACK=301><CTL=ACK>") // line 3
	a.step(0, "<SEQ=301><ACK=101><CTL=ACK>", TimeWait)                                   // line 4
	a.step(2*testConfig().MSL-1, "", TimeWait)
	a.step(2*testConfig().MSL, "", Closed)
	if w := a.walk(); !equalStates(w, []State{Established, FinWait1, Closing, TimeWait, Closed}) {
		t.Fatalf("walked %v", w)
	}
}
