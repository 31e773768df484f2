package main

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/ferrydata/ferry/state"
	"github.com/ferrydata/ferry/targets/postgres"
)

// defaultPipeline is the name of a job's progress when --pipeline is not
// given: the source, then the target: "stdout", the file:PATH, or for
// PostgreSQL its location (host, port, database; never the user or the
// password) and the table. older is the name ferry gave a PostgreSQL job
// before the default held the target's location (the source and the
// table only), "" for the other targets, whose names did not change.
func defaultPipeline(source, target, table string) (name, older string, err error) {
	kind, err := targetKind(target)
	if err != nil {
		return "", "", err
	}
	switch kind {
	case targetStdout:
		return source + " -> stdout", "", nil
	case targetFile:
		return source + " -> " + target, "", nil
	}
	loc, err := postgres.Location(target)
	if err != nil {
		return "", "", &UsageError{Err: fmt.Errorf("--target: %w", err)}
	}
	ident, err := postgres.ParseTable(table)
	if err != nil {
		return "", "", &UsageError{Err: err}
	}
	return source + " -> " + loc + " " + ident.Sanitize(), source + " -> " + ident.Sanitize(), nil
}

// pipelineName returns --pipeline, else the default name, else, so that
// a job loaded by an older ferry does not load everything again, its
// older name: when the state holds nothing under the default name and
// something under the older one, and the older one is this target's.
// That is certain when the state is in the target database (sameDB); for
// a state elsewhere (a directory, another database) the older name may be
// another database's, and it is taken only when the table exists in the
// target database. Taking it is logged; the job keeps that name.
func pipelineName(ctx context.Context, cfg Config, source string, st state.Store, sameDB bool, target *pgxpool.Pool, log zerolog.Logger) (string, error) {
	if cfg.Pipeline != "" {
		return cfg.Pipeline, nil
	}
	name, older, err := defaultPipeline(source, cfg.Target, cfg.Table)
	if err != nil || older == "" {
		return name, err
	}
	h, ok := st.(state.Haver)
	if !ok {
		return name, nil
	}
	if has, err := h.Has(ctx, name); err != nil || has {
		return name, err
	}
	if has, err := h.Has(ctx, older); err != nil || !has {
		return name, err
	}
	if !sameDB {
		ident, _ := postgres.ParseTable(cfg.Table)
		exists, err := postgres.TableExists(ctx, target, ident)
		if err != nil {
			return "", err
		}
		if !exists {
			log.Info().Str("pipeline", name).Str("older_pipeline", older).
				Msgf("the state holds progress under the older default name, but table %s does not exist in the target database: taken as another database's; loading under the new name", ident.Sanitize())
			return name, nil
		}
	}
	log.Info().Str("pipeline", older).Str("default", name).
		Msg("keeping the pipeline name an older ferry gave this job (source and table only), under which the state holds its progress; pass --pipeline to name it yourself")
	return older, nil
}
