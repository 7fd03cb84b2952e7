package tcp

import (
	"errors"
	"testing"
	"time"
)

// RFC 9293 3.10.7.3 SYN-SENT, first: an ACK with SEG.ACK =< ISS or
// SEG.ACK > SND.NXT draws <SEQ=SEG.ACK><CTL=RST> (3.5.2 group 2) and is
// discarded; with RST set it is dropped silently. The connection stays in
// SYN-SENT and its SYN keeps being retransmitted.
func TestSegSynSentUnacceptableAck(t *testing.T) {
	for _, tc := range []struct{ in, out string }{
		{"<SEQ=300><ACK=100><CTL=ACK>", "<SEQ=100><CTL=RST>"}, // = ISS
		{"<SEQ=300><ACK=50><CTL=SYN,ACK>", "<SEQ=50><CTL=RST>"},
		{"<SEQ=300><ACK=102><CTL=SYN,ACK>", "<SEQ=102><CTL=RST>"}, // > SND.NXT
		{"<SEQ=300><ACK=102><CTL=RST,ACK>", ""},
		{"<SEQ=300><ACK=100><CTL=RST,ACK>", ""},
	} {
		f := inState(t, testConfig(), SynSent)
		if tc.out == "" {
			f.step(0, tc.in, SynSent)
		} else {
			f.step(0, tc.in, SynSent, tc.out)
		}
		if st := f.c.Status(); st.SndUna != 100 || st.RcvNxt != 0 {
			t.Fatalf("%s changed the TCB: %+v", tc.in, st)
		}
		f.step(time.Second, "", SynSent, "<SEQ=100><CTL=SYN>")
	}
}

// RFC 9293 3.10.7.3 SYN-SENT, second: a RST without an ACK is dropped; one
// whose ACK acknowledges our SYN ends the attempt (synack reports it as
// refused, which is what the user of a socket expects).
func TestSegSynSentReset(t *testing.T) {
	f := inState(t, testConfig(), SynSent)
	f.step(0, "<SEQ=0><CTL=RST>", SynSent)
	f.step(0, "<SEQ=0><ACK=101><CTL=RST,ACK>", Closed)
	if !errors.Is(f.c.Err(), ErrRefused) {
		t.Fatalf("Err = %v, want ErrRefused", f.c.Err())
	}
	f.noDeadline()
	if _, err := f.c.Send(f.now, []byte("x")); !errors.Is(err, ErrRefused) {
		t.Fatalf("Send after refusal = %v", err)
	}
}

// RFC 9293 3.10.7.3 SYN-SENT, fourth, our SYN acknowledged: RCV.NXT=SEG.SEQ+1,
// IRS=SEG.SEQ, SND.UNA=SEG.ACK, ESTABLISHED, <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>.
// The ACK offers the whole receive buffer, and the SYN's timer stops.
func TestSegSynSentSynAck(t *testing.T) {
	f := inState(t, testConfig(), SynSent)
	f.step(100*time.Millisecond, "<SEQ=300><ACK=101><CTL=SYN,ACK><WND=3000>", Established, "<SEQ=101><ACK=301><CTL=ACK><WND=8000>")
	st := f.c.Status()
	if st.SndUna != 101 || st.SndNxt != 101 || st.RcvNxt != 301 || st.SndWnd != 3000 {
		t.Fatalf("after SYN,ACK: %+v", st)
	}
	if st.SRTT != 100*time.Millisecond {
		t.Fatalf("SRTT %v, want the SYN's 100ms (RFC 6298 2.2)", st.SRTT)
	}
	f.noDeadline()
	if f.lastCause() != "rcv SYN,ACK" {
		t.Fatalf("cause %q", f.lastCause())
	}
}

// As above with an IRS far from ISS in sequence space: the advertised
// window must still be the receive buffer, not an artifact of the IRS.
func TestSegSynSentSynAckWindowAnyIRS(t *testing.T) {
	for _, irs := range []uint32{0, 0x7fff0000, 0x90000000, 0xffffff00} {
		f := inState(t, testConfig(), SynSent)
		f.step(0, "<SEQ="+itoa(irs)+"><ACK=101><CTL=SYN,ACK>", Established,
			"<SEQ=101><ACK="+itoa(irs+1)+"><CTL=ACK><WND=8000>")
		// Data across the whole advertised window is acceptable, and no more.
		f.step(0, "<SEQ="+itoa(irs+1+7999)+"><ACK=101><CTL=ACK><DATA=z>", Established, "<ACK="+itoa(irs+1)+"><CTL=ACK>")
		f.step(0, "<SEQ="+itoa(irs+1+8000)+"><ACK=101><CTL=ACK><DATA=z>", Established, "<ACK="+itoa(irs+1)+"><CTL=ACK>")
		if st := f.c.Status(); st.Stats.BytesReceived != 1 {
			t.Fatalf("IRS %#x: %d bytes taken, want 1", irs, st.Stats.BytesReceived)
		}
	}
}

// RFC 9293 3.10.7.3 SYN-SENT, fourth, SYN without ACK: simultaneous open
// (MUST-10): SYN-RECEIVED and <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>.
func TestSegSynSentSimultaneousSyn(t *testing.T) {
	f := inState(t, testConfig(), SynSent)
	f.step(0, "<SEQ=300><CTL=SYN><WND=2000>", SynReceived, "<SEQ=100><ACK=301><CTL=SYN,ACK><MSS=1000>")
	if st := f.c.Status(); st.RcvNxt != 301 || st.SndWnd != 2000 {
		t.Fatalf("%+v", st)
	}
	f.step(0, "<SEQ=301><ACK=101><CTL=ACK>", Established)
}

// RFC 9293 3.10.7.3 SYN-SENT, fifth: neither SYN nor RST: drop.
func TestSegSynSentOtherDropped(t *testing.T) {
	for _, in := range []string{"<SEQ=300><ACK=101><CTL=ACK>", "<SEQ=300><DATA=x>", "<SEQ=300><ACK=101><CTL=FIN,ACK>"} {
		f := inState(t, testConfig(), SynSent)
		f.step(0, in, SynSent)
		if st := f.c.Status(); st.SndUna != 100 {
			t.Fatalf("%s: SND.UNA moved to %d", in, st.SndUna)
		}
	}
}

// RFC 9293 3.10.7.3: text on the SYN,ACK continues at the sixth step of
// 3.10.7.4: it is accepted and acknowledged (one ACK covers SYN and text).
func TestSegSynSentSynAckWithData(t *testing.T) {
	f := inState(t, testConfig(), SynSent)
	f.step(0, "<SEQ=300><ACK=101><CTL=SYN,ACK><DATA=early>", Established, "<SEQ=101><ACK=306><CTL=ACK>")
	if got, err := f.read(); got != "early" || err != nil {
		t.Fatalf("read %q, %v", got, err)
	}
}

// ... and a FIN on the SYN,ACK is taken too (eighth step): CLOSE-WAIT.
func TestSegSynSentSynAckWithFin(t *testing.T) {
	f := inState(t, testConfig(), SynSent)
	f.step(0, "<SEQ=300><ACK=101><CTL=SYN,FIN,ACK><DATA=bye>", CloseWait, "<SEQ=101><ACK=305><CTL=ACK>")
	if got, err := f.read(); got != "bye" || !errors.Is(err, ErrEOF) {
		t.Fatalf("read %q, %v", got, err)
	}
	if w := f.walk(); !equalStates(w, []State{Closed, SynSent, Established, CloseWait}) {
		t.Fatalf("walk %v", w)
	}
}

// RFC 7323 2.2 via 3.10.7.3: window scaling is used only when both SYNs
// carry the option; a SYN's own window is never scaled.
func TestSegSynSentWindowScale(t *testing.T) {
	cfg := testConfig()
	cfg.WindowScale = true
	cfg.RecvBuf = 1 << 20 // shift 5
	f := newFixture(t, cfg)
	f.c.OpenActive(0, 100)
	f.expect(SynSent, "<SEQ=100><CTL=SYN><WS=5><WND=65535>")
	f.step(0, "<SEQ=300><ACK=101><CTL=SYN,ACK><WS=3><WND=1000>", Established, "<SEQ=101><ACK=301><CTL=ACK><WND=32768>")
	if st := f.c.Status(); !st.WindowScale || st.SndShift != 3 || st.RcvShift != 5 || st.SndWnd != 1000 {
		t.Fatalf("%+v", st)
	}
	f.step(0, "<SEQ=301><ACK=101><CTL=ACK><WND=1000>", Established)
	if st := f.c.Status(); st.SndWnd != 8000 {
		t.Fatalf("SND.WND %d, want 1000<<3", st.SndWnd)
	}

	g := newFixture(t, cfg)
	g.c.OpenActive(0, 100)
	g.expect(SynSent, "<SEQ=100><CTL=SYN><WS=5>")
	g.step(0, "<SEQ=300><ACK=101><CTL=SYN,ACK><WND=1000>", Established, "<SEQ=101><ACK=301><CTL=ACK><WND=65535>")
	if st := g.c.Status(); st.WindowScale || st.SndShift != 0 || st.RcvShift != 0 {
		t.Fatalf("no WS from the peer, yet %+v", st)
	}
}
