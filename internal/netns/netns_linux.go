//go:build linux

package netns

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// RunTimeout bounds each command Run executes, and each `ip` invocation.
const RunTimeout = 30 * time.Second

// runDir is where `ip netns` keeps its namespace files.
const runDir = "/var/run/netns"

// NS is a named network namespace created by New.
type NS struct {
	name      string
	closeOnce sync.Once
	closeErr  error
}

var counter atomic.Uint64

// New creates a namespace named prefix-PID-N (unique in this process and
// among processes) and brings its loopback interface up.
func New(prefix string) (*NS, error) {
	ipPath, err := ipBinary()
	if err != nil {
		return nil, err
	}
	ns := &NS{name: fmt.Sprintf("%s-%d-%d", sanitize(prefix), os.Getpid(), counter.Add(1))}
	if out, err := run(ipPath, "netns", "add", ns.name); err != nil {
		return nil, fmt.Errorf("netns: ip netns add %s: %w: %s", ns.name, err, out)
	}
	if out, err := run(ipPath, "-n", ns.name, "link", "set", "lo", "up"); err != nil {
		ns.Close()
		return nil, fmt.Errorf("netns: bring lo up in %s: %w: %s", ns.name, err, out)
	}
	return ns, nil
}

// Name is the namespace's name, as `ip netns` and tun.Config.NetNS take it.
func (ns *NS) Name() string { return ns.name }

// Path is the namespace's file, /var/run/netns/NAME.
func (ns *NS) Path() string { return filepath.Join(runDir, ns.name) }

// Run runs a command inside the namespace (`ip netns exec NAME ...`) and
// returns its combined output. It is killed after RunTimeout.
func (ns *NS) Run(name string, args ...string) ([]byte, error) {
	ipPath, err := ipBinary()
	if err != nil {
		return nil, err
	}
	argv := append([]string{"netns", "exec", ns.name, name}, args...)
	out, err := run(ipPath, argv...)
	if err != nil {
		return out, fmt.Errorf("netns %s: %s %s: %w", ns.name, name, strings.Join(args, " "), err)
	}
	return out, nil
}

// Do runs fn on a locked OS thread switched into the namespace, and
// switches the thread back afterwards. Sockets fn creates stay in the
// namespace, so a listener or connection made by fn can be used from any
// goroutine later. Only fn's own goroutine is inside: goroutines it starts
// are not (dial IP literals, which net.Dial resolves without helpers). A
// panic in fn is re-raised in the caller.
func (ns *NS) Do(fn func() error) error {
	type result struct {
		err      error
		panicked bool
		pv       any
	}
	resc := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		var res result
		res.err = switchAndRun(ns.Path(), func() (err error) {
			defer func() {
				if pv := recover(); pv != nil {
					res.panicked, res.pv = true, pv
				}
			}()
			return fn()
		})
		resc <- res
	}()
	res := <-resc
	if res.panicked {
		panic(res.pv)
	}
	return res.err
}

// switchAndRun runs fn in the namespace at path on the locked calling
// thread. It unlocks the thread only once the thread is back in its own
// namespace; otherwise the thread dies with its goroutine.
func switchAndRun(path string, fn func() error) error {
	self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
	orig, err := unix.Open(self, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns: open %s: %w", self, err)
	}
	defer unix.Close(orig)
	target, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns: open namespace %s: %w", path, err)
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns: setns %s: %w", path, err)
	}
	ferr := fn()
	if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("netns: setns back to own namespace: %w", err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// Close deletes the namespace (`ip netns del`). Interfaces inside it go
// with it once nothing holds them open. Later calls return the first
// call's result.
func (ns *NS) Close() error {
	ns.closeOnce.Do(func() {
		ipPath, err := ipBinary()
		if err != nil {
			ns.closeErr = err
			return
		}
		if out, err := run(ipPath, "netns", "del", ns.name); err != nil {
			ns.closeErr = fmt.Errorf("netns: ip netns del %s: %w: %s", ns.name, err, out)
		}
	})
	return ns.closeErr
}

// run runs a command with RunTimeout and returns its combined output.
func run(path string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), RunTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w after %v", ctx.Err(), RunTimeout)
	}
	return out, err
}

var ipBinary = sync.OnceValues(func() (string, error) {
	if p, err := exec.LookPath("ip"); err == nil {
		return p, nil
	}
	// sbin is often missing from a non-root PATH.
	for _, p := range []string{"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New("netns: the `ip` command (iproute2) is not installed")
})

// Available reports whether this process can create network namespaces
// and TUN devices in them; if not, why is one line saying what is missing.
// The first call probes by creating and deleting a namespace; the answer
// is cached.
func Available() (ok bool, why string) {
	a := available()
	return a.ok, a.why
}

type availability struct {
	ok  bool
	why string
}

var available = sync.OnceValue(func() availability {
	const (
		capNetAdmin = 12
		capSysAdmin = 21
	)
	eff, err := effectiveCaps()
	if err != nil {
		return availability{why: "cannot read capabilities: " + err.Error()}
	}
	if eff&(1<<capNetAdmin) == 0 || eff&(1<<capSysAdmin) == 0 {
		return availability{why: "needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) to create network namespaces and TUN devices"}
	}
	if _, err := ipBinary(); err != nil {
		return availability{why: "the `ip` command (iproute2) is not installed"}
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return availability{why: "/dev/net/tun does not exist (load the tun module or pass the device to the container)"}
	}
	ns, err := New("synack-probe")
	if err != nil {
		return availability{why: "cannot create a network namespace: " + firstLine(err.Error())}
	}
	var why string
	err = ns.Do(func() error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		return unix.Close(fd)
	})
	if err != nil {
		why = "cannot open /dev/net/tun inside a network namespace: " + err.Error()
	}
	if err := ns.Close(); err != nil && why == "" {
		why = "cannot delete a network namespace: " + firstLine(err.Error())
	}
	return availability{ok: why == "", why: why}
})

// effectiveCaps reads the CapEff mask from /proc/self/status.
func effectiveCaps() (uint64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("no CapEff in /proc/self/status")
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
