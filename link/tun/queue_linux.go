//go:build linux

package tun

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"

	"github.com/synack-tcp/synack/link"
	"golang.org/x/sys/unix"
)

// maxQueues bounds Config.Queues (the kernel's own limit is 256).
const maxQueues = 64

// queue is one of the device's queues: an fd and the reader goroutine
// that owns the buffers it reads into. A device without IFF_MULTI_QUEUE
// has one. The kernel steers each flow it sends to one queue (by the
// flow's hash, or to the queue the flow's packets were last written
// from); writers pick the queue by the same flow (queueFor), so a flow's
// packets cross in order.
type queue struct {
	e    *Endpoint
	idx  uint32   // this queue's place in e.q
	fd   int      // owned by file, which closes it
	file *os.File // non-blocking, registered with the runtime poller
	rc   syscall.RawConn
	done chan struct{} // closed when the reader exits; nil before Attach
	read atomic.Uint64 // packets this queue's reader delivered

	// Reader state, touched only by the reader goroutine.
	slab   []byte            // packets of a batch are read into it back to back
	off    int               // bytes of slab used by the batch being filled
	pkts   [][]byte          // the batch's packets, in slab
	info   []link.PacketInfo // read from each packet's headers
	n      int               // packets in pkts
	rbytes uint64            // bytes in pkts
	rerr   error             // a read error that ends the reader
	fill   func(fd uintptr) bool
}

// newQueue makes fd non-blocking and registers it with the poller; on
// failure fd is closed.
func newQueue(e *Endpoint, fd int) (*queue, error) {
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("tun: set non-blocking: %w", err)
	}
	// With the fd non-blocking, os.NewFile registers it with the poller.
	file := os.NewFile(uintptr(fd), "tun:"+e.name)
	rc, err := file.SyscallConn()
	if err != nil {
		file.Close()
		return nil, fmt.Errorf("tun: %w", err)
	}
	return &queue{e: e, idx: uint32(len(e.q)), fd: fd, file: file, rc: rc}, nil
}

// attachQueue opens another queue of the multiqueue device name, with the
// flags and offloads of the first.
func attachQueue(name string, flags uint16, offl link.Offloads) (int, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, mapErr("open /dev/net/tun", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("tun: %w", err)
	}
	ifr.SetUint16(flags)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return -1, mapErr("TUNSETIFF (another queue)", err)
	}
	if flags&unix.IFF_VNET_HDR != 0 {
		got, err := setOffloads(fd)
		if err == nil && got != offl {
			err = fmt.Errorf("tun: queue of %s granted offloads %+v, the first %+v", name, got, offl)
		}
		if err != nil {
			unix.Close(fd)
			return -1, err
		}
	}
	return fd, nil
}

// prepare allocates the reader's buffers; Attach then starts readLoop.
func (q *queue) prepare() {
	// Room for a batch of MTU-sized packets plus one read of the largest.
	q.slab = make([]byte, batchSize*(q.e.mtu+vnetHdrLen)+q.e.readSize())
	q.pkts = make([][]byte, batchSize)
	q.info = make([]link.PacketInfo, batchSize)
	q.fill = q.fillBatch
	q.done = make(chan struct{})
}

// readLoop delivers batches until the file is closed or a read fails.
func (q *queue) readLoop(r link.Receiver) {
	defer close(q.done)
	st := &q.e.stats
	for {
		// RawConn.Read calls fill until it returns true, parking on the
		// poller whenever fill returns false (nothing to read yet).
		err := q.rc.Read(q.fill)
		if q.n > 0 {
			st.packetsRead.Add(uint64(q.n))
			st.bytesRead.Add(q.rbytes)
			st.readBatches.Add(1)
			q.read.Add(uint64(q.n))
			r.DeliverPackets(q.pkts[:q.n], q.info[:q.n])
			clear(q.pkts[:q.n])
			q.n, q.rbytes, q.off = 0, 0, 0
		}
		if err != nil { // closed
			return
		}
		if q.rerr != nil {
			// The device is gone or broken (EBADFD, EFAULT after detach);
			// retrying would spin.
			st.readErrors.Add(1)
			return
		}
	}
}

// fillBatch reads the packets available now into the batch, back to back
// in the slab. It returns false (wait for readability) only when it read
// nothing.
func (q *queue) fillBatch(fd uintptr) bool {
	e := q.e
	size := e.readSize()
	for q.n < len(q.pkts) && q.off+size <= len(q.slab) {
		buf := q.slab[q.off : q.off+size]
		n, err := unix.Read(int(fd), buf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return q.n > 0
		case err != nil:
			q.rerr = err
			return true
		case n > len(buf):
			// The kernel reports the full length of a packet it had to
			// truncate: larger than the MTU (the MTU was raised behind
			// our back). Drop it.
			e.stats.readErrors.Add(1)
			continue
		case n == 0:
			continue
		}
		pkt, info := buf[:n], link.PacketInfo{}
		if e.vnet {
			h, err := decodeVnet(pkt)
			if err == nil {
				pkt = pkt[vnetHdrLen:]
				info, err = h.info(pkt)
			}
			if err != nil || len(pkt) == 0 {
				e.stats.readErrors.Add(1)
				continue
			}
			if info.GSO != link.GSONone {
				e.stats.superRead.Add(1)
			}
		} else {
			info = link.ReadInfo(pkt)
		}
		if len(e.q) > 1 {
			q.arrived(pkt)
		}
		q.pkts[q.n], q.info[q.n] = pkt, info
		q.n++
		q.off += (n + 7) &^ 7
		q.rbytes += uint64(len(pkt))
	}
	return true
}

// steerSlots is the size of Endpoint.steer: a slot per flow hash bucket.
const steerSlots = 16384 // 128 KiB: two of 50 flows at once share a slot 0.3% of the time

// queueFor is the queue a packet whose first bytes are head is written
// to: the queue the kernel last sent the packet's flow (addresses and
// ports, in either direction) on, or, for a flow not seen yet, the one
// its hash picks.
//
// The kernel records, per flow, the queue userspace last wrote the flow's
// packets on, and sends the flow's next packets there; for a flow it has
// no record of, it picks by a hash of its own (a keyed hash we cannot
// compute). Writing where the flow arrives keeps the kernel's record
// equal to its own pick, so a flow never moves between queues (a move
// reorders the packets in flight across the two readers, and costs
// spurious retransmissions).
func (e *Endpoint) queueFor(head []byte) *queue {
	if len(e.q) == 1 {
		return e.q[0]
	}
	h := flowHash(head)
	if v := e.steer[h%steerSlots].Load(); uint32(v>>32) == h && v&0xff != 0 && int(v&0xff) <= len(e.q) {
		return e.q[v&0xff-1]
	}
	return e.q[h%uint32(len(e.q))]
}

// arrived notes that pkt's flow came in on q (multiqueue devices only).
// A slot holds the flow hash with the queue: of two flows sharing a slot,
// the one not in it is written where its hash picks.
func (q *queue) arrived(pkt []byte) {
	h := flowHash(pkt)
	slot, v := &q.e.steer[h%steerSlots], uint64(h)<<32|uint64(q.idx+1)
	if slot.Load() != v { // no store, no cache-line traffic, when unchanged
		slot.Store(v)
	}
}

// flowHash hashes an IP packet's addresses and (TCP or UDP) ports, the
// same for both directions of a flow; 0 for anything it cannot read.
func flowHash(p []byte) uint32 {
	var a, b []byte
	var ports []byte
	switch {
	case len(p) >= 20 && p[0]>>4 == 4:
		ihl := int(p[0]&0xf) * 4
		a, b = p[12:16], p[16:20]
		if ihl >= 20 && len(p) >= ihl+4 {
			ports = p[ihl : ihl+4]
		}
	case len(p) >= 40 && p[0]>>4 == 6:
		a, b = p[8:24], p[24:40]
		if len(p) >= 44 {
			ports = p[40:44]
		}
	default:
		return 0
	}
	h := sum32(a) + sum32(b) // symmetric: the sum does not care which is which
	if ports != nil {
		h += uint32(ports[0])<<8 | uint32(ports[1])
		h += uint32(ports[2])<<8 | uint32(ports[3])
	}
	h ^= h >> 16
	h *= 0x45d9f3b
	return h ^ h>>16
}

func sum32(b []byte) uint32 {
	var s uint32
	for i := 0; i+4 <= len(b); i += 4 {
		s += uint32(b[i])<<24 | uint32(b[i+1])<<16 | uint32(b[i+2])<<8 | uint32(b[i+3])
	}
	return s
}

// Queues is how many queues the device has: Config.Queues, or one when
// the kernel has no multiqueue TUN devices.
func (e *Endpoint) Queues() int { return len(e.q) }

// QueuePackets is how many packets each queue's reader has delivered.
func (e *Endpoint) QueuePackets() []uint64 {
	n := make([]uint64, len(e.q))
	for i, q := range e.q {
		n[i] = q.read.Load()
	}
	return n
}
