package keys

// SetBatchHook installs a function that runs inside every re-encryption batch's
// transaction after its values are written and before the cursor moves; an error rolls
// the batch back as a crash would.
func SetBatchHook(s *Service, f func(rewritten int) error) {
	s.batchHook = func(_ *jobRow, n int) error { return f(n) }
}
