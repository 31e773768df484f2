//go:build integration

package s3

import (
	"context"
	"fmt"
	"testing"

	"github.com/ferrydata/ferry/pusher"
)

// TestMinIOSingleObject: a URL whose prefix is an object's key exactly
// (and has nothing under it) is that object alone. (MinIO does not list
// keys under a key that is an object, so the "nothing under it" half is
// not tried here.)
func TestMinIOSingleObject(t *testing.T) {
	ep := testEndpoint(t)
	ctx := context.Background()
	c := testClient(t, ep)
	bucket := testBucket(t, c)
	for _, k := range []string{"dir/key.csv.gz", "dir/key.csv.gz.bak", "dir/key.csv.gz0", "dir/other.csv"} {
		put(t, c, bucket, k, []byte(k))
	}
	for _, tc := range []struct {
		url    string
		object bool
		keys   []string
		rel    string // Rel of the first key
	}{
		{"dir/key.csv.gz", true, []string{"dir/key.csv.gz"}, "key.csv.gz"},
		{"dir/key.csv.gz/", false, nil, ""}, // a trailing / is a prefix
		{"dir", false, []string{"dir/key.csv.gz", "dir/key.csv.gz.bak", "dir/key.csv.gz0", "dir/other.csv"}, "key.csv.gz"},
		{"dir/key", false, nil, ""},
		{"dir/nope.csv", false, nil, ""},
	} {
		s, err := New(ctx, Config{URL: "s3://" + bucket + "/" + tc.url, Endpoint: ep, PathStyle: true})
		if err != nil {
			t.Fatalf("%s: %v", tc.url, err)
		}
		var keys []string
		var objs []pusher.Object
		err = s.List(ctx, func(page []pusher.Object) error {
			for _, o := range page {
				keys = append(keys, o.Key)
				objs = append(objs, o)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: list: %v", tc.url, err)
		}
		if s.Object() != tc.object || fmt.Sprint(keys) != fmt.Sprint(tc.keys) {
			t.Errorf("%s: object %v, lists %q; want %v, %q", tc.url, s.Object(), keys, tc.object, tc.keys)
			continue
		}
		if len(keys) > 0 && s.Rel(keys[0]) != tc.rel {
			t.Errorf("%s: Rel(%q) = %q, want %q", tc.url, keys[0], s.Rel(keys[0]), tc.rel)
		}
		if tc.object {
			if got, err := readAll(t, s, objs[0], 0); err != nil || got != tc.url {
				t.Errorf("%s: read %q, %v", tc.url, got, err)
			}
			if !s.Contains("dir/key.csv.gz") || s.Contains("dir/key.csv.gz.bak") || s.Contains("dir/key.csv.gz/x") {
				t.Errorf("%s: Contains is not the object alone", tc.url)
			}
			if err := s.ListAfter(ctx, "dir/key.csv.gz", func(page []pusher.Object) error {
				t.Errorf("%s: listed after its key: %v", tc.url, page)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
}
