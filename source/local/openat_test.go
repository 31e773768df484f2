package local

import (
	"context"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source"
)

func TestOpenAt(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "sub/a.bin", "0123456789")
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	objs, _ := listAll(t, s)
	if len(objs) != 1 {
		t.Fatalf("objects %v", objs)
	}
	ra, err := s.OpenAt(ctx, objs[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ra.(*os.File); !ok {
		t.Errorf("OpenAt returned %T, want *os.File", ra)
	}
	p := make([]byte, 4)
	for _, tt := range []struct {
		off  int64
		want string
		err  error
	}{
		{0, "0123", nil},
		{6, "6789", nil},
		{3, "3456", nil},
		{8, "89", io.EOF},
		{10, "", io.EOF},
	} {
		n, err := ra.ReadAt(p, tt.off)
		if string(p[:n]) != tt.want || err != tt.err {
			t.Errorf("ReadAt(%d) = %q, %v; want %q, %v", tt.off, p[:n], err, tt.want, tt.err)
		}
	}
	if err := ra.Close(); err != nil {
		t.Error(err)
	}

	for _, key := range []string{"missing.bin", "sub/missing.bin"} {
		if _, err := s.OpenAt(ctx, pusher.Object{Key: key}); !errors.Is(err, source.ErrNotFound) {
			t.Errorf("OpenAt(%q) = %v, want ErrNotFound", key, err)
		}
	}
	for _, key := range []string{"../x", "/etc/passwd", ".", ""} {
		if _, err := s.OpenAt(ctx, pusher.Object{Key: key}); err == nil || errors.Is(err, source.ErrNotFound) {
			t.Errorf("OpenAt(%q) = %v, want an invalid-key error", key, err)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.OpenAt(cctx, objs[0]); !errors.Is(err, context.Canceled) {
		t.Errorf("OpenAt with a canceled context = %v", err)
	}
}
