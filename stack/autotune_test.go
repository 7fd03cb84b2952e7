package stack

import (
	"net/netip"
	"testing"
	"time"

	"github.com/synack-tcp/synack/clock"
	"github.com/synack-tcp/synack/link/sim"
	"github.com/synack-tcp/synack/tcp"
)

// Buffer autotuning: on a path whose bandwidth-delay product (100 Mbit/s x
// 50 ms = 625 KB) is ten times the initial 64 KiB buffers, both buffers
// grow toward it (never past their maximum), and the transfer runs several
// times faster than with the buffers pinned at 64 KiB.
func TestAutotuningGrowsTowardBDP(t *testing.T) {
	run := func(max int) (time.Duration, tcp.Status, tcp.Status) {
		clk := clock.NewVirtual()
		lc := sim.Config{Delay: 25 * time.Millisecond, Rate: 100e6 / 8, QueueBytes: 2 << 20, MTU: 1500}
		ea, eb := sim.New(clk, 3, lc, lc)
		tc := tcp.Config{SendBuf: 64 << 10, RecvBuf: 64 << 10, SendBufMax: max, RecvBufMax: max}
		a, _ := New(ea, Config{Addrs: []netip.Addr{addrA}, Clock: clk, TCP: tc})
		b, _ := New(eb, Config{Addrs: []netip.Addr{addrB}, Clock: clk, TCP: tc})
		n := &simNet{t: t, clk: clk, a: a, b: b}
		l, _ := b.ListenTCP("tcp", ":80")
		c, _ := a.Open(netip.MustParseAddrPort("10.0.0.2:80"))
		const size = 8 << 20
		cli, srv := &side{c: c, out: randomBytes(9, size)}, &side{}
		n.run(time.Hour, func() bool {
			if srv.c == nil {
				srv.c, _ = l.TryAccept()
			}
			cli.pump()
			srv.pump()
			return len(srv.got) == size
		})
		if len(srv.got) != size {
			t.Fatalf("max %d: %d of %d bytes", max, len(srv.got), size)
		}
		return clk.Now(), c.Status(), srv.c.Status()
	}
	pinned, _, _ := run(64 << 10)
	tuned, snd, rcv := run(4 << 20)
	if rcv.RecvBuf <= 64<<10 || rcv.RecvBuf > 4<<20 || rcv.Stats.RecvBufGrowths == 0 {
		t.Errorf("receive buffer %d after %d growths", rcv.RecvBuf, rcv.Stats.RecvBufGrowths)
	}
	if snd.SendBuf <= 64<<10 || snd.SendBuf > 4<<20 {
		t.Errorf("send buffer %d", snd.SendBuf)
	}
	if tuned*3 > pinned {
		t.Errorf("tuned transfer took %v, pinned %v: want at least 3x faster", tuned, pinned)
	}
	t.Logf("8 MiB: pinned 64 KiB buffers %v, autotuned %v (receive buffer %d, send buffer %d)", pinned, tuned, rcv.RecvBuf, snd.SendBuf)
}
