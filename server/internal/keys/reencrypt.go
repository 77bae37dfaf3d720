package keys

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/authproxy/authproxy/server/internal/encrypt"
	"github.com/authproxy/authproxy/server/internal/id"
	"github.com/authproxy/authproxy/server/internal/problem"
	"github.com/authproxy/authproxy/server/internal/store"
)

// WrappedMaterial registers the wrapped material of generated and inline key versions as
// an encrypted column. It has no namespace column: it is always sealed with the global
// root key, so re-encryption re-wraps it when the root key changes.
var WrappedMaterial = encrypt.Register(encrypt.Column{
	Table: encrypt.WrappedKeyTable, Column: encrypt.WrappedKeyColumn, IDColumn: "id",
})

// Re-encryption job states.
const (
	JobPending = "pending"
	JobRunning = "running"
	JobDone    = "done"
	JobFailed  = "failed"
)

// JobIDPrefix starts every re-encryption job id.
const JobIDPrefix = "rej"

// Re-encryption defaults.
const (
	DefaultReencryptBatch = 500
	DefaultJobLease       = 2 * time.Minute
)

// Job is a re-encryption job: one walk over every registered encrypted column that
// re-seals each value not under its namespace's current key version.
type Job struct {
	ID, State, Reason string
	// Table and Column name the column being walked (running jobs).
	Table, Column                         string
	Scanned, Rewritten, Unreadable, Total int64
	Error                                 string
	CreatedAt, UpdatedAt                  time.Time
	StartedAt, FinishedAt                 *time.Time
}

type jobRow struct {
	ID         string `gorm:"primaryKey"`
	State      string
	Reason     string
	TableName_ string `gorm:"column:table_name"`
	ColumnName string
	AfterID    string
	Scanned    int64
	Rewritten  int64
	Unreadable int64
	Total      int64
	Error      string
	LeaseUntil *time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
	StartedAt  *time.Time
	FinishedAt *time.Time
}

func (jobRow) TableName() string { return "reencryption_jobs" }

func (r jobRow) job() Job {
	return Job{ID: r.ID, State: r.State, Reason: r.Reason, Table: r.TableName_, Column: r.ColumnName,
		Scanned: r.Scanned, Rewritten: r.Rewritten, Unreadable: r.Unreadable, Total: r.Total, Error: r.Error,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt}
}

// ErrJobNotClaimed is returned by [Service.RunReencryption] when the job is finished or
// another worker holds its lease.
var ErrJobNotClaimed = errors.New("keys: re-encryption job is finished or held by another worker")

// errLostLease stops a run whose job was taken over (its lease expired) or finished.
var errLostLease = errors.New("keys: re-encryption job lost its lease")

// StartReencryption records a pending re-encryption job and hands it to Notify (which
// enqueues it for a worker). When a job is already pending it is returned instead: it has
// not started, so it will see every change made so far.
func (s *Service) StartReencryption(ctx context.Context, reason string) (*Job, error) {
	now := time.Now().UTC()
	r := jobRow{ID: id.New(JobIDPrefix), State: JobPending, Reason: reason, CreatedAt: now, UpdatedAt: now}
	for attempt := 0; ; attempt++ {
		var existing jobRow
		err := s.DB.WithContext(ctx).Where("state = ?", JobPending).Take(&existing).Error
		if err == nil {
			j := existing.job()
			return &j, nil
		}
		if !errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, err
		}
		err = s.DB.WithContext(ctx).Create(&r).Error
		if err == nil {
			break
		}
		if !store.IsUniqueViolation(err) || attempt > 2 {
			return nil, err
		}
		// Another trigger created the pending job meanwhile: join it.
	}
	if s.Notify != nil {
		s.Notify(ctx, r.ID)
	}
	j := r.job()
	return &j, nil
}

// requestReencryption starts a re-encryption after a change that moves values' target
// key. Failing to record it does not undo the change: the periodic sweep and the next
// trigger start one, and the debt in the status endpoint shows what is left.
func (s *Service) requestReencryption(ctx context.Context, reason string) {
	if _, err := s.StartReencryption(ctx, reason); err != nil && s.OnError != nil {
		s.OnError(fmt.Errorf("keys: start re-encryption (%s): %w", reason, err))
	}
}

// GetJob returns a re-encryption job.
func (s *Service) GetJob(ctx context.Context, jobID string) (*Job, error) {
	r, err := store.TakeByID[jobRow](s.DB.WithContext(ctx), jobID, problem.NotFound("re-encryption job %s not found", jobID))
	if err != nil {
		return nil, err
	}
	j := r.job()
	return &j, nil
}

// CurrentJob returns the running job, or else the pending one, or else the latest; nil
// when there has never been one.
func (s *Service) CurrentJob(ctx context.Context) (*Job, error) {
	for _, q := range []func(*gorm.DB) *gorm.DB{
		func(db *gorm.DB) *gorm.DB { return db.Where("state = ?", JobRunning).Order("created_at") },
		func(db *gorm.DB) *gorm.DB { return db.Where("state = ?", JobPending) },
		func(db *gorm.DB) *gorm.DB { return db.Order("created_at DESC").Order("id DESC") },
	} {
		var r jobRow
		err := q(s.DB.WithContext(ctx)).Take(&r).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		j := r.job()
		return &j, nil
	}
	return nil, nil
}

// ResumableJobs returns the ids of pending jobs and of running jobs whose lease expired
// (their worker died), oldest first: what the periodic sweep hands to workers again.
func (s *Service) ResumableJobs(ctx context.Context) ([]string, error) {
	var ids []string
	err := s.DB.WithContext(ctx).Model(&jobRow{}).
		Where("state = ? OR (state = ? AND lease_until < ?)", JobPending, JobRunning, time.Now().UTC()).
		Order("created_at").Pluck("id", &ids).Error
	return ids, err
}

// RunReencryption claims job jobID and walks every registered column from the job's
// cursor, in batches: each value not sealed with its namespace's current key version is
// opened and sealed again, and written back only if the stored value is still the one read
// (compare and swap), so live writes are never overwritten and a value is never sealed
// twice. Each batch commits with the cursor; a run killed mid-batch resumes at the start
// of that batch. Values that do not open (destroyed or retired keys, tampering) are
// counted as unreadable and left alone. It returns [ErrJobNotClaimed] when the job is
// finished or another worker holds it.
func (s *Service) RunReencryption(ctx context.Context, jobID string) error {
	lease := s.JobLease
	if lease <= 0 {
		lease = DefaultJobLease
	}
	now := time.Now().UTC()
	res := s.DB.WithContext(ctx).Model(&jobRow{}).
		Where("id = ? AND (state = ? OR (state = ? AND lease_until < ?))", jobID, JobPending, JobRunning, now).
		Updates(map[string]any{"state": JobRunning, "lease_until": now.Add(lease), "updated_at": now,
			"started_at": gorm.Expr("COALESCE(started_at, ?)", now)})
	if res.Error != nil {
		return fmt.Errorf("keys: claim re-encryption job %s: %w", jobID, res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrJobNotClaimed
	}
	var job jobRow
	if err := s.DB.WithContext(ctx).Where("id = ?", jobID).Take(&job).Error; err != nil {
		return err
	}
	if job.TableName_ == "" && job.Scanned == 0 {
		total, err := s.countValues(ctx)
		if err != nil {
			s.releaseJob(job.ID)
			return err
		}
		job.Total = total
		// Shown by the status endpoint from the start, before the first batch commits.
		if err := s.DB.WithContext(ctx).Model(&jobRow{}).Where("id = ?", job.ID).Update("total", total).Error; err != nil {
			s.releaseJob(job.ID)
			return err
		}
	}
	cols := encrypt.Columns()
	start := 0
	if job.TableName_ != "" {
		start = len(cols)
		for i, c := range cols {
			if c.Table == job.TableName_ && c.Column == job.ColumnName {
				start = i
				break
			}
		}
	}
	for i := start; i < len(cols); i++ {
		col := cols[i]
		after := ""
		if job.TableName_ == col.Table && job.ColumnName == col.Column {
			after = job.AfterID
		}
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			n, err := s.reencryptBatch(ctx, &job, col, after, lease)
			if err != nil {
				if !errors.Is(err, errLostLease) {
					s.releaseJob(job.ID)
				}
				return err
			}
			if n < s.batchSize() {
				break
			}
			after = job.AfterID
		}
	}
	done := time.Now().UTC()
	res = s.DB.WithContext(ctx).Model(&jobRow{}).Where("id = ? AND state = ?", job.ID, JobRunning).
		Updates(map[string]any{"state": JobDone, "finished_at": done, "updated_at": done, "lease_until": nil,
			"table_name": "", "column_name": "", "after_id": "", "total": job.Total})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return errLostLease
	}
	return nil
}

func (s *Service) batchSize() int {
	if s.ReencryptBatch > 0 {
		return s.ReencryptBatch
	}
	return DefaultReencryptBatch
}

// releaseJob ends this worker's lease on a job it stopped running, so a retry (or another
// worker) resumes it at once rather than when the lease would have expired.
func (s *Service) releaseJob(jobID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.DB.WithContext(ctx).Model(&jobRow{}).Where("id = ? AND state = ?", jobID, JobRunning).
		Update("lease_until", time.Now().UTC().Add(-time.Second))
}

// FailJob marks an unfinished job failed with its cause (a worker gave up retrying it).
func (s *Service) FailJob(ctx context.Context, jobID string, cause error) error {
	now := time.Now().UTC()
	return s.DB.WithContext(ctx).Model(&jobRow{}).Where("id = ? AND state IN ?", jobID, []string{JobPending, JobRunning}).
		Updates(map[string]any{"state": JobFailed, "error": cause.Error(), "finished_at": now, "updated_at": now, "lease_until": nil}).Error
}

// countValues counts the stored values of every registered column.
func (s *Service) countValues(ctx context.Context) (int64, error) {
	var total int64
	for _, col := range encrypt.Columns() {
		var n int64
		q := fmt.Sprintf("SELECT COUNT(*) FROM %s WHERE %s IS NOT NULL", col.Table, col.Column)
		if err := s.DB.WithContext(ctx).Raw(q).Scan(&n).Error; err != nil {
			return 0, fmt.Errorf("keys: count %s.%s: %w", col.Table, col.Column, err)
		}
		total += n
	}
	return total, nil
}

type rewrite struct{ id, old, new string }

// reencryptBatch processes the next batch of col after row id after and commits the
// rewritten values with the advanced cursor, provided job's cursor in the database is
// still the one in job (no other worker moved it). It returns how many rows it read.
func (s *Service) reencryptBatch(ctx context.Context, job *jobRow, col encrypt.Column, after string, lease time.Duration) (int, error) {
	nsExpr := "''"
	if col.NamespaceColumn != "" {
		nsExpr = col.NamespaceColumn
	}
	limit := s.batchSize()
	q := fmt.Sprintf("SELECT %s, %s, %s FROM %s WHERE %s IS NOT NULL AND %s > ? ORDER BY %s LIMIT %d",
		col.IDColumn, nsExpr, col.Column, col.Table, col.Column, col.IDColumn, col.IDColumn, limit)
	rows, err := s.DB.WithContext(ctx).Raw(q, after).Rows()
	if err != nil {
		return 0, fmt.Errorf("keys: read %s.%s: %w", col.Table, col.Column, err)
	}
	type value struct{ id, ns, val string }
	var batch []value
	for rows.Next() {
		var v value
		if err := rows.Scan(&v.id, &v.ns, &v.val); err != nil {
			rows.Close()
			return 0, err
		}
		batch = append(batch, v)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return 0, err
	}
	targets := map[string]encrypt.KeyVersion{}
	defer func() {
		for _, kv := range targets {
			clear(kv.Material)
		}
	}()
	var writes []rewrite
	var unreadable int64
	for _, v := range batch {
		if v.val == "" {
			continue
		}
		target, ok := targets[v.ns]
		if !ok {
			if col.NamespaceColumn == "" {
				target = s.rootCopy()
			} else if target, err = s.currentVersion(ctx, v.ns); err != nil {
				return 0, fmt.Errorf("keys: current key of namespace %q: %w", v.ns, err)
			}
			targets[v.ns] = target
		}
		if kvID, err := encrypt.KeyIDOf(v.val); err == nil && kvID == target.ID {
			continue
		}
		plain, err := encrypt.Open(ctx, s.lookup(), v.val, col.AAD(v.id))
		if err != nil {
			if errors.Is(err, encrypt.ErrUnknownKey) || errors.Is(err, encrypt.ErrNotAuthentic) || errors.Is(err, encrypt.ErrMalformed) {
				unreadable++
				continue
			}
			return 0, fmt.Errorf("keys: open %s: %w", col.AAD(v.id), err)
		}
		sealed, err := encrypt.Seal(target, plain, col.AAD(v.id))
		clear(plain)
		if err != nil {
			return 0, err
		}
		writes = append(writes, rewrite{id: v.id, old: v.val, new: sealed})
	}
	next := *job
	next.TableName_, next.ColumnName, next.AfterID = col.Table, col.Column, after
	if len(batch) > 0 {
		next.AfterID = batch[len(batch)-1].id
	}
	next.Scanned += int64(len(batch))
	next.Unreadable += unreadable
	err = s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if len(writes) > 0 {
			n, err := compareAndSwap(tx, col, writes)
			if err != nil {
				return err
			}
			next.Rewritten += n
		}
		if s.batchHook != nil {
			if err := s.batchHook(&next, len(writes)); err != nil {
				return err
			}
		}
		now := time.Now().UTC()
		res := tx.Model(&jobRow{}).
			Where("id = ? AND state = ? AND table_name = ? AND column_name = ? AND after_id = ?",
				job.ID, JobRunning, job.TableName_, job.ColumnName, job.AfterID).
			Updates(map[string]any{"table_name": col.Table, "column_name": col.Column, "after_id": next.AfterID,
				"scanned": next.Scanned, "rewritten": next.Rewritten, "unreadable": next.Unreadable, "total": next.Total,
				"lease_until": now.Add(lease), "updated_at": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return errLostLease
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	*job = next
	return len(batch), nil
}

// compareAndSwap writes each rewrite's new value where the row still holds its old value,
// in one statement that runs unchanged on SQLite and PostgreSQL, and returns how many rows
// it changed.
func compareAndSwap(tx *gorm.DB, col encrypt.Column, writes []rewrite) (int64, error) {
	var b strings.Builder
	args := make([]any, 0, 4*len(writes))
	fmt.Fprintf(&b, "UPDATE %s SET %s = CASE %s", col.Table, col.Column, col.IDColumn)
	for _, w := range writes {
		b.WriteString(" WHEN ? THEN ?")
		args = append(args, w.id, w.new)
	}
	fmt.Fprintf(&b, " END WHERE (%s, %s) IN (VALUES ", col.IDColumn, col.Column)
	for i, w := range writes {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?)")
		args = append(args, w.id, w.old)
	}
	b.WriteString(")")
	res := tx.Exec(b.String(), args...)
	if res.Error != nil {
		return 0, fmt.Errorf("keys: rewrite %s.%s: %w", col.Table, col.Column, res.Error)
	}
	return res.RowsAffected, nil
}
