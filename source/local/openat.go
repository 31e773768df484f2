package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source"
)

var _ source.RandomAccessStore = (*Store)(nil)

// OpenAt opens the file named by obj.Key for reading at offsets; the
// returned value is the *os.File itself, safe for concurrent ReadAt calls.
// A missing file gives an error wrapping source.ErrNotFound. Like Open, it
// does not compare obj.ETag with the file: a file rewritten while it is
// read is read as it is now.
func (s *Store) OpenAt(ctx context.Context, obj pusher.Object) (source.ReaderAtCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := s.path(obj.Key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("open %q in %s: %w", obj.Key, s, source.ErrNotFound)
		}
		return nil, fmt.Errorf("open %q in %s: %w", obj.Key, s, err)
	}
	return f, nil
}
