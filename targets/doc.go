// Package targets holds the implementations of pusher.Target: postgres
// (COPY, exactly-once with state in the same transaction) and jsonlines
// (stdout or a file, at-least-once). Both pass the acceptance suite in
// targettest.
package targets
