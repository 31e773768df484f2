package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source"
)

// This file is --after-load delete and move: what the store does with a
// file once its rows are committed. Each acts on the version loaded only
// (its size and modification time, the ETag, are checked first), so a
// file rewritten since is left alone.

var _ source.ActionStore = (*Store)(nil)

// ErrChanged: the file is no longer the version loaded. It is classed
// pusher.ClassGone.
var ErrChanged = pusher.Gone(errors.New("file changed since it was loaded"))

// check returns the path of obj's file, after checking that it is still
// the version obj names.
func (s *Store) check(what string, obj pusher.Object) (string, error) {
	p, err := s.path(obj.Key)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("%s %q in %s: %w", what, obj.Key, s, source.ErrNotFound)
	case err != nil:
		return "", fmt.Errorf("%s %q in %s: %w", what, obj.Key, s, err)
	case obj.ETag != "" && etag(fi) != obj.ETag:
		return "", fmt.Errorf("%s %q in %s: %w (etag %s, loaded %s)", what, obj.Key, s, ErrChanged, etag(fi), obj.ETag)
	}
	return p, nil
}

// Delete implements source.ActionStore. A file already gone is no error.
func (s *Store) Delete(ctx context.Context, obj pusher.Object) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := s.check("delete", obj)
	if errors.Is(err, source.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %q in %s: %w", obj.Key, s, err)
	}
	return nil
}

// Dest implements source.ActionStore: prefix is a directory (a relative
// path is relative to the working directory, as --source is), under which
// the file keeps its path relative to the source.
func (s *Store) Dest(prefix, key string) (string, error) {
	if strings.Trim(prefix, "/") == "" {
		return "", errors.New("move needs a directory")
	}
	dir, err := parseDir(prefix)
	if err != nil {
		return "", err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return "", err
	}
	if !fs.ValidPath(key) {
		return "", fmt.Errorf("move %q: invalid key", key)
	}
	dst := filepath.Join(dir, filepath.FromSlash(key))
	under := false
	if s.file != "" {
		under = dst == filepath.Join(s.root, s.file)
	} else if rel, err := filepath.Rel(s.root, dir); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		under = true
	}
	if under {
		return "", fmt.Errorf("%s is under the source %s, which would list what is moved there as new files: move to a directory outside it", dir, s)
	}
	return dst, nil
}

// Copy implements source.ActionStore: dst (a path Dest returned) is made
// a hard link to the file when it can be (the same file system), else a
// copy, written to a temporary file, synced and renamed into place. The
// directories it needs are created.
func (s *Store) Copy(ctx context.Context, obj pusher.Object, dst string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := s.check("move", obj)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("move %q in %s: %w", obj.Key, s, err)
	}
	tmp := filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)+".ferry-tmp")
	os.Remove(tmp)
	if err := os.Link(p, tmp); err != nil {
		if err := copyFile(p, tmp); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("move %q in %s to %s: %w", obj.Key, s, dst, err)
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("move %q in %s to %s: %w", obj.Key, s, dst, err)
	}
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chtimes(to, fi.ModTime(), fi.ModTime())
}
