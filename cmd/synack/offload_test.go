package main

import (
	"io"
	"net/netip"
	"strings"
	"testing"

	"github.com/synack-tcp/synack/link"
	"github.com/synack-tcp/synack/link/pipe"
	"github.com/synack-tcp/synack/link/tun"
)

// offloadLink is a link that reports offloads, as link/tun does.
type offloadLink struct {
	*pipe.Endpoint
	o link.Offloads
}

func (l offloadLink) Offloads() link.Offloads { return l.o }

// TestOffloadFlag: --offload (default on) asks tun.Open for the device's
// offloads and --offload=false forces them off; the start-up line says
// what the device granted.
func TestOffloadFlag(t *testing.T) {
	oldIfs := interfaceAddrs
	interfaceAddrs = func() (map[string][]netip.Prefix, error) { return nil, nil } // no route clash with other devices here
	t.Cleanup(func() { interfaceAddrs = oldIfs })
	for _, c := range []struct {
		args []string
		o    link.Offloads
		want string
		no   bool
	}{
		{nil, link.Offloads{Checksum: true, TSO: true, MaxPacket: 65535}, "offloads: checksum, TSO)", false},
		{[]string{"--offload=true"}, link.Offloads{Checksum: true}, "offloads: checksum (the kernel refused TSO))", false},
		{nil, link.Offloads{}, "offloads: none (the kernel has none for TUN devices))", false},
		{[]string{"--offload=false"}, link.Offloads{}, "offloads: off (--offload=false))", true},
	} {
		var got tun.Config
		withOpenTUN(t, func(cfg tun.Config) (link.Endpoint, error) {
			got = cfg
			a, _ := pipe.New(1500)
			return offloadLink{a, c.o}, nil
		})
		o, err := parseServe(c.args, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		st, err := o.tun.open("synack serve", nil)
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		if got.Queues != 0 {
			t.Errorf("%v: tun.Config.Queues %d, want 0 (one per GOMAXPROCS)", c.args, got.Queues)
		}
		if got.NoOffload != c.no {
			t.Errorf("%v: tun.Config.NoOffload %v, want %v", c.args, got.NoOffload, c.no)
		}
		if d := o.tun.describe(); !strings.HasSuffix(d, c.want) {
			t.Errorf("%v: %q, want it to end %q", c.args, d, c.want)
		}
	}
}

// TestQueuesFlag: --queues N reaches tun.Config.Queues; out of range is a
// one-line error.
func TestQueuesFlag(t *testing.T) {
	oldIfs := interfaceAddrs
	interfaceAddrs = func() (map[string][]netip.Prefix, error) { return nil, nil }
	t.Cleanup(func() { interfaceAddrs = oldIfs })
	var got tun.Config
	withOpenTUN(t, func(cfg tun.Config) (link.Endpoint, error) {
		got = cfg
		a, _ := pipe.New(1500)
		return a, nil
	})
	o, err := parseServe([]string{"--queues", "3"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	st, err := o.tun.open("synack serve", nil)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if got.Queues != 3 {
		t.Errorf("--queues 3: tun.Config.Queues %d", got.Queues)
	}
	badFlags(t, map[string][]string{
		"invalid value -1 for --queues: want 0 (one per GOMAXPROCS) to 64": {"serve", "--queues", "-1"},
		"invalid value 65 for --queues":                                    {"nc", "--queues", "65", "-l", "5000"},
	})
}
