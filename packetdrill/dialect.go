package packetdrill

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/synack-tcp/synack/stack"
)

// Dialects name whose configuration a corpus is written against.
const (
	DialectLinux   = "linux"   // defaults.sh, set_sysctls.py, Linux sysctls
	DialectFreeBSD = "freebsd" // `sysctl -w net.inet.tcp.*` lines
)

// detectDialect picks FreeBSD for a script that sets FreeBSD sysctls.
func detectDialect(s *Script) string {
	for _, ev := range s.Events {
		if ev.Kind == EventCommand && strings.Contains(ev.Command, "net.inet.") {
			return DialectFreeBSD
		}
	}
	return DialectLinux
}

// config is what a script's setup commands ask of the stack.
type config struct {
	stack stack.Config
	notes []string
}

// baseConfig is the stack configuration for a dialect before any sysctl.
func baseConfig(dialect string) *config {
	c := &config{}
	switch dialect {
	case DialectLinux:
		// Linux's built-in TCP_RTO_MIN (include/net/tcp.h); RFC 6298 2.4
		// leaves the minimum to the implementation.
		c.stack.TCP.MinRTO = 200 * time.Millisecond
	case DialectFreeBSD:
		// FreeBSD's defaults: recvspace 64 KiB, sendspace 32 KiB, buffers
		// growing to kern.ipc.maxsockbuf (2 MiB).
		c.stack.TCP.RecvBuf, c.stack.TCP.RecvBufMax = 65536, 2097152
		c.stack.TCP.SendBuf, c.stack.TCP.SendBufMax = 32768, 2097152
		c.stack.TCP.MinRTO = 30 * time.Millisecond   // net.inet.tcp.rexmit_min
		c.stack.TCP.RTOSlop = 200 * time.Millisecond // net.inet.tcp.rexmit_slop
		c.stack.TCP.ECNSynRetries = 1                // net.inet.tcp.ecn.maxretries
	}
	return c
}

func (c *config) note(format string, a ...any) {
	n := fmt.Sprintf(format, a...)
	for _, o := range c.notes {
		if o == n {
			return
		}
	}
	c.notes = append(c.notes, n)
}

// command applies one setup command. It reports false for a command that
// is not configuration (a state check, a cleanup) and is run in order.
func (c *config) command(cmd string) {
	for _, part := range strings.FieldsFunc(cmd, func(r rune) bool { return r == '\n' || r == ';' }) {
		f := strings.Fields(part)
		if len(f) == 0 {
			continue
		}
		switch {
		case strings.HasSuffix(f[0], "defaults.sh"):
			c.linuxDefaults()
		case strings.HasSuffix(f[0], "set_sysctls.py"):
			for _, a := range f[1:] {
				k, v, _ := strings.Cut(a, "=")
				k = strings.ReplaceAll(strings.TrimPrefix(k, "/proc/sys/"), "/", ".")
				c.sysctl(k, v)
			}
		case f[0] == "sysctl":
			for _, a := range f[1:] {
				if strings.HasPrefix(a, "-") {
					continue
				}
				k, v, _ := strings.Cut(a, "=")
				c.sysctl(k, strings.Trim(v, `"`))
			}
		default:
			c.note("ignored host command %q", f[0])
		}
	}
}

// linuxDefaults is gtests/net/tcp/common/defaults.sh, where synack has the knob.
func (c *config) linuxDefaults() {
	for _, kv := range [][2]string{
		{"net.ipv4.tcp_rmem", "4096 540000 15728640"},
		{"net.ipv4.tcp_wmem", "4096 262144 4194304"},
		{"net.ipv4.tcp_timestamps", "1"},
		{"net.ipv4.tcp_sack", "1"},
		{"net.ipv4.tcp_syn_retries", "5"},
		{"net.ipv4.tcp_congestion_control", "cubic"},
		{"net.ipv4.tcp_ecn", "0"},
		{"net.ipv4.tcp_frto", "2"},
		{"net.ipv4.tcp_dsack", "1"},
		{"net.ipv4.tcp_reordering", "3"},
		{"net.ipv4.tcp_slow_start_after_idle", "0"},
		{"net.ipv4.tcp_early_retrans", "4"},
		{"net.ipv4.tcp_tso_win_divisor", "3"},
		{"net.ipv4.tcp_fastopen", "0x70403"},
		{"net.ipv4.tcp_syncookies", "1"},
	} {
		c.sysctl(kv[0], kv[1])
	}
}

// sysctl maps one Linux or FreeBSD sysctl to the stack's Config.
func (c *config) sysctl(k, v string) {
	t := &c.stack.TCP
	n, numErr := strconv.ParseInt(strings.TrimSpace(v), 0, 64)
	num := numErr == nil
	switch k {
	case "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem":
		f := strings.Fields(v)
		if len(f) != 3 {
			c.note("ignored %s=%q", k, v)
			return
		}
		def, _ := strconv.Atoi(f[1])
		mx, _ := strconv.Atoi(f[2])
		if k == "net.ipv4.tcp_rmem" {
			t.RecvBuf, t.RecvBufMax = def, mx
		} else {
			t.SendBuf, t.SendBufMax = def, mx
		}
	case "net.ipv4.tcp_timestamps":
		c.stack.NoTimestamps = num && n == 0
	case "net.ipv4.tcp_sack", "net.inet.tcp.sack.enable":
		c.stack.NoSACK = num && n == 0
	case "net.inet.tcp.rfc1323":
		c.stack.NoTimestamps = num && n == 0
		c.stack.NoWindowScale = num && n == 0
	case "net.ipv4.tcp_window_scaling":
		c.stack.NoWindowScale = num && n == 0
	case "net.ipv4.tcp_congestion_control":
		if v == "reno" {
			v = "newreno"
		}
		t.CongestionControl = v
	case "net.ipv4.tcp_ecn", "net.inet.tcp.ecn.enable":
		c.stack.ECN = num && n == 1
		if num && n == 2 {
			c.note("%s=2 (grant ECN, never ask): synack either asks and grants or does neither; off", k)
		}
	case "net.ipv4.tcp_syn_retries":
		if num && n > 0 && n < 30 {
			// Linux gives up after the SYN and n retransmissions with
			// the RTO doubling from 1 s: 2^(n+1)-1 seconds.
			t.R2Syn = time.Duration(1<<(n+1)-1) * time.Second
		}
	case "net.inet.tcp.keepinit":
		if num && n > 0 {
			t.R2Syn = time.Duration(n) * time.Millisecond
			t.SynTimeout = t.R2Syn
		}
	case "net.inet.tcp.rexmit_initial":
		if num && n > 0 {
			t.InitialRTO = time.Duration(n) * time.Millisecond
		}
	case "net.inet.tcp.rexmit_slop":
		if num && n >= 0 {
			t.RTOSlop = time.Duration(n) * time.Millisecond
		}
	case "net.inet.tcp.ecn.maxretries":
		if num && n >= 0 {
			t.ECNSynRetries = uint8(min(n, 255))
		}
	case "net.inet.tcp.rexmit_drop_options":
		// FreeBSD drops the options from the third SYN retransmission.
		t.SynOptRetries = 0
		if num && n != 0 {
			t.SynOptRetries = 2
		}
	case "net.inet.tcp.drop_synfin":
		c.stack.DropSynFin = num && n != 0
	case "net.inet.tcp.rexmit_min":
		if num && n > 0 {
			t.MinRTO = time.Duration(n) * time.Millisecond
		}
	case "net.inet.tcp.recvspace":
		if num && n > 0 {
			t.RecvBuf = int(n)
		}
	case "net.inet.tcp.sendspace":
		if num && n > 0 {
			t.SendBuf = int(n)
		}
	case "kern.ipc.maxsockbuf":
		if num && n > 0 {
			t.RecvBufMax, t.SendBufMax = int(n), int(n)
		}
	case "net.inet.tcp.blackhole", "net.inet.tcp.hostcache.purgenow":
		// blackhole=0 is synack's behaviour (a RST for a closed port);
		// there is no host cache.
	case "net.inet.tcp.insecure_rst", "net.inet.tcp.insecure_syn":
		if num && n != 0 {
			c.note("%s=%d: synack always implements RFC 5961", k, n)
		}
	case "net.ipv4.tcp_frto", "net.ipv4.tcp_dsack", "net.ipv4.tcp_reordering",
		"net.ipv4.tcp_early_retrans", "net.ipv4.tcp_recovery", "net.ipv4.tcp_fack":
		// Loss-recovery tuning: synack runs RFC 6675 SACK recovery with
		// RACK-TLP and D-SACK, fixed.
	default:
		c.note("no synack knob for %s=%s", k, v)
	}
}
