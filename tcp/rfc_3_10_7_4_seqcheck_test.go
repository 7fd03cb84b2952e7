package tcp

import (
	"testing"
	"time"
)

// RFC 9293 3.10.7.4 first step, Table 6, receive window > 0: a segment of
// length 0 is acceptable when RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND; one
// with text when its first or last octet is in the window. Unacceptable
// segments draw <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and are dropped.
// Window: RCV.NXT=301, RCV.WND=8000.
func TestSegSeqCheckOpenWindow(t *testing.T) {
	cases := []struct {
		in     string
		ok     bool
		rcvNxt uint32 // RCV.NXT after
	}{
		{"<SEQ=301><ACK=101><CTL=ACK>", true, 301},
		{"<SEQ=8300><ACK=101><CTL=ACK>", true, 301}, // last in window
		{"<SEQ=8301><ACK=101><CTL=ACK>", true, 301}, // at the right edge: taken, as in Linux (see acceptable)
		{"<SEQ=8302><ACK=101><CTL=ACK>", false, 301},
		{"<SEQ=300><ACK=101><CTL=ACK>", false, 301},
		{"<SEQ=301><ACK=101><CTL=ACK><DATA=abc>", true, 304},
		{"<SEQ=291><ACK=101><CTL=ACK><DATA=0123456789abcdefghij>", true, 311}, // straddles the left edge
		{"<SEQ=250><ACK=101><CTL=ACK><DATA=old>", false, 301},                 // entirely old
		{"<SEQ=298><ACK=101><CTL=ACK><DATA=old>", false, 301},                 // last octet 300: old
		{"<SEQ=298><ACK=101><CTL=ACK><DATA=oldn>", true, 302},                 // last octet 301: new
		{"<SEQ=8301><ACK=101><CTL=ACK><DATA=x>", false, 301},                  // past the right edge
		{"<SEQ=4000000000><ACK=101><CTL=ACK><DATA=x>", false, 301},
	}
	for _, tc := range cases {
		f := established(t, testConfig())
		if tc.ok {
			var out []string
			if tc.rcvNxt != 301 {
				out = []string{"<SEQ=101><ACK=" + itoa(tc.rcvNxt) + "><CTL=ACK>"}
			}
			f.step(0, tc.in, Established, out...)
		} else {
			f.step(0, tc.in, Established, "<SEQ=101><ACK=301><CTL=ACK><WND=8000>")
		}
		if st := f.c.Status(); uint32(st.RcvNxt) != tc.rcvNxt {
			t.Fatalf("%s: RCV.NXT %d, want %d", tc.in, st.RcvNxt, tc.rcvNxt)
		}
	}
	// Only the new part of a straddling segment is processed.
	f := established(t, testConfig())
	f.step(0, "<SEQ=301><ACK=101><CTL=ACK><DATA=0123456789>", Established, "<ACK=311><CTL=ACK>")
	f.step(0, "<SEQ=306><ACK=101><CTL=ACK><DATA=56789ABCDE>", Established, "<ACK=316><CTL=ACK>")
	if got, _ := f.read(); got != "0123456789ABCDE" {
		t.Fatalf("read %q", got)
	}
}

// zeroWindow fills the 8000-byte receive buffer of an established fixture
// while our 5 bytes "hello" (101..105) are in flight: RCV.NXT=8301,
// RCV.WND=0.
func zeroWindow(t *testing.T) *fixture {
	f := established(t, testConfig())
	f.write([]byte("hello"))
	f.expect(Established, "<SEQ=101><ACK=301><CTL=ACK><DATA=hello>")
	for i := 0; i < 8; i++ {
		s := uint32(301 + 1000*i)
		f.step(0, "<SEQ="+itoa(s)+"><ACK=101><CTL=ACK><LEN=1000>", Established, "<SEQ=106><ACK="+itoa(s+1000)+"><CTL=ACK>")
	}
	if st := f.c.Status(); st.RcvWnd != 0 || st.RcvNxt != 8301 {
		t.Fatalf("window not closed: %+v", st)
	}
	return f
}

// RFC 9293 3.10.7.4 first step, Table 6, receive window 0: a segment of
// length 0 is acceptable only at SEG.SEQ = RCV.NXT; one with text is not
// acceptable, so it draws an ACK carrying the zero window (this is also
// how a peer's zero-window probe gets its answer: 3.8.6.1) — but its ACK
// and RST are still processed (MUST-66).
func TestSegSeqCheckZeroWindow(t *testing.T) {
	f := zeroWindow(t)
	f.step(0, "<SEQ=8301><ACK=101><CTL=ACK>", Established)
	f.step(0, "<SEQ=8302><ACK=101><CTL=ACK>", Established, "<SEQ=106><ACK=8301><CTL=ACK><WND=0>")
	// Answers to unacceptable empty segments are throttled to one per
	// 500 ms (RFC 5961 7; Linux's tcp_invalid_ratelimit): no ACK war.
	f.step(0, "<SEQ=8300><ACK=101><CTL=ACK>", Established)
	f.step(600*time.Millisecond, "<SEQ=8300><ACK=101><CTL=ACK>", Established, "<SEQ=106><ACK=8301><CTL=ACK><WND=0>")
	// Text at RCV.NXT: not acceptable (no room), answered with an ACK.
	f.step(0, "<SEQ=8301><ACK=101><CTL=ACK><DATA=x>", Established, "<SEQ=106><ACK=8301><CTL=ACK><WND=0>")
	// MUST-66: the ACK field of such a segment still counts.
	f.step(0, "<SEQ=8301><ACK=106><CTL=ACK><DATA=y>", Established, "<SEQ=106><ACK=8301><CTL=ACK><WND=0>")
	if st := f.c.Status(); st.SndUna != 106 || st.RcvNxt != 8301 || st.RecvHeld != 8000 {
		t.Fatalf("%+v", st)
	}
	f.noDeadline() // "hello" acknowledged: the retransmission timer stops
	// MUST-66: and so does a RST at RCV.NXT.
	f.step(0, "<SEQ=8301><CTL=RST>", Closed)
}

// RFC 9293 3.10.7.4 first step, SYN-RECEIVED: an unacceptable segment also
// draws <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>.
func TestSegSeqCheckSynReceived(t *testing.T) {
	f := inState(t, unlimited(testConfig()), SynReceived) // the rule, not its rate
	f.step(0, "<SEQ=9000><ACK=301><CTL=ACK>", SynReceived, "<SEQ=301><ACK=101><CTL=ACK>")
	f.step(0, "<SEQ=50><ACK=301><CTL=ACK><DATA=x>", SynReceived, "<SEQ=301><ACK=101><CTL=ACK>")
	f.step(0, "<SEQ=101><ACK=301><CTL=ACK>", Established)
}

// RFC 9293 3.10.7.4 first step, in the states after the FIN: a
// retransmitted FIN lies before RCV.NXT and draws an ACK (CLOSE-WAIT,
// CLOSING, LAST-ACK, TIME-WAIT all "remain" in step eight).
func TestSegSeqCheckRetransmittedFin(t *testing.T) {
	for _, s := range []State{CloseWait, Closing, LastAck, TimeWait} {
		f := inState(t, testConfig(), s)
		nxt := f.c.Status().SndNxt
		f.step(f.now, "<SEQ=301><ACK=101><CTL=FIN,ACK>", s, "<SEQ="+itoa(uint32(nxt))+"><ACK=302><CTL=ACK>")
	}
}

// RFC 9293 3.10.7.4 MUST-58, MUST-59: segments processed as a batch
// (Input) are answered by one ACK at the Flush.
func TestSegSeqCheckAggregatedAck(t *testing.T) {
	f := established(t, testConfig())
	f.input("<SEQ=301><ACK=101><CTL=ACK><DATA=aaa>")
	f.input("<SEQ=304><ACK=101><CTL=ACK><DATA=bbb>")
	f.input("<SEQ=307><ACK=101><CTL=ACK><DATA=ccc>")
	f.input("<SEQ=9999><ACK=101><CTL=ACK>") // unacceptable: owes an ACK too
	f.expect(Established)
	f.c.Flush(f.now)
	f.expect(Established, "<SEQ=101><ACK=310><CTL=ACK>")
	if got, _ := f.read(); got != "aaabbbccc" {
		t.Fatalf("read %q", got)
	}
}
