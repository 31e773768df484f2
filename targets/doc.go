// Package targets holds the implementations of pusher.Target: postgres
// (COPY, exactly-once with state in the same transaction) and jsonlines
// (stdout or a file, at-least-once). Both pass the acceptance suite in
// targettest.
//
// Open builds the target a --target value names with the state of its
// progress (beside the rows in a PostgreSQL target, in one transaction
// with them; else a directory or another database) and the pipeline's
// name: --pipeline, the default (DefaultPipeline), or the older name
// under which the state keeps a job an older ferry loaded (Pipeline).
package targets
