package tcp

import (
	"errors"
	"testing"
)

// resetCase is one synchronized (or SYN-RECEIVED) state and what an
// acceptable reset does there.
type resetCase struct {
	name   string
	make   func(t *testing.T) *fixture
	after  State // state after a reset at exactly RCV.NXT
	err    error // Err() after it
	signal bool  // whether the user is told (MUST-12)
}

func resetCases() []resetCase {
	in := func(s State) func(t *testing.T) *fixture {
		return func(t *testing.T) *fixture { return inState(t, unlimited(testConfig()), s) } // the rule, not its rate
	}
	return []resetCase{
		{"SYN-RECEIVED passive", in(SynReceived), Listen, nil, false},
		{"SYN-RECEIVED active", func(t *testing.T) *fixture { return activeSynReceived(t, unlimited(testConfig())) }, Closed, ErrRefused, true},
		{"ESTABLISHED", in(Established), Closed, ErrReset, true},
		{"FIN-WAIT-1", in(FinWait1), Closed, ErrReset, true},
		{"FIN-WAIT-2", in(FinWait2), Closed, ErrReset, true},
		{"CLOSE-WAIT", in(CloseWait), Closed, ErrReset, true},
		{"CLOSING", in(Closing), Closed, nil, false},
		{"LAST-ACK", in(LastAck), Closed, nil, false},
	}
}

// RFC 9293 3.10.7.4 second step with RFC 5961 3.2, in every state that
// validates a reset by its sequence number (3.5.3):
//
//  1. outside the receive window: drop silently;
//  2. exactly RCV.NXT: reset the connection as the state prescribes;
//  3. inside the window but not RCV.NXT: challenge ACK
//     <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, then drop.
//
// An acceptable reset: SYN-RECEIVED from a passive OPEN returns to LISTEN
// without telling the user, from an active OPEN reports "connection
// refused" (MUST-11); ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT
// signal "connection reset" (MUST-12); CLOSING, LAST-ACK just enter
// CLOSED. (TIME-WAIT ignores resets: TestTimeWaitIgnoresResets.) Every queue and timer is flushed.
func TestSegResetEveryState(t *testing.T) {
	for _, tc := range resetCases() {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.make(t)
			s := f.c.State()
			st := f.c.Status()
			nxt, snd := uint32(st.RcvNxt), uint32(st.SndNxt)
			challenge := "<SEQ=" + itoa(snd) + "><ACK=" + itoa(nxt) + "><CTL=ACK>"

			// 1. Outside the window, on either side: silence.
			for _, q := range []uint32{nxt - 1, nxt - 1000, nxt + 8000, nxt + 100000} {
				f.step(f.now, "<SEQ="+itoa(q)+"><CTL=RST>", s)
				f.step(f.now, "<SEQ="+itoa(q)+"><ACK="+itoa(snd)+"><CTL=RST,ACK>", s)
			}
			// 3. In the window, not exact: a challenge ACK.
			for _, q := range []uint32{nxt + 1, nxt + 7000} {
				f.step(f.now, "<SEQ="+itoa(q)+"><CTL=RST>", s, challenge)
			}
			if got := f.c.Status().Stats.ChallengeAcks; got != 2 {
				t.Fatalf("ChallengeAcks = %d, want 2", got)
			}
			// 2. Exactly RCV.NXT.
			f.step(f.now, "<SEQ="+itoa(nxt)+"><CTL=RST>", tc.after)
			if !errors.Is(f.c.Err(), tc.err) || (tc.err == nil) != (f.c.Err() == nil) {
				t.Fatalf("Err = %v, want %v", f.c.Err(), tc.err)
			}
			if f.lastCause() != "rcv RST" {
				t.Fatalf("cause %q", f.lastCause())
			}
			f.noDeadline()
			if q := f.c.Status().SendQueued; q != 0 {
				t.Fatalf("%d bytes still queued", q)
			}
			if tc.signal {
				// SEND reports it in every state (RECEIVE in CLOSE-WAIT
				// reports the EOF of the FIN that came first).
				if _, err := f.c.Send(f.now, []byte("x")); !errors.Is(err, tc.err) {
					t.Fatalf("Send after reset = %v, want %v", err, tc.err)
				}
			}
		})
	}
}

// MUST-11, 3.10.7.4 second step: a passive SYN-RECEIVED returned to LISTEN
// by a reset accepts the next SYN as a fresh connection, with the ISS it
// was given.
func TestSegResetSynReceivedBackToListen(t *testing.T) {
	f := inState(t, testConfig(), SynReceived)
	f.step(0, "<SEQ=101><CTL=RST>", Listen)
	if f.trans[len(f.trans)-1] != (transition{SynReceived, Listen, "rcv RST"}) {
		t.Fatalf("transitions %v", f.trans)
	}
	// Nothing of the old attempt survives: no SYN,ACK retransmission.
	f.noDeadline()
	f.step(10*1e9, "<SEQ=5000><CTL=SYN>", SynReceived, "<SEQ=300><ACK=5001><CTL=SYN,ACK>")
	f.step(10*1e9, "<SEQ=5001><ACK=301><CTL=ACK>", Established)
}

// MUST-12 with 3.10.2: once the user has SENT on a passive SYN-RECEIVED
// connection (the data is queued and the user was told it was taken), an
// acceptable reset does not return it to LISTEN silently with the data
// dropped: the user is told "connection reset", as in ESTABLISHED.
func TestSegResetSynReceivedAfterSendTellsUser(t *testing.T) {
	f := inState(t, testConfig(), SynReceived)
	f.write([]byte("queued"))
	f.expect(SynReceived)
	f.step(0, "<SEQ=101><CTL=RST>", Closed)
	if !errors.Is(f.c.Err(), ErrReset) {
		t.Fatalf("Err = %v, want ErrReset", f.c.Err())
	}
	if _, err := f.c.Send(f.now, []byte("x")); !errors.Is(err, ErrReset) {
		t.Fatalf("Send after reset = %v, want ErrReset", err)
	}
	f.noDeadline()
}

// SHLD-2: a reset may carry data (diagnostics); it is still a reset.
func TestSegResetWithData(t *testing.T) {
	f := established(t, testConfig())
	f.step(0, "<SEQ=301><CTL=RST><DATA=go away>", Closed)
	if !errors.Is(f.c.Err(), ErrReset) {
		t.Fatalf("Err = %v", f.c.Err())
	}
	g := established(t, testConfig())
	g.step(0, "<SEQ=305><CTL=RST><DATA=go away>", Established, "<SEQ=101><ACK=301><CTL=ACK>")
}

// RFC 9293 3.10.7.4: a reset is never answered with a reset, in any state.
func TestSegResetNeverAnswered(t *testing.T) {
	for _, s := range []State{Closed, Listen, SynSent, SynReceived, Established, FinWait1, FinWait2, Closing, TimeWait, CloseWait, LastAck} {
		f := inState(t, testConfig(), s)
		f.step(f.now, "<SEQ=123456><ACK=999999><CTL=RST,ACK>", s)
		f.step(f.now, "<SEQ=123456><CTL=RST>", s)
	}
}
