// Command corpusgen writes the generated files of ferry's conformance
// corpus (testdata/corpus at the repository root): the cases that cannot be
// written by hand, such as compressed or binary files. The hand-written
// cases live beside them and are not touched.
//
// The corpus convention: testdata/corpus/<group>/ holds cases; a case is a
// file NAME.EXT (its format is what ferry detects from the extension),
// with an optional NAME.EXT.flags (extra ferry flags, one per line), and
// either NAME.EXT.want (the records as JSON lines, one compact object per
// record, keys in column order, exactly as `ferry snapshot --target
// stdout` prints them) or NAME.EXT.fail (a substring of the error; ferry
// exits 1). cmd/ferry's corpus test runs every case through the stdout and
// file targets, and integration's through PostgreSQL.
//
// Usage, from the repository root:
//
//	go run ./integration/corpusgen            # write the generated files
//	go run ./integration/corpusgen -check     # fail if any differs
//
// Each generator is a file of this package that registers itself from
// init with Register; the output must be deterministic (the corpus test
// checks the committed files against it).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// File is one generated corpus file: Path is relative to the corpus root
// ("compress/empty.csv.gz", "compress/empty.csv.gz.want").
type File struct {
	Path string
	Data []byte
}

// A Generator returns the files it makes, the same every run.
type Generator func() ([]File, error)

var generators = map[string]Generator{}

// Register adds a generator under a name (for messages); call it from init.
func Register(name string, g Generator) {
	if _, dup := generators[name]; dup {
		panic("corpusgen: generator " + name + " registered twice")
	}
	generators[name] = g
}

// Generate runs every generator, in name order, and returns their files.
func Generate() ([]File, error) {
	names := make([]string, 0, len(generators))
	for n := range generators {
		names = append(names, n)
	}
	slices.Sort(names)
	seen := map[string]string{}
	var all []File
	for _, n := range names {
		files, err := generators[n]()
		if err != nil {
			return nil, fmt.Errorf("generator %s: %w", n, err)
		}
		for _, f := range files {
			if other, dup := seen[f.Path]; dup {
				return nil, fmt.Errorf("generators %s and %s both write %s", other, n, f.Path)
			}
			seen[f.Path] = n
			if strings.Contains(f.Path, "..") || filepath.IsAbs(f.Path) {
				return nil, fmt.Errorf("generator %s: path %q is outside the corpus", n, f.Path)
			}
		}
		all = append(all, files...)
	}
	return all, nil
}

// Check compares the generated files with those under root and returns
// the paths that are missing or differ.
func Check(root string, files []File) []string {
	var bad []string
	for _, f := range files {
		got, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f.Path)))
		if err != nil || !bytes.Equal(got, f.Data) {
			bad = append(bad, f.Path)
		}
	}
	return bad
}

func main() {
	root := flag.String("dir", filepath.Join("testdata", "corpus"), "corpus root")
	check := flag.Bool("check", false, "only check that the files under -dir are what the generators make")
	flag.Parse()
	files, err := Generate()
	if err != nil {
		fmt.Fprintln(os.Stderr, "corpusgen:", err)
		os.Exit(1)
	}
	if *check {
		if bad := Check(*root, files); len(bad) > 0 {
			fmt.Fprintf(os.Stderr, "corpusgen: %d generated file(s) missing or stale under %s (run go run ./integration/corpusgen): %s\n",
				len(bad), *root, strings.Join(bad, ", "))
			os.Exit(1)
		}
		return
	}
	for _, f := range files {
		p := filepath.Join(*root, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "corpusgen:", err)
			os.Exit(1)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "corpusgen:", err)
			os.Exit(1)
		}
	}
	fmt.Printf("corpusgen: wrote %d files under %s\n", len(files), *root)
}
