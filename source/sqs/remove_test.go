package sqs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source"
)

// removeStore is a bucket where some keys exist and some fail to stat.
type removeStore struct {
	source.Store
	exists, fails map[string]bool
}

func (s removeStore) Bucket() string           { return "b" }
func (s removeStore) Contains(key string) bool { return strings.HasPrefix(key, "in/") }
func (s removeStore) Rel(key string) string    { return strings.TrimPrefix(key, "in/") }
func (s removeStore) String() string           { return "s3://b/in" }
func (s removeStore) Stat(_ context.Context, key string) (pusher.Object, error) {
	switch {
	case s.fails[key]:
		return pusher.Object{}, errors.New("503 Service Unavailable")
	case s.exists[key]:
		return pusher.Object{Key: key, ETag: "e", Size: 1}, nil
	}
	return pusher.Object{}, fmt.Errorf("stat %s: %w", key, source.ErrNotFound)
}

func s3Records(recs ...[2]string) string {
	var out []string
	for _, r := range recs {
		out = append(out, fmt.Sprintf(`{"eventName":%q,"eventTime":"2026-12-02T10:00:00.000Z","s3":{"bucket":{"name":"b"},"object":{"key":%q,"size":1,"eTag":"e"}}}`, r[0], r[1]))
	}
	return `{"Records":[` + strings.Join(out, ",") + `]}`
}

// TestRemovalTasks: with DeleteOnRemove, an ObjectRemoved event of a
// selected key that no longer exists is a removal task; one whose object
// exists again, or outside the source, is ignored; one whose check fails
// is no task (its message is kept for redelivery). Without it, removals
// are ignored.
func TestRemovalTasks(t *testing.T) {
	st := removeStore{exists: map[string]bool{"in/back.csv": true}, fails: map[string]bool{"in/err.csv": true}}
	body := s3Records([2]string{"ObjectRemoved:Delete", "in/gone.csv"}, [2]string{"ObjectRemoved:DeleteMarkerCreated", "in/back.csv"},
		[2]string{"ObjectRemoved:Delete", "in/err.csv"}, [2]string{"ObjectRemoved:Delete", "out/x.csv"}, [2]string{"ObjectCreated:Put", "in/new.csv"})
	for _, on := range []bool{true, false} {
		f := NewFeed(FeedConfig{Store: st, DeleteOnRemove: on, MaxMessages: 1})
		tasks := f.tasks(t.Context(), t.Context(), Message{ID: "m", Body: body, ReceiveCount: 1})
		var got []string
		for _, tk := range tasks {
			got = append(got, fmt.Sprintf("%s remove=%v", tk.Object.Key, tk.Remove))
		}
		want := "in/new.csv remove=false"
		if on {
			want = "in/gone.csv remove=true, in/new.csv remove=false"
		}
		if strings.Join(got, ", ") != want {
			t.Errorf("DeleteOnRemove=%v: tasks %v; want %s", on, got, want)
		}
		if on && f.Ignored.Load() != 2 {
			t.Errorf("ignored %d events; want 2 (the key that exists again, the key outside)", f.Ignored.Load())
		}
	}
}

func TestEventRemoved(t *testing.T) {
	for name, want := range map[string]bool{"ObjectRemoved:Delete": true, "ObjectRemoved:DeleteMarkerCreated": true, "Object Deleted": true,
		"ObjectCreated:Put": false, "Object Created": false, "s3:TestEvent": false} {
		if got := (Event{Name: name}).Removed(); got != want {
			t.Errorf("Removed(%q) = %v, want %v", name, got, want)
		}
	}
}
