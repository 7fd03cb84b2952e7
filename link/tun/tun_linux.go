//go:build linux

package tun

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/synack-tcp/synack/link"
	"golang.org/x/sys/unix"
)

// batchSize is the most packets one DeliverPackets call carries.
const batchSize = 64

// Endpoint is a link.Endpoint over an open TUN device.
//
// Reading: Attach starts one goroutine that waits for the device through
// the Go runtime's poller (no OS thread is parked in a system call), then
// reads every packet that is immediately available, up to 64, into buffers
// it owns and hands them over in one DeliverPackets call. A read error
// other than "nothing to read" means the device is gone: the reader counts
// it in Stats().ReadErrors and stops.
//
// Writing: WritePackets issues one write(2) per packet; concurrent callers
// write in parallel.
type Endpoint struct {
	name string
	mtu  int
	fd   int      // the device; owned by file, which closes it
	file *os.File // non-blocking, registered with the runtime poller
	rc   syscall.RawConn

	// mu guards closed against the fd: writers hold it shared while they
	// use fd, Close holds it exclusively while it marks the endpoint
	// closed, so the fd is never closed (and its number reused) under a
	// write in flight.
	mu     sync.RWMutex
	closed bool

	attached  atomic.Bool
	closeOnce sync.Once
	done      chan struct{} // closed when the reader exits; nil before Attach

	// Reader state, touched only by the reader goroutine.
	bufs   [][]byte          // batchSize buffers of mtu bytes, one allocation
	pkts   [][]byte          // bufs[i][:n] of the batch being filled
	info   []link.PacketInfo // read from each packet's IP header
	n      int               // packets in pkts
	rbytes uint64            // bytes in pkts
	rerr   error             // a read error that ends the reader
	fill   func(fd uintptr) bool

	stats struct {
		packetsRead, bytesRead, readBatches, readErrors atomic.Uint64
		packetsWritten, bytesWritten, writeErrors       atomic.Uint64
	}
}

var _ link.Endpoint = (*Endpoint)(nil)

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
	var (
		fd   int
		name string
	)
	open := func() error {
		var err error
		fd, name, err = openDevice(cfg.Name, mtu, cfg.HostAddr)
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
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("tun: set non-blocking: %w", err)
	}
	// With the fd non-blocking, os.NewFile registers it with the poller.
	file := os.NewFile(uintptr(fd), "tun:"+name)
	rc, err := file.SyscallConn()
	if err != nil {
		file.Close()
		return nil, fmt.Errorf("tun: %w", err)
	}
	return &Endpoint{name: name, mtu: mtu, fd: fd, file: file, rc: rc}, nil
}

// openDevice opens /dev/net/tun, creates the interface and configures it,
// in the calling thread's network namespace. It returns the fd (blocking)
// and the interface name.
func openDevice(name string, mtu int, host netip.Prefix) (int, string, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENODEV) {
			return -1, "", fmt.Errorf("tun: open /dev/net/tun: %w (is the tun kernel module loaded?)", err)
		}
		return -1, "", mapErr("open /dev/net/tun", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return -1, "", fmt.Errorf("tun: interface name %q: %w", name, err)
	}
	// IFF_TUN: IP packets, no Ethernet header. IFF_NO_PI: no 4-byte
	// packet-information prefix.
	//
	// Offloads go here later: adding IFF_VNET_HDR prefixes every packet
	// with a struct virtio_net_hdr and, after TUNSETOFFLOAD(TUN_F_CSUM|
	// TUN_F_TSO4|TUN_F_TSO6), lets the kernel pass and accept 64 KiB
	// GSO/GRO super-packets with partial checksums. The reader and
	// WritePackets would then strip and prepend that header.
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return -1, "", mapErr("TUNSETIFF", err)
	}
	name = ifr.Name()
	if err := configure(name, mtu, host); err != nil {
		unix.Close(fd) // the non-persistent device goes with it
		return -1, "", err
	}
	return fd, name, nil
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
	}
}

// Attach implements link.Endpoint: it starts the reader goroutine, which
// delivers packets to r until Close. Attach panics if called twice; after
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
	slab := make([]byte, batchSize*e.mtu)
	e.bufs = make([][]byte, batchSize)
	for i := range e.bufs {
		e.bufs[i] = slab[i*e.mtu : (i+1)*e.mtu : (i+1)*e.mtu]
	}
	e.pkts = make([][]byte, batchSize)
	e.info = make([]link.PacketInfo, batchSize)
	e.fill = e.fillBatch
	e.done = make(chan struct{})
	go e.readLoop(r)
}

// readLoop delivers batches until the file is closed or a read fails.
func (e *Endpoint) readLoop(r link.Receiver) {
	defer close(e.done)
	for {
		// RawConn.Read calls fill until it returns true, parking on the
		// poller whenever fill returns false (nothing to read yet).
		err := e.rc.Read(e.fill)
		if e.n > 0 {
			e.stats.packetsRead.Add(uint64(e.n))
			e.stats.bytesRead.Add(e.rbytes)
			e.stats.readBatches.Add(1)
			r.DeliverPackets(e.pkts[:e.n], e.info[:e.n])
			clear(e.pkts[:e.n])
			e.n, e.rbytes = 0, 0
		}
		if err != nil { // closed
			return
		}
		if e.rerr != nil {
			// The device is gone or broken (EBADFD, EFAULT after detach);
			// retrying would spin.
			e.stats.readErrors.Add(1)
			return
		}
	}
}

// fillBatch reads the packets available now into the batch. It returns
// false (wait for readability) only when it read nothing.
func (e *Endpoint) fillBatch(fd uintptr) bool {
	for e.n < len(e.bufs) {
		buf := e.bufs[e.n]
		n, err := unix.Read(int(fd), buf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return e.n > 0
		case err != nil:
			e.rerr = err
			return true
		case n > len(buf):
			// The kernel reports the full length of a packet it had to
			// truncate: larger than the MTU (the MTU was raised behind
			// our back, or GSO). Drop it.
			e.stats.readErrors.Add(1)
			continue
		case n == 0:
			continue
		}
		e.pkts[e.n] = buf[:n]
		e.info[e.n] = link.ReadInfo(buf[:n])
		e.n++
		e.rbytes += uint64(n)
	}
	return true
}

// WritePackets implements link.Endpoint with one write(2) per packet. A
// packet the kernel refuses (not IPv4/IPv6, malformed, device down, no
// buffer) counts as accepted and lost, and in Stats().WriteErrors. A TUN
// device without IFF_VNET_HDR takes nothing but the bytes, so info is not
// used (offload facts would go into the virtio-net header).
func (e *Endpoint) WritePackets(pkts [][]byte, _ []link.PacketInfo) (int, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return 0, link.ErrClosed
	}
	var bytes, errs uint64
	for i, p := range pkts {
		_, err := unix.Write(e.fd, p)
		for err == unix.EINTR {
			_, err = unix.Write(e.fd, p)
		}
		switch err {
		case nil:
			bytes += uint64(len(p))
		case unix.EINVAL, unix.EIO, unix.EMSGSIZE, unix.ENOBUFS, unix.ENOMEM, unix.EAGAIN:
			errs++
		default:
			e.addWritten(uint64(i)-errs, bytes, errs)
			return i, fmt.Errorf("tun: write to %s: %w", e.name, err)
		}
	}
	e.addWritten(uint64(len(pkts))-errs, bytes, errs)
	return len(pkts), nil
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
		done := e.done
		e.mu.Unlock()
		// Closing the file wakes the reader parked on the poller; the fd
		// itself is closed once the reader has let go of it.
		err = e.file.Close()
		if done != nil {
			<-done
		}
	})
	return err
}
