package tcp

import (
	"time"

	"github.com/synack-tcp/synack/seq"
	"github.com/synack-tcp/synack/wire"
)

// SYN cookies (RFC 4987 3.6): when a listener's SYN queue is full the stack
// answers a SYN without making a TCB, with a SYN,ACK whose ISS (and, with
// timestamps, TSval) encodes what the SYN negotiated; the ACK that returns
// the cookie makes the TCB. The stack computes and checks the cookie (it
// holds the secret); tcp builds the SYN,ACK and the TCB, so both follow
// the same rules as a SYN answered from SYN-RECEIVED.

// SynCookie is what a valid cookie restores of the SYN it answered.
type SynCookie struct {
	ISS, IRS seq.Value // the cookie itself, and the peer's ISN
	MSS      int       // the peer's MSS, rounded down to the cookie's table
	TS       bool      // timestamps were negotiated (the ACK carries them)
	TSVal    uint32    // the ACK's TSval: TS.Recent
	WScale   int       // the peer's window shift, or -1 without the option
	SACK     bool      // SACK was permitted
	ECN      bool      // the SYN asked for ECN and we granted it
	Window   uint16    // the ACK's window field
}

// CookieSynAck is the SYN,ACK that answers syn from a cookie: ISS iss,
// our options as sendSyn offers them, and tsVal as our timestamp. Without
// timestamps in syn nothing but the MSS can be remembered, so nothing else
// is offered (as Linux does); with them, window scaling, SACK and ECN are
// granted as usual and the stack encodes them in tsVal.
func CookieSynAck(cfg Config, syn *wire.TCP, iss seq.Value, tsVal uint32) wire.TCP {
	cfg.setDefaults()
	h := wire.TCP{
		Seq: uint32(iss), Ack: uint32(seq.Value(syn.Seq).Add(1)), Flags: wire.SYN | wire.ACK,
		Window: uint16(min(cfg.RecvBuf, 0xffff)), // a SYN's window is never scaled
	}
	h.Options.HasMSS, h.Options.MSS = true, uint16(min(cfg.MSS, 0xffff)) // MUST-14
	if !cfg.Timestamps || !syn.Options.HasTimestamps {
		return h
	}
	h.Options.HasTimestamps, h.Options.TSVal, h.Options.TSEcr = true, tsVal, syn.Options.TSVal
	if cfg.WindowScale && syn.Options.HasWScale {
		h.Options.HasWScale, h.Options.WScale = true, windowShiftFor(cfg.RecvBufMax)
	}
	h.Options.SACKPermitted = cfg.SACK && syn.Options.SACKPermitted
	if cfg.ECN && syn.Flags&(wire.ECE|wire.CWR) == wire.ECE|wire.CWR {
		h.Flags |= wire.ECE // RFC 3168 6.1.1
	}
	return h
}

// OpenCookie turns a CLOSED TCB into the SYN-RECEIVED connection a cookie
// describes, as if it had taken the SYN in LISTEN (3.10.7.2) and sent the
// cookie's SYN,ACK: the caller then feeds it the ACK that carried the
// cookie, which takes it to ESTABLISHED by the usual step five. The
// transitions are the usual ones (LISTEN -> SYN-RECEIVED on the SYN,
// SYN-RECEIVED -> ESTABLISHED on the ACK), both reported at the ACK.
func (c *TCB) OpenCookie(now time.Duration, k SynCookie) error {
	if err := c.OpenPassive(k.ISS); err != nil {
		return err
	}
	syn := wire.TCP{Seq: uint32(k.IRS), Flags: wire.SYN, Window: k.Window}
	if k.MSS > 0 {
		syn.Options.HasMSS, syn.Options.MSS = true, uint16(k.MSS)
	}
	if k.TS {
		syn.Options.HasTimestamps, syn.Options.TSVal = true, k.TSVal
		if k.WScale >= 0 {
			syn.Options.HasWScale, syn.Options.WScale = true, uint8(k.WScale)
		}
		syn.Options.SACKPermitted = k.SACK
		if k.ECN {
			syn.Flags |= wire.ECE | wire.CWR
		}
	}
	c.arriveListen(now, &syn)
	// The SYN,ACK went out when the SYN came: it is not sent now, and
	// its ACK of RCV.NXT is Last.ACK.sent (RFC 7323 4.3). Its timer runs
	// as in SYN-RECEIVED, should the ACK fed next not complete the
	// handshake.
	c.snd.nxt = c.snd.iss.Add(1)
	c.snd.max = c.snd.nxt
	c.ts.lastAck = c.rcv.nxt
	c.rtoAt = now + c.rtt.rto
	return nil
}
