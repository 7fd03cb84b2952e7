//go:build linux

package tun

import (
	"fmt"
	"net"
	"net/netip"
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
	err = ns.Do(func() error {
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(hostAddr, 0)))
		if err != nil {
			return err
		}
		defer c.Close()
		for i := range flows {
			if _, err := c.WriteToUDPAddrPort([]byte("x"), netip.AddrPortFrom(peerAddr, uint16(7000+i))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(wait); got.Load() < flows && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
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
