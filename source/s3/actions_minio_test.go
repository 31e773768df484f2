//go:build integration

package s3

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source"
)

// TestMinIOActions: the --after-load actions act on the version listed
// only; a large object is copied in parts.
func TestMinIOActions(t *testing.T) {
	ep := testEndpoint(t)
	ctx := context.Background()
	c := testClient(t, ep)
	bucket := testBucket(t, c)
	big := bytes.Repeat([]byte("0123456789abcdef"), 11<<16) // 11 MiB
	put(t, c, bucket, "in/a b+c.csv", big)
	put(t, c, bucket, "in/changed.csv", []byte("v1"))
	s, err := New(ctx, Config{URL: "s3://" + bucket + "/in/", Endpoint: ep, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	objs := map[string]pusher.Object{}
	if err := s.List(ctx, func(page []pusher.Object) error {
		for _, o := range page {
			objs[o.Key] = o
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Dest("in/done", "in/x.csv"); err == nil {
		t.Error("Dest under the source: no error")
	}
	dst, err := s.Dest("archive/", "in/a b+c.csv")
	if err != nil || dst != "archive/a b+c.csv" {
		t.Fatalf("Dest = %q, %v", dst, err)
	}

	// A multipart copy, in parts of 5 MiB.
	oldMax, oldPart := MaxCopySize, copyPartSize
	MaxCopySize, copyPartSize = 5<<20, 5<<20
	defer func() { MaxCopySize, copyPartSize = oldMax, oldPart }()
	a := objs["in/a b+c.csv"]
	if err := s.Copy(ctx, a, dst); err != nil {
		t.Fatal(err)
	}
	copied, err := s.Stat(ctx, dst)
	if err != nil || copied.Size != int64(len(big)) {
		t.Fatalf("copy: %+v, %v", copied, err)
	}
	if got, err := readAll(t, s, pusher.Object{Key: dst}, 0); err != nil || got != string(big) {
		t.Fatalf("copy holds %d bytes, %v; want the object", len(got), err)
	}
	if err := s.Delete(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, a); err != nil {
		t.Errorf("delete of an object gone: %v; want none", err)
	}

	// A version rewritten since it was listed is left alone.
	old := objs["in/changed.csv"]
	put(t, c, bucket, "in/changed.csv", []byte("v2"))
	for name, err := range map[string]error{"delete": s.Delete(ctx, old), "copy": s.Copy(ctx, old, "archive/changed.csv"),
		"tag": s.Tag(ctx, old, "k", "v")} {
		if !errors.Is(err, ErrChanged) || pusher.ClassOf(err) != pusher.ClassGone {
			t.Errorf("%s of a changed object: %v; want ErrChanged", name, err)
		}
	}
	cur, err := s.Stat(ctx, "in/changed.csv")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Tag(ctx, cur, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if err := s.Tag(ctx, cur, "k", "v"); err != nil {
		t.Errorf("tag again: %v", err)
	}
	var _ source.ActionStore = s
}
