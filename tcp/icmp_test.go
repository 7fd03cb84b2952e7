package tcp

import (
	"errors"
	"testing"
	"time"
)

// icmp delivers an ICMP error to the fixture's TCB and checks the result.
func (f *fixture) icmp(kind ICMPKind, quotedSeq uint32, mtu, quotedLen int, want ICMPResult) {
	f.t.Helper()
	if got := f.c.ICMPError(f.now, kind, quotedSeq, mtu, quotedLen); got != want {
		f.t.Fatalf("t=%v: ICMP %v quoting SEQ=%d: result %d, want %d", f.now, kind, quotedSeq, got, want)
	}
	f.check()
}

// inFlight is an ESTABLISHED fixture (ISS 100, IRS 300, MSS 1000) with
// <SEQ=101><LEN=1000> and <SEQ=1101><LEN=1000> unacknowledged.
func inFlight(t *testing.T, cfg Config) *fixture {
	t.Helper()
	f := establishedWith(t, cfg, "<SEQ=300><ACK=101><CTL=SYN,ACK><MSS=1000><WND=4000>")
	f.write(bytesOf(2000))
	f.expect(Established, "<SEQ=101><LEN=1000>", "<SEQ=1101><LEN=1000>")
	return f
}

// RFC 9293 3.9.2.2 (MUST-56, SHLD-25, MUST-47), RFC 1122 4.2.3.9 and RFC
// 5461 4: a soft error (host
// unreachable, network unreachable, time exceeded) does not abort a
// synchronized connection; it is reported (SoftError), and if the
// connection then gives up at R2 the user is told that error instead of a
// bare timeout (as Linux reports EHOSTUNREACH). An acknowledgment of new
// data makes it stale, as Linux clears sk_err_soft.
func TestICMPSoftErrorReportedOnTimeout(t *testing.T) {
	for _, c := range []struct {
		kind ICMPKind
		err  error
	}{
		{ICMPHostUnreachable, ErrHostUnreachable},
		{ICMPNetUnreachable, ErrNetUnreachable},
		{ICMPTimeExceeded, ErrTimeExceeded},
		{ICMPParamProblem, ErrParamProblem},
	} {
		t.Run(c.kind.String(), func(t *testing.T) {
			cfg := testConfig()
			cfg.R2 = 10 * sec
			f := inFlight(t, cfg)
			f.icmp(c.kind, 1101, 0, 0, ICMPSoft)
			f.expect(Established)                   // nothing sent, nothing changed
			if !errors.Is(f.c.SoftError(), c.err) { // MUST-47: ERROR_REPORT
				t.Fatalf("soft error %v", f.c.SoftError())
			}
			// The peer answers after all: the connection goes on, and the
			// error is stale.
			f.step(100*time.Millisecond, "<SEQ=301><ACK=2101><CTL=ACK>", Established)
			if f.c.SoftError() != nil {
				t.Fatalf("soft error %v after an acknowledgment", f.c.SoftError())
			}
			f.write(bytesOf(10))
			f.expect(Established, "<SEQ=2101><LEN=10>")
			f.icmp(c.kind, 2101, 0, 0, ICMPSoft) // and now the path fails for good
			f.advance(30 * sec)
			if f.c.State() != Closed || !errors.Is(f.c.Err(), c.err) || f.lastCause() != CauseRetransmit {
				t.Fatalf("%v, err %v, cause %q; want CLOSED with %v", f.c.State(), f.c.Err(), f.lastCause(), c.err)
			}
		})
	}
}

// MUST-54 and SHLD-26 (RFC 9293 3.9.2.2, RFC 1122 4.2.3.9): protocol and
// port unreachable are hard errors and abort the connection, port unreachable
// reporting "connection refused" as Linux does; the transition's cause
// names the message.
func TestICMPHardErrorAborts(t *testing.T) {
	for _, c := range []struct {
		kind  ICMPKind
		err   error
		cause Cause
	}{
		{ICMPPortUnreachable, ErrRefused, "rcv ICMP port unreachable"},
		{ICMPProtoUnreachable, ErrProtoUnreachable, "rcv ICMP protocol unreachable"},
	} {
		f := inFlight(t, testConfig())
		f.icmp(c.kind, 101, 0, 0, ICMPAborted)
		f.expect(Closed) // no reset: the peer is not there to hear it
		if !errors.Is(f.c.Err(), c.err) || f.lastCause() != c.cause {
			t.Fatalf("%v: err %v, cause %q", c.kind, f.c.Err(), f.lastCause())
		}
	}
}

// In SYN-SENT the unreachables abort the connection attempt at once (RFC
// 5461 4.1 allows it; Linux fails connect with EHOSTUNREACH/ENETUNREACH),
// while time exceeded stays soft and is reported when R2Syn gives up.
func TestICMPSynSent(t *testing.T) {
	f := newFixture(t, testConfig())
	f.c.OpenActive(0, 100)
	f.expect(SynSent, "<SEQ=100><CTL=SYN>")
	f.icmp(ICMPNetUnreachable, 100, 0, 0, ICMPAborted)
	f.expect(Closed)
	if !errors.Is(f.c.Err(), ErrNetUnreachable) || f.lastCause() != "rcv ICMP network unreachable" {
		t.Fatalf("err %v, cause %q", f.c.Err(), f.lastCause())
	}

	cfg := testConfig()
	cfg.R2Syn = 5 * sec
	f = newFixture(t, cfg)
	f.c.OpenActive(0, 100)
	f.expect(SynSent, "<SEQ=100><CTL=SYN>")
	f.icmp(ICMPTimeExceeded, 100, 0, 0, ICMPSoft)
	f.advance(20 * sec)
	if f.c.State() != Closed || !errors.Is(f.c.Err(), ErrTimeExceeded) {
		t.Fatalf("%v, err %v", f.c.State(), f.c.Err())
	}
}

// A hard error for a passive SYN-RECEIVED connection (the client's port is
// gone) returns it to LISTEN.
func TestICMPSynReceivedBackToListen(t *testing.T) {
	f := newFixture(t, testConfig())
	f.c.OpenPassive(300)
	f.step(0, "<SEQ=100><CTL=SYN>", SynReceived, "<SEQ=300><ACK=101><CTL=SYN,ACK>")
	f.icmp(ICMPPortUnreachable, 300, 0, 0, ICMPAborted)
	f.expect(Listen)
}

// RFC 5927 4.1: an ICMP error is acted on only if the sequence number it
// quotes lies in SND.UNA..SND.NXT. Forged
// messages quoting anything else, and any message while nothing is in
// flight, are ignored, however many arrive: a flood of them changes
// nothing and makes us send nothing.
func TestICMPOutOfWindowIgnored(t *testing.T) {
	f := inFlight(t, testConfig())
	for _, s := range []uint32{100, 2101, 2102, 1 << 31, 0} { // below SND.UNA, at and past SND.NXT
		for _, k := range []ICMPKind{ICMPPortUnreachable, ICMPProtoUnreachable, ICMPHostUnreachable, ICMPPacketTooBig} {
			f.icmp(k, s, 576, 1040, ICMPIgnored)
		}
	}
	for i := uint32(0); i < 100000; i++ { // a flood guessing at random outside the window
		s := 2101 + i*42947
		if s-101 < 2000 {
			continue
		}
		f.icmp(ICMPPortUnreachable, s, 0, 0, ICMPIgnored)
		f.icmp(ICMPPacketTooBig, s, 68, 1040, ICMPIgnored)
	}
	f.expect(Established)
	if f.c.Err() != nil || f.c.Status().SendMSS != 1000 || f.c.PathMTU() != 0 {
		t.Fatalf("err %v, MSS %d", f.c.Err(), f.c.Status().SendMSS)
	}
	// Once everything is acknowledged, nothing is in flight to match.
	f.step(0, "<SEQ=301><ACK=2101><CTL=ACK>", Established)
	f.icmp(ICMPPortUnreachable, 2100, 0, 0, ICMPIgnored)
	f.icmp(ICMPPortUnreachable, 2101, 0, 0, ICMPIgnored)
	// The soft error a timeout reports must have been accepted, not guessed.
	if f.c.timeoutErr() != ErrTimeout {
		t.Fatalf("timeout would report %v", f.c.timeoutErr())
	}
}

// RFC 1191 and RFC 8201: a packet too big (fragmentation needed) lowers
// the effective send MSS to fit the reported MTU and resends what was in
// flight at once, resized, without a congestion response; the MSS never
// grows back on a later message reporting a larger MTU.
func TestICMPPacketTooBig(t *testing.T) {
	f := inFlight(t, testConfig())
	cwnd := f.c.Status().Cwnd
	f.icmp(ICMPPacketTooBig, 1101, 576, 1040, ICMPMTULowered)
	f.expect(Established, "<SEQ=101><LEN=536>", "<SEQ=637><LEN=536>", "<SEQ=1173><LEN=536>", "<SEQ=1709><LEN=392>")
	st := f.c.Status()
	if st.SendMSS != 536 || f.c.PathMTU() != 576 || st.Cwnd < cwnd {
		t.Fatalf("MSS %d, path MTU %d, cwnd %d (was %d)", st.SendMSS, f.c.PathMTU(), st.Cwnd, cwnd)
	}
	f.icmp(ICMPPacketTooBig, 101, 1000, 1040, ICMPMTUIgnored) // larger than the current estimate
	f.step(100*time.Millisecond, "<SEQ=301><ACK=2101><CTL=ACK>", Established)
	f.write(bytesOf(600))
	f.expect(Established, "<SEQ=2101><LEN=536>", "<SEQ=2637><LEN=64>")
}

// RFC 5927 7: a packet too big that claims an MTU at least as large as the
// packet it quotes is forged (or broken) and ignored; an MTU below 68
// bytes is taken as 68 (RFC 1191 3); a message without the next-hop MTU
// (RFC 1191 5) takes the next plateau below the quoted length.
func TestICMPPacketTooBigChecks(t *testing.T) {
	f := inFlight(t, testConfig())
	f.icmp(ICMPPacketTooBig, 101, 1040, 1040, ICMPMTUIgnored)
	f.icmp(ICMPPacketTooBig, 101, 1500, 1040, ICMPMTUIgnored)
	f.icmp(ICMPPacketTooBig, 101, 576, 0, ICMPMTUIgnored)
	f.expect(Established)
	f.icmp(ICMPPacketTooBig, 101, 0, 1040, ICMPMTULowered) // plateau 1006
	if got := f.c.Status().SendMSS; got != 1006-40 {
		t.Fatalf("MSS %d after a plateau, want %d", got, 1006-40)
	}
	f.stepAny(f.now, "", Established)
	f.icmp(ICMPPacketTooBig, 101, 20, 1040, ICMPMTULowered)
	if got := f.c.Status().SendMSS; got != 68-40 {
		t.Fatalf("MSS %d below the 68-byte floor, want %d", got, 68-40)
	}
	segs := f.stepAny(f.now, "", Established)
	if len(segs) == 0 || len(segs[0].data) != 28 {
		t.Fatalf("resent %v", formatAll(segs))
	}

	cfg := testConfig()
	cfg.IPv6 = true
	f = inFlight(t, cfg)
	f.icmp(ICMPPacketTooBig, 101, 600, 1060, ICMPMTUIgnored) // RFC 8201 4: nothing below 1280, and 1000 fits
	if got := f.c.Status().SendMSS; got != 1000 {
		t.Fatalf("IPv6 MSS %d", got)
	}
}
