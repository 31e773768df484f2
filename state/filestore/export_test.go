package filestore

// Compact folds the pipeline's log into a new snapshot.
func Compact(s *Store, pipeline string) error {
	return s.file(pipeline).do(func(f *pipelineFile) (record, error) { return record{}, f.compact() })
}
