package tcp

import (
	"testing"
	"time"
)

// RFC 9293 3.8.4: keep-alive is off by default (MUST-25); when on, a probe
// <SEQ=SND.UNA-1><ACK=RCV.NXT> without data (SHLD-12) goes out after the
// idle time (MUST-27), an answered probe keeps the connection (MUST-29),
// and KeepAliveCount unanswered probes drop it.
func TestKeepAliveProbesAndGivesUp(t *testing.T) {
	off := established(t, testConfig())
	off.step(3*time.Hour, "", Established) // nothing: off by default

	cfg := testConfig()
	cfg.KeepAlive, cfg.KeepAliveIdle, cfg.KeepAliveInterval, cfg.KeepAliveCount = true, time.Hour, 10*time.Second, 3
	f := established(t, cfg)
	f.step(time.Hour-time.Millisecond, "", Established)
	f.step(time.Hour, "", Established, "<SEQ=100><ACK=301><CTL=ACK>")
	// The peer answers: the idle clock starts again.
	f.step(time.Hour+time.Second, "<SEQ=301><ACK=101><CTL=ACK>", Established)
	f.step(2*time.Hour, "", Established)
	f.step(2*time.Hour+time.Second, "", Established, "<SEQ=100><ACK=301><CTL=ACK>")
	// Unanswered: two more probes, 10 s apart, then the connection is dropped.
	f.step(2*time.Hour+11*time.Second, "", Established, "<SEQ=100><ACK=301><CTL=ACK>")
	f.step(2*time.Hour+21*time.Second, "", Established, "<SEQ=100><ACK=301><CTL=ACK>")
	f.step(2*time.Hour+31*time.Second, "", Closed)
	if f.c.Err() != ErrTimeout || f.lastCause() != CauseKeepalive {
		t.Fatalf("err %v, cause %q", f.c.Err(), f.lastCause())
	}
}

// MUST-26: no keep-alive while data is outstanding (the retransmission
// timer is watching); and the default idle is 2 hours (MUST-28).
func TestKeepAliveDefaultsAndOutstandingData(t *testing.T) {
	var c Config
	c.setDefaults()
	if c.KeepAlive || c.KeepAliveIdle != 2*time.Hour {
		t.Fatalf("defaults: on=%v idle=%v", c.KeepAlive, c.KeepAliveIdle)
	}
	cfg := testConfig()
	cfg.KeepAlive, cfg.KeepAliveIdle = true, time.Minute
	f := established(t, cfg)
	f.write([]byte("x"))
	f.expect(Established, "<SEQ=101><ACK=301><CTL=ACK><DATA=x>")
	segs := f.stepAny(time.Minute, "", Established)
	for _, s := range segs {
		if s.h.Seq == 100 {
			t.Fatal("keep-alive probe with data outstanding")
		}
	}
}

// Cork holds partial segments until it is lifted; full segments go.
func TestCork(t *testing.T) {
	f := established(t, testConfig())
	f.c.SetCork(f.now, true)
	f.write(bytesOf(1500)) // the peer sent no MSS option: 536-byte segments (MUST-15)
	f.expect(Established, "<SEQ=101><ACK=301><CTL=ACK><LEN=536>", "<SEQ=637><ACK=301><CTL=ACK><LEN=536>")
	f.c.SetCork(f.now, false)
	f.expect(Established, "<SEQ=1173><ACK=301><CTL=ACK><LEN=428>")
}

// Nagle (SHLD-7) holds a small segment while data is unacknowledged;
// SetNoDelay (MUST-17) releases it.
func TestSetNoDelay(t *testing.T) {
	cfg := testConfig()
	cfg.NoDelay = false
	f := established(t, cfg)
	f.write([]byte("a"))
	f.expect(Established, "<SEQ=101><ACK=301><CTL=ACK><DATA=a>")
	f.write([]byte("b"))
	f.expect(Established)
	f.c.SetNoDelay(f.now, true)
	f.expect(Established, "<SEQ=102><ACK=301><CTL=ACK><DATA=b>")
}

// PersistTimeout gives up on a peer that never opens its window.
func TestPersistTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.PersistTimeout = time.Minute
	f := established(t, cfg)
	f.step(0, "<SEQ=301><ACK=101><CTL=ACK><WND=0>", Established)
	f.write([]byte("data"))
	f.expect(Established)
	probes := 0
	for i := 0; i < 100 && f.c.State() != Closed; i++ {
		f.advance(f.deadline())
		probes += len(f.out.segs)
		f.out.segs = nil
		if f.c.State() != Closed {
			f.input("<SEQ=301><ACK=101><CTL=ACK><WND=0>") // each probe answered: the window stays shut
			f.c.Flush(f.now)
		}
	}
	if probes < 3 {
		t.Fatalf("%d probes before giving up", probes)
	}
	if f.c.State() != Closed || f.c.Err() != ErrTimeout || f.now < time.Minute || f.now > 3*time.Minute {
		t.Fatalf("state %v err %v at %v", f.c.State(), f.c.Err(), f.now)
	}
}

// RFC 5681 4.1: after an idle period longer than the RTO, the window
// restarts from the initial window.
func TestSlowStartAfterIdle(t *testing.T) {
	cfg := testConfig()
	cfg.SendBuf = 1 << 20
	f := established(t, cfg)
	f.c.snd.wnd = 1 << 20
	f.c.ccs.Cwnd = 50 * f.c.snd.mss
	f.write(bytesOf(1000))
	f.stepAny(0, "", Established)
	f.step(10*time.Millisecond, "<SEQ=301><ACK=1101><CTL=ACK><WND=60000>", Established)
	f.advance(10 * time.Second)
	f.write(bytesOf(100000))
	segs := f.stepAny(10*time.Second, "", Established)
	if len(segs) != 10 {
		t.Fatalf("after idle sent %d segments, want the initial window of 10", len(segs))
	}
}

// A fully closed connection does not wait in FIN-WAIT-2 forever for a FIN
// that never comes; a half-closed one (the user may still read) does.
func TestFinWait2Timeout(t *testing.T) {
	cfg := testConfig()
	cfg.FinWait2Timeout = 30 * time.Second
	f := established(t, cfg)
	f.c.CloseRead(f.now)
	f.close()
	f.expect(FinWait1, "<SEQ=101><ACK=301><CTL=FIN,ACK>")
	f.step(500*time.Millisecond, "<SEQ=301><ACK=102><CTL=ACK>", FinWait2)
	f.step(30500*time.Millisecond-time.Millisecond, "", FinWait2)
	f.step(30500*time.Millisecond, "", Closed)
	if f.lastCause() != CauseFinWait2 {
		t.Fatalf("cause %q", f.lastCause())
	}
	h := established(t, cfg)
	h.close()
	h.expect(FinWait1, "<SEQ=101><ACK=301><CTL=FIN,ACK>")
	h.step(500*time.Millisecond, "<SEQ=301><ACK=102><CTL=ACK>", FinWait2)
	h.step(time.Hour, "<SEQ=301><ACK=102><CTL=ACK><DATA=still talking>", FinWait2, "<SEQ=102><ACK=314><CTL=ACK>")
}
