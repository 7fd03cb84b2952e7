package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/synack-tcp/synack/stack"
	"github.com/synack-tcp/synack/tcp"
)

// ncOptions are the flags and arguments of "synack nc".
type ncOptions struct {
	tun     tunOptions
	listen  bool
	timeout time.Duration
	remote  netip.AddrPort // dialing
	port    uint16         // listening
}

const ncUsage = `usage: synack nc [flags] HOST PORT
       synack nc [flags] -l PORT
Netcat over the synack stack: connects to HOST PORT (or accepts one connection
on PORT), copies stdin to the connection and the connection to stdout. At EOF
on stdin it half-closes (sends its FIN) and goes on reading until the peer
closes too. Any kernel-side tool can be the peer: HOST is usually --host-addr's
address, and the kernel reaches synack at --addr.
` + tunUsage + "\n"

func parseNC(args []string, stderr io.Writer) (ncOptions, error) {
	o := ncOptions{timeout: 30 * time.Second}
	fs := newFlags("nc", ncUsage, stderr)
	o.tun.register(fs.FlagSet)
	fs.BoolVar(&o.listen, "l", false, "listen on PORT at --addr and accept one connection, instead of dialing")
	fs.Var(durFlag{&o.timeout}, "timeout", "give up dialing after this long")
	if err := fs.parse(args); err != nil {
		return o, err
	}
	bad := func(format string, a ...any) (ncOptions, error) { return o, fs.bad(format, a...) }
	if err := o.tun.check(); err != nil {
		return bad("%v", err)
	}
	if o.timeout <= 0 {
		return bad("invalid value %v for --timeout: want a positive duration such as 30s", o.timeout)
	}
	port := func(s string) (uint16, bool) {
		p, err := strconv.ParseUint(s, 10, 16)
		return uint16(p), err == nil && p != 0
	}
	if o.listen {
		if fs.NArg() != 1 {
			return bad("-l takes one argument, the PORT (got %d)", fs.NArg())
		}
		var ok bool
		if o.port, ok = port(fs.Arg(0)); !ok {
			return bad("port %q: want 1 to 65535", fs.Arg(0))
		}
		return o, nil
	}
	if fs.NArg() != 2 {
		return bad("want HOST and PORT (got %d arguments)", fs.NArg())
	}
	host, err := netip.ParseAddr(fs.Arg(0))
	if err != nil {
		return bad("HOST %q: want an IP address (synack has no resolver), such as %s", fs.Arg(0), o.tun.hostAddr.Addr())
	}
	p, ok := port(fs.Arg(1))
	if !ok {
		return bad("port %q: want 1 to 65535", fs.Arg(1))
	}
	host = host.Unmap()
	if host.Is4() != o.tun.addr.Is4() {
		return bad("HOST %s and --addr %s are of different IP versions", host, o.tun.addr)
	}
	o.remote = netip.AddrPortFrom(host, p)
	return o, nil
}

func runNC(args []string, stdout, stderr io.Writer) int {
	return ncMain(args, os.Stdin, stdout, stderr)
}

func ncMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, err := parseNC(args, stderr)
	if err != nil {
		return exitCode(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return nc(ctx, o, stdin, stdout, stderr)
}

// nc connects (or accepts one connection), pipes, and closes.
func nc(ctx context.Context, o ncOptions, stdin io.Reader, stdout, stderr io.Writer) int {
	const cmd = "synack nc"
	evl := newEventLog("nc", &o.tun, stderr) // stdout carries the data
	defer evl.close()
	o.tun.out = stderr // where --ui says the page's address
	st, err := o.tun.open(cmd, evl.record)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer o.tun.closeExtras() // --ui, --pcap: after the stack closes
	defer st.Close()
	c, err := ncConnect(ctx, st, o, stderr)
	if err != nil {
		if ctx.Err() == nil {
			fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		}
		return 1
	}
	if err := ncPipe(ctx, c, stdin, stdout); err != nil {
		c.Abort()
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		return 1
	}
	c.Close()
	// Let our FIN (or the ACK of theirs) be acknowledged before the stack
	// goes, so the peer sees an orderly close rather than retransmitting
	// into a device that no longer exists. TIME-WAIT itself need not be
	// waited out: nobody else will use this stack's ports.
	evl.settle(10*time.Second, ctx.Done())
	return 0
}

func ncConnect(ctx context.Context, st *stack.Stack, o ncOptions, stderr io.Writer) (*stack.Conn, error) {
	if !o.listen {
		dctx, cancel := context.WithTimeout(ctx, o.timeout)
		defer cancel()
		c, err := st.DialTCP(dctx, "tcp", o.remote.String())
		if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("dial %s: no answer to the SYN within --timeout %v", o.remote, o.timeout)
		}
		return c, err
	}
	ln, err := st.ListenTCP("tcp", netip.AddrPortFrom(o.tun.addr, o.port).String())
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	if o.tun.verbose {
		fmt.Fprintf(stderr, "synack nc: %s; listening on %s\n", o.tun.describe(), ln.Addr())
	}
	c, err := ln.AcceptContext(ctx)
	if err != nil {
		return nil, err
	}
	return c.(*stack.Conn), nil
}

// ncPipe copies stdin to c (then half-closes c) and c to stdout, until both
// directions are done, or one fails, or ctx ends.
func ncPipe(ctx context.Context, c *stack.Conn, stdin io.Reader, stdout io.Writer) error {
	up := make(chan error, 1)
	down := make(chan error, 1)
	go func() {
		_, err := io.CopyBuffer(c, stdin, make([]byte, 64<<10))
		if err == nil {
			err = c.CloseWrite()
			if errors.Is(err, net.ErrClosed) {
				err = nil
			}
		} else if c.State() == tcp.Closed {
			err = nil // the read side says why
		}
		up <- err
	}()
	go func() {
		_, err := io.CopyBuffer(stdout, c, make([]byte, 64<<10))
		down <- err
	}()
	for pending := 2; pending > 0; pending-- {
		select {
		case err := <-up:
			if err != nil {
				return err
			}
			up = nil
		case err := <-down:
			if err != nil {
				return err
			}
			down = nil
		case <-ctx.Done():
			return errors.New("interrupted")
		}
	}
	return nil
}
