//go:build linux

package interop

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkServeAB is the user test of memory that follows the
// data: `synack serve --http` on a TUN device (default MSL, so every
// connection the server closes holds TIME-WAIT for 4 minutes), hit with
// `ab -n 5000 -c 50` in rounds a few seconds apart. It reports each
// round's requests/s, the slowest round against the first, and serve's
// peak RSS. Before TIME-WAIT became a compact record and buffers followed
// their bytes, round 2 ran at 3-15% of round 1 and RSS reached 2-4 GB.
//
//	go test -run '^$' -bench ServeAB -benchtime 1x ./interop
//
// SYNACK_AB_ROUNDS sets the number of rounds (default 5).
func BenchmarkServeAB(b *testing.B) {
	if _, err := exec.LookPath("ab"); err != nil {
		b.Skip("no ab (Debian's apache2-utils) on this machine")
	}
	rounds, requests, concurrency := 5, 5000, 50
	if v, err := strconv.Atoi(os.Getenv("SYNACK_AB_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	for i := 0; i < b.N; i++ {
		ce := newCmdEnv(b)
		dir := b.TempDir()
		os.WriteFile(filepath.Join(dir, "index.html"), []byte(strings.Repeat("synack ", 100)), 0o644)
		args := []string{"serve", "--tun", "synack0", "--addr", ce.addr.String(), "--host-addr", ce.host.String() + "/24",
			"--http", "8080", "--echo", "0", "--discard", "0", "--dir", dir}
		p := ce.start(nil, args...)
		p.stderr.waitFor(b, "serving http://", p)
		url := fmt.Sprintf("http://%s:8080/index.html", ce.addr)
		var rates []float64
		var peak int64
		for r := 0; r < rounds; r++ {
			out, err := ce.ns.Run("ab", "-q", "-n", strconv.Itoa(requests), "-c", strconv.Itoa(concurrency), url)
			if err != nil {
				b.Fatalf("round %d: ab: %v\n%s\nserve's stderr:\n%s", r+1, err, out, p.stderr.String())
			}
			rate, failed := abResult(string(out))
			if failed != 0 {
				b.Fatalf("round %d: %d failed requests\n%s", r+1, failed, out)
			}
			rates = append(rates, rate)
			peak = max(peak, rssKiB(p.cmd.Process.Pid))
			b.ReportMetric(rate, fmt.Sprintf("req/s_round%d", r+1))
			time.Sleep(3 * time.Second)
		}
		worst := rates[0]
		for _, r := range rates[1:] {
			worst = min(worst, r)
		}
		b.ReportMetric(worst/rates[0], "worst/first")
		b.ReportMetric(float64(peak)/1024, "peak_RSS_MiB")
	}
}

var abRate = regexp.MustCompile(`Requests per second:\s+([0-9.]+)`)
var abFailed = regexp.MustCompile(`Failed requests:\s+([0-9]+)`)

func abResult(out string) (rate float64, failed int) {
	if m := abRate.FindStringSubmatch(out); m != nil {
		rate, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := abFailed.FindStringSubmatch(out); m != nil {
		failed, _ = strconv.Atoi(m[1])
	}
	return rate, failed
}

// rssKiB is a process's resident set (VmRSS), in KiB.
func rssKiB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}
