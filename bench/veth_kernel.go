package main

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Offloads of a network interface, as the legacy SIOCETHTOOL commands
// (what `ethtool -k` shows as tcp-segmentation-offload,
// generic-segmentation-offload, generic-receive-offload, tx-checksumming
// and rx-checksumming) read and set them. The ioctl is used rather than
// the ethtool program so that the bench needs nothing beyond iproute2.

// vethOffloads is one interface's offload settings.
type vethOffloads struct {
	TSO, GSO, GRO, TxCsum, RxCsum bool
}

func (f vethOffloads) any() bool { return f.TSO || f.GSO || f.GRO || f.TxCsum || f.RxCsum }

func (f vethOffloads) String() string {
	onOff := func(b bool) string {
		if b {
			return "on"
		}
		return "off"
	}
	return fmt.Sprintf("tso %s gso %s gro %s tx %s rx %s",
		onOff(f.TSO), onOff(f.GSO), onOff(f.GRO), onOff(f.TxCsum), onOff(f.RxCsum))
}

// offloadCmds pairs each offload's get and set command, in the order
// `ethtool -K IF tso off gso off gro off tx off rx off` applies them.
var offloadCmds = []struct {
	name     string
	get, set uint32
	field    func(*vethOffloads) *bool
}{
	{"tso", unix.ETHTOOL_GTSO, unix.ETHTOOL_STSO, func(f *vethOffloads) *bool { return &f.TSO }},
	{"gso", unix.ETHTOOL_GGSO, unix.ETHTOOL_SGSO, func(f *vethOffloads) *bool { return &f.GSO }},
	{"gro", unix.ETHTOOL_GGRO, unix.ETHTOOL_SGRO, func(f *vethOffloads) *bool { return &f.GRO }},
	{"tx", unix.ETHTOOL_GTXCSUM, unix.ETHTOOL_STXCSUM, func(f *vethOffloads) *bool { return &f.TxCsum }},
	{"rx", unix.ETHTOOL_GRXCSUM, unix.ETHTOOL_SRXCSUM, func(f *vethOffloads) *bool { return &f.RxCsum }},
}

// readOffloads reads ifc's offloads in the calling thread's namespace.
func readOffloads(ifc string) (vethOffloads, error) {
	var f vethOffloads
	err := withSocket(func(fd int) error {
		for _, c := range offloadCmds {
			v, err := ethtoolValue(fd, ifc, c.get, 0)
			if err != nil {
				return fmt.Errorf("ethtool get %s on %s: %w", c.name, ifc, err)
			}
			*c.field(&f) = v != 0
		}
		return nil
	})
	return f, err
}

// offloadsOff turns every offload of ifc off in the calling thread's
// namespace.
func offloadsOff(ifc string) error {
	return withSocket(func(fd int) error {
		for _, c := range offloadCmds {
			if _, err := ethtoolValue(fd, ifc, c.set, 0); err != nil {
				return fmt.Errorf("ethtool -K %s %s off: %w", ifc, c.name, err)
			}
		}
		return nil
	})
}

func withSocket(fn func(fd int) error) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket for ethtool: %w", err)
	}
	defer unix.Close(fd)
	return fn(fd)
}

// ethtoolValue issues one SIOCETHTOOL command that takes a struct
// ethtool_value and returns the value the kernel left in it.
func ethtoolValue(fd int, ifc string, cmd, data uint32) (uint32, error) {
	// struct ethtool_value { __u32 cmd; __u32 data; }
	v := &struct{ cmd, data uint32 }{cmd, data}
	// struct ifreq: the name, then ifr_data (a pointer) in a 24-byte union.
	var ifr struct {
		name [unix.IFNAMSIZ]byte
		data unsafe.Pointer
		_    [24 - unsafe.Sizeof(uintptr(0))]byte
	}
	if len(ifc) >= len(ifr.name) {
		return 0, fmt.Errorf("interface name %q too long", ifc)
	}
	copy(ifr.name[:], ifc)
	ifr.data = unsafe.Pointer(v)
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
	runtime.KeepAlive(v)
	if errno != 0 {
		return 0, errno
	}
	return v.data, nil
}

// kernelCounters are the figures vethPair.Stats reports for one namespace.
type kernelCounters struct {
	retransmits, timeouts, dropped float64
}

// readKernelCounters reads the calling thread's namespace's TCP counters
// (/proc/thread-self/net: /proc/net would be the main thread's namespace)
// and the packets ifc dropped.
func readKernelCounters(ifc string) (kernelCounters, error) {
	var c kernelCounters
	var err error
	if c.retransmits, err = procNetCounter("snmp", "Tcp:", "RetransSegs"); err != nil {
		return c, err
	}
	if c.timeouts, err = procNetCounter("netstat", "TcpExt:", "TCPTimeouts"); err != nil {
		return c, err
	}
	c.dropped, err = ifaceDrops(ifc)
	return c, err
}

// procNetCounter reads one counter from /proc/thread-self/net/file, whose
// lines come in pairs: "Prefix: name name ..." then "Prefix: value value ...".
func procNetCounter(file, prefix, name string) (float64, error) {
	path := "/proc/thread-self/net/" + file
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != prefix {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		if i := slices.Index(names, name); i > 0 && i < len(f) {
			return strconv.ParseFloat(f[i], 64)
		}
		break
	}
	return 0, fmt.Errorf("%s: no %s %s", path, prefix, name)
}

// ifaceDrops is ifc's receive plus transmit drops.
func ifaceDrops(ifc string) (float64, error) {
	f, err := ifaceCounters(ifc)
	if err != nil {
		return 0, err
	}
	return f[devRxDrop] + f[devTxDrop], nil
}

// Columns of /proc/net/dev: receive bytes packets errs drop fifo frame
// compressed multicast, then transmit bytes packets errs drop fifo colls
// carrier compressed.
const (
	devRxBytes = 0
	devRxDrop  = 3
	devTxBytes = 8
	devTxDrop  = 11
	devColumns = 16
)

// ifaceCounters is ifc's line of /proc/thread-self/net/dev (the calling
// thread's namespace).
func ifaceCounters(ifc string) ([]float64, error) {
	const path = "/proc/thread-self/net/dev"
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) != ifc {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < devColumns {
			break
		}
		out := make([]float64, devColumns)
		for i := range out {
			if out[i], err = strconv.ParseFloat(f[i], 64); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", path, ifc, err)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s: no counters for %s", path, ifc)
}
