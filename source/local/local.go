// Package local is a source.Store over a directory tree on the local file
// system.
//
// List walks the tree under the root and yields regular files (symlinked
// files are followed, symlinked directories are not), keyed by their
// slash-separated path relative to the root, in lexicographic key order, in
// pages of up to PageSize objects. Nothing else is filtered here: hidden
// files and globs are the discover package's job.
//
// The root may also be a single file: the store is then its directory,
// and List yields that file alone (keyed by its name), while it exists.
//
// A local file's ETag is derived from its size and modification time
// (fmt.Sprintf("%x-%x", size, mtime.UnixNano())), so a file that is
// rewritten gets a new ETag.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source"
)

// PageSize is the largest number of objects List passes to fn at once.
const PageSize = 1000

// Store is a directory tree seen as an object store.
type Store struct {
	root string // absolute, cleaned, OS-specific separators
	file string // the one file listed, when the store was made from a file's path
}

var _ source.Store = (*Store)(nil)

// New returns a Store rooted at dir, which is a path (relative or absolute)
// or a file:// URL with an absolute path (file:///abs/path). The directory
// must exist. When dir names a regular file (or a link to one), the store
// holds that file alone.
func New(dir string) (*Store, error) {
	p, err := parseDir(dir)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, fmt.Errorf("local store %q: %w", dir, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("local store: directory %q does not exist", abs)
		}
		return nil, fmt.Errorf("local store: directory %q: %w", abs, err)
	}
	if fi.Mode().IsRegular() {
		return &Store{root: filepath.Dir(abs), file: filepath.Base(abs)}, nil
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("local store: %q is neither a directory nor a regular file", abs)
	}
	return &Store{root: abs}, nil
}

// parseDir turns a path or file:// URL into a file system path.
func parseDir(dir string) (string, error) {
	if dir == "" {
		return "", errors.New("local store: empty directory")
	}
	if !strings.HasPrefix(strings.ToLower(dir), "file:") {
		return dir, nil
	}
	u, err := url.Parse(dir)
	if err != nil {
		return "", fmt.Errorf("local store: bad URL %q: %w", dir, err)
	}
	if u.Host != "" && u.Host != "localhost" {
		return "", fmt.Errorf("local store: URL %q names host %q; want file:///absolute/path", dir, u.Host)
	}
	if u.Path == "" {
		return "", fmt.Errorf("local store: URL %q has no path; want file:///absolute/path", dir)
	}
	return filepath.FromSlash(u.Path), nil
}

// Root returns the absolute path of the store's directory (for a store
// of one file, the file's directory).
func (s *Store) Root() string { return s.root }

// List calls fn with pages of up to PageSize regular files, sorted by key.
func (s *Store) List(ctx context.Context, fn func(page []pusher.Object) error) error {
	if s.file != "" {
		return s.listFile(ctx, fn)
	}
	var objs []pusher.Object
	err := filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("list %s: %w", s, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			return nil // WalkDir never descends into symlinked directories
		}
		fi, err := d.Info()
		if d.Type()&fs.ModeSymlink != 0 {
			fi, err = os.Stat(p) // follow symlinked files
			if errors.Is(err, fs.ErrNotExist) {
				return nil // dangling link
			}
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed while walking
		}
		if err != nil {
			return fmt.Errorf("list %s: %w", s, err)
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(s.root, p)
		if err != nil {
			return fmt.Errorf("list %s: %w", s, err)
		}
		objs = append(objs, pusher.Object{
			Key:          filepath.ToSlash(rel),
			Size:         fi.Size(),
			ETag:         etag(fi),
			LastModified: fi.ModTime(),
		})
		return nil
	})
	if err != nil {
		return err
	}
	// WalkDir walks in lexical order of file names per directory, which is
	// not key order ("a/b" < "a.txt" by name, but '/' > '.'); sort keys.
	sort.Slice(objs, func(i, j int) bool { return objs[i].Key < objs[j].Key })
	for len(objs) > 0 {
		n := min(len(objs), PageSize)
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(objs[:n:n]); err != nil {
			return err
		}
		objs = objs[n:]
	}
	return nil
}

// listFile lists the store's one file, unless it is gone or is no longer
// a regular file.
func (s *Store) listFile(ctx context.Context, fn func(page []pusher.Object) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	fi, err := os.Stat(filepath.Join(s.root, s.file))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list %s: %w", s, err)
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	return fn([]pusher.Object{{Key: filepath.ToSlash(s.file), Size: fi.Size(), ETag: etag(fi), LastModified: fi.ModTime()}})
}

func etag(fi fs.FileInfo) string {
	return fmt.Sprintf("%x-%x", fi.Size(), fi.ModTime().UnixNano())
}

// Open opens the file named by obj.Key and positions it at byte off. A
// missing file gives an error wrapping source.ErrNotFound.
func (s *Store) Open(ctx context.Context, obj pusher.Object, off int64) (io.ReadCloser, error) {
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
	if off > 0 {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("open %q in %s: seek to %d: %w", obj.Key, s, off, err)
		}
	}
	return f, nil
}

// path maps a key to a file under the root, refusing keys that escape it.
func (s *Store) path(key string) (string, error) {
	if !fs.ValidPath(key) || key == "." {
		return "", fmt.Errorf("open %q in %s: invalid key", key, s)
	}
	return filepath.Join(s.root, filepath.FromSlash(key)), nil
}

// Rel returns key: local keys are already relative to the root.
func (s *Store) Rel(key string) string { return key }

// String returns the root (the file, for a store of one file) as a
// file:// URL.
func (s *Store) String() string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(s.root, s.file))}
	if !strings.HasPrefix(u.Path, "/") { // Windows drive letters
		u.Path = "/" + u.Path
	}
	return u.String()
}
