package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/synack-tcp/synack/stack"
)

// serveOptions are the flags of "synack serve".
type serveOptions struct {
	tun                 tunOptions
	http, echo, discard int
	dir                 string
}

const serveUsage = `usage: synack serve [flags]
Serves HTTP, echo and discard on synack's own address over a TUN device, so
that the kernel's TCP (curl, nc, a browser) can talk to it. GET /bytes/N
streams N bytes of a fixed pseudo-random sequence (ChaCha8 with an all-zero
seed), the same on every request.
On SIGINT or SIGTERM it stops accepting, gives HTTP requests in flight up
to 5 s to finish, closes every connection and waits up to 3 s more for the
closes to be acknowledged, then exits; a second signal exits at once.
` + tunUsage + "\n"

func parseServe(args []string, stderr io.Writer) (serveOptions, error) {
	o := serveOptions{http: 80, echo: 7, discard: 9}
	fs := newFlags("serve", serveUsage, stderr)
	o.tun.register(fs.FlagSet)
	fs.Var(intFlag{&o.http}, "http", "HTTP `PORT`: files from --dir, and /bytes/N streams N bytes (0: off)")
	fs.Var(intFlag{&o.echo}, "echo", "echo `PORT`: sends back what it receives, RFC 862 (0: off)")
	fs.Var(intFlag{&o.discard}, "discard", "discard `PORT`: reads and drops everything, RFC 863 (0: off)")
	fs.StringVar(&o.dir, "dir", ".", "serve the files in `DIR` over HTTP")
	if err := fs.parse(args); err != nil {
		return o, err
	}
	bad := func(format string, a ...any) (serveOptions, error) { return o, fs.bad(format, a...) }
	if fs.NArg() > 0 {
		return bad("unexpected argument %q", fs.Arg(0))
	}
	if err := o.tun.check(); err != nil {
		return bad("%v", err)
	}
	ports := map[int]string{}
	for _, p := range []struct {
		name string
		port int
	}{{"http", o.http}, {"echo", o.echo}, {"discard", o.discard}} {
		if p.port < 0 || p.port > 65535 {
			return bad("--%s %d: want a port from 1 to 65535, or 0 for off", p.name, p.port)
		}
		if other, dup := ports[p.port]; dup && p.port != 0 {
			return bad("--%s and --%s are both port %d", other, p.name, p.port)
		}
		ports[p.port] = p.name
	}
	if o.http == 0 && o.echo == 0 && o.discard == 0 {
		return bad("nothing to serve: --http, --echo and --discard are all 0")
	}
	if o.http != 0 {
		if fi, err := os.Stat(o.dir); err != nil || !fi.IsDir() {
			return bad("--dir %q is not a directory", o.dir)
		}
	}
	return o, nil
}

func runServe(args []string, stdout, stderr io.Writer) int {
	o, err := parseServe(args, stderr)
	if err != nil {
		return exitCode(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal, stop restores the default action, so a
	// second one kills the process at once instead of waiting for the
	// orderly shutdown.
	context.AfterFunc(ctx, stop)
	return serve(ctx, o, stdout, stderr)
}

// server is a running "synack serve".
type server struct {
	st      *stack.Stack
	log     *eventLog
	stderr  io.Writer
	lns     []net.Listener
	httpSrv *http.Server

	wg       sync.WaitGroup // accept loops and echo/discard handlers
	mu       sync.Mutex
	conns    map[net.Conn]struct{} // echo and discard connections
	accepted atomic.Int64
}

// serve runs until ctx ends, then closes everything and returns the exit
// code.
func serve(ctx context.Context, o serveOptions, stdout, stderr io.Writer) int {
	const cmd = "synack serve"
	evl := newEventLog("serve", &o.tun, stdout)
	defer evl.close()
	o.tun.out = stderr // where --ui says the page's address
	st, err := o.tun.open(cmd, evl.record)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer o.tun.closeExtras() // --ui, --pcap: after shutdown closes the stack
	s := &server{st: st, log: evl, stderr: stderr, conns: map[net.Conn]struct{}{}}
	var what []string
	fail := make(chan error, 3)
	if o.http != 0 {
		ln, err := s.listen(o.tun, o.http)
		if err != nil {
			return s.abort(cmd, err)
		}
		s.httpSrv = &http.Server{
			Handler:           newHTTPHandler(o.dir),
			ReadHeaderTimeout: 30 * time.Second,
			ErrorLog:          log.New(stderr, cmd+": http: ", 0),
			ConnState: func(_ net.Conn, cs http.ConnState) {
				if cs == http.StateNew {
					s.accepted.Add(1)
				}
			},
		}
		s.wg.Go(func() {
			if err := s.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				fail <- fmt.Errorf("http: %w", err)
			}
		})
		what = append(what, fmt.Sprintf("http://%s/ (files from %s, /bytes/N)", ln.Addr(), o.dir))
	}
	for _, svc := range []struct {
		name   string
		port   int
		handle func(*stack.Conn)
	}{{"echo", o.echo, echo}, {"discard", o.discard, discard}} {
		if svc.port == 0 {
			continue
		}
		ln, err := s.listen(o.tun, svc.port)
		if err != nil {
			return s.abort(cmd, err)
		}
		s.wg.Go(func() {
			if err := s.acceptLoop(ln, svc.handle); err != nil {
				fail <- fmt.Errorf("%s: %w", svc.name, err)
			}
		})
		what = append(what, fmt.Sprintf("%s %s", svc.name, ln.Addr()))
	}
	fmt.Fprintf(stderr, "%s: %s\n", cmd, o.tun.describe())
	fmt.Fprintf(stderr, "%s: serving %s; stop with Ctrl-C\n", cmd, strings.Join(what, ", "))

	code := 0
	select {
	case <-ctx.Done():
		fmt.Fprintf(stderr, "%s: stopping: closing connections (up to 8 s); a second Ctrl-C exits at once\n", cmd)
	case err := <-fail:
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		code = 1
	}
	s.shutdown()
	if code == 0 {
		n, plural := s.accepted.Load(), "s"
		if n == 1 {
			plural = ""
		}
		fmt.Fprintf(stderr, "%s: stopped after %d connection%s\n", cmd, n, plural)
	}
	return code
}

func (s *server) listen(o tunOptions, port int) (*stack.Listener, error) {
	ln, err := s.st.ListenTCP("tcp", net.JoinHostPort(o.addr.String(), strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	s.lns = append(s.lns, ln)
	return ln, nil
}

// abort undoes a failed start.
func (s *server) abort(cmd string, err error) int {
	fmt.Fprintf(s.stderr, "%s: %v\n", cmd, err)
	for _, ln := range s.lns {
		ln.Close()
	}
	s.st.Close()
	return 1
}

// shutdown stops accepting, lets connections close (HTTP requests in
// flight get 5 s to finish), waits briefly for every connection's FIN to
// be acknowledged, then closes the stack and the device.
func (s *server) shutdown() {
	for _, ln := range s.lns {
		if ln != nil {
			ln.Close()
		}
	}
	if s.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := s.httpSrv.Shutdown(ctx); err != nil {
			s.httpSrv.Close()
		}
		cancel()
	}
	s.mu.Lock()
	for c := range s.conns {
		c.Close() // a FIN after what was written; unread data: a reset
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.log.settle(3*time.Second, nil)
	s.st.Close()
}

// acceptLoop hands each connection to handle in a goroutine of its own
// until the listener closes.
func (s *server) acceptLoop(ln net.Listener, handle func(*stack.Conn)) error {
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		c := nc.(*stack.Conn)
		s.accepted.Add(1)
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Go(func() {
			handle(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		})
	}
}

// echo sends back everything it reads (RFC 862); after the peer's FIN it
// sends its own.
func echo(c *stack.Conn) {
	defer c.Close()
	buf := make([]byte, 64<<10)
	if _, err := io.CopyBuffer(c, c, buf); err == nil {
		c.CloseWrite()
	}
}

// discard reads and drops everything (RFC 863) until the peer's FIN.
func discard(c *stack.Conn) {
	defer c.Close()
	buf := make([]byte, 64<<10)
	io.CopyBuffer(io.Discard, c, buf)
}

// maxBytes bounds /bytes/N.
const maxBytes = 1 << 40

// newHTTPHandler serves files from dir, and /bytes/N.
func newHTTPHandler(dir string) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", http.FileServer(http.Dir(dir)))
	mux.HandleFunc("/bytes/{n}", serveBytes)
	return mux
}

// serveBytes streams N bytes of ChaCha8 with an all-zero seed: the same N
// bytes on every request, so a client can check them by their digest.
func serveBytes(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.ParseInt(r.PathValue("n"), 10, 64)
	if err != nil || n < 0 || n > maxBytes {
		http.Error(w, "want /bytes/N with N from 0 to 2^40", http.StatusBadRequest)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(n, 10))
	if r.Method == http.MethodHead {
		return
	}
	var seed [32]byte
	src := rand.NewChaCha8(seed)
	buf := make([]byte, 64<<10)
	for n > 0 {
		b := buf[:min(int64(len(buf)), n)]
		src.Read(b)
		if _, err := w.Write(b); err != nil {
			return
		}
		n -= int64(len(b))
	}
}
