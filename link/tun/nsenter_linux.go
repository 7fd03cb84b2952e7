//go:build linux

package tun

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// inNetNS runs fn on a locked OS thread switched into network namespace
// ns (a name under /var/run/netns, or an absolute path), then switches the
// thread back. File descriptors and sockets fn creates keep the namespace
// they were created in. If the thread cannot be switched back, it is left
// locked so that it dies with its goroutine instead of serving others.
func inNetNS(ns string, fn func() error) error {
	path := ns
	if !filepath.IsAbs(ns) {
		if ns == "." || ns == ".." || strings.ContainsRune(ns, '/') {
			return fmt.Errorf("tun: bad network namespace name %q", ns)
		}
		path = filepath.Join("/var/run/netns", ns)
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		errc <- switchAndRun(path, fn)
	}()
	return <-errc
}

// switchAndRun is inNetNS's body, on its locked thread. It unlocks the
// thread only once the thread is back in its own namespace.
func switchAndRun(path string, fn func() error) error {
	self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
	orig, err := unix.Open(self, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("tun: open %s: %w", self, err)
	}
	defer unix.Close(orig)
	target, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("tun: network namespace %s: %w", path, err)
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		if err == unix.EPERM {
			return fmt.Errorf("%w: setns %s: %w (needs CAP_SYS_ADMIN and CAP_NET_ADMIN: run as root)",
				ErrPermission, path, err)
		}
		return fmt.Errorf("tun: setns %s: %w", path, err)
	}
	ferr := fn()
	if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
		// Stay locked: the thread exits with this goroutine.
		return fmt.Errorf("tun: setns back to own namespace: %w", err)
	}
	runtime.UnlockOSThread()
	return ferr
}
