// Package packetdrill interprets packetdrill scripts (the test language of
// google/packetdrill, used by Linux, FreeBSD and gVisor) in-process against
// one synack stack under a virtual clock. Script time is virtual time: a
// script that waits two minutes for TIME-WAIT runs in microseconds.
//
// Parse reads a script; Run executes it and reports the first difference
// between what the script expects and what the stack did. Matching is
// strict (everything as written) or portable (values the RFCs leave to the
// implementation are checked for validity, not equality): see Options.
package packetdrill

import (
	"fmt"
	"strings"
)

// tokKind is a lexical class.
type tokKind int

const (
	tEOF      tokKind = iota
	tNum              // 12, 0.100, .1, 0x02
	tWord             // socket, S, ect0, SO_RCVBUF
	tString           // "..."
	tBackq            // `...`
	tCode             // %{ ... }%
	tOption           // --name=value at the start of a line
	tEllipsis         // ...
	tPunct            // one of + * ~ ( ) [ ] { } < > , : = | - . ;
)

type token struct {
	kind tokKind
	text string
	line int
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of script"
	case tString:
		return fmt.Sprintf("%q", t.text)
	}
	return fmt.Sprintf("%q", t.text)
}

// lex splits a script into tokens. It never panics; it reports the first
// character it cannot place.
func lex(src string) ([]token, error) {
	var toks []token
	line := 1
	lineStart := true
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == '\n':
			line++
			lineStart = true
			i++
			continue
		case c == ' ' || c == '\t' || c == '\r':
			i++
			continue
		case strings.HasPrefix(src[i:], "//") || c == '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			continue
		case strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("line %d: unterminated /* comment", line)
			}
			line += strings.Count(src[i:i+2+end], "\n")
			i += end + 4
			continue
		}
		start, startLine := i, line
		atLineStart := lineStart
		lineStart = false
		switch {
		case atLineStart && strings.HasPrefix(src[i:], "--"):
			for i < len(src) && src[i] != '\n' {
				i++
			}
			toks = append(toks, token{tOption, strings.TrimSpace(src[start+2 : i]), startLine})
		case strings.HasPrefix(src[i:], "%{"):
			end := strings.Index(src[i:], "}%")
			if end < 0 {
				return nil, fmt.Errorf("line %d: unterminated %%{ code block", line)
			}
			body := src[i+2 : i+end]
			line += strings.Count(body, "\n")
			i += end + 2
			toks = append(toks, token{tCode, body, startLine})
		case c == '`':
			end := strings.IndexByte(src[i+1:], '`')
			if end < 0 {
				return nil, fmt.Errorf("line %d: unterminated backquote", line)
			}
			body := src[i+1 : i+1+end]
			line += strings.Count(body, "\n")
			i += end + 2
			toks = append(toks, token{tBackq, body, startLine})
		case c == '"':
			j := i + 1
			var b strings.Builder
			for j < len(src) && src[j] != '"' && src[j] != '\n' {
				if src[j] == '\\' && j+1 < len(src) {
					j++
				}
				b.WriteByte(src[j])
				j++
			}
			if j >= len(src) || src[j] != '"' {
				return nil, fmt.Errorf("line %d: unterminated string", line)
			}
			i = j + 1
			toks = append(toks, token{tString, b.String(), startLine})
		case strings.HasPrefix(src[i:], "..."):
			i += 3
			toks = append(toks, token{tEllipsis, "...", startLine})
		case isDigit(c) || (c == '.' && i+1 < len(src) && isDigit(src[i+1])):
			i = lexNumber(src, i)
			toks = append(toks, token{tNum, src[start:i], startLine})
		case isWordStart(c):
			for i < len(src) && isWordChar(src[i]) {
				i++
			}
			toks = append(toks, token{tWord, src[start:i], startLine})
		case strings.IndexByte("+*~()[]{}<>,:=|-.;!&", c) >= 0:
			i++
			toks = append(toks, token{tPunct, string(c), startLine})
		default:
			return nil, fmt.Errorf("line %d: unexpected character %q", line, c)
		}
	}
	toks = append(toks, token{tEOF, "", line})
	return toks, nil
}

func lexNumber(src string, i int) int {
	if strings.HasPrefix(src[i:], "0x") || strings.HasPrefix(src[i:], "0X") {
		i += 2
		for i < len(src) && isHex(src[i]) {
			i++
		}
		return i
	}
	for i < len(src) && isDigit(src[i]) {
		i++
	}
	if i+1 < len(src) && src[i] == '.' && isDigit(src[i+1]) {
		i++
		for i < len(src) && isDigit(src[i]) {
			i++
		}
	} else if i+1 < len(src) && src[i] == '.' && src[i+1] != '.' && !isWordStart(src[i+1]) {
		i++ // "1." as a time
	}
	return i
}

func isDigit(c byte) bool     { return c >= '0' && c <= '9' }
func isHex(c byte) bool       { return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f') }
func isWordStart(c byte) bool { return c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isWordChar(c byte) bool  { return isWordStart(c) || isDigit(c) }
