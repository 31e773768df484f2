package statetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/state"
)

// InspectStore is a store that the status commands read.
type InspectStore interface {
	state.Store
	state.Inspector
}

// RunInspector runs the suite of state.Inspector. open returns a fresh,
// empty store each call.
func RunInspector(t *testing.T, open func(t *testing.T) InspectStore) {
	ctx := context.Background()
	mod := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	obj := func(key string, size int64) pusher.Object {
		return pusher.Object{Key: key, ETag: "e1", Size: size, LastModified: mod}
	}
	done, loading, failed, quarantined := obj("logs/a.csv", 100), obj("logs/b.csv", 200), obj("logs/c.csv", 300), obj("other/d.csv", 400)
	chunk := func(o pusher.Object, from, to int64, last bool, rejects int) *pusher.Chunk {
		c := &pusher.Chunk{File: o, Start: pusher.Position{Records: from}, End: pusher.Position{Records: to}, Last: last}
		for i := range rejects {
			c.Rejects = append(c.Rejects, &pusher.RecordError{Record: from + int64(i) + 1, Offset: -1, Err: errors.New("bad")})
		}
		return c
	}
	must := func(t *testing.T, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	fail := func(t *testing.T, s InspectStore, o pusher.Object, times int) {
		t.Helper()
		for range times {
			_, err := s.Start(ctx, "p", o)
			must(t, err)
			must(t, s.Fail(ctx, "p", o, errors.New("record 2: bad value in "+o.Key)))
		}
	}
	// fill: a done in two chunks (1 of 10 records rejected), b loading at
	// 4, c failed once, d failed 3 times; another pipeline has a file.
	fill := func(t *testing.T, s InspectStore) {
		t.Helper()
		_, err := s.Start(ctx, "p", done)
		must(t, err)
		must(t, s.Advance(ctx, "p", chunk(done, 0, 6, false, 1)))
		last := chunk(done, 6, 10, true, 0)
		last.Rescued = 2 // 2 records loaded with values in the rescue column
		must(t, s.Advance(ctx, "p", last))
		_, err = s.Start(ctx, "p", loading)
		must(t, err)
		must(t, s.Advance(ctx, "p", chunk(loading, 0, 4, false, 0)))
		fail(t, s, failed, 1)
		fail(t, s, quarantined, 3)
		_, err = s.Start(ctx, "q", done)
		must(t, err)
	}
	keys := func(fs []state.FileInfo) []string {
		var out []string
		for _, f := range fs {
			out = append(out, f.Key)
		}
		slices.Sort(out)
		return out
	}

	t.Run("pipelines", func(t *testing.T) {
		s := open(t)
		got, err := s.Pipelines(ctx)
		if err != nil || len(got) != 0 {
			t.Fatalf("Pipelines of an empty store = %q, %v", got, err)
		}
		fill(t, s)
		got, err = s.Pipelines(ctx)
		if err != nil || !slices.Equal(got, []string{"p", "q"}) {
			t.Fatalf("Pipelines = %q, %v; want p, q", got, err)
		}
	})

	t.Run("summary", func(t *testing.T) {
		s := open(t)
		fill(t, s)
		sum, err := s.Summary(ctx, "p", 3)
		must(t, err)
		if sum.Pipeline != "p" || sum.Done != 1 || sum.Loading != 1 || sum.Failed != 1 || sum.Quarantined != 1 {
			t.Errorf("Summary counts = %+v; want 1 done, 1 loading, 1 failed, 1 quarantined", sum)
		}
		if sum.Loaded != 9+4 || sum.Rejected != 1 || sum.Bytes != 100 {
			t.Errorf("Summary = %d loaded, %d rejected, %d bytes; want 13, 1, 100", sum.Loaded, sum.Rejected, sum.Bytes)
		}
		if sum.Rescued != 2 {
			t.Errorf("Summary rescued = %d; want 2", sum.Rescued)
		}
		if sum.FirstLoad.IsZero() || sum.LastLoad.Before(sum.FirstLoad) {
			t.Errorf("Summary load times %v, %v", sum.FirstLoad, sum.LastLoad)
		}
		if sum.OldestLoading == nil || sum.OldestLoading.Key != loading.Key || sum.OldestLoading.Records != 4 {
			t.Errorf("OldestLoading = %+v; want %s at 4", sum.OldestLoading, loading.Key)
		}
		if sum.LastError == nil || sum.LastError.Key != quarantined.Key || sum.LastError.Error != "record 2: bad value in other/d.csv" {
			t.Errorf("LastError = %+v; want %s", sum.LastError, quarantined.Key)
		}
		sum, err = s.Summary(ctx, "p", 0)
		if err != nil || sum.Failed != 2 || sum.Quarantined != 0 {
			t.Errorf("Summary without max attempts = %+v, %v; want 2 failed, none quarantined", sum, err)
		}
		sum, err = s.Summary(ctx, "q", 3)
		if err != nil || sum.Loading != 1 || sum.Done != 0 || !sum.FirstLoad.IsZero() || sum.LastError != nil {
			t.Errorf("Summary of q = %+v, %v", sum, err)
		}
	})

	t.Run("files", func(t *testing.T) {
		s := open(t)
		fill(t, s)
		all, err := s.Files(ctx, state.FileQuery{Pipeline: "p"})
		must(t, err)
		if got := keys(all); !slices.Equal(got, []string{done.Key, loading.Key, failed.Key, quarantined.Key}) {
			t.Fatalf("Files = %q", got)
		}
		for i := 1; i < len(all); i++ {
			if all[i].Updated.After(all[i-1].Updated) {
				t.Errorf("Files not the most recently updated first: %s after %s", all[i].Key, all[i-1].Key)
			}
		}
		for _, f := range all {
			if f.Pipeline != "p" || f.ETag != "e1" || !f.Modified.Equal(mod) || f.Started.IsZero() || f.Attempted.Before(f.Started) || f.Updated.IsZero() {
				t.Errorf("file %+v: want pipeline p, etag e1, modified %v, start and attempt times", f, mod)
			}
			if f.Key == done.Key && (f.Status != state.Done || f.Size != 100 || f.Records != 10 || f.Loaded != 9 || f.Rejected != 1 || f.Rescued != 2 || f.Attempts != 1 || f.Error != "") {
				t.Errorf("done file = %+v", f)
			}
			if f.Key == loading.Key && f.Rescued != 0 {
				t.Errorf("loading file rescued = %d; want 0", f.Rescued)
			}
			if f.Key == quarantined.Key && (f.Status != state.Failed || f.Attempts != 3 || f.Error == "") {
				t.Errorf("quarantined file = %+v", f)
			}
		}
		for _, tc := range []struct {
			q    state.FileQuery
			want []string
		}{
			{state.FileQuery{Pipeline: "p", Status: state.Failed}, []string{failed.Key, quarantined.Key}},
			{state.FileQuery{Pipeline: "p", Status: state.Failed, MinAttempts: 3}, []string{quarantined.Key}},
			{state.FileQuery{Pipeline: "p", Prefix: "logs/"}, []string{done.Key, loading.Key, failed.Key}},
			{state.FileQuery{Pipeline: "p", Keys: []string{loading.Key, "nope"}}, []string{loading.Key}},
			{state.FileQuery{Pipeline: "p", Status: state.Done}, []string{done.Key}},
			{state.FileQuery{Status: state.Done}, []string{done.Key}},
			{state.FileQuery{Prefix: done.Key}, []string{done.Key, done.Key}},
			{state.FileQuery{Pipeline: "nope"}, nil},
		} {
			got, err := s.Files(ctx, tc.q)
			if err != nil || !slices.Equal(keys(got), tc.want) {
				t.Errorf("Files(%+v) = %q, %v; want %q", tc.q, keys(got), err, tc.want)
			}
		}
		got, err := s.Files(ctx, state.FileQuery{Pipeline: "p", Limit: 2})
		if err != nil || len(got) != 2 || got[0].Key != all[0].Key || got[1].Key != all[1].Key {
			t.Errorf("Files with limit 2 = %q, %v; want the first 2 of %q", keys(got), err, keys(all))
		}
	})

	t.Run("retry makes a quarantined file eligible once more", func(t *testing.T) {
		s := open(t)
		fill(t, s)
		got, err := s.Retry(ctx, "p", []string{quarantined.Key, done.Key, "nope"})
		must(t, err)
		if len(got) != 1 || got[0].Key != quarantined.Key || got[0].Attempts != 3 || got[0].Error == "" {
			t.Fatalf("Retry = %+v; want %s as it was: 3 attempts and its error", got, quarantined.Key)
		}
		pr, err := s.Lookup(ctx, "p", []pusher.Object{quarantined, done})
		must(t, err)
		if p := pr[quarantined.ID()]; p.Status != state.Failed || p.Attempts != 0 || p.Error == "" {
			t.Errorf("retried file = %+v; want failed, 0 attempts, error kept", p)
		}
		if p := pr[done.ID()]; p.Status != state.Done || p.Attempts != 1 {
			t.Errorf("done file after retry = %+v; want untouched", p)
		}
		fs, err := s.Files(ctx, state.FileQuery{Pipeline: "p", Keys: []string{quarantined.Key}})
		must(t, err)
		if len(fs) != 1 || len(fs[0].Retries) != 1 || fs[0].Retries[0].Attempts != 3 ||
			fs[0].Retries[0].Error != "record 2: bad value in other/d.csv" || fs[0].Retries[0].At.IsZero() {
			t.Fatalf("retried file = %+v; want one retry with 3 attempts and the error", fs)
		}
		sum, err := s.Summary(ctx, "p", 3)
		if err != nil || sum.Quarantined != 0 || sum.Failed != 2 {
			t.Errorf("Summary after retry = %+v, %v; want 2 failed, none quarantined", sum, err)
		}
		p, err := s.Start(ctx, "p", quarantined)
		if err != nil || p.Status != state.Loading || p.Attempts != 1 {
			t.Fatalf("Start after retry = %+v, %v; want loading, attempt 1", p, err)
		}
		must(t, s.Advance(ctx, "p", chunk(quarantined, 0, 2, true, 0)))
		fs, err = s.Files(ctx, state.FileQuery{Pipeline: "p", Keys: []string{quarantined.Key}})
		if err != nil || len(fs) != 1 || fs[0].Status != state.Done || fs[0].Error != "" || len(fs[0].Retries) != 1 {
			t.Fatalf("after the retried load: %+v, %v; want done, no error, the retry kept", fs, err)
		}

		// No keys: every failed file of the pipeline.
		fail(t, s, quarantined, 0)
		got, err = s.Retry(ctx, "p", nil)
		if err != nil || len(got) != 1 || got[0].Key != failed.Key {
			t.Fatalf("Retry of every failed file = %+v, %v; want %s", got, err, failed.Key)
		}
		got, err = s.Retry(ctx, "q", nil)
		if err != nil || len(got) != 0 {
			t.Fatalf("Retry in q = %+v, %v; want nothing", got, err)
		}
	})
}
