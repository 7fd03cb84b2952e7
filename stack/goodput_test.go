package stack

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/synack-tcp/synack/clock"
	"github.com/synack-tcp/synack/link/sim"
	"github.com/synack-tcp/synack/tcp"
)

// TestGoodputUnderLoss moves 16 MiB one way over a 100 Mbit/s link with a
// 50 ms RTT under random loss, in virtual time (so the figures are exact
// and replay). With SACK, no retransmission ever resends data the peer had
// SACKed, whether driven by recovery or by a timeout. The table it logs is
// the one in the README:
//
//	go test -run TestGoodputUnderLoss -v ./stack
func TestGoodputUnderLoss(t *testing.T) {
	const size = 16 << 20
	var rows []string
	for _, loss := range []float64{0, 0.01, 0.05} {
		lc := sim.Config{Delay: 25 * time.Millisecond, Loss: loss, Rate: 100e6 / 8, QueueBytes: 1 << 20, MTU: 1500}
		clk := clock.NewVirtual()
		ea, eb := sim.New(clk, 7, lc, sim.Config{Delay: 25 * time.Millisecond, Loss: loss, MTU: 1500})
		a, _ := New(ea, Config{Addrs: []netip.Addr{addrA}, Clock: clk, Secret: []byte("goodput")})
		b, _ := New(eb, Config{Addrs: []netip.Addr{addrB}, Clock: clk, Secret: []byte("goodput")})
		n := &simNet{t: t, clk: clk, a: a, b: b}
		l, _ := b.ListenTCP("tcp", ":80")
		c, _ := a.Open(netip.MustParseAddrPort("10.0.0.2:80"))
		cli := &side{c: c, out: randomBytes(1, size)}
		srv := &side{}
		start := time.Duration(-1)
		var done time.Duration
		n.run(time.Hour, func() bool {
			if srv.c == nil {
				srv.c, _ = l.TryAccept()
			}
			if start < 0 && c.State() == tcp.Established {
				start = clk.Now()
			}
			cli.pump()
			srv.pump()
			if len(srv.got) == size && done == 0 {
				done = clk.Now()
			}
			return done != 0
		})
		if len(srv.got) != size || string(srv.got) != string(cli.out) {
			t.Fatalf("loss %v: %d of %d bytes arrived intact", loss, len(srv.got), size)
		}
		st := c.Status()
		if st.Stats.SACKedResent != 0 {
			t.Errorf("loss %v: %d retransmissions resent SACKed data", loss, st.Stats.SACKedResent)
		}
		if loss > 0 && st.Stats.SACKRetransmits == 0 {
			t.Errorf("loss %v: no SACK recovery happened", loss)
		}
		el := done - start
		rows = append(rows, fmt.Sprintf("| %g%% | %.1f | %.2f | %d | %d | %d |", loss*100,
			float64(size)*8/el.Seconds()/1e6, el.Seconds(), st.Stats.Retransmits, st.Stats.SACKRetransmits, st.Stats.RTOExpirations))
	}
	t.Log("\n| loss | goodput (Mbit/s) | time (s) | retransmits | SACK recoveries' retransmits | RTOs |\n|---|---|---|---|---|---|\n" + strings.Join(rows, "\n"))
}
