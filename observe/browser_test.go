package observe

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browser starts headless chromium, or skips (fails with
// SYNACK_REQUIRE_BROWSER=1, as CI sets it) when there is none.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("SYNACK_REQUIRE_BROWSER") == "1" {
			t.Fatal("chromium is not installed and SYNACK_REQUIRE_BROWSER=1")
		}
		t.Skip("chromium is not installed (apt-get install chromium); the page is not tested in a browser")
	}
	dir := t.TempDir()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(1500, 1300),
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel3)
	return ctx
}

// pageCounts reads the diagram: state -> the count it shows.
const pageCounts = `Object.fromEntries([...document.querySelectorAll('#diagram .state:not([data-alias])')].map(g => [g.dataset.state, Number(g.dataset.count)]))`

// sum adds the endpoints' counts per state.
func sum(m map[string]map[string]int) map[string]int {
	out := map[string]int{}
	for _, s := range m {
		for k, v := range s {
			if v != 0 {
				out[k] += v
			}
		}
	}
	return out
}

func waitPage(t *testing.T, ctx context.Context, what string, ok func(map[string]int) bool) map[string]int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]int](pageCounts))
		if err != nil {
			t.Fatal(err)
		}
		if ok(got) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the page shows %v", what, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The page in a real browser: it loads with no console errors, draws all
// eleven states, shows a connection held open in ESTABLISHED, and after
// it closes its counts match Stack.Conns().
func TestPageInBrowser(t *testing.T) {
	ctx := browser(t)
	r := newRig(t, Options{Interval: 100 * time.Millisecond})
	var mu sync.Mutex
	var problems []string
	console := chromedp.Console(ctx)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == "error" {
				mu.Lock()
				problems = append(problems, m.String())
				mu.Unlock()
			}
		}
	}()
	if err := chromedp.Do(ctx, chromedp.Navigate(r.web.URL+"/"), chromedp.WaitVisible("#diagram .state")); err != nil {
		t.Fatal(err)
	}
	names, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...new Set([...document.querySelectorAll('#diagram .state')].map(g => g.querySelector('.name').textContent))]`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"CLOSED", "LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSING", "TIME-WAIT", "CLOSE-WAIT", "LAST-ACK"}
	slices.Sort(names)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("the diagram shows the states %v, want the eleven of RFC 9293: %v", names, want)
	}

	held := r.dial(t)
	waitPage(t, ctx, "a connection held open", func(m map[string]int) bool { return m["ESTABLISHED"] == 2 && m["LISTEN"] == 1 })
	// Its row is in the table; selecting it shows its path.
	local := held.LocalAddr().String()
	sel := `#conns tbody tr[data-state="ESTABLISHED"]`
	if err := clickRow(ctx, sel); err != nil {
		t.Fatal(err)
	}
	path := pollText(t, ctx, "#path ol", "SYN-SENT → ESTABLISHED", "SYN-RECEIVED → ESTABLISHED")
	if !strings.Contains(path, "rcv SYN,ACK") && !strings.Contains(path, "rcv ACK") {
		t.Errorf("path panel %q lacks the causes", path)
	}
	table, _ := chromedp.Run(ctx, chromedp.Text("#conns tbody"))
	if !strings.Contains(table, local) {
		t.Errorf("the table %q lacks the held connection %s", table, local)
	}

	if err := screenshotTo(ctx, r); err != nil {
		t.Fatal(err)
	}

	held.Close()
	deadline := time.Now().Add(10 * time.Second)
	for r.client.NumConns()+r.server.NumConns() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	truth := sum(r.truth())
	got := waitPage(t, ctx, "after the close", func(m map[string]int) bool {
		for k, v := range m {
			if v == 0 {
				delete(m, k)
			}
		}
		return reflect.DeepEqual(m, truth)
	})
	t.Logf("after the close the page shows %v; Stack.Conns() and the listeners: %v", got, truth)
	// With nothing left at all, the page still reads its snapshots: the
	// table empties and every count is 0.
	r.ln.Close()
	waitPage(t, ctx, "with the listener closed", func(m map[string]int) bool {
		for _, v := range m {
			if v != 0 {
				return false
			}
		}
		return true
	})
	pollText(t, ctx, "#conncount", "0 connections, 0 listeners")
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Errorf("console:\n%s", strings.Join(problems, "\n"))
	}
}

func pollText(t *testing.T, ctx context.Context, sel string, any ...string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector(`+jsString(sel)+`)||{}).textContent||""`))
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range any {
			if strings.Contains(s, a) {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s shows %q, want one of %q", sel, s, any)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// clickRow clicks a table row from inside the page: the table is redrawn
// at every snapshot, so a node chromedp found may be gone by its click.
func clickRow(ctx context.Context, sel string) error {
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(r => r ? (r.click(), true) : false)(document.querySelector(`+jsString(sel)+`))`))
		if err != nil || ok {
			return err
		}
		if time.Now().After(end) {
			return errors.New("no row " + sel)
		}
	}
}

func jsString(s string) string { b, _ := json.Marshal(s); return string(b) }

// screenshotTo writes a screenshot of the page with live connections to
// $SYNACK_OBSERVE_SCREENSHOT (docs/observe.png is made so), after
// setting up connections in several states and some traffic.
func screenshotTo(ctx context.Context, r *rig) error {
	out := os.Getenv("SYNACK_OBSERVE_SCREENSHOT")
	if out == "" {
		return nil
	}
	scene, err := newScene(r)
	if err != nil {
		return err
	}
	defer scene.close()
	time.Sleep(4 * time.Second) // a few seconds of plots
	if err := clickRow(ctx, `#conns tbody tr[data-state="FIN-WAIT-2"]`); err != nil {
		return err
	}
	time.Sleep(500 * time.Millisecond)
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return err
	}
	return os.WriteFile(out, png, 0o644)
}

// scene keeps the rig busy for the screenshot: bulk transfers, two
// half-closed connections, connections opening and closing, refusals.
type scene struct {
	stop chan struct{}
	wg   sync.WaitGroup
	ln   net.Listener
	mu   sync.Mutex
	held []net.Conn
}

func newScene(r *rig) (*scene, error) {
	s := &scene{stop: make(chan struct{})}
	ln, err := r.server.Listen("tcp", "10.0.0.2:9")
	if err != nil {
		return nil, err
	}
	s.ln = ln
	s.wg.Go(func() { // accepts, reads to EOF, and keeps its side open
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.keep(c)
			go func() {
				b := make([]byte, 1024)
				for {
					if _, err := c.Read(b); err != nil {
						return
					}
				}
			}()
		}
	})
	for range 2 {
		c, err := r.client.Dial("tcp", "10.0.0.2:9")
		if err != nil {
			return nil, err
		}
		s.keep(c)
		c.(interface{ CloseWrite() error }).CloseWrite() // FIN-WAIT-2 and CLOSE-WAIT
	}
	for i := range 3 {
		c, err := r.client.Dial("tcp", "10.0.0.2:7")
		if err != nil {
			return nil, err
		}
		s.keep(c)
		s.wg.Go(func() { // paced bulk through the echo server
			buf := make([]byte, 16<<10*(i+1))
			for {
				select {
				case <-s.stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				if _, err := c.Write(buf); err != nil {
					return
				}
				if _, err := readFull(c, buf); err != nil {
					return
				}
			}
		})
	}
	s.wg.Go(func() { // churn: short connections, and some refused
		for i := 0; ; i++ {
			select {
			case <-s.stop:
				return
			case <-time.After(60 * time.Millisecond):
			}
			addr := "10.0.0.2:7"
			if i%5 == 4 {
				addr = "10.0.0.2:1" // nothing listens: a reset
			}
			if c, err := r.client.Dial("tcp", addr); err == nil {
				b := []byte("hi")
				c.Write(b)
				readFull(c, b) // the echo, so that the close is orderly
				c.Close()
			}
		}
	})
	return s, nil
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (s *scene) keep(c net.Conn) {
	s.mu.Lock()
	s.held = append(s.held, c)
	s.mu.Unlock()
}

func (s *scene) close() {
	close(s.stop)
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.held {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}
