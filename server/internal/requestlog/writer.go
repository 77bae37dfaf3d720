package requestlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"github.com/authproxy/authproxy/server/internal/blob"
)

// Defaults of a Writer.
const (
	DefaultBufferSize = 10000
	DefaultBatchSize  = 500
	DefaultInterval   = time.Second
)

// Options tune a Writer; zero values take the defaults.
type Options struct {
	// BufferSize bounds the entries waiting to be written; Record drops (and counts) what
	// does not fit rather than block the call being logged.
	BufferSize int
	// BatchSize is the most entries one INSERT writes; a full batch is flushed at once.
	BatchSize int
	// Interval is the longest an entry waits before it is flushed.
	Interval time.Duration
	Logger   *slog.Logger
	// Blobs and Keys store the recorded bodies of entries that carry them: encrypted under
	// a fresh data key into Blobs, the data key sealed by Keys with the namespace's key.
	// Without them, bodies are not stored (and counted in BodiesFailed).
	Blobs blob.Store
	Keys  Sealer
	// BodyConcurrency bounds the blob writes of one batch in flight (default 8).
	BodyConcurrency int
	// MaxPendingBodyBytes bounds the recorded body bytes waiting in the buffer (default
	// DefaultMaxPendingBodyBytes): past it, entries are kept without their bodies (counted
	// in BodiesFailed), so a burst of recorded calls cannot exhaust memory.
	MaxPendingBodyBytes int64
}

// DefaultMaxPendingBodyBytes is the default bound of recorded body bytes in the buffer.
const DefaultMaxPendingBodyBytes = 64 << 20

// Stats are the counts of a Writer since it started.
type Stats struct {
	Recorded      uint64 // accepted into the buffer
	Flushed       uint64 // written to the database
	Dropped       uint64 // refused because the buffer was full or the writer closed
	FailedBatches uint64 // batches the database refused
	Lost          uint64 // entries of those batches
	// BodiesFailed counts entries written without their recorded bodies because sealing
	// or storing them failed.
	BodiesFailed uint64
}

// Writer buffers entries in memory and writes them in batches, each one multi-row INSERT in
// a transaction, from its own goroutine. A crash loses at most the buffer; Close flushes it.
type Writer struct {
	db  *gorm.DB
	opt Options
	log *slog.Logger

	mu            sync.Mutex
	buf           []Entry
	closed        bool
	pendingBodies int64 // body bytes held by buf

	flushMu sync.Mutex // one flush at a time, so batches are written in record order
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	started bool

	recorded, flushed, dropped, failed, lost, bodiesFailed atomic.Uint64
}

// NewWriter returns a writer into db; call Start to flush in the background.
func NewWriter(db *gorm.DB, o Options) *Writer {
	if o.BufferSize <= 0 {
		o.BufferSize = DefaultBufferSize
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.BodyConcurrency <= 0 {
		o.BodyConcurrency = 8
	}
	if o.MaxPendingBodyBytes <= 0 {
		o.MaxPendingBodyBytes = DefaultMaxPendingBodyBytes
	}
	l := o.Logger
	if l == nil {
		l = slog.Default()
	}
	// The writer sends the same few INSERTs (one per batch size) all day: prepared once, they
	// are not parsed again for every batch.
	db = db.Session(&gorm.Session{PrepareStmt: true})
	return &Writer{db: db, opt: o, log: l, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// Start runs the background flusher until Close.
func (w *Writer) Start() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started || w.closed {
		return
	}
	w.started = true
	go w.run()
}

// Record queues e without blocking: it fills in the id and time when unset, and drops e
// (counting it) when the buffer is full or the writer is closed.
func (w *Writer) Record(e Entry) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()
	if e.ID == "" {
		e.ID = NewID(e.Time)
	}
	w.mu.Lock()
	if w.closed || len(w.buf) >= w.opt.BufferSize {
		w.mu.Unlock()
		w.dropped.Add(1)
		return
	}
	if e.Bodies != nil {
		if n := e.Bodies.size(); w.pendingBodies+n > w.opt.MaxPendingBodyBytes {
			e.Bodies = nil
			w.bodiesFailed.Add(1)
		} else {
			w.pendingBodies += n
		}
	}
	if w.buf == nil {
		w.buf = make([]Entry, 0, w.opt.BatchSize)
	}
	w.buf = append(w.buf, e)
	full := len(w.buf) >= w.opt.BatchSize
	w.mu.Unlock()
	w.recorded.Add(1)
	if full {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
}

// Stats returns the counts so far.
func (w *Writer) Stats() Stats {
	return Stats{Recorded: w.recorded.Load(), Flushed: w.flushed.Load(), Dropped: w.dropped.Load(),
		FailedBatches: w.failed.Load(), Lost: w.lost.Load(), BodiesFailed: w.bodiesFailed.Load()}
}

func (w *Writer) run() {
	defer close(w.done)
	t := time.NewTicker(w.opt.Interval)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
		case <-w.kick:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_ = w.Flush(ctx)
		cancel()
	}
}

// Flush writes every buffered entry now, batch by batch; it returns the first batch error
// (those entries are lost, counted and logged).
func (w *Writer) Flush(ctx context.Context) error {
	w.flushMu.Lock()
	defer w.flushMu.Unlock()
	var first error
	for {
		w.mu.Lock()
		n := min(len(w.buf), w.opt.BatchSize)
		batch := w.buf[:n:n]
		w.buf = w.buf[n:]
		if len(w.buf) == 0 {
			w.buf = nil
		}
		for i := range batch {
			if batch[i].Bodies != nil {
				w.pendingBodies -= batch[i].Bodies.size()
			}
		}
		w.mu.Unlock()
		if n == 0 {
			return first
		}
		if err := w.insert(ctx, batch); err != nil {
			w.failed.Add(1)
			w.lost.Add(uint64(n))
			w.log.Error("request log batch lost", "entries", n, "error", err)
			if first == nil {
				first = err
			}
			continue
		}
		w.flushed.Add(uint64(n))
	}
}

// Close stops the background flusher and flushes what is buffered; later entries are
// dropped.
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	started := w.started
	w.mu.Unlock()
	if started {
		close(w.stop)
		<-w.done
	}
	return w.Flush(ctx)
}

// entryBatch and labelBatch bound the rows of one INSERT. The SQLite driver binds
// parameters in time quadratic in their number (it searches the arguments for each
// parameter), so a statement with thousands of them costs more than several small ones.
const (
	entryBatch = 50
	labelBatch = 250
)

func (w *Writer) insert(ctx context.Context, batch []Entry) error {
	rows := make([]row, len(batch))
	var lbls []labelRow
	for i := range batch {
		rows[i] = toRow(&batch[i])
	}
	stored := w.storeBodies(ctx, batch, rows)
	for i := range batch {
		for k, v := range batch[i].Labels {
			lbls = append(lbls, labelRow{ResourceType: LabelKind, ResourceID: batch[i].ID, LabelKey: k, LabelValue: v})
		}
	}
	err := w.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.CreateInBatches(&rows, entryBatch).Error; err != nil {
			return err
		}
		if len(lbls) > 0 {
			return tx.CreateInBatches(&lbls, labelBatch).Error
		}
		return nil
	})
	if err != nil {
		w.deleteBlobs(stored)
		return fmt.Errorf("insert %d request log entries: %w", len(batch), err)
	}
	return nil
}

// storeBodies seals and stores the bodies of the entries that carry them, a few at a time,
// and sets the bodies columns of their rows; an entry whose bodies fail is written without
// them and counted. It returns the keys of the blobs it stored.
func (w *Writer) storeBodies(ctx context.Context, batch []Entry, rows []row) []string {
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		stored []string
		sem    = make(chan struct{}, w.opt.BodyConcurrency)
	)
	for i := range batch {
		if batch[i].Bodies == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(e *Entry, r *row) {
			defer func() { <-sem; wg.Done() }()
			key, sealed, err := w.storeOne(ctx, e)
			if err != nil {
				w.bodiesFailed.Add(1)
				w.log.Warn("request log bodies not stored", "entry", e.ID, "error", err)
				return
			}
			r.BodiesBlob, r.BodiesKey = &key, &sealed
			mu.Lock()
			stored = append(stored, key)
			mu.Unlock()
		}(&batch[i], &rows[i])
	}
	wg.Wait()
	return stored
}

func (w *Writer) storeOne(ctx context.Context, e *Entry) (key, sealed string, err error) {
	if w.opt.Blobs == nil || w.opt.Keys == nil {
		return "", "", errors.New("no blob store configured")
	}
	e.Bodies.redact()
	data, dataKey, err := encryptBodies(e.ID, e.Bodies)
	if err != nil {
		return "", "", err
	}
	defer clear(dataKey)
	sealed, err = w.opt.Keys.Seal(ctx, e.Namespace, BodiesKeyColumn, e.ID, dataKey)
	if err != nil {
		return "", "", fmt.Errorf("seal data key: %w", err)
	}
	key = BlobKey(e.Namespace, e.Time, e.ID)
	if err := w.opt.Blobs.Put(ctx, key, bytes.NewReader(data), int64(len(data))); err != nil {
		return "", "", fmt.Errorf("put %s: %w", key, err)
	}
	return key, sealed, nil
}

// deleteBlobs removes the blobs of a batch the database refused (best effort).
func (w *Writer) deleteBlobs(keys []string) {
	if len(keys) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, k := range keys {
		if err := w.opt.Blobs.Delete(ctx, k); err != nil {
			w.log.Warn("request log bodies of a lost batch not deleted", "blob", k, "error", err)
		}
	}
}
