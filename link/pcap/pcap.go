// Package pcap records IP packets in the classic libpcap file format, which
// Wireshark, tshark and tcpdump read. Endpoint is a tee: it wraps any
// link.Endpoint and records every packet written through it and every
// packet delivered to it, timestamped by a clock.Clock, so a capture taken
// under a virtual clock is as deterministic as the run itself.
//
// The file uses the microsecond little-endian format (magic 0xa1b2c3d4,
// version 2.4) with link type 101, LINKTYPE_RAW: each record is a bare IPv4
// or IPv6 packet, no link-layer header.
package pcap

import (
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/synack-tcp/synack/clock"
	"github.com/synack-tcp/synack/link"
)

// File format constants.
const (
	Magic        = 0xa1b2c3d4 // microsecond timestamps
	VersionMajor = 2
	VersionMinor = 4
	SnapLen      = 65535
	LinkTypeRaw  = 101 // LINKTYPE_RAW: raw IPv4/IPv6
)

// Writer writes a capture file. It is safe for concurrent use. Each record
// reaches the underlying writer in one Write call; wrap a file in a
// bufio.Writer for long captures (Endpoint.Close flushes it).
type Writer struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte // record header and data, reused
}

// NewWriter writes the global header to w and returns a Writer for the
// packet records.
func NewWriter(w io.Writer) (*Writer, error) {
	var h [24]byte
	le := binary.LittleEndian
	le.PutUint32(h[0:], Magic)
	le.PutUint16(h[4:], VersionMajor)
	le.PutUint16(h[6:], VersionMinor)
	// h[8:16]: thiszone and sigfigs, zero.
	le.PutUint32(h[16:], SnapLen)
	le.PutUint32(h[20:], LinkTypeRaw)
	if _, err := w.Write(h[:]); err != nil {
		return nil, err
	}
	return &Writer{w: w}, nil
}

// WritePacket records pkt as captured at ts (time since the clock's epoch;
// negative values are recorded as zero). Packets longer than SnapLen are
// truncated, keeping their original length in the record.
func (w *Writer) WritePacket(ts time.Duration, pkt []byte) error {
	ts = max(ts, 0)
	incl := min(len(pkt), SnapLen)
	w.mu.Lock()
	defer w.mu.Unlock()
	le := binary.LittleEndian
	b := le.AppendUint32(w.buf[:0], uint32(ts/time.Second))
	b = le.AppendUint32(b, uint32(ts%time.Second/time.Microsecond))
	b = le.AppendUint32(b, uint32(incl))
	b = le.AppendUint32(b, uint32(len(pkt)))
	b = append(b, pkt[:incl]...)
	w.buf = b
	_, err := w.w.Write(b)
	return err
}

// Flush flushes the underlying writer if it buffers (has a Flush method).
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if f, ok := w.w.(interface{ Flush() error }); ok {
		return f.Flush()
	}
	return nil
}

// Endpoint is a link.Endpoint that records the traffic of the endpoint it
// wraps.
type Endpoint struct {
	inner link.Endpoint
	w     *Writer
	clk   clock.Clock

	closed atomic.Bool
	errMu  sync.Mutex
	err    error // the first capture error
}

// New writes the capture file header to w and returns inner wrapped so that
// every packet written through it and delivered to it is recorded in w,
// timestamped with clk.Now(). Capture errors never disturb the traffic; the
// first is kept and reported by Err.
func New(inner link.Endpoint, w io.Writer, clk clock.Clock) (*Endpoint, error) {
	if inner == nil || w == nil || clk == nil {
		return nil, errors.New("pcap: nil endpoint, writer or clock")
	}
	pw, err := NewWriter(w)
	if err != nil {
		return nil, err
	}
	return &Endpoint{inner: inner, w: pw, clk: clk}, nil
}

// MTU implements link.Endpoint.
func (e *Endpoint) MTU() int { return e.inner.MTU() }

// Attach implements link.Endpoint: inbound packets are recorded, then
// handed to r.
func (e *Endpoint) Attach(r link.Receiver) {
	e.inner.Attach(link.ReceiverFunc(func(pkts [][]byte, info []link.PacketInfo) {
		e.record(pkts)
		r.DeliverPackets(pkts, info)
	}))
}

// WritePackets implements link.Endpoint: the packets are recorded, then
// written to the inner endpoint. Recording first keeps the capture in
// causal order: over a pipe, the peer may answer before WritePackets
// returns. Packets written after Close are not recorded.
func (e *Endpoint) WritePackets(pkts [][]byte, info []link.PacketInfo) (int, error) {
	if !e.closed.Load() {
		e.record(pkts)
	}
	return e.inner.WritePackets(pkts, info)
}

func (e *Endpoint) record(pkts [][]byte) {
	if len(pkts) == 0 {
		return
	}
	ts := e.clk.Now()
	for _, p := range pkts {
		if err := e.w.WritePacket(ts, p); err != nil {
			e.errMu.Lock()
			if e.err == nil {
				e.err = err
			}
			e.errMu.Unlock()
			return
		}
	}
}

// Err returns the first error met writing the capture, if any.
func (e *Endpoint) Err() error {
	e.errMu.Lock()
	defer e.errMu.Unlock()
	return e.err
}

// Close implements link.Endpoint: it closes the inner endpoint and flushes
// the capture writer if it buffers. It does not close the writer.
func (e *Endpoint) Close() error {
	e.closed.Store(true)
	err := e.inner.Close()
	if ferr := e.w.Flush(); err == nil {
		err = ferr
	}
	return err
}

// Writer returns the capture writer, for recording extra packets.
func (e *Endpoint) Writer() *Writer { return e.w }

var _ link.Endpoint = (*Endpoint)(nil)
