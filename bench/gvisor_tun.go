package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"github.com/synack-tcp/synack/internal/netns"
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/link/fdbased"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// gVisor's netstack on a TUN device, as tun2socks runs it: the device
// opened IFF_TUN|IFF_NO_PI, its fd handed to netstack's fdbased endpoint
// (readv dispatch, no Ethernet header), the same namespace and addresses
// as the synack TUN pairs (tun.go) and the same txqueuelen. Two variants:
//
//	gvisor-tun-tx, -rx          fdbased without offloads (tun2socks' setting)
//	gvisor-tun-tx-gso, -rx-gso  with GVisorGSOEnabled and GSOMaxSize 64 KiB: netstack builds
//	                            64 KiB segments and the endpoint cuts them in software before
//	                            writing. fdbased's host GSO (a virtio-net header) assumes an
//	                            Ethernet header in front (csum_start counts it), so it cannot
//	                            drive a TUN device; this is the best GSO setting it offers here.
func init() {
	for _, v := range []struct {
		name  string
		gvCli bool
		gso   bool
		title string
	}{
		{"gvisor-tun-tx", true, false, "gVisor → kernel over TUN (fdbased)"},
		{"gvisor-tun-rx", false, false, "kernel → gVisor over TUN (fdbased)"},
		{"gvisor-tun-tx-gso", true, true, "gVisor → kernel over TUN (fdbased, gVisor GSO)"},
		{"gvisor-tun-rx-gso", false, true, "kernel → gVisor over TUN (fdbased, gVisor GSO)"},
	} {
		factories[v.name] = func(mtu int) (Pair, error) { return newGvisorTunPair(mtu, v.gvCli, v.gso) }
		stackTitle[v.name] = v.title
	}
}

type gvisorTunPair struct {
	ns    *netns.NS
	st    *stack.Stack
	fd    int
	gvCli bool
}

// openTunFD creates the TUN device name in the calling thread's namespace.
func openTunFD(name string) (int, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("TUNSETIFF: %w", err)
	}
	return fd, nil
}

func newGvisorTunPair(mtu int, gvCli, gso bool) (Pair, error) {
	ns, err := netns.New("bench-gvtun")
	if err != nil {
		return nil, err
	}
	var fd int
	if err := ns.Do(func() (err error) { fd, err = openTunFD("gv0"); return err }); err != nil {
		ns.Close()
		return nil, err
	}
	for _, args := range [][]string{
		{"link", "set", "gv0", "mtu", strconv.Itoa(mtu), "txqueuelen", "10000", "up"},
		{"addr", "add", netip.PrefixFrom(tunHost, 24).String(), "dev", "gv0"},
	} {
		if out, err := ns.Run("ip", args...); err != nil {
			unix.Close(fd)
			ns.Close()
			return nil, fmt.Errorf("ip %v: %v: %s", args, err, out)
		}
	}
	opts := &fdbased.Options{FDs: []int{fd}, MTU: uint32(mtu)}
	if gso {
		opts.GSOMaxSize, opts.GVisorGSOEnabled = 1<<16, true
	}
	ep, err := fdbased.New(opts)
	if err != nil {
		unix.Close(fd)
		ns.Close()
		return nil, err
	}
	st, err := newGvisorStack(ep, tcpip.AddrFrom4(tunAddr.As4()))
	if err != nil {
		unix.Close(fd)
		ns.Close()
		return nil, err
	}
	return &gvisorTunPair{ns: ns, st: st, fd: fd, gvCli: gvCli}, nil
}

func (p *gvisorTunPair) Listen(port uint16) (net.Listener, error) {
	if p.gvCli {
		return kernelListen(p.ns, port)
	}
	return gonet.ListenTCP(p.st, tcpip.FullAddress{NIC: gvisorNIC, Addr: tcpip.AddrFrom4(tunAddr.As4()), Port: port}, ipv4.ProtocolNumber)
}

func (p *gvisorTunPair) Dial(ctx context.Context, port uint16) (net.Conn, error) {
	if p.gvCli {
		return gonet.DialContextTCP(ctx, p.st, tcpip.FullAddress{NIC: gvisorNIC, Addr: tcpip.AddrFrom4(tunHost.As4()), Port: port}, ipv4.ProtocolNumber)
	}
	return kernelDial(ctx, p.ns, port)
}

func (p *gvisorTunPair) Close() error {
	p.st.Destroy()
	unix.Close(p.fd)
	return p.ns.Close()
}
