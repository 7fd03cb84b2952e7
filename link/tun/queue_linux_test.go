//go:build linux

package tun

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/synack-tcp/synack/internal/netns"
	"github.com/synack-tcp/synack/link"
)

// TestMultiQueue opens a device with two queues: the kernel spreads 64
// flows over both readers, whose deliveries may overlap; 64 datagrams
// written (each flow to the queue it hashes to) all reach a socket; Close
// reaps both readers.
func TestMultiQueue(t *testing.T) {
	ns := netns.ForTest(t)
	ep, err := Open(Config{NetNS: ns.Name(), HostAddr: netip.PrefixFrom(hostAddr, 24), Queues: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close()
	if ep.Queues() != 2 {
		t.Skipf("the kernel gave %d queues", ep.Queues())
	}
	var got atomic.Int64
	ep.Attach(link.ReceiverFunc(func(pkts [][]byte, _ []link.PacketInfo) {
		for _, p := range pkts {
			if _, proto, _, dst, ok := ip4(p); ok && proto == 17 && dst == peerAddr {
				got.Add(1)
			}
		}
	}))
	const flows = 64
	arrival := make([]int, flows) // the queue each flow's datagram came in on
	err = ns.Do(func() error {
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(hostAddr, 0)))
		if err != nil {
			return err
		}
		defer c.Close()
		src := c.LocalAddr().(*net.UDPAddr).AddrPort()
		known := 0 // flows whose arrival queue is known
		for i := range flows {
			before := ep.QueuePackets()
			if _, err := c.WriteToUDPAddrPort([]byte("x"), netip.AddrPortFrom(peerAddr, uint16(7000+i))); err != nil {
				return err
			}
			for deadline := time.Now().Add(wait); got.Load() <= int64(i) && time.Now().Before(deadline); {
				time.Sleep(100 * time.Microsecond)
			}
			// The queue that read exactly this one packet; unknown (-1)
			// when another packet (the kernel's own IPv6 MLD or router
			// solicitation as the device comes up) was read meanwhile.
			arrival[i] = -1
			grew := 0
			for q, n := range ep.QueuePackets() {
				if n > before[q] {
					grew += int(n - before[q])
					arrival[i] = q
				}
			}
			if grew != 1 {
				arrival[i] = -1
			} else {
				known++
			}
		}
		if known < flows/2 {
			t.Errorf("the queue is known for %d of %d flows", known, flows)
		}
		// A reply goes out on the queue its flow came in on, so the
		// kernel's record of the flow (the queue last written from) stays
		// its own pick and the flow never moves.
		for i := range flows {
			reply := udp4(netip.AddrPortFrom(peerAddr, uint16(7000+i)), src, nil)
			if q := int(ep.queueFor(reply).idx); arrival[i] >= 0 && q != arrival[i] && !sharesSlot(i, flows, src) {
				t.Errorf("flow %d came in on queue %d, its reply goes out on %d", i, arrival[i], q)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	per := ep.QueuePackets()
	if got.Load() != flows || per[0] == 0 || per[1] == 0 {
		t.Errorf("%d of %d datagrams read, per queue %v: want all, on both queues", got.Load(), flows, per)
	}

	// Writing: one datagram per flow, to the queue it hashes to.
	var uc *net.UDPConn
	if err := ns.Do(func() (err error) {
		uc, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(hostAddr, 0)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	dst := uc.LocalAddr().(*net.UDPAddr).AddrPort()
	batch := make([][]byte, flows)
	used := map[*queue]bool{}
	for i := range batch {
		batch[i] = udp4(netip.AddrPortFrom(peerAddr, uint16(9000+i)), dst, fmt.Appendf(nil, "d%d", i))
		used[ep.queueFor(batch[i])] = true
	}
	if len(used) != 2 {
		t.Errorf("64 flows hashed to %d queue(s)", len(used))
	}
	if n, err := ep.WritePackets(batch, nil); n != flows || err != nil {
		t.Fatalf("WritePackets = %d, %v", n, err)
	}
	uc.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 64)
	for i := range flows {
		if _, err := uc.Read(buf); err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
	}
	ep.Close()
	if readerRunning() {
		t.Error("a reader outlived Close")
	}
}

// sharesSlot says whether flow i of the test's flows (peerAddr:7000+i to
// src) shares its steering slot with another of them.
func sharesSlot(i, flows int, src netip.AddrPort) bool {
	slot := func(j int) uint32 {
		return flowHash(udp4(netip.AddrPortFrom(peerAddr, uint16(7000+j)), src, nil)) % steerSlots
	}
	for j := range flows {
		if j != i && slot(j) == slot(i) {
			return true
		}
	}
	return false
}

// TestFlowHash: both directions of a flow hash alike; another port differs.
func TestFlowHash(t *testing.T) {
	a, b := netip.AddrPortFrom(hostAddr, 5000), netip.AddrPortFrom(peerAddr, 80)
	there, back := udp4(a, b, nil), udp4(b, a, nil)
	if flowHash(there) != flowHash(back) {
		t.Errorf("directions hash apart: %#x, %#x", flowHash(there), flowHash(back))
	}
	if flowHash(there) == flowHash(udp4(netip.AddrPortFrom(hostAddr, 5001), b, nil)) {
		t.Errorf("ports 5000 and 5001 hash alike")
	}
	if flowHash([]byte{0x45}) != 0 || flowHash(nil) != 0 {
		t.Error("short packets hash to something")
	}
}

// TestDefaultQueues: with Config.Queues zero the device has a queue per
// GOMAXPROCS (bounded by maxQueues); one asks for a single queue.
func TestDefaultQueues(t *testing.T) {
	ns := netns.ForTest(t)
	for _, c := range []struct{ cfg, want int }{{0, min(runtime.GOMAXPROCS(0), maxQueues)}, {1, 1}} {
		ep, err := Open(Config{NetNS: ns.Name(), HostAddr: netip.PrefixFrom(hostAddr, 24), Queues: c.cfg})
		if err != nil {
			t.Fatal(err)
		}
		got := ep.Queues()
		ep.Close()
		if c.want > 1 && got == 1 {
			t.Skip("the kernel gave one queue (no IFF_MULTI_QUEUE)")
		}
		if got != c.want {
			t.Errorf("Queues %d: the device has %d queues, want %d", c.cfg, got, c.want)
		}
	}
}
