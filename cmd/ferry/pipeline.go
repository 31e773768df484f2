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
// PostgreSQL postgres.PipelineName, which also gives the older name of a
// PostgreSQL job ("" for the other targets, whose names did not change).
func defaultPipeline(source, target, table string) (name, older string, err error) {
	if pg, err := toPostgres(target); err != nil || !pg {
		if target == "" || target == "-" {
			target = "stdout"
		}
		return source + " -> " + target, "", err
	}
	ident, err := postgres.ParseTable(table)
	if err != nil {
		return "", "", &UsageError{Err: err}
	}
	name, older, err = postgres.PipelineName(source, target, ident)
	if err != nil {
		return "", "", &UsageError{Err: fmt.Errorf("--target: %w", err)}
	}
	return name, older, nil
}

// pipelineName returns --pipeline, else the default name, else the older
// one where postgres.OlderPipeline says the state keeps the job's
// progress under it. Taking it is logged; the job keeps that name.
func pipelineName(ctx context.Context, cfg Config, source string, st state.Store, sameDB bool, target *pgxpool.Pool, log zerolog.Logger) (string, error) {
	if cfg.Pipeline != "" {
		return cfg.Pipeline, nil
	}
	name, older, err := defaultPipeline(source, cfg.Target, cfg.Table)
	if err != nil || older == "" {
		return name, err
	}
	ident, _ := postgres.ParseTable(cfg.Table)
	keep, noTable, err := postgres.OlderPipeline(ctx, st, name, older, sameDB, target, ident)
	switch {
	case err != nil:
		return "", err
	case noTable:
		log.Info().Str("pipeline", name).Str("older_pipeline", older).
			Msgf("the state holds progress under the older default name, but table %s does not exist in the target database: taken as another database's; loading under the new name", ident.Sanitize())
	case keep:
		log.Info().Str("pipeline", older).Str("default", name).
			Msg("keeping the pipeline name an older ferry gave this job (source and table only), under which the state holds its progress; pass --pipeline to name it yourself")
		return older, nil
	}
	return name, nil
}
