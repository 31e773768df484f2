// Package stores opens the object store a --source value names: an S3
// bucket or prefix (s3://bucket/prefix, its first listing optionally read
// from an S3 Inventory report) or a local directory (a path or
// file:///path), or one file in either.
package stores

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/ferrydata/ferry/source"
	"github.com/ferrydata/ferry/source/local"
	"github.com/ferrydata/ferry/source/s3"
)

// Config names a store, as --source and the S3 flags give it.
type Config struct {
	Source      string // a directory, file:///path or s3://bucket/prefix
	S3Endpoint  string // see s3.Config
	S3PathStyle bool
	Inventory   string // s3://bucket/key/manifest.json: the first listing
	// RetryMaxElapsed bounds the retries of S3 listings and HEADs (see
	// s3.Config).
	RetryMaxElapsed time.Duration
	Log             zerolog.Logger
}

// IsS3 says whether src names an S3 location.
func IsS3(src string) bool { return strings.HasPrefix(src, "s3://") }

// Validate checks the source and the inventory without opening them.
func (c Config) Validate() error {
	switch {
	case c.Source == "":
		return errors.New("--source is required (a directory, file:///path or s3://bucket/prefix)")
	case c.Source == "s3://":
		return fmt.Errorf("--source %q: no bucket", c.Source)
	case strings.Contains(c.Source, "://") && !IsS3(c.Source) && !strings.HasPrefix(c.Source, "file://"):
		return fmt.Errorf("--source %q: expected a directory, file:///path or s3://bucket/prefix", c.Source)
	case c.Inventory != "" && !IsS3(c.Source):
		return errors.New("--inventory needs an s3:// --source (the bucket the report describes)")
	case c.Inventory != "" && !IsS3(c.Inventory):
		return fmt.Errorf("--inventory %q: expected s3://bucket/path/manifest.json", c.Inventory)
	}
	return nil
}

// Open opens the store; an unreachable one fails here with a clear error.
func Open(ctx context.Context, c Config) (source.Store, error) {
	if !IsS3(c.Source) {
		return local.New(c.Source)
	}
	st, err := s3.New(ctx, s3.Config{URL: c.Source, Endpoint: c.S3Endpoint, PathStyle: c.S3PathStyle,
		RetryMaxElapsed: c.RetryMaxElapsed, Log: c.Log})
	if err != nil {
		return nil, err
	}
	if c.Inventory == "" {
		return st, nil
	}
	return s3.NewInventory(ctx, st, c.Inventory)
}

// LastElement is the last path element of a source location (the
// default table's name).
func LastElement(src string) string {
	s := strings.TrimPrefix(strings.TrimPrefix(src, "s3://"), "file://")
	s = strings.TrimRight(s, "/")
	return path.Base(s)
}
