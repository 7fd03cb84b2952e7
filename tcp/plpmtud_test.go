package tcp

import (
	"fmt"
	"testing"
	"time"
)

// ackAll has the peer acknowledge everything sent so far, and sends what
// that lets go until all written data is acknowledged.
func (f *fixture) ackAll() {
	f.t.Helper()
	for i := 0; i < 100 && (f.c.snd.una != f.c.snd.max || f.c.sb.n > 0); i++ {
		f.stepAny(f.now, fmt.Sprintf("<SEQ=301><ACK=%d><CTL=ACK><WND=60000>", uint32(f.c.snd.max)), Established)
	}
}

// RFC 4821 7.7 and RFC 8899 4.3: a path that silently drops full-size
// segments (a black hole: no ICMP comes back) is detected at the second
// consecutive timeout, and the segment goes out again at the base PLPMTU
// (1200 bytes for IPv4: an MSS of 1160), so the connection does not hang.
// Later (RFC 4821 7.3) larger sizes are tried with the connection's data:
// one that draws two timeouts in a row is given up for the last size that
// worked; one that does not stands.
func TestPLPMTUDBlackHole(t *testing.T) {
	cfg := testConfig()
	cfg.MSS = 1460
	cfg.SendBuf = 64 << 10
	f := establishedWith(t, cfg, "<SEQ=300><ACK=101><CTL=SYN,ACK><MSS=1460><WND=60000>")
	f.write(bytesOf(1460))
	f.expect(Established, "<SEQ=101><LEN=1460>")
	f.step(1*sec, "", Established, "<SEQ=101><LEN=1460>") // first RTO: could be loss
	f.step(3*sec, "", Established, "<SEQ=101><LEN=1160>")
	if f.c.PathMTU() != 1200 || f.c.icmp.plp.events != 1 {
		t.Fatalf("path MTU %d after a black hole, want 1200", f.c.PathMTU())
	}
	f.step(3*sec+50*time.Millisecond, "<SEQ=301><ACK=1261><CTL=ACK><WND=60000>", Established, "<SEQ=1261><LEN=300>")
	f.step(3*sec+100*time.Millisecond, "<SEQ=301><ACK=1561><CTL=ACK><WND=60000>", Established)

	// 30 s later the search tries halfway to the handshake's 1500: 1350.
	f.advance(34 * sec)
	f.write(bytesOf(4000))
	segs := f.stepAny(f.now, "", Established)
	if len(segs) == 0 || len(segs[0].data) != 1350-40 {
		t.Fatalf("probe %v, want a %d-byte segment", formatAll(segs), 1350-40)
	}
	// It is lost twice: the search goes back to 1200 and remembers 1350 failed.
	f.advance(f.now + 13*sec) // the RTO is 4 s after the black hole's backoff: 4 + 8
	f.out.segs = nil
	if f.c.PathMTU() != 1200 || f.c.icmp.plp.bad != 1350 {
		t.Fatalf("after a failed probe: path MTU %d, bad %d", f.c.PathMTU(), f.c.icmp.plp.bad)
	}
	f.ackAll()
	// The next try is between 1200 and 1350, and it works: it stands.
	f.advance(f.now + 31*sec)
	f.write(bytesOf(3000))
	segs = f.stepAny(f.now, "", Established)
	if len(segs) == 0 || len(segs[0].data) != 1275-40 {
		t.Fatalf("second probe %v, want %d bytes", formatAll(segs), 1275-40)
	}
	f.advance(f.now + 50*time.Millisecond)
	f.ackAll()
	f.advance(f.now + 31*sec)
	f.write(bytesOf(100))
	f.stepAny(f.now, "", Established)
	if p := &f.c.icmp.plp; p.good != 1275 || f.c.PathMTU() < 1275 {
		t.Fatalf("good %d, path MTU %d", p.good, f.c.PathMTU())
	}
}

// A connection whose MSS is at or below the base size never shrinks on
// timeouts: they are loss, not a black hole.
func TestPLPMTUDNotBelowBase(t *testing.T) {
	f := inFlight(t, testConfig()) // MSS 1000: 1040-byte packets
	f.advance(20 * sec)
	if f.c.Status().SendMSS != 1000 || f.c.icmp != nil {
		t.Fatalf("MSS %d after timeouts", f.c.Status().SendMSS)
	}
}

// Soak seed 985: a peer's 4 KiB window keeps segments at 4096 bytes,
// under a 9000-byte link's MSS but over a 1280-byte black hole's; the
// detector must judge the segment resent, not the MSS, or the connection
// retransmits 4096-byte segments until R2.
func TestPLPMTUDWindowLimitedSegments(t *testing.T) {
	cfg := testConfig()
	cfg.MSS = 8960
	f := establishedWith(t, cfg, "<SEQ=300><ACK=101><CTL=SYN,ACK><MSS=8960><WND=4096>")
	f.write(bytesOf(6000))
	f.expect(Established, "<SEQ=101><LEN=4096>")
	f.step(1*sec, "", Established, "<SEQ=101><LEN=4096>")
	f.step(3*sec, "", Established, "<SEQ=101><LEN=1160>")
}
