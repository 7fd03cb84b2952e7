// Package tun is a link.Endpoint over a Linux TUN device: the kernel's IP
// layer on one side, synack on the other. Each packet read from or written
// to the device is one whole IP packet (IFF_TUN|IFF_NO_PI), behind a
// virtio-net header when the device has offloads (the default where the
// kernel has them; Config.NoOffload): then a TCP packet may be a super-packet
// of up to 64 KiB, cut into segments by the kernel (vnet.go,
// link.PacketInfo's GSO fields).
//
// Opening a TUN device needs CAP_NET_ADMIN (run as root, or grant the
// binary the capability with `sudo setcap cap_net_admin+ep ./synack`);
// opening it inside a named network namespace also needs CAP_SYS_ADMIN.
//
// The device is not persistent: it disappears when the Endpoint is closed.
// On systems other than Linux, Open returns an error wrapping
// errors.ErrUnsupported.
package tun

import (
	"errors"
	"net/netip"
)

// DefaultMTU is the MTU used when Config.MTU is zero.
const DefaultMTU = 1500

// ErrPermission is wrapped by the error Open returns when the process lacks
// the privilege to create or configure the device (EPERM or EACCES). The
// error also wraps the errno, so errors.Is(err, os.ErrPermission) holds too.
var ErrPermission = errors.New("tun: permission denied")

// TxQueueLen is the length given to the device's kernel-side queue (the
// packets the kernel sends toward synack); Linux's default is 500.
const TxQueueLen = 10000

// Config describes the TUN device to open.
type Config struct {
	// Name is the interface name (at most 15 bytes). Empty lets the kernel
	// choose one ("tun0", "tun1", ...); Endpoint.Name reports it.
	Name string
	// MTU is the device MTU and the largest packet the endpoint reads or
	// writes. Zero means DefaultMTU.
	MTU int
	// HostAddr, if valid, is assigned to the kernel side of the device,
	// e.g. 10.9.0.1/24: the kernel then routes the prefix over the device
	// and synack uses another address in it. IPv4 or IPv6.
	HostAddr netip.Prefix
	// NetNS, if set, creates the device inside this network namespace: a
	// name as used by `ip netns` (the file /var/run/netns/NAME), or an
	// absolute path to a namespace file such as /proc/PID/ns/net. The
	// calling process stays in its own namespace; only the device lives in
	// the other one.
	NetNS string
	// NoOffload opens the device without the virtio-net header, so every
	// packet crosses it alone with its checksum done in software (today's
	// path on kernels without IFF_VNET_HDR). By default the device is
	// opened with checksum and TCP segmentation offloads where the kernel
	// has them; Endpoint.Offloads reports what was granted.
	NoOffload bool
	// Queues is how many queues the device opens with (IFF_MULTI_QUEUE),
	// each with a reader of its own: the kernel spreads flows over them,
	// and their DeliverPackets calls overlap (package stack takes that).
	// Zero: runtime.GOMAXPROCS(0) queues, so a reader can run on every
	// processor the program uses. One: a single queue. A kernel without
	// multiqueue TUN devices gives one; Endpoint.Queues reports it.
	Queues int
}

// Stats counts an endpoint's traffic. Read means from the kernel (inbound
// to synack); written means handed to the kernel.
type Stats struct {
	PacketsRead    uint64
	BytesRead      uint64
	ReadBatches    uint64 // DeliverPackets calls
	ReadErrors     uint64 // failed reads, packets dropped as larger than the MTU or with a virtio-net header synack cannot take
	PacketsWritten uint64
	BytesWritten   uint64
	WriteErrors    uint64 // packets the kernel refused (counted as lost)
	// With offloads: TCP super-packets (several segments in one packet)
	// read from and written to the kernel, among the packets counted above.
	SuperPacketsRead    uint64
	SuperPacketsWritten uint64
}
