package tcp

import (
	"testing"
	"time"
)

// The defaults RFC 9293 puts a bound on, each with the zero Config the
// stack starts from.

// MUST-29: one unanswered keep-alive probe does not end the connection;
// by default nine go unanswered (75 s apart) before it is dropped.
func TestDefaultKeepAliveCount(t *testing.T) {
	cfg := testConfig()
	cfg.KeepAlive = true // idle, interval and count: defaults
	f := established(t, cfg)
	at := 2 * time.Hour // MUST-28: the default idle time
	f.step(at, "", Established, "<SEQ=100><ACK=301><CTL=ACK>")
	for i := 2; i <= 9; i++ {
		at += 75 * time.Second
		f.step(at, "", Established, "<SEQ=100><ACK=301><CTL=ACK>") // probe i: still open
	}
	f.step(at+75*time.Second, "", Closed)
	if f.c.Err() != ErrTimeout {
		t.Fatalf("err %v", f.c.Err())
	}
}

// MUST-40: an ACK is never delayed 0.5 s or more, whatever AckDelay asks;
// the default delay is 40 ms.
func TestDefaultAckDelayUnderHalfSecond(t *testing.T) {
	for _, asked := range []time.Duration{0, 500 * time.Millisecond, time.Hour} {
		cfg := delackConfig()
		cfg.AckDelay = asked
		f := established(t, cfg)
		f.step(0, "<SEQ=301><ACK=101><CTL=ACK><DATA=x>", Established)
		d := f.deadline()
		want := 40 * time.Millisecond
		if asked > 0 {
			want = 499 * time.Millisecond
		}
		if d != want {
			t.Fatalf("AckDelay %v: the ACK is due at %v, want %v", asked, d, want)
		}
		f.step(d, "", Established, "<SEQ=101><ACK=302><CTL=ACK>")
	}
}
