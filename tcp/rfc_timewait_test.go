package tcp

import (
	"testing"
	"time"

	"github.com/synack-tcp/synack/wire"
)

// TIME-WAIT (RFC 9293 3.6.1, 3.10.7.4 in TIME-WAIT) as the record of
// timewait.go does it. inState(TimeWait): SND.NXT=102, RCV.NXT=302, window
// 8000, MSL 10 s.

// RFC 1337 (hazard H1) over RFC 9293 3.10.7.4 step two: a reset never ends
// TIME-WAIT and draws no answer, whatever its sequence number: a challenge
// ACK would make the closed peer send the exact reset that does.
func TestTimeWaitIgnoresResets(t *testing.T) {
	f := inState(t, testConfig(), TimeWait)
	for _, q := range []uint32{302, 303, 5000, 301, 100000} {
		f.step(f.now, "<SEQ="+itoa(q)+"><CTL=RST>", TimeWait)
		f.step(f.now, "<SEQ="+itoa(q)+"><ACK=102><CTL=RST,ACK>", TimeWait)
	}
	if d := f.deadline(); d != 2*testConfig().MSL {
		t.Fatalf("2MSL timer at %v after resets, want %v", d, 2*testConfig().MSL)
	}
	f.step(2*testConfig().MSL, "", Closed)
	if f.lastCause() != CauseTimeWait {
		t.Fatalf("cause %q", f.lastCause())
	}
}

// 3.10.7.4 step eight in TIME-WAIT: the peer's FIN again (our last ACK was
// lost) is acknowledged every time, and restarts the 2 MSL timeout.
func TestTimeWaitRetransmittedFin(t *testing.T) {
	msl := testConfig().MSL
	f := inState(t, testConfig(), TimeWait)
	f.step(3*time.Second, "<SEQ=301><ACK=102><CTL=FIN,ACK>", TimeWait, "<SEQ=102><ACK=302><CTL=ACK>")
	f.step(3*time.Second, "<SEQ=301><ACK=102><CTL=FIN,ACK>", TimeWait, "<SEQ=102><ACK=302><CTL=ACK>")
	if d := f.deadline(); d != 3*time.Second+2*msl {
		t.Fatalf("2MSL timer at %v, want %v", d, 3*time.Second+2*msl)
	}
	f.step(3*time.Second+2*msl-1, "", TimeWait)
	f.step(3*time.Second+2*msl, "", Closed)
}

// 3.10.7.4 in TIME-WAIT: an ACK of our FIN again, and text after the FIN
// (step seven: "this should not occur"), are dropped in silence; anything
// unacceptable, an ACK of data never sent (RFC 5961 5.2) and a SYN that
// cannot open a new incarnation are answered with an ACK, at most one per
// 500 ms (RFC 5961 7), so no peer can make TIME-WAIT a reflector.
func TestTimeWaitAnswersThrottled(t *testing.T) {
	f := inState(t, testConfig(), TimeWait)
	ack := "<SEQ=102><ACK=302><CTL=ACK>"
	f.step(f.now, "<SEQ=302><ACK=102><CTL=ACK>", TimeWait)
	f.step(f.now, "<SEQ=302><ACK=102><CTL=ACK><DATA=zz>", TimeWait)
	f.step(f.now, "<SEQ=302><ACK=102><CTL=ACK>", TimeWait)
	f.step(f.now, "<SEQ=20000><ACK=102><CTL=ACK>", TimeWait, ack) // outside the window
	f.step(f.now, "<SEQ=20000><ACK=102><CTL=ACK>", TimeWait)      // throttled
	f.step(f.now+499*time.Millisecond, "<SEQ=302><ACK=500><CTL=ACK>", TimeWait)
	f.step(f.now+time.Millisecond, "<SEQ=302><ACK=500><CTL=ACK>", TimeWait, ack) // beyond SND.NXT
	f.step(f.now+time.Second, "<SEQ=200><CTL=SYN>", TimeWait, ack)               // an old SYN
	f.step(f.now, "<SEQ=302><ACK=102><CTL=SYN,ACK>", TimeWait)
	start, answers := f.now, 0
	for f.now < start+10*time.Second { // a flood draws two answers per second
		answers += len(f.stepAny(f.now+time.Millisecond, "<SEQ=90000><ACK=102><CTL=ACK>", TimeWait))
	}
	if answers > 20 {
		t.Fatalf("10,000 unacceptable segments in 10 s drew %d answers, want at most 20", answers)
	}
	if d := f.deadline(); d != 2*testConfig().MSL {
		t.Fatalf("2MSL timer at %v, want %v", d, 2*testConfig().MSL)
	}
}

// RFC 9293 3.6.1 MAY-2 without timestamps: a SYN beyond RCV.NXT may open a
// new incarnation straight from TIME-WAIT; the record ends ("rcv SYN") and
// names the lowest ISS the new connection may use, above everything the
// old one sent.
func TestTimeWaitReopenBySequence(t *testing.T) {
	f := inState(t, testConfig(), TimeWait)
	f.step(f.now, "<SEQ=302><CTL=SYN>", TimeWait, "<SEQ=102><ACK=302><CTL=ACK>") // not beyond RCV.NXT
	f.step(f.now+time.Second, "<SEQ=90000><CTL=SYN>", Closed)
	if f.lastCause() != "rcv SYN" {
		t.Fatalf("cause %q", f.lastCause())
	}
	var r TimeWaitRecord
	r.sndNxt = 102
	if got := r.NextISS(); got != 102+0xffff+2 {
		t.Fatalf("NextISS = %d", got)
	}
}

// RFC 6191 2 (SHLD-4): with timestamps, a SYN reopens the connection when
// its TSval is newer than TS.Recent, whatever its sequence number; an older
// one leaves TIME-WAIT alone.
func TestTimeWaitReopenByTimestamp(t *testing.T) {
	f := tsEstablished(t)
	f.close()
	f.expect(FinWait1, "<SEQ=101><ACK=301><CTL=FIN,ACK><TS=5010,700>")
	f.step(20*time.Millisecond, "<SEQ=301><ACK=102><CTL=FIN,ACK><TS=710,5010>", TimeWait, "<SEQ=102><ACK=302><CTL=ACK><TS=5020,710>")
	// PAWS first: an old timestamp is an old duplicate.
	f.step(30*time.Millisecond, "<SEQ=301><ACK=102><CTL=FIN,ACK><TS=600,5010>", TimeWait, "<SEQ=102><ACK=302><CTL=ACK><TS=5030,710>")
	f.step(time.Second, "<SEQ=5><CTL=SYN><TS=705,0>", TimeWait, "<SEQ=102><ACK=302><CTL=ACK><TS=6000,710>")
	f.step(2*time.Second, "<SEQ=5><CTL=SYN><TS=900,0>", Closed)
}

// The record replaces the TCB's TIME-WAIT: TakeTimeWait hands it over once,
// after which the TCB keeps the unread data and no timer.
func TestTimeWaitTakeRecord(t *testing.T) {
	f := inState(t, testConfig(), TimeWait)
	r := f.c.TakeTimeWait()
	if r == nil || f.c.TakeTimeWait() != nil {
		t.Fatal("TakeTimeWait: want the record once")
	}
	f.noDeadline()
	if r.Expires() != 2*testConfig().MSL {
		t.Fatalf("Expires %v", r.Expires())
	}
	var out wire.TCP
	h, _, _ := parseSeg(t, "<SEQ=302><ACK=102><CTL=ACK>")
	if v := r.Arrive(time.Second, &h, 0, &out); v != TimeWaitDrop {
		t.Fatalf("verdict %v for an ACK of our FIN", v)
	}
	h, _, _ = parseSeg(t, "<SEQ=301><ACK=102><CTL=FIN,ACK>")
	if v := r.Arrive(time.Second, &h, 0, &out); v != TimeWaitAnswer || format(sent{h: out}) != "<SEQ=102><ACK=302><CTL=ACK><WND=7999>" {
		t.Fatalf("verdict %v, answer %s for the peer's FIN again", v, format(sent{h: out}))
	}
	if r.Expires() != time.Second+2*testConfig().MSL {
		t.Fatalf("Expires %v after the FIN again", r.Expires())
	}
}
