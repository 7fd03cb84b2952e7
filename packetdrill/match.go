package packetdrill

import (
	"fmt"

	"github.com/synack-tcp/synack/seq"
	"github.com/synack-tcp/synack/wire"
)

// coalesce joins the segments queued behind got that continue it, when
// the script writes one larger segment: how a flight is cut into segments
// (TSO, one MSS at a time) is the implementation's choice (portable mode).
func (r *runner) coalesce(p *Packet, got outPacket) outPacket {
	if r.opt.Strict || got.payload == 0 || got.payload >= p.Len || got.h.Flags&(wire.SYN|wire.RST) != 0 {
		return got
	}
	for len(r.ep.out) > 0 && got.payload < p.Len {
		n := r.ep.out[0]
		if n.h.Seq != got.h.Seq+uint32(got.payload) || n.payload == 0 || n.at != got.at ||
			n.h.Flags&^(wire.PSH|wire.FIN) != got.h.Flags&^(wire.PSH|wire.FIN) || got.payload+n.payload > p.Len {
			break
		}
		r.ep.out = r.ep.out[1:]
		r.trace("> %s (joined)", r.render(&n))
		got.payload += n.payload
		got.h.Flags |= n.h.Flags & (wire.PSH | wire.FIN)
		got.h.Ack, got.h.Window = n.h.Ack, n.h.Window
	}
	return got
}

// match compares a segment the stack sent with the script's.
func (r *runner) match(p *Packet, got *outPacket) error {
	if got.h.Flags&wire.SYN != 0 {
		r.localISN = seq.Value(got.h.Seq - p.Seq) // packetdrill learns the ISN here
	}
	want, have := flagBits(p.Flags), got.h.Flags
	if !r.opt.Strict {
		// RFC 9293 3.9.1 leaves where PSH goes to the sender (MAY-16).
		want, have = want&^wire.PSH, have&^wire.PSH
	}
	if want != have {
		return fmt.Errorf("flags differ")
	}
	if rel := uint32(seq.Value(got.h.Seq).Sub(r.localISN)); rel != p.Seq {
		return fmt.Errorf("sequence number %d, expected %d", rel, p.Seq)
	}
	if got.payload != p.Len {
		return fmt.Errorf("payload %d bytes, expected %d", got.payload, p.Len)
	}
	if got.h.Flags&wire.ACK != 0 {
		if rel := got.h.Ack - remoteISN; p.HasAck && rel != p.Ack {
			return fmt.Errorf("ack %d, expected %d", rel, p.Ack)
		}
	} else if r.opt.Strict && got.h.Ack != p.Ack {
		return fmt.Errorf("ack field %d without the ACK bit, expected %d", got.h.Ack, p.Ack)
	}
	if err := r.matchWindow(p, got); err != nil {
		return err
	}
	if p.ECN != "" {
		tc := got.ip.TOS & 3
		okECN := tc == ecnCodes[p.ECN] || (p.ECN == "ect01" && (tc == 1 || tc == 2))
		if !okECN {
			return fmt.Errorf("ECN codepoint %d, expected %s", tc, p.ECN)
		}
	}
	return r.matchOptions(p, got)
}

func (r *runner) matchWindow(p *Packet, got *outPacket) error {
	if !p.HasWin {
		return nil
	}
	w := uint32(got.h.Window)
	switch {
	case r.opt.Strict:
		if w != p.Win {
			return fmt.Errorf("window %d, expected %d", w, p.Win)
		}
	case got.h.Flags&wire.RST != 0:
		// A reset's window means nothing (RFC 9293 3.10.7: it is not
		// processed).
	case (p.Win == 0) != (w == 0):
		// The offered window is the implementation's; whether it is
		// closed is not.
		return fmt.Errorf("window %d, expected %d (open or closed must agree)", w, p.Win)
	}
	return nil
}

// matchOptions compares the options: as written (strict), or the same set
// with valid values (portable).
func (r *runner) matchOptions(p *Packet, got *outPacket) error {
	raw := rawOptions(got.opts)
	defer r.noteTS(p, raw)
	if p.AnyOptions {
		return nil
	}
	if r.opt.Strict {
		return r.matchOptionsStrict(p.Options, raw)
	}
	var want []Option
	for _, o := range p.Options {
		if o.Kind != "nop" && o.Kind != "eol" {
			want = append(want, o)
		}
	}
	var have []rawOption
	for _, o := range raw {
		if o.kind != wire.OptNOP && o.kind != wire.OptEOL {
			have = append(have, o)
		}
	}
	if len(want) != len(have) {
		return fmt.Errorf("%d options, expected %d", len(have), len(want))
	}
	for _, w := range want {
		found := false
		for _, h := range have {
			if h.kind == optionKind(w.Kind) {
				found = true
				if err := r.checkOption(w, h, false); err != nil {
					return err
				}
			}
		}
		if !found {
			return fmt.Errorf("option %s missing", w.Kind)
		}
	}
	return nil
}

func (r *runner) matchOptionsStrict(want []Option, have []rawOption) error {
	if len(want) != len(have) {
		return fmt.Errorf("%d options (with padding), expected %d", len(have), len(want))
	}
	for i, w := range want {
		if have[i].kind != optionKind(w.Kind) {
			return fmt.Errorf("option %d is kind %d, expected %s", i+1, have[i].kind, w.Kind)
		}
		if err := r.checkOption(w, have[i], true); err != nil {
			return err
		}
	}
	return nil
}

func optionKind(k string) byte {
	return map[string]byte{"nop": wire.OptNOP, "eol": wire.OptEOL, "mss": wire.OptMSS, "wscale": wire.OptWScale,
		"sackOK": wire.OptSACKPermitted, "sack": wire.OptSACK, "TS": wire.OptTimestamps}[k]
}

func (r *runner) checkOption(w Option, h rawOption, strict bool) error {
	switch w.Kind {
	case "mss":
		hdr := 40
		if r.v6 {
			hdr = 60
		}
		switch {
		case strict || r.maxseg > 0:
			if h.val != w.Val {
				return fmt.Errorf("mss %d, expected %d", h.val, w.Val)
			}
		case h.val == 0 || int(h.val) > r.mtu-hdr:
			return fmt.Errorf("mss %d is not valid for MTU %d", h.val, r.mtu)
		}
	case "wscale":
		if (strict && h.val != w.Val) || h.val > 14 {
			return fmt.Errorf("wscale %d, expected %d", h.val, w.Val)
		}
	case "TS":
		if h.ecr != w.Ecr {
			return fmt.Errorf("TS ecr %d, expected %d", h.ecr, w.Ecr)
		}
		if r.sentTS && int32(h.val-r.lastTSval) < 0 {
			return fmt.Errorf("TS val %d went back from %d (RFC 7323 5.4: monotonic)", h.val, r.lastTSval)
		}
		if strict && r.tsKnown {
			exp := r.tsLive + (w.Val - r.tsScript)
			slack := int32(r.tol.Milliseconds()) + 1
			if d := int32(h.val - exp); d > slack || d < -slack {
				return fmt.Errorf("TS val %d, expected %d", h.val-r.tsLive+r.tsScript, w.Val)
			}
		}
	case "sack":
		if len(h.blocks) != len(w.Blocks) {
			return fmt.Errorf("%d SACK blocks, expected %d", len(h.blocks), len(w.Blocks))
		}
		for i, b := range w.Blocks {
			if h.blocks[i][0]-remoteISN != b[0] || h.blocks[i][1]-remoteISN != b[1] {
				return fmt.Errorf("SACK block %d:%d, expected %d:%d", h.blocks[i][0]-remoteISN, h.blocks[i][1]-remoteISN, b[0], b[1])
			}
		}
	}
	return nil
}

// noteTS learns how the script's TSvals map to the stack's clock.
func (r *runner) noteTS(p *Packet, raw []rawOption) {
	for _, h := range raw {
		if h.kind != wire.OptTimestamps {
			continue
		}
		if !r.tsKnown && !p.AnyOptions {
			for _, w := range p.Options {
				if w.Kind == "TS" {
					r.tsScript, r.tsLive, r.tsKnown = w.Val, h.val, true
				}
			}
		}
		r.lastTSval, r.sentTS = h.val, true
	}
}
