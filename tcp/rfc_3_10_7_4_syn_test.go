package tcp

import (
	"testing"
)

// RFC 9293 3.10.7.4 fourth step with RFC 5961 4.2: a SYN in a synchronized
// state, in the window or not ("irrespective of the sequence number"),
// draws a challenge ACK <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and is dropped;
// the connection is not reset and nothing of the SYN is taken.
func TestSegSynChallengeAck(t *testing.T) {
	cases := []struct {
		name string
		make func(t *testing.T) *fixture
	}{
		{"SYN-RECEIVED active", func(t *testing.T) *fixture { return activeSynReceived(t, unlimited(testConfig())) }},
	}
	for _, s := range []State{Established, FinWait1, FinWait2, CloseWait, Closing, LastAck} { // TIME-WAIT: rfc_timewait_test.go
		cases = append(cases, struct {
			name string
			make func(t *testing.T) *fixture
		}{s.String(), func(t *testing.T) *fixture { return inState(t, unlimited(testConfig()), s) }}) // the rule, not its rate
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.make(t)
			s := f.c.State()
			st := f.c.Status()
			nxt, snd := uint32(st.RcvNxt), uint32(st.SndNxt)
			ack := "<SEQ=" + itoa(snd) + "><ACK=" + itoa(nxt) + "><CTL=ACK>"
			for _, in := range []string{
				"<SEQ=" + itoa(nxt) + "><CTL=SYN>",            // at RCV.NXT
				"<SEQ=" + itoa(nxt+10) + "><CTL=SYN>",         // in the window
				"<SEQ=" + itoa(nxt+10) + "><CTL=SYN><DATA=x>", // with text
				"<SEQ=" + itoa(nxt+200000) + "><CTL=SYN>",     // beyond it
				"<SEQ=" + itoa(nxt-50) + "><CTL=SYN>",         // before it
				"<SEQ=" + itoa(nxt) + "><ACK=" + itoa(snd) + "><CTL=SYN,ACK>",
			} {
				f.step(f.now, in, s, ack)
			}
			if after := f.c.Status(); after.RcvNxt != st.RcvNxt || after.SndNxt != st.SndNxt || after.RecvHeld != 0 {
				t.Fatalf("a SYN changed the TCB: %+v", after)
			}
		})
	}
}

// RFC 9293 3.10.7.4 fourth step, SYN-RECEIVED from a passive OPEN: a SYN
// other than the one being answered returns the connection to LISTEN.
func TestSegSynPassiveSynReceivedBackToListen(t *testing.T) {
	f := inState(t, testConfig(), SynReceived)
	f.step(0, "<SEQ=200><CTL=SYN>", Listen)
	f.noDeadline()
	if f.lastCause() != "rcv SYN" {
		t.Fatalf("cause %q", f.lastCause())
	}
}

// RFC 9293 3.10.7.4 fourth step with 3.10.2: once the user has SENT on a
// passive SYN-RECEIVED connection, it is no longer a half-open the user
// need not hear of; a new SYN is handled as in the synchronized states
// (RFC 5961 4.2: challenge ACK) and the queued data survives to go out on
// ESTABLISHED, instead of a silent return to LISTEN that dropped it.
func TestSegSynPassiveSynReceivedAfterSendChallenged(t *testing.T) {
	f := inState(t, testConfig(), SynReceived)
	f.write([]byte("hi"))
	f.expect(SynReceived)
	f.step(0, "<SEQ=200><CTL=SYN>", SynReceived, "<SEQ=301><ACK=101><CTL=ACK>")
	f.step(0, "<SEQ=101><ACK=301><CTL=ACK>", Established, "<SEQ=301><ACK=101><CTL=ACK><DATA=hi>")
}

// RFC 9293 3.10.7.4 (and Figure 7/8 practice): in SYN-RECEIVED, the SYN we
// already hold arriving again means our SYN,ACK was lost: send it again,
// stay.
func TestSegSynReceivedDuplicateSyn(t *testing.T) {
	f := inState(t, testConfig(), SynReceived)
	f.step(0, "<SEQ=100><CTL=SYN>", SynReceived, "<SEQ=300><ACK=101><CTL=SYN,ACK>")
	f.step(0, "<SEQ=101><ACK=301><CTL=ACK>", Established)
}
