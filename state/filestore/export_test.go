package filestore

import "github.com/ferrydata/ferry/pusher"

// Compact folds the pipeline's log into a new snapshot.
func Compact(s *Store, pipeline string) error {
	return s.file(pipeline).do(func(f *pipelineFile) (record, error) { return record{}, f.compact() })
}

// Rescued returns the rescued records the state counts for a file version.
func Rescued(s *Store, pipeline string, obj pusher.Object) (n int64, err error) {
	err = s.file(pipeline).do(func(f *pipelineFile) (record, error) {
		if e := f.get(obj.Key, obj.ETag); e != nil {
			n = e.Rescued
		}
		return record{}, nil
	})
	return n, err
}
