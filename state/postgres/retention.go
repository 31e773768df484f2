package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ferrydata/ferry/state"
)

var _ state.Haver = (*Store)(nil)

// Has implements state.Haver: the pipeline has a file in ferry.files or
// an anchor in ferry.pipelines.
func (s *Store) Has(ctx context.Context, pipeline string) (bool, error) {
	var has bool
	err := s.db().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM ferry.files WHERE pipeline = $1)
		OR EXISTS (SELECT 1 FROM ferry.pipelines WHERE pipeline = $1)`, pipeline).Scan(&has)
	if err != nil {
		return false, Classify(fmt.Errorf("state: pipeline %q: %w", pipeline, err))
	}
	return has, nil
}

// Anchor implements state.Store.
func (s *Store) Anchor(ctx context.Context, pipeline string, t time.Time) (time.Time, error) {
	var anchor time.Time
	err := s.db().QueryRow(ctx, `INSERT INTO ferry.pipelines AS p (pipeline, anchor) VALUES ($1, $2)
		ON CONFLICT (pipeline) DO UPDATE SET anchor = p.anchor RETURNING anchor`, pipeline, t).Scan(&anchor)
	if err != nil {
		return t, Classify(fmt.Errorf("state: pipeline anchor: %w", err))
	}
	return anchor, nil
}

// Prune implements state.Store.
func (s *Store) Prune(ctx context.Context, pipeline string, before time.Time, belowKey string) (int64, error) {
	tag, err := s.db().Exec(ctx, `DELETE FROM ferry.files WHERE pipeline = $1 AND status IN ('done', 'replaced', 'removed') AND updated_at < $2
		AND (after_load IS NULL OR after_load NOT IN ('pending', 'failed'))
		AND ($3 = '' OR key COLLATE "C" < $3 COLLATE "C")`, pipeline, before, belowKey)
	if err != nil {
		return 0, Classify(fmt.Errorf("state: prune: %w", err))
	}
	return tag.RowsAffected(), nil
}

// StartAfter implements state.Store.
func (s *Store) StartAfter(ctx context.Context, pipeline string, keepKeys int, since time.Time) (string, error) {
	var bounds []string
	if keepKeys > 0 {
		var k *string
		if err := s.db().QueryRow(ctx, `SELECT (SELECT key FROM ferry.files WHERE pipeline = $1 AND status = 'done'
				ORDER BY key COLLATE "C" DESC OFFSET $2 LIMIT 1)`, pipeline, keepKeys).Scan(&k); err != nil {
			return "", Classify(fmt.Errorf("state: start-after key: %w", err))
		}
		if k == nil {
			return "", nil
		}
		bounds = append(bounds, *k)
	}
	if !since.IsZero() {
		var k *string
		if err := s.db().QueryRow(ctx, `SELECT max(key COLLATE "C") FROM ferry.files WHERE pipeline = $1 AND status = 'done' AND updated_at < $2`,
			pipeline, since).Scan(&k); err != nil {
			return "", Classify(fmt.Errorf("state: start-after key: %w", err))
		}
		if k == nil {
			return "", nil
		}
		bounds = append(bounds, *k)
	}
	if len(bounds) == 0 {
		return "", nil
	}
	after := slices.Min(bounds) // Go compares strings bytewise, like S3
	// A file still loading must be listed again: start just before it.
	var minLoading, prev *string
	if err := s.db().QueryRow(ctx, `SELECT min(key COLLATE "C") FROM ferry.files WHERE pipeline = $1 AND status = 'loading' AND key COLLATE "C" <= $2 COLLATE "C"`,
		pipeline, after).Scan(&minLoading); err != nil {
		return "", Classify(fmt.Errorf("state: start-after key: %w", err))
	}
	if minLoading == nil {
		return after, nil
	}
	if err := s.db().QueryRow(ctx, `SELECT max(key COLLATE "C") FROM ferry.files WHERE pipeline = $1 AND key COLLATE "C" < $2 COLLATE "C"`,
		pipeline, *minLoading).Scan(&prev); err != nil {
		return "", Classify(fmt.Errorf("state: start-after key: %w", err))
	}
	if prev == nil {
		return "", nil
	}
	return *prev, nil
}
