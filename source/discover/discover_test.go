package discover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/ferrydata/ferry/pusher"
)

func TestGlob(t *testing.T) {
	tests := []struct {
		pat, name string
		want      bool
	}{
		{"*.csv", "a.csv", true},
		{"*.csv", "x/a.csv", false},
		{"*", "a", true},
		{"*", "a/b", false},
		{"?.csv", "a.csv", true},
		{"?.csv", "ab.csv", false},
		{"a?b", "a/b", false},
		{"[ab].csv", "b.csv", true},
		{"[^ab].csv", "b.csv", false},
		{"a[^b]c", "a/c", false},
		{"[a-c]*", "c9", true},
		{`\*.csv`, "*.csv", true},
		{`\*.csv`, "a.csv", false},
		{"x/*.csv", "x/a.csv", true},
		{"x/*.csv", "x/y/a.csv", false},
		{"*/*.csv", "x/a.csv", true},
		{"*/*.csv", "a.csv", false},

		{"**", "a", true},
		{"**", "a/b/c", true},
		{"**/*.csv", "a.csv", true},
		{"**/*.csv", "x/a.csv", true},
		{"**/*.csv", "x/y/a.csv", true},
		{"**/*.csv", "x/y/a.json", false},
		{"**/*.csv", "a.csv/b", false},
		{"logs/**", "logs/a", true},
		{"logs/**", "logs/a/b/c.gz", true},
		{"logs/**", "logs", false},
		{"logs/**", "logsx/a", false},
		{"logs/**", "x/logs/a", false},
		{"a/**/b", "a/b", true},
		{"a/**/b", "a/x/b", true},
		{"a/**/b", "a/x/y/b", true},
		{"a/**/b", "a/x/y/b/c", false},
		{"a/**/b", "ab", false},
		{"a/**/b", "a/xb", false},
		{"a/**/b/**", "a/x/b/y", true},
		{"a/**/b/**", "a/x/b", false},
		{"**/b/**/*.csv", "b/a.csv", true},
		{"**/b/**/*.csv", "x/b/y/z/a.csv", true},
		{"**/b/**/*.csv", "x/bb/y/a.csv", false},
		{"**/**/x", "x", true},
		{"**/**/x", "a/b/x", true},
		{"**/**", "a", true},
		{"**/x/**", "x", false},
		{"**/x/**", "a/x/b", true},
		{"**/*.gz", "2024/01/02/app.log.gz", true},
		{"20??/*/*/*.log.gz", "2024/01/02/app.log.gz", true},
		{"a**b", "axxb", true}, // not a whole segment: same as *
		{"a**b", "ax/xb", false},
		{"**.csv", "a.csv", true},
		{"**.csv", "x/a.csv", false},

		// normalization
		{"/a/*.csv", "a/b.csv", true},
		{"./a/*.csv", "a/b.csv", true},
		{"logs/", "logs/a/b", true},
		{"logs/", "logs", false},

		// empty segments in keys
		{"a//b", "a//b", true},
		{"a/*/b", "a//b", true},
		{"a/**/b", "a//b", true},

		// malformed patterns match nothing
		{"[", "[", false},
		{"a/[b", "a/[b", false},
		{`a\`, `a\`, false},
	}
	for _, tt := range tests {
		if got := Glob(tt.pat, tt.name); got != tt.want {
			t.Errorf("Glob(%q, %q) = %v, want %v", tt.pat, tt.name, got, tt.want)
		}
	}
}

func TestFilterMatch(t *testing.T) {
	tests := []struct {
		f    Filter
		name string
		want bool
	}{
		{Filter{}, "anything/at/all", true},
		{Filter{Include: []string{"*.csv"}}, "a.csv", true},
		{Filter{Include: []string{"*.csv"}}, "a.json", false},
		{Filter{Include: []string{"*.csv", "**/*.json"}}, "x/a.json", true},
		{Filter{Exclude: []string{"tmp/**"}}, "tmp/a.csv", false},
		{Filter{Exclude: []string{"tmp/**"}}, "a.csv", true},
		{Filter{Include: []string{"**/*.csv"}, Exclude: []string{"**/_*"}}, "x/_tmp.csv", false},
		{Filter{Include: []string{"**/*.csv"}, Exclude: []string{"**/_*"}}, "x/tmp.csv", true},
		{Filter{Include: []string{"**"}, Exclude: []string{"**"}}, "a", false},
	}
	for _, tt := range tests {
		if err := tt.f.Validate(); err != nil {
			t.Fatal(err)
		}
		if got := tt.f.Match(tt.name); got != tt.want {
			t.Errorf("%+v.Match(%q) = %v, want %v", tt.f, tt.name, got, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	good := []string{"*", "**", "**/*.csv", "a/[bc]/?", `\*`, "/a", "logs/", "a**b"}
	bad := []string{"", "/", "./", "[", "a/[b", `a\`, "[a/b]", `a\/b`, "[]"}
	for _, p := range good {
		if err := (Filter{Include: []string{p}}).Validate(); err != nil {
			t.Errorf("Validate(%q): %v", p, err)
		}
	}
	for _, p := range bad {
		if err := (Filter{Exclude: []string{"*", p}}).Validate(); err == nil {
			t.Errorf("Validate(%q) = nil, want error", p)
		} else if !strings.Contains(err.Error(), "exclude pattern") {
			t.Errorf("Validate(%q) = %v, want it to name the exclude pattern", p, err)
		}
	}
}

func TestSkip(t *testing.T) {
	tests := []struct {
		key, rel string
		want     bool
	}{
		{"a.csv", "a.csv", false},
		{"x/a.csv", "x/a.csv", false},
		{".a.csv", ".a.csv", true},
		{"x/.a.csv", "x/.a.csv", true},
		{".git/config", ".git/config", true},
		{"x/.y/a.csv", "x/.y/a.csv", true},
		{"dir/", "dir/", true},
		{"pre/dir/", "dir/", true},
		{"pre/", "", true},
		{".prefix/a.csv", "a.csv", false}, // hidden above the root does not count
		{"a.b.csv", "a.b.csv", false},
	}
	for _, tt := range tests {
		if got := Skip(pusher.Object{Key: tt.key}, tt.rel); got != tt.want {
			t.Errorf("Skip(%q, %q) = %v, want %v", tt.key, tt.rel, got, tt.want)
		}
	}
}

// fakeStore lists fixed pages under a prefix.
type fakeStore struct {
	prefix string
	pages  [][]string
}

func (s *fakeStore) List(ctx context.Context, fn func([]pusher.Object) error) error {
	for _, p := range s.pages {
		var objs []pusher.Object
		for _, k := range p {
			objs = append(objs, pusher.Object{Key: s.prefix + k})
		}
		if err := fn(objs); err != nil {
			return err
		}
	}
	return nil
}

func (s *fakeStore) Open(context.Context, pusher.Object, int64) (io.ReadCloser, error) {
	return nil, errors.New("not implemented")
}
func (s *fakeStore) Rel(key string) string { return strings.TrimPrefix(key, s.prefix) }
func (s *fakeStore) String() string        { return "fake://" + s.prefix }

func TestList(t *testing.T) {
	store := &fakeStore{prefix: "in/", pages: [][]string{
		{"", ".hidden.csv", "a.csv", "a.json", "d/"},
		{".x/b.csv", "_tmp.csv"},
		{"d/b.csv", "d/e/c.csv", "d/e/c.txt"},
	}}
	f := Filter{Include: []string{"**/*.csv"}, Exclude: []string{"_*"}}
	var got [][]string
	err := List(context.Background(), store, f, func(page []pusher.Object) error {
		var ks []string
		for _, o := range page {
			ks = append(ks, o.Key)
		}
		got = append(got, ks)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"in/a.csv"}, {"in/d/b.csv", "in/d/e/c.csv"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("pages = %q, want %q", got, want)
	}

	var st Stats
	if err := ListWith(context.Background(), store, Options{Filter: f, Stats: &st}, func([]pusher.Object) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if want := (Stats{Listed: 10, Hidden: 4, Unmatched: 3}); st != want {
		t.Errorf("stats = %+v, want %+v", st, want)
	}
	st = Stats{}
	if err := ListWith(context.Background(), store, Options{Filter: f, Since: time.Now(), Stats: &st}, func([]pusher.Object) error {
		t.Error("an object older than Since was selected")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := (Stats{Listed: 10, Hidden: 4, Unmatched: 3, Old: 3}); st != want {
		t.Errorf("stats with Since = %+v, want %+v", st, want)
	}

	if err := List(context.Background(), store, Filter{Include: []string{"["}}, nil); err == nil {
		t.Error("List with bad pattern: no error")
	}
	stop := errors.New("stop")
	if err := List(context.Background(), store, Filter{}, func([]pusher.Object) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("List: %v, want fn's error", err)
	}
}

func FuzzGlob(f *testing.F) {
	for _, s := range [][2]string{
		{"**/*.csv", "x/y/a.csv"}, {"a/**/b", "a/b"}, {"[a-", "a"}, {`\`, `\`},
		{"**/**/**", "a/b/c/d"}, {"/./", "/"}, {"a?[!b]*", "acd"}, {"", ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pat, name string) {
		got := Glob(pat, name)
		fl := Filter{Include: []string{pat}}
		valid := fl.Validate() == nil
		if m := fl.Match(name); m != got {
			t.Fatalf("Match(%q) = %v, Glob = %v", name, m, got)
		}
		if !valid && got {
			t.Fatalf("invalid pattern %q matched %q", pat, name)
		}
		// Without ** and normalization, the glob is path.Match, except that
		// a negated class never matches '/' here.
		if valid && !strings.Contains(pat, "**") && normalize(pat) == pat &&
			!(strings.Contains(pat, "[") && strings.Contains(name, "/")) {
			want, err := path.Match(pat, name)
			if err == nil && got != want {
				t.Fatalf("Glob(%q, %q) = %v, path.Match = %v", pat, name, got, want)
			}
		}
	})
}
