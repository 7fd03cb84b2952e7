// Package link defines how synack moves whole IP packets: an Endpoint sends
// them and hands inbound ones to a Receiver. Implementations: link/pipe (an
// in-memory pair), link/sim (a seeded faulty network under a virtual clock),
// link/pcap (a tee to a capture file) and link/tun (Linux TUN devices).
// Links know nothing of TCP.
package link

import "errors"

// ErrClosed is returned by WritePackets after Close.
var ErrClosed = errors.New("link: endpoint closed")

// Receiver takes inbound packets.
type Receiver interface {
	// DeliverPackets hands over a batch of inbound IP packets. The slices
	// are valid only during the call: a receiver copies what it keeps.
	// Calls for one endpoint never overlap.
	DeliverPackets(pkts [][]byte)
}

// Endpoint is a network interface that carries IP packets.
type Endpoint interface {
	// MTU is the largest IP packet the endpoint carries, in bytes.
	MTU() int
	// Attach sets the receiver of inbound packets; call it once, before
	// any packet can arrive.
	Attach(r Receiver)
	// WritePackets transmits packets in order. The endpoint copies what it
	// keeps, so the caller may reuse the buffers when it returns. It
	// returns how many were accepted (a dropped packet counts as accepted:
	// links may lose packets).
	WritePackets(pkts [][]byte) (int, error)
	// Close stops the endpoint; later writes fail with ErrClosed.
	Close() error
}

// ReceiverFunc adapts a function to a Receiver.
type ReceiverFunc func(pkts [][]byte)

// DeliverPackets implements Receiver.
func (f ReceiverFunc) DeliverPackets(pkts [][]byte) { f(pkts) }

// Gatherer is an Endpoint that also takes each packet in pieces and joins
// them itself, as a NIC's scatter-gather DMA does, so a writer whose
// payload already sits in its own memory need not copy it into a packet
// first.
type Gatherer interface {
	// WritePacketsGather transmits packets like WritePackets, packet i
	// being pieces[i][0], pieces[i][1] and pieces[i][2] joined. The
	// endpoint copies what it keeps.
	WritePacketsGather(pieces [][3][]byte) (int, error)
}
