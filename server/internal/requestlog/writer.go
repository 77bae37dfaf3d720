package requestlog

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"
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
}

// Stats are the counts of a Writer since it started.
type Stats struct {
	Recorded      uint64 // accepted into the buffer
	Flushed       uint64 // written to the database
	Dropped       uint64 // refused because the buffer was full or the writer closed
	FailedBatches uint64 // batches the database refused
	Lost          uint64 // entries of those batches
}

// Writer buffers entries in memory and writes them in batches, each one multi-row INSERT in
// a transaction, from its own goroutine. A crash loses at most the buffer; Close flushes it.
type Writer struct {
	db  *gorm.DB
	opt Options
	log *slog.Logger

	mu     sync.Mutex
	buf    []Entry
	closed bool

	flushMu sync.Mutex // one flush at a time, so batches are written in record order
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	started bool

	recorded, flushed, dropped, failed, lost atomic.Uint64
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
	l := o.Logger
	if l == nil {
		l = slog.Default()
	}
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
		FailedBatches: w.failed.Load(), Lost: w.lost.Load()}
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

// labelBatch bounds the label rows of one INSERT (4 parameters each).
const labelBatch = 1000

func (w *Writer) insert(ctx context.Context, batch []Entry) error {
	rows := make([]row, len(batch))
	var lbls []labelRow
	for i := range batch {
		rows[i] = toRow(&batch[i])
		for k, v := range batch[i].Labels {
			lbls = append(lbls, labelRow{ResourceType: LabelKind, ResourceID: batch[i].ID, LabelKey: k, LabelValue: v})
		}
	}
	err := w.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&rows).Error; err != nil {
			return err
		}
		if len(lbls) > 0 {
			return tx.CreateInBatches(&lbls, labelBatch).Error
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("insert %d request log entries: %w", len(batch), err)
	}
	return nil
}
