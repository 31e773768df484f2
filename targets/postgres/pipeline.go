package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ferrydata/ferry/state"
)

// PipelineName is the default name of the pipeline that loads source
// into table in the database connString points at: the source, then the
// database's Location (host, port, database; never the user or the
// password) and the table. Older is the name ferry gave the same
// pipeline before the default held the database (the source and the
// table only); see OlderPipeline.
func PipelineName(source, connString string, table pgx.Identifier) (name, older string, err error) {
	loc, err := Location(connString)
	if err != nil {
		return "", "", err
	}
	return source + " -> " + loc + " " + table.Sanitize(), source + " -> " + table.Sanitize(), nil
}

// OlderPipeline says whether a pipeline keeps its older name (see
// PipelineName), so that a job loaded by an older ferry does not load
// everything again: when the state holds nothing under name and
// something under older, and older is this database's pipeline. That is
// certain when the state is in this database (sameDB); for a state
// elsewhere (a directory, another database) the older name may be
// another database's, and it is kept only when table exists in the
// database of pool (noTable: it does not, the only reason not to keep
// it). A state that cannot tell (not a state.Haver) keeps nothing.
func OlderPipeline(ctx context.Context, st state.Store, name, older string, sameDB bool, pool *pgxpool.Pool, table pgx.Identifier) (keep, noTable bool, err error) {
	h, ok := st.(state.Haver)
	if !ok || older == "" {
		return false, false, nil
	}
	if has, err := h.Has(ctx, name); err != nil || has {
		return false, false, err
	}
	if has, err := h.Has(ctx, older); err != nil || !has {
		return false, false, err
	}
	if !sameDB {
		exists, err := TableExists(ctx, pool, table)
		if err != nil || !exists {
			return false, err == nil, err
		}
	}
	return true, false, nil
}
