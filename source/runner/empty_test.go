package runner

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ferrydata/ferry/source/discover"
	"github.com/ferrydata/ferry/source/format"
	"github.com/ferrydata/ferry/source/load"
	"github.com/ferrydata/ferry/state/filestore"
	"github.com/ferrydata/ferry/targets/jsonlines"
)

func TestSnapshotSaysWhatMatchedNothing(t *testing.T) {
	store := &vanishingStore{objs: map[string]string{"a.csv": "id\n1\n", "b.csv": "id\n2\n", "c.csv": "id\n3\n"}}
	for _, tc := range []struct {
		name   string
		filter discover.Filter
		want   []string // in the error; nil: a file matched
	}{
		{"all selected", discover.Filter{}, nil},
		{"include matches nothing", discover.Filter{Include: []string{"*.json"}}, []string{"no files matched in mem://", "3 keys listed", "3 left out by --include/--exclude"}},
		{"exclude leaves out all", discover.Filter{Exclude: []string{"*.csv"}}, []string{"3 keys listed", "3 left out"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := filestore.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			r, err := New(Config{Store: store, Target: jsonlines.Writer("test", &out), State: st, Pipeline: "p",
				Load:    load.Config{Format: format.Options{Format: "auto", Header: true}, Compression: "auto"},
				Options: Options{Workers: 1, Filter: tc.filter}, Log: zerolog.Nop()})
			if err != nil {
				t.Fatal(err)
			}
			sum, err := r.Snapshot(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if sum.Keys != 3 {
				t.Errorf("keys listed = %d, want 3", sum.Keys)
			}
			empty := sum.NothingMatched(store.String())
			if tc.want == nil {
				if empty != nil || sum.Files != 3 {
					t.Fatalf("files %d, NothingMatched = %v", sum.Files, empty)
				}
				// Done already is still matched: a re-run is not empty.
				sum, err = r.Snapshot(t.Context())
				if err != nil || sum.AlreadyDone != 3 || sum.NothingMatched(store.String()) != nil {
					t.Fatalf("re-run: %+v, %v", sum, err)
				}
				return
			}
			if !errors.Is(empty, ErrNoFiles) {
				t.Fatalf("NothingMatched = %v, want ErrNoFiles", empty)
			}
			for _, w := range tc.want {
				if !strings.Contains(empty.Error(), w) {
					t.Errorf("%q does not say %q", empty, w)
				}
			}
		})
	}
}

func TestNothingMatchedMessage(t *testing.T) {
	for _, tc := range []struct {
		sum  Summary
		want string
	}{
		{Summary{}, "no files matched in s3://b/typo: the listing found no keys (check the bucket, prefix or path)"},
		{Summary{Keys: 5, Hidden: 1, Unmatched: 2, Old: 2}, "no files matched in s3://b/typo: 5 keys listed, 2 left out by --include/--exclude, 2 older than --since (or the lookback window), 1 hidden files or directory markers"},
		{Summary{Keys: 5, Files: 1}, ""},
	} {
		got := ""
		if err := tc.sum.NothingMatched("s3://b/typo"); err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("NothingMatched(%+v) = %q, want %q", tc.sum, got, tc.want)
		}
	}
}
