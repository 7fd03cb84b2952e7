package main

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"sync"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// gVisor's netstack, set up through its public API only.
//
// Link shape: two stacks in this process (client 10.0.0.1, server 10.0.0.2),
// each with one NIC on a memLink (below): an in-memory, lossless,
// point-to-point link of the given MTU with no offloads, so netstack
// computes and verifies IP and TCP checksums in software and cuts segments
// to the MTU itself, as synack must. Packets are handed over by reference
// (a fresh PacketBuffer sharing the sender's reference-counted storage): no
// bytes are copied.
//
// Two ways to hand a packet to the peer were measured on this 2-core box:
//
//   - "inline": WritePackets calls the peer's DeliverNetworkPacket on the
//     writer's goroutine (what gVisor's own link/pipe does);
//   - "queued": WritePackets appends to an unbounded queue and
//     one goroutine per direction delivers whole batches, like a NIC's
//     receive loop.
//
// Queued gave netstack clearly more bulk throughput at MTU 1500 (about 2-3
// Gbit/s against 1.2-1.6, at less CPU per GB) and for many connections, and
// about the same ping-pong and connection rate, so the link is queued. The
// queue never blocks and never drops (TCP flow control bounds what can be
// in it), so the link cannot deadlock and is lossless.
//
// The default mode, "spin", is queued with synack's link/pipe behaviour: the
// delivery goroutine yields (runtime.Gosched) up to gvisorSpinYields times
// looking for packets before it parks, so both stacks' links hand packets
// over the same way. For netstack, 7 runs each: bulk at MTU 65535 38.1 ->
// 40.1 Gbit/s, ping-pong 43k -> 50k round trips/s, bulk at MTU 1500 4.63
// -> 4.48 Gbit/s (within its noise). `go run . -gvisor-link=queued` (park at
// once) and `-gvisor-link=inline` run the others.

// TCP options (newGvisorStack): SACK on (also this version's default), Nagle
// off (the default, like Go's net), send and receive buffers 1 MiB by
// default, up to 4 MiB, with receive-buffer auto-tuning on (all library
// defaults, set explicitly here; an 8 MiB maximum measured no better).
// Congestion control is the library default (Reno), loss detection the
// default RACK. Nothing is lost on this link.

// gvisorLinkMode is "spin", "queued" or "inline"; see above. Set by -gvisor-link.
var gvisorLinkMode = "spin"

// gvisorSpinYields matches link/pipe's spinYields.
const gvisorSpinYields = 20

var (
	gvisorClientAddr = tcpip.AddrFrom4([4]byte{10, 0, 0, 1})
	gvisorServerAddr = tcpip.AddrFrom4([4]byte{10, 0, 0, 2})
)

const gvisorNIC tcpip.NICID = 1

type gvisorPair struct {
	client, server *stack.Stack
	links          [2]*memLink
}

func newGvisorPair(mtu int) (Pair, error) {
	if mtu < 576 || mtu > 65535 {
		return nil, fmt.Errorf("gvisor: mtu %d out of range", mtu)
	}
	var queued bool
	spin := 0
	switch gvisorLinkMode {
	case "queued":
		queued = true
	case "spin":
		queued, spin = true, gvisorSpinYields
	case "inline":
	default:
		return nil, fmt.Errorf("gvisor: unknown link mode %q (want queued, spin or inline)", gvisorLinkMode)
	}
	la, lb := newMemLink(uint32(mtu), queued, spin)
	client, err := newGvisorStack(la, gvisorClientAddr)
	if err != nil {
		la.shutdown()
		lb.shutdown()
		return nil, err
	}
	server, err := newGvisorStack(lb, gvisorServerAddr)
	if err != nil {
		client.Destroy()
		la.shutdown()
		lb.shutdown()
		return nil, err
	}
	return &gvisorPair{client: client, server: server, links: [2]*memLink{la, lb}}, nil
}

func newGvisorStack(ep stack.LinkEndpoint, addr tcpip.Address) (*stack.Stack, error) {
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol},
	})
	sack := tcpip.TCPSACKEnabled(true)
	delay := tcpip.TCPDelayEnabled(false)
	moderate := tcpip.TCPModerateReceiveBufferOption(true)
	send := tcpip.TCPSendBufferSizeRangeOption{Min: tcp.MinBufferSize, Default: tcp.DefaultSendBufferSize, Max: tcp.MaxBufferSize}
	recv := tcpip.TCPReceiveBufferSizeRangeOption{Min: tcp.MinBufferSize, Default: tcp.DefaultReceiveBufferSize, Max: tcp.MaxBufferSize}
	for _, opt := range []tcpip.SettableTransportProtocolOption{&sack, &delay, &moderate, &send, &recv} {
		if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, opt); err != nil {
			s.Destroy()
			return nil, fmt.Errorf("gvisor: set %T: %s", opt, err)
		}
	}
	if err := s.CreateNIC(gvisorNIC, ep); err != nil {
		s.Destroy()
		return nil, fmt.Errorf("gvisor: create NIC: %s", err)
	}
	pa := tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: addr.WithPrefix()}
	if err := s.AddProtocolAddress(gvisorNIC, pa, stack.AddressProperties{}); err != nil {
		s.Destroy()
		return nil, fmt.Errorf("gvisor: add address: %s", err)
	}
	s.SetRouteTable([]tcpip.Route{{Destination: header.IPv4EmptySubnet, NIC: gvisorNIC}})
	return s, nil
}

func (p *gvisorPair) Listen(port uint16) (net.Listener, error) {
	return gonet.ListenTCP(p.server, tcpip.FullAddress{NIC: gvisorNIC, Addr: gvisorServerAddr, Port: port}, ipv4.ProtocolNumber)
}

func (p *gvisorPair) Dial(ctx context.Context, port uint16) (net.Conn, error) {
	return gonet.DialContextTCP(ctx, p.client, tcpip.FullAddress{NIC: gvisorNIC, Addr: gvisorServerAddr, Port: port}, ipv4.ProtocolNumber)
}

func (p *gvisorPair) Close() error {
	p.client.Destroy()
	p.server.Destroy()
	p.links[0].shutdown()
	p.links[1].shutdown()
	return nil
}

// Stats implements statsReporter, summing both stacks.
func (p *gvisorPair) Stats() map[string]float64 {
	m := make(map[string]float64)
	for _, s := range []*stack.Stack{p.client, p.server} {
		st := s.Stats()
		m["dropped"] += float64(st.DroppedPackets.Value())
		m["retransmits"] += float64(st.TCP.Retransmits.Value())
		m["timeouts"] += float64(st.TCP.Timeouts.Value())
		m["listen_drops"] += float64(st.TCP.ListenOverflowSynDrop.Value() + st.TCP.ListenOverflowAckDrop.Value())
	}
	return m
}

// memLink is one end of an in-memory, lossless, point-to-point link between
// two netstack NICs. See the comment at the top of this file.
type memLink struct {
	peer *memLink

	mu         sync.RWMutex
	dispatcher stack.NetworkDispatcher
	mtu        uint32
	addr       tcpip.LinkAddress

	// Queued mode: WritePackets appends to pending and the delivery
	// goroutine hands whole batches to the peer.
	qmu     sync.Mutex
	qcond   sync.Cond
	pending []inbound
	closed  bool
	spin    int // yields before parking in deliverLoop ("spin" mode)
}

type inbound struct {
	proto tcpip.NetworkProtocolNumber
	pkt   *stack.PacketBuffer
}

var _ stack.LinkEndpoint = (*memLink)(nil)

func newMemLink(mtu uint32, queued bool, spin int) (*memLink, *memLink) {
	a := &memLink{mtu: mtu, addr: "\x02\x00\x00\x00\x00\x01", spin: spin}
	b := &memLink{mtu: mtu, addr: "\x02\x00\x00\x00\x00\x02", spin: spin}
	a.peer, b.peer = b, a
	if queued {
		for _, e := range []*memLink{a, b} {
			e.qcond.L = &e.qmu
			go e.deliverLoop()
		}
	}
	return a, b
}

func (e *memLink) peerDispatcher() stack.NetworkDispatcher {
	e.peer.mu.RLock()
	defer e.peer.mu.RUnlock()
	return e.peer.dispatcher
}

// WritePackets implements stack.LinkWriter. Every packet becomes a fresh
// PacketBuffer holding the whole IP packet as payload and no parsed header
// state, as a NIC would receive it; it shares the (reference-counted)
// storage, so no bytes are copied. A packet written while the peer has no
// dispatcher is dropped (counted as written, as a wire would).
func (e *memLink) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	n := pkts.Len()
	if e.qcond.L == nil { // inline mode
		d := e.peerDispatcher()
		if d == nil {
			return n, nil
		}
		for _, pkt := range pkts.AsSlice() {
			in := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: pkt.ToBuffer()})
			d.DeliverNetworkPacket(pkt.NetworkProtocolNumber, in)
			in.DecRef()
		}
		return n, nil
	}
	e.qmu.Lock()
	if !e.closed {
		for _, pkt := range pkts.AsSlice() {
			in := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: pkt.ToBuffer()})
			e.pending = append(e.pending, inbound{pkt.NetworkProtocolNumber, in})
		}
		e.qcond.Signal()
	}
	e.qmu.Unlock()
	return n, nil
}

// deliverLoop is the receive side of the peer in queued mode: it takes
// everything pending at once and delivers it in order.
func (e *memLink) deliverLoop() {
	var batch []inbound
	for {
		for spin := 0; spin < e.spin; spin++ {
			e.qmu.Lock()
			n := len(e.pending)
			e.qmu.Unlock()
			if n > 0 {
				break
			}
			runtime.Gosched()
		}
		e.qmu.Lock()
		for len(e.pending) == 0 && !e.closed {
			e.qcond.Wait()
		}
		if e.closed {
			e.qmu.Unlock()
			return
		}
		batch, e.pending = e.pending, batch[:0]
		e.qmu.Unlock()
		d := e.peerDispatcher()
		for i, in := range batch {
			if d != nil {
				d.DeliverNetworkPacket(in.proto, in.pkt)
			}
			in.pkt.DecRef()
			batch[i] = inbound{}
		}
	}
}

// shutdown stops the delivery goroutine and drops what is still queued.
func (e *memLink) shutdown() {
	e.qmu.Lock()
	e.closed = true
	for _, in := range e.pending {
		in.pkt.DecRef()
	}
	e.pending = nil
	e.qcond.Broadcast()
	e.qmu.Unlock()
}

func (e *memLink) Attach(d stack.NetworkDispatcher) {
	e.mu.Lock()
	e.dispatcher = d
	e.mu.Unlock()
}

func (e *memLink) IsAttached() bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.dispatcher != nil
}

func (e *memLink) MTU() uint32 {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.mtu
}

func (e *memLink) SetMTU(mtu uint32) {
	e.mu.Lock()
	e.mtu = mtu
	e.mu.Unlock()
}

func (e *memLink) LinkAddress() tcpip.LinkAddress {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.addr
}

func (e *memLink) SetLinkAddress(addr tcpip.LinkAddress) {
	e.mu.Lock()
	e.addr = addr
	e.mu.Unlock()
}

// Capabilities: none. No checksum offload, no GSO, no address resolution
// (the link is point to point, so there is no ARP either).
func (*memLink) Capabilities() stack.LinkEndpointCapabilities { return 0 }
func (*memLink) MaxHeaderLength() uint16                      { return 0 }
func (*memLink) Wait()                                        {}
func (*memLink) ARPHardwareType() header.ARPHardwareType      { return header.ARPHardwareNone }
func (*memLink) AddHeader(*stack.PacketBuffer)                {}
func (*memLink) ParseHeader(*stack.PacketBuffer) bool         { return true }
func (*memLink) Close()                                       {}
func (*memLink) SetOnCloseAction(func())                      {}
