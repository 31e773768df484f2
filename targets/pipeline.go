package targets

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ferrydata/ferry/state"
	"github.com/ferrydata/ferry/targets/postgres"
)

// DefaultPipeline is the name of a job's progress when --pipeline is not
// given: the source, then the target: "stdout", the file:PATH, or for
// PostgreSQL postgres.PipelineName, which also gives the older name of a
// PostgreSQL job ("" for the other targets, whose names did not change).
func DefaultPipeline(source, target, table string) (name, older string, err error) {
	if pg, err := IsPostgres(target); err != nil || !pg {
		if target == "" || target == "-" {
			target = "stdout"
		}
		return source + " -> " + target, "", err
	}
	ident, err := postgres.ParseTable(table)
	if err != nil {
		return "", "", err
	}
	name, older, err = postgres.PipelineName(source, target, ident)
	if err != nil {
		return "", "", fmt.Errorf("--target: %w", err)
	}
	return name, older, nil
}

// Pipeline returns cfg.Pipeline, else the default name, else the older
// one where postgres.OlderPipeline says the state keeps the job's
// progress under it. Taking it is logged; the job keeps that name.
func Pipeline(ctx context.Context, cfg Config, st state.Store, sameDB bool, target *pgxpool.Pool) (string, error) {
	if cfg.Pipeline != "" {
		return cfg.Pipeline, nil
	}
	name, older, err := DefaultPipeline(cfg.Source, cfg.Target, cfg.Table)
	if err != nil || older == "" {
		return name, err
	}
	ident, _ := postgres.ParseTable(cfg.Table)
	keep, noTable, err := postgres.OlderPipeline(ctx, st, name, older, sameDB, target, ident)
	switch {
	case err != nil:
		return "", err
	case noTable:
		cfg.Log.Info().Str("pipeline", name).Str("older_pipeline", older).
			Msgf("the state holds progress under the older default name, but table %s does not exist in the target database: taken as another database's; loading under the new name", ident.Sanitize())
	case keep:
		cfg.Log.Info().Str("pipeline", older).Str("default", name).
			Msg("keeping the pipeline name an older ferry gave this job (source and table only), under which the state holds its progress; pass --pipeline to name it yourself")
		return older, nil
	}
	return name, nil
}
