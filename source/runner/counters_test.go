package runner

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/format"
	"github.com/ferrydata/ferry/source/load"
	"github.com/ferrydata/ferry/state/filestore"
	"github.com/ferrydata/ferry/targets/jsonlines"
)

// gatedStore opens its files once gate is closed.
type gatedStore struct {
	vanishingStore
	gate chan struct{}
}

func (s *gatedStore) Open(ctx context.Context, o pusher.Object, off int64) (io.ReadCloser, error) {
	select {
	case <-s.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.vanishingStore.Open(ctx, o, off)
}

// TestBacklogAndLag: the files sent and wanted are the backlog until
// their load ends; files already done are not; the lag is the last
// loaded file's age when it committed.
func TestBacklogAndLag(t *testing.T) {
	st, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store := &gatedStore{vanishingStore{objs: map[string]string{"a.csv": "id\n1\n", "b.csv": "id\n2\n", "c.csv": "id\n3\n"}}, make(chan struct{})}
	var out bytes.Buffer
	r, err := New(Config{
		Store: store, Target: jsonlines.Writer("test", &out), State: st, Pipeline: "p",
		Load:    load.Config{Format: format.Options{Format: "auto", Header: true}, Compression: "auto"},
		Options: Options{Workers: 1, Async: true, InflightBytes: 1 << 20},
		Log:     zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	hourAgo := time.Now().Add(-time.Hour)
	var tasks []Task
	var size int64
	for _, k := range []string{"a.csv", "b.csv", "c.csv"} {
		tasks = append(tasks, Task{Object: pusher.Object{Key: k, ETag: "e", Size: int64(len(store.objs[k])), LastModified: hourAgo}})
		size += int64(len(store.objs[k]))
	}
	var during int64
	feed := func(ctx context.Context, send Send) error {
		err := send(ctx, tasks)
		during = r.Backlog.Load() // no file can end before the gate opens
		close(store.gate)
		return err
	}
	sum, err := r.Pass(t.Context(), t.Context(), feed)
	if err != nil || sum.Loaded != 3 {
		t.Fatalf("Pass = %+v, %v", sum, err)
	}
	if during != 3 || r.Backlog.Load() != 0 || r.WantedBytes.Load() != size {
		t.Fatalf("backlog %d while loading, %d after; wanted bytes %d; want 3, 0, %d", during, r.Backlog.Load(), r.WantedBytes.Load(), size)
	}
	if lag := time.Duration(r.LastLag.Load()); lag < time.Hour {
		t.Fatalf("lag %v, want at least the hour since the files' LastModified", lag)
	}

	// Sent again, the files are done: no backlog, no bytes wanted.
	store.gate = make(chan struct{})
	if _, err := r.Pass(t.Context(), t.Context(), feed); err != nil {
		t.Fatal(err)
	}
	if during != 0 || r.Backlog.Load() != 0 || r.WantedBytes.Load() != size {
		t.Fatalf("done files: backlog %d while sending, %d after; wanted bytes %d, want %d", during, r.Backlog.Load(), r.WantedBytes.Load(), size)
	}
}

// TestSnapshotSaysNoRetry: a snapshot retries nothing itself, so a file
// left for later is logged as resumed by the next run, not "will retry";
// a pass of a replication says it will retry.
func TestSnapshotSaysNoRetry(t *testing.T) {
	for _, snapshot := range []bool{true, false} {
		st, err := filestore.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		var out, logs bytes.Buffer
		r, err := New(Config{
			Store: &downStore{vanishingStore{objs: map[string]string{"a.csv": "id\n1\n"}}}, Target: jsonlines.Writer("test", &out), State: st, Pipeline: "p",
			Load:    load.Config{Format: format.Options{Format: "auto", Header: true}, Compression: "auto", RetryMaxElapsed: -1},
			Options: Options{Workers: 1},
			Log:     zerolog.New(&logs),
		})
		if err != nil {
			t.Fatal(err)
		}
		if snapshot {
			_, err = r.Snapshot(t.Context())
		} else {
			_, err = r.Pass(t.Context(), t.Context(), r.Listing(""))
		}
		if err == nil {
			t.Fatal("no error from an unavailable store")
		}
		want, not := "will retry", "next run"
		if snapshot {
			want, not = not, want
		}
		if !strings.Contains(logs.String(), want) || strings.Contains(logs.String(), not) {
			t.Errorf("snapshot %v: log %q, want %q", snapshot, logs.String(), want)
		}
		if r.Backlog.Load() != 0 {
			t.Errorf("snapshot %v: backlog %d after the pass, want 0", snapshot, r.Backlog.Load())
		}
	}
}
