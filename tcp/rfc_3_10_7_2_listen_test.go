package tcp

import "testing"

// RFC 9293 3.10.7.2 LISTEN, first: an incoming RST is ignored.
func TestSegListenIgnoresReset(t *testing.T) {
	for _, in := range []string{"<SEQ=5><CTL=RST>", "<SEQ=5><ACK=301><CTL=RST,ACK>", "<SEQ=5><CTL=SYN,RST>"} {
		f := inState(t, testConfig(), Listen)
		f.step(0, in, Listen)
	}
}

// RFC 9293 3.10.7.2 LISTEN, second (and 3.5.2 group 2): any ACK is bad in
// LISTEN; the answer is <SEQ=SEG.ACK><CTL=RST> and LISTEN stays.
func TestSegListenAckDrawsReset(t *testing.T) {
	for _, tc := range []struct{ in, out string }{
		{"<SEQ=100><ACK=301><CTL=ACK>", "<SEQ=301><CTL=RST>"},
		{"<SEQ=100><ACK=555><CTL=ACK><DATA=data>", "<SEQ=555><CTL=RST>"},
		{"<SEQ=100><ACK=12><CTL=SYN,ACK>", "<SEQ=12><CTL=RST>"}, // Figure 11 line 4
		{"<SEQ=100><ACK=13><CTL=FIN,ACK>", "<SEQ=13><CTL=RST>"},
	} {
		f := inState(t, testConfig(), Listen)
		f.step(0, tc.in, Listen, tc.out)
		f.noDeadline()
	}
}

// RFC 9293 3.10.7.2 LISTEN, third: a SYN sets IRS=SEG.SEQ, RCV.NXT=SEG.SEQ+1
// and sends <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> with our MSS (MUST-14);
// SND.UNA=ISS, SND.NXT=ISS+1, SYN-RECEIVED. SND.WND comes from the SYN,
// unscaled (RFC 7323 2.2); the peer's MSS option sets the send MSS.
func TestSegListenSyn(t *testing.T) {
	f := inState(t, testConfig(), Listen)
	f.step(0, "<SEQ=100><CTL=SYN><MSS=700><WND=5000>", SynReceived, "<SEQ=300><ACK=101><CTL=SYN,ACK><MSS=1000><WND=8000>")
	st := f.c.Status()
	if st.SndUna != 300 || st.SndNxt != 301 || st.RcvNxt != 101 || st.SndWnd != 5000 || st.SendMSS != 700 {
		t.Fatalf("after SYN: %+v", st)
	}
	if f.lastCause() != "rcv SYN" {
		t.Fatalf("cause %q", f.lastCause())
	}
	// The SYN,ACK is guarded by the retransmission timer.
	if d := f.deadline(); d != 1e9 {
		t.Fatalf("SYN,ACK timer at %v", d)
	}
	f.step(0, "<SEQ=101><ACK=301><CTL=ACK>", Established)
}

// RFC 9293 3.10.7.2: text on the SYN may be queued or dropped; synack
// drops it and acknowledges only the SYN, so the peer sends it again.
func TestSegListenSynWithData(t *testing.T) {
	f := inState(t, testConfig(), Listen)
	f.step(0, "<SEQ=100><CTL=SYN><DATA=early>", SynReceived, "<SEQ=300><ACK=101><CTL=SYN,ACK>")
	f.step(0, "<SEQ=101><ACK=301><CTL=ACK><DATA=early>", Established, "<SEQ=301><ACK=106><CTL=ACK>")
	if got, _ := f.read(); got != "early" {
		t.Fatalf("read %q", got)
	}
}

// RFC 9293 3.10.7.2 LISTEN, fourth: any other segment (no SYN, RST or ACK)
// is dropped.
func TestSegListenOtherDropped(t *testing.T) {
	for _, in := range []string{"<SEQ=100><DATA=abc>", "<SEQ=100><CTL=FIN>", "<SEQ=100><CTL=PSH>"} {
		f := inState(t, testConfig(), Listen)
		f.step(0, in, Listen)
		f.noDeadline()
	}
}
