//go:build linux

package tun

import (
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/synack-tcp/synack/link"
	"golang.org/x/sys/unix"
)

// batchSize is the most packets one DeliverPackets call carries.
const batchSize = 64

// maxSuper is the largest IP packet read or written with TSO: IPv4's total
// length field bounds it (the kernel's GSO limit for a TUN device is 64 KiB).
const maxSuper = 65535

// offloadFlags are the offloads asked of the kernel (TUNSETOFFLOAD):
// checksum, then TCP segmentation for IPv4 and IPv6.
const offloadFlags = unix.TUN_F_CSUM | unix.TUN_F_TSO4 | unix.TUN_F_TSO6

// Endpoint is a link.Endpoint over an open TUN device.
//
// Reading: Attach starts one goroutine per queue (queue_linux.go) that
// waits for the device through the Go runtime's poller (no OS thread is
// parked in a system call), then reads every packet that is immediately
// available, up to 64, into buffers it owns and hands them over in one
// DeliverPackets call. A read error other than "nothing to read" means the
// device is gone: the reader counts it in Stats().ReadErrors and stops.
// With several queues (Config.Queues) the readers' DeliverPackets calls
// overlap, one per queue at a time.
//
// Writing: WritePackets issues one write(2) per packet, WritePacketsGather
// one writev(2); concurrent callers write in parallel. With several queues
// a packet goes to the queue its flow hashes to.
//
// Offloads: unless Config.NoOffload, the device is opened with IFF_VNET_HDR
// and TUNSETOFFLOAD (checksum, TSO4, TSO6), falling back to fewer offloads
// and then none as the kernel refuses them (Offloads reports the outcome).
// With them, every packet crosses the device behind a virtio-net header:
// the kernel hands over TCP super-packets of up to 64 KiB with their
// checksums marked partial (info.GSO, info.Csum) and takes the same from
// WritePackets, cutting them into MTU-sized segments itself.
type Endpoint struct {
	name string
	mtu  int
	vnet bool          // packets carry a virtio-net header
	offl link.Offloads // granted by the kernel
	q    []*queue      // the device's queues: one, or Config.Queues

	// steer is, per flow hash slot, the hash of the flow that last
	// arrived in it (high 32 bits) and 1 + the queue it arrived on (low
	// byte; 0: none yet); queueFor writes there (multiqueue only).
	steer *[steerSlots]atomic.Uint64

	// mu guards closed against the fds: writers hold it shared while they
	// use one, Close holds it exclusively while it marks the endpoint
	// closed, so no fd is closed (and its number reused) under a write in
	// flight.
	mu     sync.RWMutex
	closed bool

	attached  atomic.Bool
	closeOnce sync.Once

	stats struct {
		packetsRead, bytesRead, readBatches, readErrors atomic.Uint64
		packetsWritten, bytesWritten, writeErrors       atomic.Uint64
		superRead, superWritten                         atomic.Uint64
	}
}

var (
	_ link.Endpoint  = (*Endpoint)(nil)
	_ link.Gatherer  = (*Endpoint)(nil)
	_ link.Offloader = (*Endpoint)(nil)
)

// Open creates a TUN device as cfg describes, sets its MTU, assigns
// cfg.HostAddr to it if set, and brings it up. Everything is done in
// process (ioctl and rtnetlink); no external command is run.
func Open(cfg Config) (*Endpoint, error) {
	mtu := cfg.MTU
	if mtu == 0 {
		mtu = DefaultMTU
	}
	if mtu < 68 || mtu > 65535 {
		return nil, fmt.Errorf("tun: MTU %d out of range [68, 65535]", mtu)
	}
	if cfg.HostAddr.IsValid() && cfg.HostAddr.Addr().Is6() && !cfg.HostAddr.Addr().Is4In6() && mtu < 1280 {
		return nil, fmt.Errorf("tun: MTU %d is below IPv6's minimum of 1280", mtu)
	}
	if cfg.Queues < 0 || cfg.Queues > maxQueues {
		return nil, fmt.Errorf("tun: %d queues out of range [0, %d]", cfg.Queues, maxQueues)
	}
	queues := cfg.Queues
	if queues == 0 {
		queues = min(runtime.GOMAXPROCS(0), maxQueues)
	}
	var (
		fds  []int
		name string
		offl link.Offloads
		vnet bool
	)
	open := func() error {
		var err error
		fds, name, vnet, offl, err = openDevice(cfg.Name, mtu, cfg.HostAddr, !cfg.NoOffload, queues)
		return err
	}
	var err error
	if cfg.NetNS != "" {
		err = inNetNS(cfg.NetNS, open)
	} else {
		err = open()
	}
	if err != nil {
		return nil, err
	}
	e := &Endpoint{name: name, mtu: mtu, vnet: vnet, offl: offl}
	for i, fd := range fds {
		q, err := newQueue(e, fd)
		if err != nil {
			for _, fd := range fds[i+1:] {
				unix.Close(fd)
			}
			for _, q := range e.q {
				q.file.Close()
			}
			return nil, err
		}
		e.q = append(e.q, q)
	}
	if len(e.q) > 1 {
		e.steer = new([steerSlots]atomic.Uint64)
	}
	return e, nil
}

// openDevice opens /dev/net/tun, creates the interface and configures it,
// in the calling thread's network namespace. It returns the fds (blocking;
// one per queue, fewer when the kernel has no multiqueue TUN), the
// interface name, whether packets carry a virtio-net header and the
// offloads the kernel granted.
func openDevice(name string, mtu int, host netip.Prefix, offload bool, queues int) ([]int, string, bool, link.Offloads, error) {
	var none link.Offloads
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENODEV) {
			return nil, "", false, none, fmt.Errorf("tun: open /dev/net/tun: %w (is the tun kernel module loaded?)", err)
		}
		return nil, "", false, none, mapErr("open /dev/net/tun", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, "", false, none, fmt.Errorf("tun: interface name %q: %w", name, err)
	}
	// IFF_TUN: IP packets, no Ethernet header. IFF_NO_PI: no 4-byte
	// packet-information prefix. IFF_VNET_HDR, where the kernel has it: a
	// struct virtio_net_hdr before every packet (vnet.go). IFF_MULTI_QUEUE
	// for more than one queue, where the kernel has it.
	flags := uint16(unix.IFF_TUN | unix.IFF_NO_PI)
	feat, ferr := unix.IoctlGetUint32(fd, unix.TUNGETFEATURES)
	if offload && ferr == nil && feat&unix.IFF_VNET_HDR != 0 {
		flags |= unix.IFF_VNET_HDR
	}
	if queues > 1 && ferr == nil && feat&unix.IFF_MULTI_QUEUE != 0 {
		flags |= unix.IFF_MULTI_QUEUE
	} else {
		queues = 1
	}
	// Several queues are created exclusively (IFF_TUN_EXCL): without it a
	// name some other program has open as a multiqueue device would be
	// joined, its flows spread over its queues and ours. A device that
	// exists already (persistent, or open elsewhere) is then opened as
	// before, with one queue: attached if it is free, EBUSY if not.
	try := flags
	if flags&unix.IFF_MULTI_QUEUE != 0 {
		try |= unix.IFF_TUN_EXCL
	}
	ifr.SetUint16(try)
	err = unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
	if errors.Is(err, unix.EBUSY) && try != flags {
		flags &^= unix.IFF_MULTI_QUEUE
		queues = 1
		ifr.SetUint16(flags)
		err = unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
	}
	if err != nil {
		unix.Close(fd)
		return nil, "", false, none, mapErr("TUNSETIFF", err)
	}
	name = ifr.Name()
	vnet := flags&unix.IFF_VNET_HDR != 0
	offl := none
	if vnet {
		if offl, err = setOffloads(fd); err != nil {
			unix.Close(fd)
			return nil, "", false, none, err
		}
	}
	fds := []int{fd}
	closeAll := func() {
		for _, fd := range fds {
			unix.Close(fd) // the non-persistent device goes with the last
		}
	}
	for len(fds) < queues {
		q, err := attachQueue(name, flags, offl)
		if err != nil {
			closeAll()
			return nil, "", false, none, err
		}
		fds = append(fds, q)
	}
	if err := configure(name, mtu, host); err != nil {
		closeAll()
		return nil, "", false, none, err
	}
	return fds, name, vnet, offl, nil
}

// setOffloads fixes the virtio-net header at its ten-byte form and asks for
// checksum and TCP segmentation offloads, then for checksum alone, then
// for none, as the kernel refuses them.
func setOffloads(fd int) (link.Offloads, error) {
	if err := unix.IoctlSetPointerInt(fd, unix.TUNSETVNETHDRSZ, vnetHdrLen); err != nil {
		return link.Offloads{}, mapErr("TUNSETVNETHDRSZ", err)
	}
	if unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, offloadFlags) == nil {
		return link.Offloads{Checksum: true, TSO: true, MaxPacket: maxSuper}, nil
	}
	if unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, unix.TUN_F_CSUM) == nil {
		return link.Offloads{Checksum: true}, nil
	}
	return link.Offloads{}, nil
}

// configure sets the MTU, assigns the host address and brings the
// interface up.
func configure(name string, mtu int, host netip.Prefix) error {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("tun: socket for ioctl: %w", err)
	}
	defer unix.Close(s)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return fmt.Errorf("tun: %w", err)
	}
	ifr.SetUint32(uint32(mtu))
	if err := unix.IoctlIfreq(s, unix.SIOCSIFMTU, ifr); err != nil {
		return mapErr(fmt.Sprintf("set MTU %d on %s", mtu, name), err)
	}
	// The kernel queues packets for the device until our reader takes
	// them; its default of 500 tail-drops the first burst of a hundred
	// connections opening at once. A deeper queue lets TCP's own windows,
	// not the device, bound what waits.
	ifr.SetUint32(TxQueueLen)
	if err := unix.IoctlIfreq(s, unix.SIOCSIFTXQLEN, ifr); err != nil {
		return mapErr(fmt.Sprintf("set txqueuelen on %s", name), err)
	}
	if host.IsValid() {
		if err := unix.IoctlIfreq(s, unix.SIOCGIFINDEX, ifr); err != nil {
			return fmt.Errorf("tun: index of %s: %w", name, err)
		}
		if err := addAddr(int(ifr.Uint32()), host); err != nil {
			return mapErr(fmt.Sprintf("add address %s to %s", host, name), err)
		}
	}
	if err := unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("tun: flags of %s: %w", name, err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr); err != nil {
		return mapErr(fmt.Sprintf("bring %s up", name), err)
	}
	return nil
}

// mapErr wraps err for op; EPERM and EACCES also wrap ErrPermission and
// say which capability is missing.
func mapErr(op string, err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("%w: %s: %w (needs CAP_NET_ADMIN: run as root or `sudo setcap cap_net_admin+ep ./synack`)",
			ErrPermission, op, err)
	}
	return fmt.Errorf("tun: %s: %w", op, err)
}

// Name is the interface name, e.g. "tun0".
func (e *Endpoint) Name() string { return e.name }

// MTU implements link.Endpoint.
func (e *Endpoint) MTU() int { return e.mtu }

// Offloads implements link.Offloader: what the kernel granted at Open.
func (e *Endpoint) Offloads() link.Offloads { return e.offl }

// VnetHdr reports whether packets cross the device behind a virtio-net
// header (Config.NoOffload unset and the kernel has IFF_VNET_HDR).
func (e *Endpoint) VnetHdr() bool { return e.vnet }

// Stats returns the traffic counters so far.
func (e *Endpoint) Stats() Stats {
	s := &e.stats
	return Stats{
		PacketsRead:    s.packetsRead.Load(),
		BytesRead:      s.bytesRead.Load(),
		ReadBatches:    s.readBatches.Load(),
		ReadErrors:     s.readErrors.Load(),
		PacketsWritten: s.packetsWritten.Load(),
		BytesWritten:   s.bytesWritten.Load(),
		WriteErrors:    s.writeErrors.Load(),

		SuperPacketsRead:    s.superRead.Load(),
		SuperPacketsWritten: s.superWritten.Load(),
	}
}

// Attach implements link.Endpoint: it starts the reader goroutines (one
// per queue), which deliver packets to r until Close. Attach panics if called twice; after
// Close it does nothing.
func (e *Endpoint) Attach(r link.Receiver) {
	if !e.attached.CompareAndSwap(false, true) {
		panic("tun: Attach called twice")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	for _, q := range e.q {
		q.prepare()
		go q.readLoop(r)
	}
}

// readSize is the buffer one read(2) needs: the MTU, or with TSO the
// largest super-packet; plus the virtio-net header.
func (e *Endpoint) readSize() int {
	n := e.mtu
	if e.offl.TSO {
		n = max(n, maxSuper)
	}
	if e.vnet {
		n += vnetHdrLen
	}
	return n
}

// WritePackets implements link.Endpoint with one write(2) per packet (with
// the virtio-net header, one writev(2)). A packet the kernel refuses (not
// IPv4/IPv6, malformed, device down, no buffer) counts as accepted and
// lost, and in Stats().WriteErrors. Without the virtio-net header the
// device takes nothing but the bytes and info is not used; with it,
// info.Csum and info.GSO go into the header (a packet whose header does
// not match what info claims is refused likewise).
func (e *Endpoint) WritePackets(pkts [][]byte, info []link.PacketInfo) (int, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return 0, link.ErrClosed
	}
	var w writer
	for i, p := range pkts {
		if err := w.write(e, p, nil, nil, link.InfoAt(info, i)); err != nil {
			w.flush(e, uint64(i))
			return i, err
		}
	}
	w.flush(e, uint64(len(pkts)))
	return len(pkts), nil
}

// WritePacketsGather implements link.Gatherer with one writev(2) per
// packet, its pieces (and the virtio-net header) joined by the kernel.
func (e *Endpoint) WritePacketsGather(pieces [][3][]byte, info []link.PacketInfo) (int, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return 0, link.ErrClosed
	}
	var w writer
	for i := range pieces {
		p := &pieces[i]
		if err := w.write(e, p[0], p[1], p[2], link.InfoAt(info, i)); err != nil {
			w.flush(e, uint64(i))
			return i, err
		}
	}
	w.flush(e, uint64(len(pieces)))
	return len(pieces), nil
}

// writer writes one call's packets and tallies them.
type writer struct {
	bytes, errs, super uint64
}

// write writes the packet a+b+c (a holding at least its IP and TCP
// headers when the packet is offloaded). It fails only when the device is
// gone; a refused packet is counted and lost.
func (w *writer) write(e *Endpoint, a, b, c []byte, info link.PacketInfo) error {
	var hdr [vnetHdrLen]byte
	h0 := hdr[:0]
	if e.vnet {
		h, ok := vnetFor(a, info)
		if !ok {
			w.errs++
			return nil
		}
		h.encode(hdr[:])
		h0 = hdr[:]
		if h.gsoType != vnetGSONone {
			w.super++
		}
	}
	var err error
	if len(h0) == 0 && len(b) == 0 && len(c) == 0 {
		fd := e.queueFor(a).fd
		_, err = unix.Write(fd, a)
		for err == unix.EINTR {
			_, err = unix.Write(fd, a)
		}
	} else {
		err = writev(e.queueFor(a).fd, h0, a, b, c)
	}
	switch err {
	case nil:
		w.bytes += uint64(len(a) + len(b) + len(c))
	case unix.EINVAL, unix.EIO, unix.EMSGSIZE, unix.ENOBUFS, unix.ENOMEM, unix.EAGAIN:
		w.errs++
	default:
		return fmt.Errorf("tun: write to %s: %w", e.name, err)
	}
	return nil
}

// flush adds the tallies of n packets handled to the endpoint's counters.
func (w *writer) flush(e *Endpoint, n uint64) {
	e.addWritten(n-w.errs, w.bytes, w.errs)
	if w.super > 0 {
		e.stats.superWritten.Add(w.super)
	}
}

// writev is writev(2) without the allocation unix.Writev makes, retried on
// EINTR. A TUN device takes a whole packet per call or none of it.
// The pieces are joined in order; empty ones are left out.
func writev(fd int, p0, p1, p2, p3 []byte) error {
	// Built in a local array by index, not by append or through a
	// pointer, so the pieces do not move to the heap.
	var iov [4]unix.Iovec
	n := 0
	for _, p := range [4][]byte{p0, p1, p2, p3} {
		if len(p) > 0 {
			iov[n].Base = &p[0]
			iov[n].SetLen(len(p))
			n++
		}
	}
	for {
		_, _, errno := unix.Syscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(n))
		if errno != unix.EINTR {
			if errno != 0 {
				return errno
			}
			return nil
		}
	}
}

func (e *Endpoint) addWritten(pkts, bytes, errs uint64) {
	e.stats.packetsWritten.Add(pkts)
	e.stats.bytesWritten.Add(bytes)
	if errs > 0 {
		e.stats.writeErrors.Add(errs)
	}
}

// Close implements link.Endpoint: it stops the reader and waits for it to
// exit (so it must not be called from DeliverPackets), then closes the
// device, which deletes the interface. Later calls return nil.
func (e *Endpoint) Close() error {
	var err error
	e.closeOnce.Do(func() {
		e.mu.Lock() // waits out writes in flight
		e.closed = true
		e.mu.Unlock()
		// Closing a file wakes its reader parked on the poller; the fd
		// itself is closed once the reader has let go of it.
		for _, q := range e.q {
			if cerr := q.file.Close(); err == nil {
				err = cerr
			}
		}
		for _, q := range e.q {
			if q.done != nil {
				<-q.done
			}
		}
	})
	return err
}
