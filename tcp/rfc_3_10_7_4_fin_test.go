package tcp

import (
	"errors"
	"testing"
	"time"
)

// RFC 9293 3.10.7.4 eighth step, ESTABLISHED: the FIN advances RCV.NXT,
// is acknowledged at once (even with delayed ACKs), the user is told
// "connection closing" (EOF after the data: FIN implies PUSH), and the
// state is CLOSE-WAIT.
func TestSegFinEstablished(t *testing.T) {
	f := established(t, delackConfig())
	f.step(0, "<SEQ=301><ACK=101><CTL=FIN,ACK><DATA=last>", CloseWait, "<SEQ=101><ACK=306><CTL=ACK>")
	if f.lastCause() != "rcv FIN,ACK" {
		t.Fatalf("cause %q", f.lastCause())
	}
	if got, err := f.read(); got != "last" || !errors.Is(err, ErrEOF) {
		t.Fatalf("read %q, %v", got, err)
	}
}

// RFC 9293 3.10.7.4 eighth step, SYN-RECEIVED: the ACK makes it
// ESTABLISHED (fifth step) and the FIN then CLOSE-WAIT.
func TestSegFinSynReceived(t *testing.T) {
	f := inState(t, testConfig(), SynReceived)
	f.step(0, "<SEQ=101><ACK=301><CTL=FIN,ACK>", CloseWait, "<SEQ=301><ACK=102><CTL=ACK>")
	if w := f.walk(); !equalStates(w[len(w)-3:], []State{SynReceived, Established, CloseWait}) {
		t.Fatalf("walk %v", w)
	}
}

// RFC 9293 3.10.7.4 eighth step, FIN-WAIT-1, our FIN not yet acknowledged:
// CLOSING (simultaneous close, Figure 13).
func TestSegFinFinWait1Closing(t *testing.T) {
	f := inState(t, testConfig(), FinWait1)
	f.step(0, "<SEQ=301><ACK=101><CTL=FIN,ACK>", Closing, "<SEQ=102><ACK=302><CTL=ACK>")
	if d := f.deadline(); d != time.Second {
		t.Fatalf("our FIN's retransmission timer at %v, want 1s", d)
	}
	f.step(time.Second, "", Closing, "<SEQ=101><ACK=302><CTL=FIN,ACK>")
}

// RFC 9293 3.10.7.4 eighth step, FIN-WAIT-1: "If our FIN has been ACKed
// (perhaps in this segment), then enter TIME-WAIT, start the time-wait
// timer, turn off the other timers": the peer's FIN and the ACK of ours in
// one segment go straight to TIME-WAIT.
func TestSegFinFinWait1ToTimeWaitDirectly(t *testing.T) {
	f := established(t, testConfig())
	f.close()
	f.expect(FinWait1, "<SEQ=101><ACK=301><CTL=FIN,ACK>")
	f.trans = nil
	f.step(250*time.Millisecond, "<SEQ=301><ACK=102><CTL=FIN,ACK><DATA=bye>", TimeWait, "<SEQ=102><ACK=305><CTL=ACK>")
	if len(f.trans) != 1 || f.trans[0] != (transition{FinWait1, TimeWait, "rcv FIN,ACK"}) {
		t.Fatalf("transitions %v, want FIN-WAIT-1 -> TIME-WAIT", f.trans)
	}
	// Only the 2MSL timer runs.
	if d := f.deadline(); d != 250*time.Millisecond+2*testConfig().MSL {
		t.Fatalf("deadline %v", d)
	}
	if got, err := f.read(); got != "bye" || !errors.Is(err, ErrEOF) {
		t.Fatalf("read %q, %v", got, err)
	}
}

// RFC 9293 3.10.7.4 eighth step, FIN-WAIT-2: TIME-WAIT, timer started.
func TestSegFinFinWait2(t *testing.T) {
	f := inState(t, testConfig(), FinWait2)
	f.step(time.Second, "<SEQ=301><ACK=102><CTL=FIN,ACK>", TimeWait, "<SEQ=102><ACK=302><CTL=ACK>")
	if d := f.deadline(); d != time.Second+2*testConfig().MSL {
		t.Fatalf("deadline %v", d)
	}
}

// RFC 9293 3.10.7.4 first and eighth steps: a FIN beyond a hole is held
// and taken only when the text before it is complete.
func TestSegFinOutOfOrder(t *testing.T) {
	f := established(t, delackConfig())
	f.step(0, "<SEQ=304><ACK=101><CTL=FIN,ACK><DATA=def>", Established, "<SEQ=101><ACK=301><CTL=ACK>")
	if f.c.Readable() {
		t.Fatal("readable across a hole")
	}
	f.step(0, "<SEQ=301><ACK=101><CTL=ACK><DATA=abc>", CloseWait, "<SEQ=101><ACK=308><CTL=ACK>")
	if got, err := f.read(); got != "abcdef" || !errors.Is(err, ErrEOF) {
		t.Fatalf("read %q, %v", got, err)
	}
}

// A bare FIN out of order (no text) is held the same way.
func TestSegFinOutOfOrderBare(t *testing.T) {
	f := established(t, testConfig())
	f.step(0, "<SEQ=304><ACK=101><CTL=FIN,ACK>", Established, "<SEQ=101><ACK=301><CTL=ACK>")
	f.step(0, "<SEQ=301><ACK=101><CTL=ACK><DATA=abc>", CloseWait, "<SEQ=101><ACK=305><CTL=ACK>")
}

// RFC 9293 3.10.7.4 eighth step, CLOSE-WAIT, CLOSING, LAST-ACK: remain;
// TIME-WAIT: remain and restart the 2MSL timeout (MUST-13).
func TestSegFinRepeatedInLaterStates(t *testing.T) {
	for _, s := range []State{CloseWait, Closing, LastAck} {
		f := inState(t, testConfig(), s)
		nxt := f.c.Status().SndNxt
		f.step(f.now, "<SEQ=301><ACK=101><CTL=FIN,ACK>", s, "<SEQ="+itoa(uint32(nxt))+"><ACK=302><CTL=ACK>")
	}
	f := inState(t, testConfig(), TimeWait)
	f.step(3*time.Second, "<SEQ=301><ACK=102><CTL=FIN,ACK>", TimeWait, "<SEQ=102><ACK=302><CTL=ACK>")
	if d := f.deadline(); d != 3*time.Second+2*testConfig().MSL {
		t.Fatalf("2MSL not restarted: %v", d)
	}
}

// RFC 9293 3.10.7.4 step eight: the FIN ends the peer's sequence space.
// Out-of-order text a broken or hostile peer placed beyond it is dropped
// when the FIN is taken: it would otherwise sit at RCV.NXT, be SACKed and
// never be read (FuzzConnPair input 081ead911bb8a370, where it broke the
// out-of-order invariant in TIME-WAIT).
func TestSegFinDropsTextBeyondIt(t *testing.T) {
	f := established(t, testConfig())
	f.step(0, "<SEQ=306><ACK=101><CTL=ACK><DATA=after>", Established, "<SEQ=101><ACK=301><CTL=ACK>")
	f.step(0, "<SEQ=301><ACK=101><CTL=FIN,ACK><DATA=last>", CloseWait, "<SEQ=101><ACK=306><CTL=ACK>")
	if st := f.c.Status(); st.RecvHeld != 4 {
		t.Fatalf("holding %d bytes, want the 4 before the FIN", st.RecvHeld)
	}
	if got, err := f.read(); got != "last" || err != ErrEOF {
		t.Fatalf("read %q, %v; want the 4 bytes, then EOF", got, err)
	}
}

// RFC 9293 3.10.7.4 step eight: text sent at or past the sequence number of
// a FIN we hold out of order lies beyond the end of the peer's sequence
// space. It is trimmed there, so that when the hole before the FIN fills,
// RCV.NXT stops at the FIN and the FIN is taken; before, the text was
// queued as in order, RCV.NXT ran past the FIN and the connection never
// left ESTABLISHED.
func TestSegFinHeldTrimsTextAtItsSequence(t *testing.T) {
	f := established(t, testConfig())
	f.step(0, "<SEQ=304><ACK=101><CTL=FIN,ACK>", Established, "<SEQ=101><ACK=301><CTL=ACK>")
	f.step(0, "<SEQ=304><ACK=101><CTL=ACK><DATA=zz>", Established, "<SEQ=101><ACK=301><CTL=ACK>")
	f.step(0, "<SEQ=301><ACK=101><CTL=ACK><DATA=abcdef>", CloseWait, "<SEQ=101><ACK=305><CTL=ACK>")
	if got, err := f.read(); got != "abc" || err != ErrEOF {
		t.Fatalf("read %q, %v; want the 3 bytes before the FIN, then EOF", got, err)
	}
	// A second FIN further on does not move the one held.
	f = established(t, testConfig())
	f.step(0, "<SEQ=303><ACK=101><CTL=FIN,ACK>", Established, "<SEQ=101><ACK=301><CTL=ACK>")
	f.step(0, "<SEQ=303><ACK=101><CTL=FIN,ACK><DATA=yy>", Established, "<SEQ=101><ACK=301><CTL=ACK>")
	f.step(0, "<SEQ=301><ACK=101><CTL=ACK><DATA=ab>", CloseWait, "<SEQ=101><ACK=304><CTL=ACK>")
	if got, err := f.read(); got != "ab" || err != ErrEOF {
		t.Fatalf("read %q, %v; want 2 bytes, then EOF", got, err)
	}
}
