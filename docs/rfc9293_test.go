package docs

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// root is the module's root, from this package's directory.
const root = ".."

// row is one line of a table in rfc9293.md.
type row struct {
	line                     int
	id, where, tests, status string
}

var (
	idRE      = regexp.MustCompile(`^(MUST|SHLD|MAY|REC)-[0-9]+$`)
	codeRE    = regexp.MustCompile("`([^`]+)`")
	testRefRE = regexp.MustCompile(`^([a-z][a-z0-9_/]*)\.((?:Test|Fuzz)[A-Za-z0-9_]*)$`)
	fileRefRE = regexp.MustCompile(`^([a-z][a-z0-9_/]*\.go)(?::([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?))?$`)
	totalsRE  = regexp.MustCompile(`\*\*(\d+) pinned, (\d+) n/a, (\d+) not implemented\*\*`)
)

// wantIDs is RFC 9293 Appendix B's ids: MUST-1..69, SHLD-1..31,
// MAY-1..18 and REC-1.
func wantIDs() map[string]bool {
	ids := map[string]bool{"REC-1": true}
	for kind, n := range map[string]int{"MUST": 69, "SHLD": 31, "MAY": 18} {
		for i := 1; i <= n; i++ {
			ids[fmt.Sprintf("%s-%d", kind, i)] = true
		}
	}
	return ids
}

func readTable(t *testing.T) (rows []row, text string) {
	t.Helper()
	b, err := os.ReadFile("rfc9293.md")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		if !strings.HasPrefix(l, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(l, "|"), "|")
		id := strings.TrimSpace(cells[0])
		if !idRE.MatchString(id) {
			continue // a header or separator line
		}
		if len(cells) != 5 {
			t.Fatalf("rfc9293.md:%d: %d cells, want 5 (id, requirement, where, test, status)", n, len(cells))
		}
		rows = append(rows, row{n, id, cells[2], cells[3], strings.TrimSpace(cells[4])})
	}
	return rows, string(b)
}

// TestRFC9293Table keeps docs/rfc9293.md honest: every requirement id once,
// every status one of three, a test for every pinned row and none for the
// others, every test and function named there present in the code, and
// the totals right.
func TestRFC9293Table(t *testing.T) {
	rows, text := readTable(t)
	want := wantIDs()
	seen := map[string]int{}
	tests := testFuncs(t)
	var all, must [3]int // pinned, n/a, not implemented
	for _, r := range rows {
		if prev, dup := seen[r.id]; dup {
			t.Errorf("rfc9293.md:%d: %s again (first on line %d)", r.line, r.id, prev)
		}
		seen[r.id] = r.line
		if !want[r.id] {
			t.Errorf("rfc9293.md:%d: %s is not an RFC 9293 requirement id", r.line, r.id)
		}
		k := -1
		for i, s := range []string{"pinned", "n/a", "not implemented"} {
			if strings.HasPrefix(r.status, s) {
				k = i
			}
		}
		if k < 0 {
			t.Errorf("rfc9293.md:%d: %s: status %q is none of pinned, n/a, not implemented", r.line, r.id, r.status)
			continue
		}
		all[k]++
		if !strings.HasPrefix(r.id, "MAY") && r.id != "REC-1" {
			must[k]++
		}
		named := codeRefs(r.tests)
		if k == 0 && len(named) == 0 {
			t.Errorf("rfc9293.md:%d: %s is pinned but names no test", r.line, r.id)
		}
		if k != 0 && len(named) > 0 {
			t.Errorf("rfc9293.md:%d: %s is %s but names tests %v", r.line, r.id, r.status, named)
		}
		refs := named
		for _, ref := range codeRefs(r.status) { // "(... as in package net: `stack.TestX`)"
			if strings.Contains(ref, ".Test") || strings.Contains(ref, ".Fuzz") {
				refs = append(refs, ref)
			}
		}
		for _, ref := range refs {
			m := testRefRE.FindStringSubmatch(ref)
			if m == nil {
				t.Errorf("rfc9293.md:%d: %s: %q is not package.TestName", r.line, r.id, ref)
				continue
			}
			if !tests[m[1]][m[2]] {
				t.Errorf("rfc9293.md:%d: %s: no test %s in package directory %s", r.line, r.id, m[2], m[1])
			}
		}
		for _, ref := range codeRefs(r.where) {
			if m := fileRefRE.FindStringSubmatch(ref); m != nil {
				checkWhere(t, r, m[1], m[2])
			}
		}
	}
	for id := range want {
		if seen[id] == 0 {
			t.Errorf("rfc9293.md: %s is missing", id)
		}
	}
	checkRequirementsList(t, want)
	totals := fmt.Sprintf("**%d pinned, %d n/a, %d not implemented**", all[0], all[1], all[2])
	if m := totalsRE.FindString(text); m != totals {
		t.Errorf("rfc9293.md says %s; the rows count %s", m, totals)
	}
	split := fmt.Sprintf("SHOULD ids: %d pinned, %d n/a, %d not implemented; of the 18 MAY ids and REC-1: %d pinned, %d n/a, %d not implemented)",
		must[0], must[1], must[2], all[0]-must[0], all[1]-must[1], all[2]-must[2])
	if !strings.Contains(strings.Join(strings.Fields(text), " "), split) {
		t.Errorf("rfc9293.md: the MUST/SHOULD and MAY split is not %q", split)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(strings.Fields(string(readme)), " "), totals) {
		t.Errorf("README.md does not give the totals %s", totals)
	}
}

// codeRefs returns the `quoted` tokens of a cell.
func codeRefs(cell string) []string {
	var refs []string
	for _, m := range codeRE.FindAllStringSubmatch(cell, -1) {
		refs = append(refs, m[1])
	}
	return refs
}

// testFuncs parses every _test.go file of the module (not of nested
// modules such as bench) and returns the Test and Fuzz functions of each
// package directory.
func testFuncs(t *testing.T) map[string]map[string]bool {
	t.Helper()
	funcs := map[string]map[string]bool{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil && path != root {
				return filepath.SkipDir // another module
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		for _, decl := range f.Decls {
			if fd, ok := decl.(*ast.FuncDecl); ok && fd.Recv == nil {
				if funcs[rel] == nil {
					funcs[rel] = map[string]bool{}
				}
				funcs[rel][fd.Name.Name] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return funcs
}

// checkWhere checks that file exists and, if fn is given ("Func" or
// "Type.Method"), declares it.
func checkWhere(t *testing.T, r row, file, fn string) {
	t.Helper()
	path := filepath.Join(root, filepath.FromSlash(file))
	if fn == "" {
		if _, err := os.Stat(path); err != nil {
			t.Errorf("rfc9293.md:%d: %s: %v", r.line, r.id, err)
		}
		return
	}
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Errorf("rfc9293.md:%d: %s: %v", r.line, r.id, err)
		return
	}
	recv, name, isMethod := strings.Cut(fn, ".")
	if !isMethod {
		recv, name = "", fn
	}
	for _, decl := range f.Decls {
		fd, ok := decl.(*ast.FuncDecl)
		if !ok || fd.Name.Name != name {
			continue
		}
		if recv == "" || (fd.Recv != nil && receiverType(fd.Recv.List[0].Type) == recv) {
			return
		}
	}
	t.Errorf("rfc9293.md:%d: %s: %s declares no %s", r.line, r.id, file, fn)
}

func receiverType(e ast.Expr) string {
	if s, ok := e.(*ast.StarExpr); ok {
		e = s.X
	}
	if id, ok := e.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

// checkRequirementsList compares the ids with the project's requirement
// list, where the checkout has it (../shared, outside the repository).
func checkRequirementsList(t *testing.T, want map[string]bool) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "..", "shared", "rfc", "rfc9293-requirements.md"))
	if err != nil {
		t.Logf("no requirement list to compare with: %v", err)
		return
	}
	listed := map[string]bool{}
	for _, m := range regexp.MustCompile(`\*\*((?:MUST|SHLD|MAY|REC)-[0-9]+)\*\*`).FindAllStringSubmatch(string(b), -1) {
		listed[m[1]] = true
	}
	for id := range want {
		if !listed[id] {
			t.Errorf("%s is not in rfc9293-requirements.md", id)
		}
	}
	for id := range listed {
		if !want[id] {
			t.Errorf("rfc9293-requirements.md lists %s, which the table test does not expect", id)
		}
	}
}
