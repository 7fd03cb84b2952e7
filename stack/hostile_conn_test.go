package stack

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/synack-tcp/synack/tcp"
	"github.com/synack-tcp/synack/wire"
)

// Blind floods into an established connection between two synack stacks:
// an off-path attacker who knows the 4-tuple sends 1,000 packets a second
// for 5 s with guessed sequence numbers (for the in-window kinds, lucky
// guesses: always inside the receive window, the worst case). The
// connection is idle, so everything the server sends is an answer: at
// most 2 per second (RFC 5961 7), no reset, and the stream is intact
// afterwards.
func TestHostileBlindFloods(t *testing.T) {
	kinds := []struct {
		name string
		make func(r *rand.Rand, rcvNxt, sndNxt uint32) (wire.TCP, []byte)
	}{
		{"RST in window (RFC 5961 3)", func(r *rand.Rand, rn, sn uint32) (wire.TCP, []byte) {
			return wire.TCP{Seq: rn + 1 + r.Uint32N(60000), Flags: wire.RST}, nil
		}},
		{"RST anywhere", func(r *rand.Rand, rn, sn uint32) (wire.TCP, []byte) {
			return wire.TCP{Seq: r.Uint32(), Flags: wire.RST}, nil
		}},
		{"SYN (RFC 5961 4)", func(r *rand.Rand, rn, sn uint32) (wire.TCP, []byte) {
			return wire.TCP{Seq: r.Uint32(), Flags: wire.SYN, Options: synOpts(r.Uint32())}, nil
		}},
		{"ACK of unsent data (RFC 5961 5)", func(r *rand.Rand, rn, sn uint32) (wire.TCP, []byte) {
			return wire.TCP{Seq: rn, Ack: sn + 1 + r.Uint32N(1<<30), Flags: wire.ACK, Options: guessTS(r)}, nil
		}},
		{"data with a bad ACK (RFC 5961 5)", func(r *rand.Rand, rn, sn uint32) (wire.TCP, []byte) {
			return wire.TCP{Seq: rn + r.Uint32N(60000), Ack: sn + 1 + r.Uint32N(1<<30), Flags: wire.ACK | wire.PSH, Options: guessTS(r)}, []byte("injected")
		}},
		{"data anywhere", func(r *rand.Rand, rn, sn uint32) (wire.TCP, []byte) {
			return wire.TCP{Seq: r.Uint32(), Ack: r.Uint32(), Flags: wire.ACK | wire.PSH, Options: guessTS(r)}, []byte("injected")
		}},
	}
	for i, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			n := newVnet(t)
			cs, ss, cc, sc, cp, sp := n.pair(Config{})
			r := rand.New(rand.NewPCG(uint64(i), 3))
			st := sc.Status()
			from := netip.AddrPortFrom(hostCli, cc.LocalAddr().(interface{ AddrPort() netip.AddrPort }).AddrPort().Port())
			to := netip.AddrPortFrom(hostSrv, 80)
			n.runFor(time.Second-n.clk.Now()%time.Second, nil) // start on a second
			start := int(n.clk.Now() / time.Second)
			n.every(time.Millisecond, 5*time.Second, func() {
				h, p := k.make(r, uint32(st.RcvNxt), uint32(st.SndNxt))
				h.Window = 1000
				n.deliver([][]byte{rawSeg(from, to, h, p)})
			})
			n.runFor(5*time.Second, nil)
			peak, total := sp.peak(start, start+5), sp.total(start, start+5)
			t.Logf("5,000 packets in: server answered %d (peak %d/s), client sent %d; %d withheld",
				total, peak, cp.total(start, start+5), sc.Status().Stats.ThrottledAcks)
			if peak > 2 {
				t.Fatalf("server sent %d packets in one second, want at most 2", peak)
			}
			if cc.State() != tcp.Established || sc.State() != tcp.Established ||
				ss.Stats().ResetsSent.Load() != 0 || cs.Stats().ResetsSent.Load() != 0 ||
				sc.Status().Stats.ResetsOut != 0 || cc.Status().Stats.ResetsOut != 0 {
				t.Fatalf("states %v/%v, resets %d/%d", cc.State(), sc.State(), sc.Status().Stats.ResetsOut, cc.Status().Stats.ResetsOut)
			}
			n.exchange(cc, sc, 100_000, uint64(i))
		})
	}
}

// guessTS is a timestamps option with a guessed TSval: a blind attacker
// does not know TS.Recent, and a segment without the option is dropped
// unanswered once timestamps are in use (RFC 7323 3.2).
func guessTS(r *rand.Rand) wire.Options {
	return wire.Options{HasTimestamps: true, TSVal: r.Uint32(), TSEcr: r.Uint32()}
}

// The stack-wide budget (Config.AnswerLimit, here 20 a second: each
// second's drawn from [10, 30)) caps the answers of all connections
// together: 50 connections each sent 10 in-window RSTs a second would
// otherwise draw 2 answers a second each, 100 in all.
func TestHostileStackWideAnswerBudget(t *testing.T) {
	n := newVnet(t)
	srv, sp := n.stack(hostSrv, Config{AnswerLimit: 20})
	cli, _ := n.stack(hostCli, Config{})
	l, _ := srv.ListenTCP("tcp", ":80")
	const conns = 50
	var cs, ss []*Conn
	for i := 0; i < conns; i++ {
		c, err := cli.Open(netip.AddrPortFrom(hostSrv, 80))
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	n.runUntil(time.Second, func() {
		for c, _ := l.TryAccept(); c != nil; c, _ = l.TryAccept() {
			ss = append(ss, c)
		}
	}, func() bool { return len(ss) == conns })
	n.runFor(2*time.Second-n.clk.Now()%time.Second, nil)
	start := int(n.clk.Now() / time.Second)
	i := 0
	n.every(2*time.Millisecond, 5*time.Second, func() {
		c := ss[i%conns]
		i++
		st := c.Status()
		from := c.RemoteAddr().(interface{ AddrPort() netip.AddrPort }).AddrPort()
		n.deliver([][]byte{rawSeg(from, netip.AddrPortFrom(hostSrv, 80), wire.TCP{Seq: uint32(st.RcvNxt) + 100, Flags: wire.RST, Window: 1000}, nil)})
	})
	n.runFor(5*time.Second, nil)
	peak := sp.peak(start, start+5)
	t.Logf("%d connections, 500 RSTs/s: server answered %d in 5 s (peak %d/s); the stack's budget withheld %d",
		conns, sp.total(start, start+5), peak, srv.Stats().AnswersLimited.Load())
	if peak >= 30 || srv.Stats().AnswersLimited.Load() == 0 {
		t.Fatalf("peak %d answers/s, %d withheld by the stack", peak, srv.Stats().AnswersLimited.Load())
	}
	for _, c := range append(cs, ss...) {
		if c.State() != tcp.Established {
			t.Fatalf("a connection in %v", c.State())
		}
	}
}
