package tcp

import (
	"testing"
	"time"
)

// RFC 9293 3.10.7.4 fifth step: with the ACK bit off the segment is
// dropped, text and FIN included.
func TestSegAckBitOff(t *testing.T) {
	f := established(t, testConfig())
	f.step(0, "<SEQ=301><DATA=abc>", Established)
	f.step(0, "<SEQ=301><CTL=FIN>", Established)
	if st := f.c.Status(); st.RcvNxt != 301 || st.RecvHeld != 0 {
		t.Fatalf("%+v", st)
	}
	g := inState(t, testConfig(), SynReceived)
	g.step(0, "<SEQ=101><DATA=abc>", SynReceived)
}

// RFC 9293 3.10.7.4 fifth step, SYN-RECEIVED: SND.UNA < SEG.ACK =< SND.NXT
// enters ESTABLISHED with SND.WND=SEG.WND, SND.WL1=SEG.SEQ, SND.WL2=SEG.ACK;
// otherwise <SEQ=SEG.ACK><CTL=RST> goes out and the state stays (3.5.2
// group 2).
func TestSegAckSynReceived(t *testing.T) {
	f := inState(t, testConfig(), SynReceived) // SND.UNA=300, SND.NXT=301
	f.step(0, "<SEQ=101><ACK=300><CTL=ACK>", SynReceived, "<SEQ=300><CTL=RST>")
	f.step(0, "<SEQ=101><ACK=302><CTL=ACK>", SynReceived, "<SEQ=302><CTL=RST>")
	f.step(0, "<SEQ=101><ACK=9><CTL=ACK><DATA=x>", SynReceived, "<SEQ=9><CTL=RST>")
	f.step(0, "<SEQ=101><ACK=301><CTL=ACK><WND=1234>", Established)
	st := f.c.Status()
	if st.SndUna != 301 || st.SndWnd != 1234 {
		t.Fatalf("%+v", st)
	}
	f.noDeadline() // SYN,ACK acknowledged: its timer stops
	// SND.WL1/WL2 were set from this segment: one with the same SEG.SEQ
	// and an older (still acceptable) SEG.ACK does not move the window.
	f.step(0, "<SEQ=101><ACK=300><CTL=ACK><WND=9>", Established)
	if st := f.c.Status(); st.SndWnd != 1234 {
		t.Fatalf("SND.WND %d", st.SndWnd)
	}
}

// RFC 9293 3.10.7.4 fifth step with RFC 5961 5.2 (MAY-12): an ACK is
// acceptable only in SND.UNA-MAX.SND.WND =< SEG.ACK =< SND.NXT; others are
// discarded, text and all, and an ACK is sent back. Inside the range, an
// old ACK is a duplicate that is ignored while the text is processed.
// MAX.SND.WND here is the SYN,ACK's 4000.
func TestSegAckUnacceptable(t *testing.T) {
	f := established(t, unlimited(testConfig())) // the rule, not its rate (ratelimit_test.go) // SND.UNA=SND.NXT=101
	f.step(0, "<SEQ=301><ACK=102><CTL=ACK><DATA=abc>", Established, "<SEQ=101><ACK=301><CTL=ACK>")
	f.step(0, "<SEQ=301><ACK=5000><CTL=ACK><DATA=abc>", Established, "<SEQ=101><ACK=301><CTL=ACK>")
	f.step(0, "<SEQ=301><ACK=4294963396><CTL=ACK><DATA=abc>", Established, "<SEQ=101><ACK=301><CTL=ACK>") // 101-4001
	if st := f.c.Status(); st.RcvNxt != 301 || st.SndUna != 101 {
		t.Fatalf("unacceptable ACK took effect: %+v", st)
	}
	f.step(0, "<SEQ=301><ACK=4294963397><CTL=ACK><DATA=abc>", Established, "<SEQ=101><ACK=304><CTL=ACK>") // 101-4000
	f.step(0, "<SEQ=304><ACK=101><CTL=ACK><DATA=def>", Established, "<SEQ=101><ACK=307><CTL=ACK>")
	if got, _ := f.read(); got != "abcdef" {
		t.Fatalf("read %q", got)
	}
	// The same rule in the other synchronized states.
	for _, s := range []State{FinWait1, FinWait2, CloseWait, Closing, LastAck} {
		g := inState(t, testConfig(), s)
		st := g.c.Status()
		bad := uint32(st.SndNxt) + 1
		g.step(0, "<SEQ="+itoa(uint32(st.RcvNxt))+"><ACK="+itoa(bad)+"><CTL=ACK>", s,
			"<SEQ="+itoa(uint32(st.SndNxt))+"><ACK="+itoa(uint32(st.RcvNxt))+"><CTL=ACK>")
	}
}

// RFC 9293 3.10.7.4 fifth step, ESTABLISHED: SND.UNA < SEG.ACK =< SND.NXT
// advances SND.UNA and removes what is acknowledged; the retransmission
// timer restarts for what remains and stops when nothing is left
// (RFC 6298 5.2, 5.3).
func TestSegAckAdvancesSndUna(t *testing.T) {
	f := establishedWith(t, testConfig(), "<SEQ=300><ACK=101><CTL=SYN,ACK><MSS=1000><WND=4000>")
	f.write(bytesOf(3000))
	f.expect(Established, "<SEQ=101><LEN=1000>", "<SEQ=1101><LEN=1000>", "<SEQ=2101><LEN=1000>")
	if d := f.deadline(); d != time.Second {
		t.Fatalf("RTO at %v", d)
	}
	f.step(300*time.Millisecond, "<SEQ=301><ACK=1101><CTL=ACK>", Established)
	st := f.c.Status()
	if st.SndUna != 1101 || st.Unacked != 2000 || st.SendQueued != 2000 || st.Stats.BytesAcked != 1000 {
		t.Fatalf("%+v", st)
	}
	if d := f.deadline(); d != 300*time.Millisecond+st.RTO {
		t.Fatalf("RTO at %v, want restarted at 300ms + %v", d, st.RTO)
	}
	f.step(400*time.Millisecond, "<SEQ=301><ACK=3101><CTL=ACK>", Established)
	if st := f.c.Status(); st.SndUna != 3101 || st.SendQueued != 0 {
		t.Fatalf("%+v", st)
	}
	f.noDeadline()
}

// RFC 9293 3.10.7.4 fifth step: the send window is updated only from a
// segment newer than the last one used, SND.WL1 < SEG.SEQ, or as new with
// an ACK at least as far, SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK.
func TestSegAckWindowUpdateRules(t *testing.T) {
	f := establishedWith(t, testConfig(), "<SEQ=300><ACK=101><CTL=SYN,ACK><MSS=1000><WND=4000>")
	wnd := func(want uint32) {
		t.Helper()
		if got := f.c.Status().SndWnd; got != want {
			t.Fatalf("SND.WND %d, want %d", got, want)
		}
	}
	// Two segments from the peer arrive out of order: the later one's
	// window counts, the earlier one's (SEG.SEQ < SND.WL1) does not.
	f.step(0, "<SEQ=401><ACK=101><CTL=ACK><LEN=100><WND=3000>", Established, "<SEQ=101><ACK=301><CTL=ACK>")
	wnd(3000)
	f.step(0, "<SEQ=301><ACK=101><CTL=ACK><LEN=100><WND=1000>", Established, "<SEQ=101><ACK=501><CTL=ACK>")
	wnd(3000)
	// Same SEG.SEQ: a newer ACK updates, an older one does not.
	f.write(bytesOf(1000))
	f.expect(Established, "<SEQ=101><LEN=1000>")
	f.step(0, "<SEQ=501><ACK=1101><CTL=ACK><WND=2000>", Established)
	wnd(2000)
	f.step(0, "<SEQ=501><ACK=601><CTL=ACK><WND=100>", Established)
	wnd(2000)
	// Same SEG.SEQ and SEG.ACK: a pure window update.
	f.step(0, "<SEQ=501><ACK=1101><CTL=ACK><WND=2500>", Established)
	wnd(2500)
}

// RFC 5681 3.2 (MUST-19) fast retransmit: the third duplicate ACK (no
// data, same window, data outstanding) resends the first unacknowledged
// segment at once, without waiting for the RTO; NewReno recovery ends at
// the ACK of everything sent (RFC 6582).
func TestSegAckFastRetransmit(t *testing.T) {
	f := establishedWith(t, testConfig(), "<SEQ=300><ACK=101><CTL=SYN,ACK><MSS=1000><WND=8000>")
	f.write(bytesOf(4000))
	f.expect(Established, "<SEQ=101><LEN=1000>", "<SEQ=1101><LEN=1000>", "<SEQ=2101><LEN=1000>", "<SEQ=3101><LEN=1000>")
	f.step(10*time.Millisecond, "<SEQ=301><ACK=1101><CTL=ACK><WND=8000>", Established)
	// Not duplicates: they carry data, or change the window.
	f.step(11*time.Millisecond, "<SEQ=301><ACK=1101><CTL=ACK><WND=8000><DATA=a>", Established, "<ACK=302><CTL=ACK>")
	f.step(11*time.Millisecond, "<SEQ=302><ACK=1101><CTL=ACK><WND=7000>", Established)
	f.step(11*time.Millisecond, "<SEQ=302><ACK=1101><CTL=ACK><WND=8000>", Established)
	if n := f.c.Status().Stats.DupAcksIn; n != 0 {
		t.Fatalf("%d duplicate ACKs counted", n)
	}
	f.step(12*time.Millisecond, "<SEQ=302><ACK=1101><CTL=ACK><WND=8000>", Established)
	f.step(13*time.Millisecond, "<SEQ=302><ACK=1101><CTL=ACK><WND=8000>", Established)
	seg := f.step(14*time.Millisecond, "<SEQ=302><ACK=1101><CTL=ACK><WND=8000>", Established, "<SEQ=1101><ACK=302><CTL=ACK><LEN=1000>")
	if string(seg[0].data) != string(bytesOf(2000)[1000:]) {
		t.Fatal("the retransmission carries other bytes")
	}
	st := f.c.Status()
	if st.Stats.FastRetransmits != 1 || st.Stats.RTOExpirations != 0 || st.Stats.DupAcksIn != 3 {
		t.Fatalf("%+v", st.Stats)
	}
	f.step(15*time.Millisecond, "<SEQ=302><ACK=1101><CTL=ACK><WND=8000>", Established) // a fourth: no second retransmission
	f.step(30*time.Millisecond, "<SEQ=302><ACK=4101><CTL=ACK><WND=8000>", Established)
	f.noDeadline()
	if st := f.c.Status(); st.Stats.FastRetransmits != 1 || st.Cwnd > st.Ssthresh {
		t.Fatalf("after recovery: cwnd %d ssthresh %d %+v", st.Cwnd, st.Ssthresh, st.Stats)
	}
}

// RFC 9293 3.10.7.4 fifth step, FIN-WAIT-1: when the ACK covers our FIN,
// FIN-WAIT-2; an ACK of the data before it does not.
func TestSegAckFinWait1(t *testing.T) {
	f := established(t, testConfig())
	f.write([]byte("data"))
	f.expect(Established, "<SEQ=101><DATA=data>")
	f.close()
	f.expect(FinWait1, "<SEQ=105><ACK=301><CTL=FIN,ACK>")
	f.step(0, "<SEQ=301><ACK=105><CTL=ACK>", FinWait1)
	f.step(0, "<SEQ=301><ACK=106><CTL=ACK>", FinWait2)
	f.noDeadline() // FIN-WAIT-2 waits for the peer with no timer of ours
}

// RFC 9293 3.10.7.4 fifth step, CLOSING: the ACK of our FIN enters
// TIME-WAIT; any other segment is ignored.
func TestSegAckClosing(t *testing.T) {
	f := inState(t, testConfig(), Closing)
	f.step(0, "<SEQ=302><ACK=101><CTL=ACK>", Closing)
	f.step(0, "<SEQ=302><ACK=102><CTL=ACK>", TimeWait)
	if d := f.deadline(); d != 2*testConfig().MSL {
		t.Fatalf("2MSL timer at %v", d)
	}
}

// RFC 9293 3.10.7.4 fifth step, LAST-ACK: once our FIN is acknowledged,
// delete the TCB and enter CLOSED.
func TestSegAckLastAck(t *testing.T) {
	f := inState(t, testConfig(), LastAck)
	f.step(0, "<SEQ=302><ACK=101><CTL=ACK>", LastAck)
	f.step(0, "<SEQ=302><ACK=102><CTL=ACK>", Closed)
	f.noDeadline()
	if f.c.Err() != nil || f.lastCause() != "rcv ACK" {
		t.Fatalf("Err %v cause %q", f.c.Err(), f.lastCause())
	}
}
