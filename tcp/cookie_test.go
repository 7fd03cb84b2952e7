package tcp

import (
	"testing"
	"time"

	"github.com/synack-tcp/synack/wire"
)

// RFC 4987 3.6: the SYN,ACK a cookie answers a SYN with offers what
// sendSyn would (MSS, MUST-14; window scale, SACK-permitted, timestamps
// and ECN when the SYN asked) with the cookie as ISS and the encoded
// options as TSval; without timestamps nothing but the MSS can be
// remembered, so nothing else is offered.
func TestCookieSynAck(t *testing.T) {
	cfg := tsConfig()
	cfg.WindowScale, cfg.SACK, cfg.ECN, cfg.RecvBufMax = true, true, true, 1<<20
	syn, _, _ := parseSeg(t, "<SEQ=100><CTL=SYN,ECE,CWR><MSS=1460><WS=7><SACKOK=><TS=700,0>")
	h := CookieSynAck(cfg, &syn, 123456, 99)
	got := sent{h: h}
	want := "<SEQ=123456><ACK=101><CTL=SYN,ACK,ECE><WND=8000><MSS=1000><WS=5><SACKOK=><TS=99,700>"
	if !matches(t, got, want) {
		t.Fatalf("cookie SYN,ACK %s (ws %v/%d), want %s", format(got), h.Options.HasWScale, h.Options.WScale, want)
	}
	plain, _, _ := parseSeg(t, "<SEQ=100><CTL=SYN,ECE,CWR><MSS=1460><WS=7><SACKOK=>")
	h = CookieSynAck(cfg, &plain, 123456, 99)
	if o := h.Options; !o.HasMSS || o.HasWScale || o.SACKPermitted || o.HasTimestamps || h.Flags != wire.SYN|wire.ACK {
		t.Fatalf("cookie SYN,ACK without timestamps offers %+v flags %v", o, h.Flags)
	}
}

// A TCB made from a valid cookie walks LISTEN -> SYN-RECEIVED ->
// ESTABLISHED on the returning ACK (3.10.7.2, 3.10.7.4 step five) with
// the options the cookie restored, sends nothing for the ACK itself, and
// then carries data like any other connection.
func TestCookieOpenEstablished(t *testing.T) {
	cfg := tsConfig()
	cfg.WindowScale, cfg.SACK = true, true
	f := newFixture(t, cfg)
	f.now = 5 * time.Second
	k := SynCookie{ISS: 300, IRS: 100, MSS: 536, TS: true, TSVal: 800, WScale: 2, SACK: true, Window: 1000}
	if err := f.c.OpenCookie(f.now, k); err != nil {
		t.Fatal(err)
	}
	f.step(f.now, "<SEQ=101><ACK=301><CTL=ACK><WND=1000><TS=800,4990>", Established)
	if w := f.walk(); len(w) != 4 || w[0] != Closed || w[1] != Listen || w[2] != SynReceived || w[3] != Established {
		t.Fatalf("walk %v", w)
	}
	st := f.c.Status()
	if !st.Timestamps || !st.SACK || !st.WindowScale || st.SndShift != 2 || st.SendMSS != 536-12 || st.SndWnd != 4000 {
		t.Fatalf("status %+v", st)
	}
	f.write([]byte("hello"))
	f.expect(Established, "<SEQ=301><ACK=101><CTL=ACK><DATA=hello><TS=10000,800>")
	f.step(f.now, "<SEQ=101><ACK=306><CTL=ACK><DATA=hi><TS=801,10000>", Established, "<SEQ=306><ACK=103><CTL=ACK>")
	if got, _ := f.read(); got != "hi" {
		t.Fatalf("read %q", got)
	}
	if err := f.c.OpenCookie(f.now, k); err != ErrExists {
		t.Fatalf("OpenCookie on an open TCB: %v", err)
	}
}

// An ACK that does not acknowledge exactly the cookie is refused as in
// SYN-RECEIVED (3.10.7.4 step five: <SEQ=SEG.ACK><CTL=RST>).
func TestCookieOpenBadAck(t *testing.T) {
	f := newFixture(t, testConfig())
	if err := f.c.OpenCookie(0, SynCookie{ISS: 300, IRS: 100, MSS: 1460, WScale: -1}); err != nil {
		t.Fatal(err)
	}
	f.step(0, "<SEQ=101><ACK=305><CTL=ACK>", SynReceived, "<SEQ=305><CTL=RST>")
	f.step(time.Second, "", SynReceived, "<SEQ=300><ACK=101><CTL=SYN,ACK>") // its timer runs
	f.step(f.now, "<SEQ=101><ACK=301><CTL=ACK>", Established)
	if st := f.c.Status(); st.SendMSS != 1000 || st.Timestamps || st.SACK || st.WindowScale {
		t.Fatalf("status %+v", st)
	}
}
