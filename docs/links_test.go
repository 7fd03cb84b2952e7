// Package docs holds the design document; its test keeps the repository's
// documentation self-contained.
package docs

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// outside is the directory beside the repository that must not be named
// (spelled in two pieces so that this file does not name it).
const outside = "../" + "shared/"

var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// Every relative link in every Markdown file resolves to a file or
// directory inside the repository, and neither the Markdown nor the Go
// comments point outside it (../shared, where the design notes and the RFC
// text live on the machine this was written on, is not in a clone).
func TestLinksStayInRepository(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		switch {
		case strings.HasSuffix(path, ".md"):
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if strings.Contains(string(b), outside) {
				t.Errorf("%s refers to ../shared, outside the repository", rel)
			}
			for _, m := range mdLink.FindAllStringSubmatch(string(b), -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				target, _, _ = strings.Cut(target, "#")
				abs := filepath.Join(filepath.Dir(path), target)
				if r, err := filepath.Rel(root, abs); err != nil || strings.HasPrefix(r, "..") {
					t.Errorf("%s: link %s leaves the repository", rel, m[1])
					continue
				}
				if _, err := os.Stat(abs); err != nil {
					t.Errorf("%s: link %s does not resolve", rel, m[1])
				}
				checked++
			}
		case strings.HasSuffix(path, ".go"):
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for i, line := range strings.Split(string(b), "\n") {
				if c := strings.Index(line, "//"); c >= 0 && (strings.Contains(line[c:], outside+"DESIGN") || strings.Contains(line[c:], outside+"rfc")) {
					t.Errorf("%s:%d: a comment points outside the repository: %s", rel, i+1, strings.TrimSpace(line))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 5 {
		t.Errorf("only %d links checked: is the walk finding the Markdown files?", checked)
	}
}
