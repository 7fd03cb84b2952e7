package packetdrill

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Parse reads a script. It returns an error naming the line for any input
// it cannot read, and never panics.
func Parse(path, src string) (*Script, error) {
	src, err := preprocess(src)
	if err != nil {
		return nil, err
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	s := &Script{Path: path, lines: strings.Split(src, "\n")}
	for p.peek().kind == tOption {
		t := p.next()
		name, val, _ := strings.Cut(t.text, "=")
		s.Options = append(s.Options, ScriptOption{Name: strings.TrimSpace(name), Value: strings.TrimSpace(val), Line: t.line})
	}
	for p.peek().kind != tEOF {
		if t := p.peek(); t.kind == tBackq {
			// The init and cleanup commands carry no time.
			p.next()
			s.Events = append(s.Events, &Event{Line: t.line, Kind: EventCommand, Command: t.text,
				Time: EventTime{Kind: TimeRelative}})
			continue
		}
		ev, err := p.event()
		if err != nil {
			return nil, err
		}
		s.Events = append(s.Events, ev)
	}
	return s, nil
}

// Defined are the preprocessor symbols the FreeBSD suite tests with
// #ifdef: STANDARD marks the RFC's behaviour, FreeBSD the kernel's own.
var defined = map[string]bool{"STANDARD": true}

// preprocess keeps the lines of #ifdef blocks whose symbol is defined and
// blanks the rest (and the directives), so line numbers stay.
func preprocess(src string) (string, error) {
	if !strings.Contains(src, "#if") {
		return src, nil
	}
	lines := strings.Split(src, "\n")
	var stack []bool // whether each open block is kept
	keep := func() bool {
		for _, k := range stack {
			if !k {
				return false
			}
		}
		return true
	}
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) == 0 || !strings.HasPrefix(f[0], "#") {
			if !keep() {
				lines[i] = ""
			}
			continue
		}
		switch f[0] {
		case "#ifdef", "#ifndef":
			if len(f) < 2 {
				return "", fmt.Errorf("line %d: %s without a symbol", i+1, f[0])
			}
			stack = append(stack, defined[f[1]] == (f[0] == "#ifdef"))
		case "#else":
			if len(stack) == 0 {
				return "", fmt.Errorf("line %d: #else without #ifdef", i+1)
			}
			stack[len(stack)-1] = !stack[len(stack)-1]
		case "#endif":
			if len(stack) == 0 {
				return "", fmt.Errorf("line %d: #endif without #ifdef", i+1)
			}
			stack = stack[:len(stack)-1]
		}
		lines[i] = ""
	}
	if len(stack) > 0 {
		return "", fmt.Errorf("unterminated #ifdef")
	}
	return strings.Join(lines, "\n"), nil
}

// SourceLine returns line n of the script (1-based), trimmed.
func (s *Script) SourceLine(n int) string {
	if n < 1 || n > len(s.lines) {
		return ""
	}
	return strings.TrimSpace(s.lines[n-1])
}

type parser struct {
	toks []token
	pos  int
}

func (p *parser) peek() token { return p.toks[p.pos] }

func (p *parser) peekAt(k int) token {
	if p.pos+k >= len(p.toks) {
		return p.toks[len(p.toks)-1]
	}
	return p.toks[p.pos+k]
}

func (p *parser) next() token {
	t := p.toks[p.pos]
	if p.pos < len(p.toks)-1 {
		p.pos++
	}
	return t
}

func (p *parser) isPunct(s string) bool { t := p.peek(); return t.kind == tPunct && t.text == s }

func (p *parser) isWord(s string) bool { t := p.peek(); return t.kind == tWord && t.text == s }

func (p *parser) errf(format string, a ...any) error {
	return fmt.Errorf("line %d: %s", p.peek().line, fmt.Sprintf(format, a...))
}

func (p *parser) expect(s string) error {
	if !p.isPunct(s) {
		return p.errf("expected %q, found %v", s, p.peek())
	}
	p.next()
	return nil
}

func (p *parser) event() (*Event, error) {
	ev := &Event{Line: p.peek().line}
	t, err := p.eventTime()
	if err != nil {
		return nil, err
	}
	ev.Time = t
	switch tk := p.peek(); {
	case tk.kind == tPunct && (tk.text == "<" || tk.text == ">"):
		ev.Kind = EventPacket
		ev.Packet, err = p.packet()
	case tk.kind == tBackq:
		p.next()
		ev.Kind, ev.Command = EventCommand, tk.text
	case tk.kind == tCode:
		p.next()
		ev.Kind, ev.Code = EventCode, tk.text
	case tk.kind == tWord || tk.kind == tEllipsis:
		ev.Kind = EventSyscall
		ev.Call, err = p.syscall(t)
	default:
		return nil, p.errf("expected a packet, system call or command, found %v", tk)
	}
	if err != nil {
		return nil, err
	}
	return ev, nil
}

func (p *parser) eventTime() (EventTime, error) {
	var t EventTime
	if p.isPunct("*") {
		p.next()
		t.Kind = TimeAny
		return t, nil
	}
	if p.isPunct("+") {
		p.next()
		t.Kind = TimeRelative
	}
	d, err := p.duration()
	if err != nil {
		return t, err
	}
	t.At = d
	if p.isPunct("~") {
		p.next()
		if t.Kind == TimeRelative {
			if err := p.expect("+"); err != nil {
				return t, err
			}
		}
		if t.End, err = p.duration(); err != nil {
			return t, err
		}
		t.Range = true
		if t.End < t.At {
			return t, p.errf("time range ends before it starts")
		}
	}
	return t, nil
}

// duration reads seconds written as an integer or decimal.
func (p *parser) duration() (time.Duration, error) {
	t := p.peek()
	if t.kind != tNum {
		return 0, p.errf("expected a time, found %v", t)
	}
	p.next()
	f, err := strconv.ParseFloat(t.text, 64)
	if err != nil || f < 0 || f > 1e6 || math.IsNaN(f) {
		return 0, fmt.Errorf("line %d: bad time %q", t.line, t.text)
	}
	return time.Duration(math.Round(f*1e6) * float64(time.Microsecond)), nil
}

func (p *parser) uint32() (uint32, error) {
	t := p.peek()
	if t.kind != tNum {
		return 0, p.errf("expected a number, found %v", t)
	}
	p.next()
	v, err := strconv.ParseUint(t.text, 0, 32)
	if err != nil {
		return 0, fmt.Errorf("line %d: bad number %q", t.line, t.text)
	}
	return uint32(v), nil
}

func (p *parser) packet() (*Packet, error) {
	pk := &Packet{Inbound: p.next().text == "<"}
	if p.isPunct("(") || p.isPunct("[") {
		closer := map[string]string{"(": ")", "[": "]"}[p.next().text]
		for !p.isPunct(closer) {
			t := p.next()
			if t.kind == tEOF {
				return nil, p.errf("unterminated IP information")
			}
			if t.kind == tWord && pk.ECN == "" {
				switch strings.ToLower(t.text) {
				case "noecn", "ect0", "ect1", "ce", "ect01":
					pk.ECN = strings.ToLower(t.text)
				}
			}
		}
		p.next()
	}
	if p.peek().kind == tWord && (p.peek().text == "udp" || p.peek().text == "icmp") {
		return nil, p.errf("%s packets are not supported", p.peek().text)
	}
	if p.peek().kind == tNum && p.peekAt(1).kind == tPunct && p.peekAt(1).text == ">" {
		a, _ := p.uint32()
		p.next()
		b, err := p.uint32()
		if err != nil || a > 65535 || b > 65535 {
			return nil, p.errf("bad port numbers")
		}
		pk.SrcPort, pk.DstPort = uint16(a), uint16(b)
	}
	if err := p.flags(pk); err != nil {
		return nil, err
	}
	if err := p.seqSpec(pk); err != nil {
		return nil, err
	}
	for {
		var err error
		switch {
		case p.isWord("ack"):
			p.next()
			pk.Ack, err = p.uint32()
			pk.HasAck = true
		case p.isWord("win"):
			p.next()
			pk.Win, err = p.uint32()
			pk.HasWin = true
		case p.isWord("urg"):
			p.next()
			pk.Urg, err = p.uint32()
			pk.HasUrg = true
		case p.isPunct("<"):
			return pk, p.options(pk)
		default:
			return pk, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func (p *parser) flags(pk *Packet) error {
	switch t := p.peek(); {
	case t.kind == tPunct && (t.text == "." || t.text == "-"):
		p.next()
		pk.Flags = t.text
	case t.kind == tWord:
		p.next()
		for _, c := range t.text {
			if !strings.ContainsRune("SFRPUEWA", c) {
				return fmt.Errorf("line %d: unknown TCP flag %q in %q", t.line, c, t.text)
			}
		}
		pk.Flags = t.text
		if p.isPunct(".") {
			p.next()
			pk.Flags += "."
		}
	default:
		return p.errf("expected TCP flags, found %v", t)
	}
	return nil
}

func (p *parser) seqSpec(pk *Packet) error {
	var err error
	if pk.Seq, err = p.uint32(); err != nil {
		return err
	}
	if err = p.expect(":"); err != nil {
		return err
	}
	if pk.End, err = p.uint32(); err != nil {
		return err
	}
	if err = p.expect("("); err != nil {
		return err
	}
	n, err := p.uint32()
	if err != nil {
		return err
	}
	if n > 1<<20 {
		return p.errf("payload length %d too large", n)
	}
	pk.Len = int(n)
	if pk.End-pk.Seq != n {
		return p.errf("sequence range %d:%d does not match length %d", pk.Seq, pk.End, n)
	}
	return p.expect(")")
}

func (p *parser) options(pk *Packet) error {
	p.next() // <
	pk.HasOptions = true
	if p.peek().kind == tEllipsis {
		p.next()
		pk.AnyOptions = true
		return p.expect(">")
	}
	for {
		o, err := p.option()
		if err != nil {
			return err
		}
		pk.Options = append(pk.Options, o)
		if p.isPunct(">") {
			p.next()
			return nil
		}
		if err := p.expect(","); err != nil {
			return err
		}
	}
}

func (p *parser) option() (Option, error) {
	t := p.next()
	if t.kind != tWord {
		return Option{}, fmt.Errorf("line %d: expected a TCP option, found %v", t.line, t)
	}
	o := Option{Kind: t.text}
	var err error
	switch t.text {
	case "nop", "eol", "sackOK":
	case "mss", "wscale":
		o.Val, err = p.uint32()
	case "TS":
		if !p.isWord("val") {
			return o, p.errf("expected val after TS")
		}
		p.next()
		if o.Val, err = p.uint32(); err != nil {
			return o, err
		}
		if !p.isWord("ecr") {
			return o, p.errf("expected ecr after TS val")
		}
		p.next()
		o.Ecr, err = p.uint32()
	case "sack":
		for p.peek().kind == tNum {
			var l, r uint32
			if l, err = p.uint32(); err != nil {
				return o, err
			}
			if err = p.expect(":"); err != nil {
				return o, err
			}
			if r, err = p.uint32(); err != nil {
				return o, err
			}
			o.Blocks = append(o.Blocks, [2]uint32{l, r})
		}
		if len(o.Blocks) == 0 || len(o.Blocks) > 4 {
			return o, p.errf("a sack option needs 1 to 4 blocks")
		}
	default:
		return o, fmt.Errorf("line %d: TCP option %q is not supported", t.line, t.text)
	}
	return o, err
}

func (p *parser) syscall(start EventTime) (*Syscall, error) {
	c := &Syscall{}
	if p.peek().kind == tEllipsis {
		p.next()
		end, err := p.duration()
		if err != nil {
			return nil, err
		}
		c.EndTime = &EventTime{Kind: start.Kind, At: end}
	}
	name := p.next()
	if name.kind != tWord {
		return nil, fmt.Errorf("line %d: expected a system call name, found %v", name.line, name)
	}
	c.Name = name.text
	if err := p.expect("("); err != nil {
		return nil, err
	}
	args, err := p.exprList(")")
	if err != nil {
		return nil, err
	}
	c.Args = args
	if err := p.expect("="); err != nil {
		return nil, err
	}
	if c.Ret, err = p.expr(0); err != nil {
		return nil, err
	}
	if p.peek().kind == tWord {
		c.Errno = p.next().text
	}
	if p.isPunct("(") { // a note in words: (Operation now in progress)
		depth := 0
		for {
			t := p.next()
			if t.kind == tEOF {
				return nil, p.errf("unterminated note")
			}
			if t.kind == tPunct && t.text == "(" {
				depth++
			}
			if t.kind == tPunct && t.text == ")" {
				if depth--; depth == 0 {
					break
				}
			}
		}
	}
	return c, nil
}

// exprList reads expressions separated by commas up to closer (consumed).
func (p *parser) exprList(closer string) ([]Expr, error) {
	var es []Expr
	if p.isPunct(closer) {
		p.next()
		return es, nil
	}
	for {
		e, err := p.expr(0)
		if err != nil {
			return nil, err
		}
		es = append(es, e)
		if p.isPunct(closer) {
			p.next()
			return es, nil
		}
		if err := p.expect(","); err != nil {
			return nil, err
		}
	}
}

const maxExprDepth = 32

func (p *parser) expr(depth int) (Expr, error) {
	if depth > maxExprDepth {
		return Expr{}, p.errf("expression nested too deeply")
	}
	e, err := p.primary(depth)
	if err != nil {
		return e, err
	}
	for p.isPunct("|") {
		p.next()
		r, err := p.primary(depth)
		if err != nil {
			return e, err
		}
		if e.Kind != ExprOr {
			e = Expr{Kind: ExprOr, Elems: []Expr{e}}
		}
		e.Elems = append(e.Elems, r)
	}
	return e, nil
}

func (p *parser) primary(depth int) (Expr, error) {
	t := p.next()
	switch {
	case t.kind == tEllipsis:
		return Expr{Kind: ExprEllipsis}, nil
	case t.kind == tNum:
		return intExpr(t, false)
	case t.kind == tPunct && t.text == "-" && p.peek().kind == tNum:
		return intExpr(p.next(), true)
	case t.kind == tString:
		if p.peek().kind == tEllipsis {
			p.next()
		}
		return Expr{Kind: ExprString, Word: t.text}, nil
	case t.kind == tWord:
		switch {
		case p.isPunct("="):
			p.next()
			v, err := p.expr(depth + 1)
			return Expr{Kind: ExprAssign, Word: t.text, Elems: []Expr{v}}, err
		case p.isPunct("("):
			p.next()
			args, err := p.exprList(")")
			return Expr{Kind: ExprCall, Word: t.text, Elems: args}, err
		}
		return Expr{Kind: ExprWord, Word: t.text}, nil
	case t.kind == tPunct && t.text == "[":
		es, err := p.exprList("]")
		return Expr{Kind: ExprList, Elems: es}, err
	case t.kind == tPunct && t.text == "{":
		es, err := p.exprList("}")
		return Expr{Kind: ExprStruct, Elems: es}, err
	}
	return Expr{}, fmt.Errorf("line %d: unexpected %v in an expression", t.line, t)
}

func intExpr(t token, neg bool) (Expr, error) {
	v, err := strconv.ParseInt(t.text, 0, 64)
	if err != nil {
		u, uerr := strconv.ParseUint(t.text, 0, 64)
		if uerr != nil {
			return Expr{}, fmt.Errorf("line %d: bad integer %q", t.line, t.text)
		}
		v = int64(u)
	}
	if neg {
		v = -v
	}
	return Expr{Kind: ExprInt, Int: v}, nil
}
