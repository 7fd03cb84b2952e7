package tcp

import (
	"cmp"
	"errors"
	"testing"
	"time"
)

const sec = time.Second

// expectRetransmissionsAt advances through each time in at, checking that
// nothing goes out just before it and exactly want goes out at it.
func (f *fixture) expectRetransmissionsAt(state State, want string, at ...time.Duration) {
	f.t.Helper()
	for _, d := range at {
		f.step(d-1, "", state)
		f.step(d, "", state, want)
	}
}

// RFC 9293 3.10.8 RETRANSMISSION TIMEOUT with RFC 6298 (MUST-18, MUST-19):
// the first RTO is 1 s (2.1, here also the clamp of 2.4); each expiry
// resends only the segment at the front of the queue (5.4) and doubles
// the RTO (5.5), up to the 60 s maximum (2.5).
func TestTimeoutRTOBackoff(t *testing.T) {
	cfg := testConfig()
	cfg.R2 = 1000 * sec
	f := establishedWith(t, cfg, "<SEQ=300><ACK=101><CTL=SYN,ACK><MSS=1000><WND=4000>")
	f.write(bytesOf(2000))
	f.expect(Established, "<SEQ=101><LEN=1000>", "<SEQ=1101><LEN=1000>")
	f.expectRetransmissionsAt(Established, "<SEQ=101><ACK=301><CTL=ACK><LEN=1000>",
		1*sec, 3*sec, 7*sec, 15*sec, 31*sec, 63*sec, 123*sec, 183*sec, 243*sec)
	st := f.c.Status()
	if st.RTO != 60*sec || st.Stats.RTOExpirations != 9 || st.Stats.Retransmits != 9 {
		t.Fatalf("RTO %v, %+v", st.RTO, st.Stats)
	}
	// The ACK of the retransmission lets the rest go (RFC 5681 3.1: cwnd
	// restarts from one segment, so one more).
	f.step(244*sec, "<SEQ=301><ACK=1101><CTL=ACK>", Established, "<SEQ=1101><LEN=1000>")
}

// RFC 6298 2.2 and 2.3: the first sample R sets SRTT=R, RTTVAR=R/2; later
// ones RTTVAR=3/4 RTTVAR+1/4|SRTT-R'|, SRTT=7/8 SRTT+1/8 R'; RTO=SRTT+
// max(G, 4 RTTVAR), never below MinRTO (2.4).
func TestTimeoutRTTEstimator(t *testing.T) {
	cfg := testConfig()
	cfg.MinRTO = 100 * time.Millisecond
	f := newFixture(t, cfg)
	f.c.OpenActive(0, 100)
	f.expect(SynSent, "<SEQ=100><CTL=SYN>")
	f.step(100*time.Millisecond, "<SEQ=300><ACK=101><CTL=SYN,ACK>", Established, "<CTL=ACK>")
	st := f.c.Status()
	if st.SRTT != 100*time.Millisecond || st.RTTVar != 50*time.Millisecond || st.RTO != 300*time.Millisecond {
		t.Fatalf("after the SYN: SRTT %v RTTVAR %v RTO %v", st.SRTT, st.RTTVar, st.RTO)
	}
	f.write([]byte("x"))
	f.expect(Established, "<DATA=x>")
	f.step(300*time.Millisecond, "<SEQ=301><ACK=102><CTL=ACK>", Established)
	st = f.c.Status()
	if st.SRTT != 112500*time.Microsecond || st.RTTVar != 62500*time.Microsecond || st.RTO != 362500*time.Microsecond {
		t.Fatalf("after a 200ms sample: SRTT %v RTTVAR %v RTO %v", st.SRTT, st.RTTVar, st.RTO)
	}
}

// MUST-18, RFC 6298 3 (Karn): an ACK for a retransmitted segment gives no
// RTT sample, and the backed-off RTO is kept until a segment that was not
// retransmitted is acknowledged.
func TestTimeoutKarn(t *testing.T) {
	f := newFixture(t, testConfig())
	f.c.OpenActive(0, 100)
	f.expect(SynSent, "<SEQ=100><CTL=SYN>")
	f.step(100*time.Millisecond, "<SEQ=300><ACK=101><CTL=SYN,ACK>", Established, "<CTL=ACK>")
	f.write([]byte("x"))
	f.expect(Established, "<DATA=x>")
	f.step(1100*time.Millisecond, "", Established, "<SEQ=101><DATA=x>") // RTO: retransmit
	f.step(1200*time.Millisecond, "<SEQ=301><ACK=102><CTL=ACK>", Established)
	st := f.c.Status()
	if st.SRTT != 100*time.Millisecond || st.RTTVar != 50*time.Millisecond {
		t.Fatalf("a retransmitted segment was timed: SRTT %v RTTVAR %v", st.SRTT, st.RTTVar)
	}
	if st.RTO != 2*sec {
		t.Fatalf("RTO %v, want the backed-off 2s kept", st.RTO)
	}
	f.write([]byte("y"))
	f.expect(Established, "<DATA=y>")
	if d := f.deadline(); d != 1200*time.Millisecond+2*sec {
		t.Fatalf("timer at %v, want with the backed-off RTO", d)
	}
	f.step(1500*time.Millisecond, "<SEQ=301><ACK=103><CTL=ACK>", Established)
	st = f.c.Status()
	if st.SRTT != 125*time.Millisecond || st.RTTVar != 87500*time.Microsecond || st.RTO != sec {
		t.Fatalf("after a clean 300ms sample: SRTT %v RTTVAR %v RTO %v", st.SRTT, st.RTTVar, st.RTO)
	}
}

// RFC 6298 5.7: when the timer expired while waiting for the ACK of a SYN
// and the RTO in use is below 3 s, the RTO is re-initialized to 3 s when
// data transmission begins. Karn: the SYN,ACK gives no sample.
func TestTimeoutSynRetransmittedRTOThreeSeconds(t *testing.T) {
	f := newFixture(t, testConfig())
	f.c.OpenActive(0, 100)
	f.expect(SynSent, "<SEQ=100><CTL=SYN>")
	f.step(sec, "", SynSent, "<SEQ=100><CTL=SYN>")
	f.step(1500*time.Millisecond, "<SEQ=300><ACK=101><CTL=SYN,ACK>", Established, "<CTL=ACK>")
	if st := f.c.Status(); st.SRTT != 0 || st.RTO != 3*sec {
		t.Fatalf("SRTT %v RTO %v, want no sample and 3s", st.SRTT, st.RTO)
	}
	f.write([]byte("x"))
	f.expect(Established, "<DATA=x>")
	f.expectRetransmissionsAt(Established, "<SEQ=101><DATA=x>", 4500*time.Millisecond)

	// The passive side: its SYN,ACK timed out once.
	g := inState(t, testConfig(), SynReceived)
	g.step(sec, "", SynReceived, "<SEQ=300><ACK=101><CTL=SYN,ACK>")
	g.step(1200*time.Millisecond, "<SEQ=101><ACK=301><CTL=ACK>", Established)
	if st := g.c.Status(); st.RTO != 3*sec {
		t.Fatalf("passive: RTO %v, want 3s", st.RTO)
	}
}

// RFC 9293 3.8.3 (MUST-20, SHLD-11): after R2 of retransmitting, close the
// connection; the user learns it timed out. No reset is sent.
func TestTimeoutR2GivesUp(t *testing.T) {
	cfg := testConfig()
	cfg.R2 = 10 * sec
	f := establishedWith(t, cfg, "<SEQ=300><ACK=101><CTL=SYN,ACK><MSS=1000>")
	f.write([]byte("lost"))
	f.expect(Established, "<DATA=lost>")
	f.expectRetransmissionsAt(Established, "<SEQ=101><DATA=lost>", 1*sec, 3*sec, 7*sec)
	f.step(15*sec-1, "", Established)
	f.step(15*sec, "", Closed) // 14 s of retransmitting >= R2
	if !errors.Is(f.c.Err(), ErrTimeout) || f.lastCause() != CauseRetransmit {
		t.Fatalf("Err %v cause %q", f.c.Err(), f.lastCause())
	}
	f.noDeadline()
	if _, err := f.c.Send(f.now, []byte("x")); !errors.Is(err, ErrTimeout) {
		t.Fatalf("Send = %v", err)
	}
	if _, err := f.c.Receive(f.now, make([]byte, 1)); !errors.Is(err, ErrTimeout) {
		t.Fatalf("Receive = %v", err)
	}
}

// SHLD-10, SHLD-9: after R1 (3) retransmissions STATUS reports trouble;
// an ACK clears it. The defaults honour SHLD-10 and SHLD-11.
func TestTimeoutR1ReportsTrouble(t *testing.T) {
	f := established(t, testConfig())
	f.write([]byte("x"))
	f.expect(Established, "<DATA=x>")
	f.expectRetransmissionsAt(Established, "<DATA=x>", 1*sec, 3*sec)
	if f.c.Status().Retransmitting {
		t.Fatal("trouble reported after 2 retransmissions")
	}
	f.expectRetransmissionsAt(Established, "<DATA=x>", 7*sec)
	if !f.c.Status().Retransmitting {
		t.Fatal("no trouble reported after R1=3 retransmissions")
	}
	f.step(8*sec, "<SEQ=301><ACK=102><CTL=ACK>", Established)
	if f.c.Status().Retransmitting {
		t.Fatal("trouble still reported after the ACK")
	}
	var c Config
	c.setDefaults()
	if c.R1 < 3 || c.R2 < 100*sec || c.R2Syn < 3*time.Minute || c.InitialRTO != sec || c.MaxRTO < 60*sec {
		t.Fatalf("defaults %+v", c)
	}
}

// MUST-22, MUST-23: a SYN is retransmitted by the same procedure, for at
// least 3 minutes, even when R2 for data is short.
func TestTimeoutSynR2(t *testing.T) {
	cfg := testConfig()
	cfg.R2 = 10 * sec
	f := inState(t, cfg, SynSent)
	f.expectRetransmissionsAt(SynSent, "<SEQ=100><CTL=SYN>",
		1*sec, 3*sec, 7*sec, 15*sec, 31*sec, 63*sec, 123*sec)
	f.step(3*time.Minute-1, "", SynSent)
	f.step(183*sec, "", Closed)
	if !errors.Is(f.c.Err(), ErrTimeout) {
		t.Fatalf("Err %v", f.c.Err())
	}
	if f.now < 3*time.Minute {
		t.Fatalf("gave up on the SYN after %v", f.now)
	}
}

// MUST-22 for SYN,ACK: a passive connection whose SYN,ACK is never
// acknowledged goes back to LISTEN (MUST-11), not to CLOSED. It gives up
// after five retransmissions (1+2+4+8+16+32 s: 63 s), as Linux's
// tcp_synack_retries, not after R2Syn's 3 minutes: MUST-23's minutes are
// for the SYN of an active OPEN, and a half-open connection from a
// spoofed SYN must not hold a listener's slot that long.
func TestTimeoutSynAckR2BackToListen(t *testing.T) {
	f := inState(t, testConfig(), SynReceived)
	f.expectRetransmissionsAt(SynReceived, "<SEQ=300><ACK=101><CTL=SYN,ACK>",
		1*sec, 3*sec, 7*sec, 15*sec, 31*sec)
	f.step(63*sec-1, "", SynReceived)
	f.step(63*sec, "", Listen)
	if f.lastCause() != CauseRetransmit {
		t.Fatalf("cause %q", f.lastCause())
	}
	f.noDeadline()
	f.step(200*sec, "<SEQ=700><CTL=SYN>", SynReceived, "<SEQ=300><ACK=701><CTL=SYN,ACK>")
}

// MUST-22, MUST-23 with 3.10.2 and 3.10.4: a SEND in a passive
// SYN-RECEIVED queues the data and tells the user it was taken, and a
// CLOSE there queues the FIN. 3.10.7.4's return to LISTEN ("the user need
// not be informed") presumes no user call; after one, a SYN,ACK that times
// out must tell the user: CLOSED with "connection timed out". It used to
// return to LISTEN with the data dropped, so the next SYN reached
// ESTABLISHED and the user's CLOSE sent its FIN at ISS+1: the peer read
// EOF after 0 of 768 bytes (FuzzConnPair input 758185faccddcbae).
func TestTimeoutSynAckR2AfterUserCallTellsUser(t *testing.T) {
	for _, call := range []string{"SEND", "CLOSE", "SEND and CLOSE"} {
		t.Run(call, func(t *testing.T) {
			f := inState(t, testConfig(), SynReceived)
			if call != "CLOSE" {
				f.write(bytesOf(768))
			}
			if call != "SEND" {
				f.close()
			}
			f.expect(SynReceived)
			f.expectRetransmissionsAt(SynReceived, "<SEQ=300><ACK=101><CTL=SYN,ACK>",
				1*sec, 3*sec, 7*sec, 15*sec, 31*sec, 63*sec, 123*sec)
			f.step(183*sec, "", Closed)
			if !errors.Is(f.c.Err(), ErrTimeout) || f.lastCause() != CauseRetransmit {
				t.Fatalf("Err %v cause %q, want ErrTimeout", f.c.Err(), f.lastCause())
			}
			if _, err := f.c.Send(f.now, []byte("x")); !errors.Is(err, ErrTimeout) {
				t.Fatalf("Send after the timeout = %v, want ErrTimeout", err)
			}
			f.noDeadline()
			// No listener is left to hand the queued data to another SYN.
			f.step(200*sec, "<SEQ=700><CTL=SYN>", Closed, "<SEQ=0><ACK=701><CTL=RST,ACK>")
		})
	}
}

// MUST-21, 3.10.8 USER TIMEOUT: a per-connection user timeout replaces R2,
// shorter or longer; the user is told it was the user timeout, at the time
// it set (measured from when the unacknowledged data went out, not at the
// next retransmission after it).
func TestTimeoutUserTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.UserTimeout = 5 * sec
	f := established(t, cfg)
	f.write([]byte("x"))
	f.expect(Established, "<DATA=x>")
	f.expectRetransmissionsAt(Established, "<DATA=x>", 1*sec, 3*sec)
	f.step(5*sec-1, "", Established)
	f.step(5*sec, "", Closed)
	if !errors.Is(f.c.Err(), ErrTimeout) || f.lastCause() != CauseUserTimeout {
		t.Fatalf("Err %v cause %q", f.c.Err(), f.lastCause())
	}

	cfg.UserTimeout = 200 * sec // longer than R2 = 100 s
	g := established(t, cfg)
	g.write([]byte("x"))
	g.expect(Established, "<DATA=x>")
	g.expectRetransmissionsAt(Established, "<DATA=x>", 1*sec, 3*sec, 7*sec, 15*sec, 31*sec, 63*sec, 123*sec, 183*sec)
	g.step(200*sec-1, "", Established)
	g.step(200*sec, "", Closed)
	if g.lastCause() != CauseUserTimeout {
		t.Fatalf("cause %q", g.lastCause())
	}
}

// MUST-21 per connection: SetUserTimeout on an open connection takes effect
// at once, and progress (an ACK of part of the flight) restarts the count.
func TestTimeoutSetUserTimeout(t *testing.T) {
	f := established(t, testConfig())
	f.c.SetUserTimeout(3 * sec)
	f.write([]byte("xy"))
	f.expect(Established, "<DATA=xy>")
	f.step(500*time.Millisecond, "<SEQ=301><ACK=102><CTL=ACK>", Established) // half acknowledged
	f.stepAny(3500*time.Millisecond-1, "", Established)                      // "y" resent meanwhile
	f.step(3500*time.Millisecond, "", Closed)
	if !errors.Is(f.c.Err(), ErrTimeout) || f.lastCause() != CauseUserTimeout {
		t.Fatalf("Err %v cause %q", f.c.Err(), f.lastCause())
	}
}

// RFC 9293 3.6: every segment up to and including the FIN is retransmitted
// until acknowledged; in LAST-ACK the connection gives up after R2.
func TestTimeoutFinRetransmitted(t *testing.T) {
	f := inState(t, testConfig(), FinWait1)
	f.expectRetransmissionsAt(FinWait1, "<SEQ=101><ACK=301><CTL=FIN,ACK>", 1*sec, 3*sec)
	f.step(4*sec, "<SEQ=301><ACK=102><CTL=ACK>", FinWait2)
	f.noDeadline()

	cfg := testConfig()
	cfg.R2 = 10 * sec
	g := inState(t, cfg, LastAck)
	g.expectRetransmissionsAt(LastAck, "<SEQ=101><ACK=302><CTL=FIN,ACK>", 1*sec, 3*sec, 7*sec)
	g.step(15*sec, "", Closed)
	if !errors.Is(g.c.Err(), ErrTimeout) {
		t.Fatalf("Err %v", g.c.Err())
	}
}

// MUST-13, 3.10.8 TIME-WAIT TIMEOUT: TIME-WAIT lasts exactly 2*MSL, then
// the TCB is deleted; a retransmitted FIN is acknowledged and restarts the
// 2*MSL wait (3.10.7.4 eighth step); other segments do not.
func TestTimeoutTimeWait(t *testing.T) {
	for _, msl := range []time.Duration{10 * sec, 0} { // 0: the default, 2 minutes
		cfg := testConfig()
		cfg.MSL = msl
		if msl == 0 {
			msl = 2 * time.Minute
		}
		f := inState(t, cfg, FinWait2)
		f.step(sec, "<SEQ=301><ACK=102><CTL=FIN,ACK>", TimeWait, "<SEQ=102><ACK=302><CTL=ACK>")
		f.step(sec+2*msl-1, "", TimeWait)
		f.step(sec+2*msl, "", Closed)
		if f.lastCause() != CauseTimeWait || f.c.Err() != nil {
			t.Fatalf("cause %q Err %v", f.lastCause(), f.c.Err())
		}

		g := inState(t, cfg, FinWait2)
		g.step(sec, "<SEQ=301><ACK=102><CTL=FIN,ACK>", TimeWait, "<SEQ=102><ACK=302><CTL=ACK>")
		g.step(2*sec, "<SEQ=302><ACK=102><CTL=ACK>", TimeWait) // no restart
		g.step(6*sec, "<SEQ=301><ACK=102><CTL=FIN,ACK>", TimeWait, "<SEQ=102><ACK=302><CTL=ACK>")
		g.step(sec+2*msl, "", TimeWait)
		g.step(6*sec+2*msl-1, "", TimeWait)
		g.step(6*sec+2*msl, "", Closed)
	}
}

// RFC 9293 3.8.6.1 zero-window probing (MUST-35, MUST-36): with data
// queued and a zero window the sender probes, the first probe after one
// RTO (SHLD-29), then with exponential backoff (SHLD-30); while the probes
// are answered the connection stays open however long (MUST-37), well
// past R2; when the window opens the data goes at once.
func TestTimeoutZeroWindowProbing(t *testing.T) {
	f := establishedWith(t, testConfig(), "<SEQ=300><ACK=101><CTL=SYN,ACK><MSS=1000><WND=4000>")
	f.step(0, "<SEQ=301><ACK=101><CTL=ACK><WND=0>", Established)
	f.write([]byte("waiting"))
	f.expect(Established)
	probe := "<SEQ=100><ACK=301><CTL=ACK>"
	at := []time.Duration{1, 3, 7, 15, 31, 63, 123, 183, 243, 303, 363, 423, 483, 543, 603}
	for _, a := range at {
		f.step(a*sec-1, "", Established)
		f.step(a*sec, "", Established, probe)
		f.step(a*sec+50*time.Millisecond, "<SEQ=301><ACK=101><CTL=ACK><WND=0>", Established)
	}
	st := f.c.Status()
	if st.Stats.ZeroWindowProbes != uint64(len(at)) || st.Stats.RTOExpirations != 0 || st.SendQueued != 7 {
		t.Fatalf("%+v", st)
	}
	f.step(610*sec, "<SEQ=301><ACK=101><CTL=ACK><WND=4000>", Established, "<SEQ=101><ACK=301><CTL=ACK><DATA=waiting>")
	f.step(610*sec+100*time.Millisecond, "<SEQ=301><ACK=108><CTL=ACK><WND=4000>", Established)
	f.noDeadline()
}

// MUST-37 keeps a zero-window connection open only while the probes are
// answered: probes that draw no acceptable ACK are retransmissions that
// give up after R2 (MUST-20), or the user timeout (MUST-21).
func TestTimeoutZeroWindowProbesUnanswered(t *testing.T) {
	for _, user := range []time.Duration{0, 40 * sec} {
		cfg := testConfig()
		cfg.UserTimeout = user
		limit := cmp.Or(user, 5*time.Minute) // R2's default
		f := establishedWith(t, cfg, "<SEQ=300><ACK=101><CTL=SYN,ACK><MSS=1000><WND=4000>")
		f.step(0, "<SEQ=301><ACK=101><CTL=ACK><WND=0>", Established)
		f.write([]byte("waiting"))
		f.expect(Established)
		probes := 0
		for i := 0; i < 100 && f.c.State() == Established; i++ {
			f.advance(f.deadline())
			probes += len(f.out.segs)
			f.out.segs = nil
		}
		if f.c.State() != Closed || f.c.Err() != ErrTimeout {
			t.Fatalf("user timeout %v: %v, %v after %d probes", user, f.c.State(), f.c.Err(), probes)
		}
		if f.now < limit || f.now > limit+time.Minute || probes < 3 {
			t.Fatalf("user timeout %v: gave up at %v after %d probes, want soon after %v", user, f.now, probes, limit)
		}
		if tr := f.trans[len(f.trans)-1]; tr.cause != CausePersist {
			t.Fatalf("user timeout %v: cause %q", user, tr.cause)
		}
	}
}

// MUST-36: a window that shrinks to zero while data is in flight is
// probed once the data is acknowledged; a window update that opens it is
// honoured at once, and one lost is recovered by the probe's answer.
func TestTimeoutZeroWindowAfterShrink(t *testing.T) {
	f := establishedWith(t, testConfig(), "<SEQ=300><ACK=101><CTL=SYN,ACK><MSS=1000><WND=4000>")
	f.write(bytesOf(5000))
	f.expect(Established, "<SEQ=101><LEN=1000>", "<SEQ=1101><LEN=1000>", "<SEQ=2101><LEN=1000>", "<SEQ=3101><LEN=1000>")
	f.step(100*time.Millisecond, "<SEQ=301><ACK=4101><CTL=ACK><WND=0>", Established)
	f.step(1100*time.Millisecond, "", Established, "<SEQ=4100><ACK=301><CTL=ACK>")
	// The window update is lost; the next probe's answer carries it.
	f.step(3100*time.Millisecond, "", Established, "<SEQ=4100><ACK=301><CTL=ACK>")
	f.step(3150*time.Millisecond, "<SEQ=301><ACK=4101><CTL=ACK><WND=4000>", Established, "<SEQ=4101><ACK=301><CTL=ACK><LEN=1000>")
}

// MUST-34, MUST-35, SHLD-16, SHLD-17: the peer shrinks its window to zero
// while data is in flight. The retransmission timeout must not leave the
// connection without a timer: the sender keeps probing (the fixture checks
// after every step that a timer is armed while data is unacknowledged),
// does not time the connection out while the probes are answered, and
// retransmits as soon as the window opens again.
func TestTimeoutWindowShrunkToZeroInFlight(t *testing.T) {
	f := establishedWith(t, testConfig(), "<SEQ=300><ACK=101><CTL=SYN,ACK><MSS=1000><WND=4000>")
	f.write(bytesOf(1000))
	f.expect(Established, "<SEQ=101><ACK=301><CTL=ACK><LEN=1000>")
	f.step(100*time.Millisecond, "<SEQ=301><ACK=101><CTL=ACK><WND=0>", Established)
	// Through the RTO and far past R2 (100 s), answering whatever probes.
	probes := 0
	for now := time.Duration(0); now < 300*sec; {
		now = f.deadline()
		for _, s := range f.stepAny(now, "", Established) {
			// A zero-window probe, or the first segment again.
			if !matches(t, s, "<SEQ=100><ACK=301><CTL=ACK>") && !matches(t, s, "<SEQ=101><ACK=301><CTL=ACK><LEN=1000>") {
				t.Fatalf("t=%v: sent %s", now, format(s))
			}
			probes++
			f.step(now+50*time.Millisecond, "<SEQ=301><ACK=101><CTL=ACK><WND=0>", Established)
		}
	}
	if probes < 3 {
		t.Fatalf("%d probes in 300 s with a zero window", probes)
	}
	f.step(f.now+sec, "<SEQ=301><ACK=101><CTL=ACK><WND=4000>", Established, "<SEQ=101><ACK=301><CTL=ACK><LEN=1000>")
	f.step(f.now+100*time.Millisecond, "<SEQ=301><ACK=1101><CTL=ACK><WND=4000>", Established)
	f.noDeadline()
}
