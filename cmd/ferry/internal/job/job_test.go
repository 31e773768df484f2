package job

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source"
	"github.com/ferrydata/ferry/source/format"
	_ "github.com/ferrydata/ferry/source/format/csv"
	"github.com/ferrydata/ferry/source/load"
	"github.com/ferrydata/ferry/state/filestore"
	"github.com/ferrydata/ferry/targets/jsonlines"
)

// vanishingStore lists its objects, but some are gone by the time they
// are opened.
type vanishingStore struct {
	objs map[string]string
	gone map[string]bool
}

func (s *vanishingStore) List(_ context.Context, fn func([]pusher.Object) error) error {
	var page []pusher.Object
	for _, k := range []string{"a.csv", "b.csv", "c.csv"} {
		page = append(page, pusher.Object{Key: k, ETag: "e", Size: int64(len(s.objs[k]))})
	}
	return fn(page)
}
func (s *vanishingStore) Rel(k string) string { return k }
func (s *vanishingStore) String() string      { return "mem://" }
func (s *vanishingStore) Open(_ context.Context, o pusher.Object, off int64) (io.ReadCloser, error) {
	if s.gone[o.Key] {
		return nil, fmt.Errorf("open %s: %w", o.Key, source.ErrNotFound)
	}
	return io.NopCloser(strings.NewReader(s.objs[o.Key][off:])), nil
}

func TestSnapshotCountsVanishedFilesAsSkipped(t *testing.T) {
	st, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	j := &Job{
		cfg:      Config{Workers: 1, OnError: OnErrorAbort},
		log:      zerolog.Nop(),
		store:    &vanishingStore{objs: map[string]string{"a.csv": "id\n1\n", "b.csv": "id\n2\n", "c.csv": "id\n3\n"}, gone: map[string]bool{"b.csv": true}},
		target:   jsonlines.Writer("test", &out),
		state:    st,
		pipeline: "p",
		load:     load.Config{Format: format.Options{Format: "auto", Header: true}, Compression: "auto"},
	}
	sum, err := j.Snapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Files != 3 || sum.Loaded != 2 || sum.Vanished != 1 || sum.Failed != 0 || sum.Aborted {
		t.Fatalf("summary %+v", sum)
	}
	if out.String() != "{\"id\":\"1\"}\n{\"id\":\"3\"}\n" {
		t.Fatalf("output %q", out.String())
	}
}
