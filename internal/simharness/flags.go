package simharness

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/synack-tcp/synack/link/sim"
)

// The flag values below print exactly what they parse (Args relies on it).

// linkFlag is a per-direction link flag: "V" sets both directions, "A/B"
// sets client->server and server->client.
type linkFlag struct {
	ab, ba *sim.Config
	get    func(*sim.Config) string
	set    func(*sim.Config, string) error
}

func (f linkFlag) String() string {
	if f.ab == nil {
		return ""
	}
	a, b := f.get(f.ab), f.get(f.ba)
	if a == b {
		return a
	}
	return a + "/" + b
}

func (f linkFlag) Set(v string) error {
	a, b, two := strings.Cut(v, "/")
	if !two {
		b = a
	}
	if err := f.set(f.ab, a); err != nil {
		return err
	}
	return f.set(f.ba, b)
}

// boolLinkFlag is a boolean linkFlag: --name alone is true both ways.
type boolLinkFlag struct{ linkFlag }

func (boolLinkFlag) IsBoolFlag() bool { return true }

// parseProb reads "0.05" or "5%".
func parseProb(s string) (float64, error) {
	pct := strings.HasSuffix(s, "%")
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil || math.IsNaN(v) {
		return 0, fmt.Errorf("%q: want a fraction like 0.05 or a percentage like 5%%", s)
	}
	if pct {
		v /= 100
	}
	if v < 0 || v > 1 {
		return 0, fmt.Errorf("%q: a probability is between 0 and 1 (100%%)", s)
	}
	return v, nil
}

// fmtProb prints p as a percentage when that reads back exactly.
func fmtProb(p float64) string {
	if p == 0 {
		return "0"
	}
	s := strconv.FormatFloat(p*100, 'g', -1, 64) + "%"
	if q, err := parseProb(s); err == nil && q == p {
		return s
	}
	return strconv.FormatFloat(p, 'g', -1, 64)
}

func parseDur(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q: want a duration like 10ms", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q: negative duration", s)
	}
	return d, nil
}

func parseInt(s string, lo, hi int) (int, error) {
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q: want an integer", s)
	}
	if v < lo || v > hi {
		return 0, fmt.Errorf("%d: want %d to %d", v, lo, hi)
	}
	return v, nil
}

var sizeUnits = []struct {
	suffix string
	mult   int
}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"kB", 1e3}, {"KB", 1e3}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"k", 1 << 10}, {"B", 1}}

// ParseSize reads a byte count: 1500, 64KiB, 16MiB (K, M, G are binary
// too), or in decimal units 1MB, 500kB. Every synack command parses its
// sizes with it.
func ParseSize(s string) (int, error) {
	mult := 1
	num := s
	for _, u := range sizeUnits {
		if strings.HasSuffix(s, u.suffix) {
			num, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil || v < 0 || v > (1<<40)/int64(mult) {
		return 0, fmt.Errorf("%q: want a size like 1500, 64KiB, 16MiB or 1MB", s)
	}
	return int(v) * mult, nil
}

// FormatSize prints n in the largest binary unit that divides it; ParseSize
// reads it back.
func FormatSize(n int) string {
	switch {
	case n == 0:
		return "0"
	case n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return strconv.Itoa(n)
}

var rateUnits = []struct {
	suffix string
	mult   int64 // bytes per second, times 8 for bit units
	bits   bool
}{{"Gbit", 1e9, true}, {"Mbit", 1e6, true}, {"kbit", 1e3, true}, {"bit", 1, true}, {"GB", 1e9, false}, {"MB", 1e6, false}, {"kB", 1e3, false}, {"B", 1, false}}

// parseRate reads bytes per second: 125000, 1MB, or in bits 10Mbit.
func parseRate(s string) (int64, error) {
	for _, u := range rateUnits {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseInt(num, 10, 64)
			if err != nil || v < 0 || v > math.MaxInt64/u.mult {
				break
			}
			v *= u.mult
			if u.bits {
				if v%8 != 0 {
					return 0, fmt.Errorf("%q: not a whole number of bytes per second", s)
				}
				v /= 8
			}
			return v, nil
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%q: want a rate like 10Mbit, 500kbit or 125000 (bytes per second)", s)
	}
	return v, nil
}

func fmtRate(r int64) string {
	b := r * 8
	switch {
	case r == 0:
		return "0"
	case b%1e9 == 0:
		return fmt.Sprintf("%dGbit", b/1e9)
	case b%1e6 == 0:
		return fmt.Sprintf("%dMbit", b/1e6)
	case b%1e3 == 0:
		return fmt.Sprintf("%dkbit", b/1e3)
	}
	return strconv.FormatInt(r, 10)
}

// parseWindows reads START+LEN[,START+LEN...]; "" or "none" is no window.
func parseWindows(s string) ([]sim.Window, error) {
	if s == "" || s == "none" {
		return nil, nil
	}
	var ws []sim.Window
	for _, part := range strings.Split(s, ",") {
		st, ln, ok := strings.Cut(part, "+")
		if !ok {
			return nil, fmt.Errorf("%q: want START+LEN, like 10s+2s", part)
		}
		a, err := parseDur(st)
		if err != nil {
			return nil, err
		}
		b, err := parseDur(ln)
		if err != nil {
			return nil, err
		}
		ws = append(ws, sim.Flap(a, b))
	}
	return ws, nil
}

func fmtWindows(ws []sim.Window) string {
	if len(ws) == 0 {
		return "none"
	}
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = w.Start.String() + "+" + (w.End - w.Start).String()
	}
	return strings.Join(parts, ",")
}

func getBurst(c *sim.Config) string {
	if c.GEGoodToBad == 0 && c.GEBadToGood == 0 && c.GELossBad == 0 && c.GELossGood == 0 {
		return "0"
	}
	s := fmtProb(c.GEGoodToBad) + "," + fmtProb(c.GEBadToGood) + "," + fmtProb(c.GELossBad)
	if c.GELossGood != 0 {
		s += "," + fmtProb(c.GELossGood)
	}
	return s
}

func setBurst(c *sim.Config, v string) error {
	c.GEGoodToBad, c.GEBadToGood, c.GELossBad, c.GELossGood = 0, 0, 0, 0
	if v == "0" || v == "" || v == "none" {
		return nil
	}
	parts := strings.Split(v, ",")
	if len(parts) < 3 || len(parts) > 4 {
		return fmt.Errorf("%q: want GOOD>BAD,BAD>GOOD,LOSS-BAD[,LOSS-GOOD]", v)
	}
	ps := make([]float64, 4)
	for i, p := range parts {
		var err error
		if ps[i], err = parseProb(p); err != nil {
			return err
		}
	}
	c.GEGoodToBad, c.GEBadToGood, c.GELossBad, c.GELossGood = ps[0], ps[1], ps[2], ps[3]
	return nil
}

func getReorder(c *sim.Config) string {
	if c.ReorderDelay == 0 {
		return fmtProb(c.Reorder)
	}
	return fmtProb(c.Reorder) + "@" + c.ReorderDelay.String()
}

func setReorder(c *sim.Config, v string) (err error) {
	p, d, _ := strings.Cut(v, "@")
	if c.Reorder, err = parseProb(p); err != nil {
		return err
	}
	c.ReorderDelay = 0
	if d != "" {
		c.ReorderDelay, err = parseDur(d)
	}
	return err
}

func getSpike(c *sim.Config) string {
	if c.SpikeProb == 0 && c.SpikeDelay == 0 {
		return "0"
	}
	return fmtProb(c.SpikeProb) + "@" + c.SpikeDelay.String()
}

func setSpike(c *sim.Config, v string) (err error) {
	c.SpikeProb, c.SpikeDelay = 0, 0
	if v == "0" {
		return nil
	}
	p, d, ok := strings.Cut(v, "@")
	if !ok {
		return fmt.Errorf("%q: want P@D, like 1%%@2s", v)
	}
	if c.SpikeProb, err = parseProb(p); err != nil {
		return err
	}
	c.SpikeDelay, err = parseDur(d)
	return err
}

// sizePair is --size: "N" for both, "CLIENT/SERVER".
type sizePair struct{ c, s *int }

func (f sizePair) String() string {
	if f.c == nil {
		return ""
	}
	if *f.c == *f.s {
		return FormatSize(*f.c)
	}
	return FormatSize(*f.c) + "/" + FormatSize(*f.s)
}

func (f sizePair) Set(v string) error {
	a, b, two := strings.Cut(v, "/")
	if !two {
		b = a
	}
	x, err := ParseSize(a)
	if err != nil {
		return err
	}
	y, err := ParseSize(b)
	if err != nil {
		return err
	}
	*f.c, *f.s = x, y
	return nil
}

type sizeValue struct{ p *int }

func (f sizeValue) String() string {
	if f.p == nil {
		return ""
	}
	return FormatSize(*f.p)
}

func (f sizeValue) Set(v string) (err error) { *f.p, err = ParseSize(v); return }

// SizeVar defines a byte-count flag that reads 1500, 64KiB or 16MiB, as
// soak's size flags do.
func SizeVar(fs *flag.FlagSet, p *int, name, usage string) { fs.Var(sizeValue{p}, name, usage) }

type intValue struct {
	p      *int
	lo, hi int
}

func (f intValue) String() string {
	if f.p == nil {
		return ""
	}
	return strconv.Itoa(*f.p)
}

func (f intValue) Set(v string) (err error) { *f.p, err = parseInt(v, f.lo, f.hi); return }

type durValue struct{ p *time.Duration }

func (f durValue) String() string {
	if f.p == nil {
		return ""
	}
	return f.p.String()
}

func (f durValue) Set(v string) (err error) { *f.p, err = parseDur(v); return }

type closeValue struct{ p *CloseMode }

func (f closeValue) String() string {
	if f.p == nil {
		return ""
	}
	return f.p.String()
}

func (f closeValue) Set(v string) error {
	for i, n := range closeNames {
		if n == v {
			*f.p = CloseMode(i)
			return nil
		}
	}
	return errors.New("want half, client or server")
}

// readValue is --read SIZE@D for a slow reader, "none" for a greedy one.
type readValue struct {
	chunk *int
	every *time.Duration
}

func (f readValue) String() string {
	if f.chunk == nil {
		return ""
	}
	if *f.chunk == 0 && *f.every == 0 {
		return "none"
	}
	return FormatSize(*f.chunk) + "@" + f.every.String()
}

func (f readValue) Set(v string) error {
	if v == "none" || v == "0" {
		*f.chunk, *f.every = 0, 0
		return nil
	}
	a, b, ok := strings.Cut(v, "@")
	if !ok {
		return fmt.Errorf("%q: want SIZE@D, like 4KiB@10ms", v)
	}
	n, err := ParseSize(a)
	if err != nil {
		return err
	}
	d, err := parseDur(b)
	if err != nil {
		return err
	}
	if n == 0 || d == 0 {
		return fmt.Errorf("%q: both the size and the interval must be positive", v)
	}
	*f.chunk, *f.every = n, d
	return nil
}
